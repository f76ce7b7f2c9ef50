#include <cmath>
#include <cstdint>
#include <vector>

#include "bindings.hpp"
#include "reluinj/radial.hpp"

namespace reluinj {
namespace {

// Directions per GIL-released block; Ctrl-C is checked between blocks.
constexpr std::ptrdiff_t kRadialBlock = 4096;

template <class T>
py::tuple radial_profile_py(carray<T> W, carray<T> alpha, carray<T> U, double rank_tol,
                            double t_max, bool first_only, int n_threads) {
    check_ndim(W, 2, "W");
    check_ndim(alpha, 1, "alpha");
    check_ndim(U, 2, "U");
    check_dim(alpha, 0, W.shape(0), "alpha");
    check_dim(U, 1, W.shape(1), "U");
    if (!(rank_tol > 0.0 && rank_tol < 1.0))
        throw std::invalid_argument("rank_tol must be in (0, 1)");
    if (!(t_max > 0.0)) throw std::invalid_argument("t_max must be > 0");
    clamp_threads(n_threads);
    const auto m = W.shape(0), n = W.shape(1), k = U.shape(0);
    const T *w = W.data(), *a = alpha.data(), *u = U.data();
    std::vector<RadialResult> res(k);
    std::vector<double> G;
    if (m <= kGramMaxRows && k > 0) {
        py::gil_scoped_release nogil;
        G = gram_rows(w, m, n, n_threads);
    }
    for (std::ptrdiff_t b = 0; b < k; b += kRadialBlock) {
        const std::ptrdiff_t e = std::min(k, b + kRadialBlock);
        {
            py::gil_scoped_release nogil;
            radial_profile(w, a, u, G.empty() ? nullptr : G.data(), m, n, b, e, rank_tol, t_max, first_only, res.data(), n_threads);
        }
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    }
    py::array_t<std::int64_t> indptr(k + 1);
    py::array_t<double> first(k);
    py::array_t<std::int64_t> row(k);
    auto *ip = indptr.mutable_data();
    auto *fp = first.mutable_data();
    auto *rp = row.mutable_data();
    ip[0] = 0;
    for (std::ptrdiff_t s = 0; s < k; ++s) {
        ip[s + 1] = ip[s] + std::int64_t(res[s].starts.size());
        fp[s] = res[s].first_failure;
        rp[s] = res[s].failure_row;
    }
    py::array_t<double> starts(ip[k]);
    py::array_t<std::int32_t> ranks(ip[k]);
    double *sp = starts.mutable_data();
    std::int32_t *kp = ranks.mutable_data();
    for (std::ptrdiff_t s = 0; s < k; ++s) {
        std::copy(res[s].starts.begin(), res[s].starts.end(), sp + ip[s]);
        std::copy(res[s].ranks.begin(), res[s].ranks.end(), kp + ip[s]);
    }
    return py::make_tuple(indptr, starts, ranks, first, row);
}

template <class T>
void def_typed(py::module_ &m) {
    m.def("radial_profile", &radial_profile_py<T>, py::arg("W").noconvert(),
          py::arg("alpha").noconvert(), py::arg("U").noconvert(), py::arg("rank_tol"),
          py::arg("t_max"), py::arg("first_only"), py::arg("n_threads"),
          "Exact rank profile along rays t U[s]/||U[s]||: (indptr, starts, ranks, first_failure, failure_row).");
}

}  // namespace

void bind_radial(py::module_ &m) {
    def_typed<double>(m);
    def_typed<float>(m);
}

}  // namespace reluinj
