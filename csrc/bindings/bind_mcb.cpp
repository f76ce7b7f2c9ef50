#include <cstdint>
#include <string>

#include "bindings.hpp"
#include "reluinj/mcb.hpp"

namespace reluinj {
namespace {

template <class T>
void check_frame_points(const carray<T> &Wn, const carray<T> &X) {
    check_ndim(Wn, 2, "W");
    check_ndim(X, 2, "X");
    check_dim(X, 1, Wn.shape(1), "X");
    if (Wn.shape(1) < 1 || Wn.shape(0) < Wn.shape(1))
        throw std::invalid_argument("W must have shape (m, n) with m >= n >= 1");
}

int isa_code(const std::string &isa) {
    if (isa == "auto") return -1;
    if (isa == "generic") return 0;
    if (isa == "avx2") return 1;
    if (isa == "avx512") return 2;
    throw std::invalid_argument("isa must be 'auto', 'generic', 'avx2' or 'avx512'; got '" + isa + "'");
}

template <class T>
py::tuple partial_py(carray<T> Wn, carray<T> X, bool check_rank, double rank_tol, int n_threads,
                     const std::string &isa) {
    check_frame_points(Wn, X);
    if (!(rank_tol > 0.0 && rank_tol < 1.0))
        throw std::invalid_argument("rank_tol must be in (0, 1)");
    const int code = isa_code(isa);
    const auto m = Wn.shape(0), n = Wn.shape(1), k = X.shape(0);
    py::array_t<T> mins(m);
    py::array_t<std::int64_t> hits(m);
    T *pm = mins.mutable_data();
    std::int64_t *ph = hits.mutable_data();
    const T *w = Wn.data(), *x = X.data();
    {
        py::gil_scoped_release nogil;
        most_correlated_basis_partial(w, x, m, n, k, check_rank, rank_tol, n_threads, pm, ph,
                                      code);
    }
    return py::make_tuple(mins, hits);
}

template <class T>
py::array_t<T> correlations_py(carray<T> Wn, carray<T> X, const std::string &isa, int n_threads) {
    check_ndim(Wn, 2, "W");
    check_ndim(X, 2, "X");
    check_dim(X, 1, Wn.shape(1), "X");
    const int code = isa_code(isa);
    const auto m = Wn.shape(0), n = Wn.shape(1), k = X.shape(0);
    py::array_t<T> C({k, m});
    T *pc = C.mutable_data();
    const T *w = Wn.data(), *x = X.data();
    {
        py::gil_scoped_release nogil;
        most_correlated_basis_correlations(w, x, m, n, k, code, n_threads, pc);
    }
    return C;
}

template <class T>
py::tuple sets_py(carray<T> Wn, carray<T> X, double rank_tol, int n_threads) {
    check_frame_points(Wn, X);
    if (!(rank_tol > 0.0 && rank_tol < 1.0))
        throw std::invalid_argument("rank_tol must be in (0, 1)");
    const auto m = Wn.shape(0), n = Wn.shape(1), k = X.shape(0);
    py::array_t<std::int64_t> J({k, n});
    py::array_t<std::int64_t> size(k);
    std::int64_t *pj = J.mutable_data(), *ps = size.mutable_data();
    const T *w = Wn.data(), *x = X.data();
    {
        py::gil_scoped_release nogil;
        most_correlated_basis_sets(w, x, m, n, k, rank_tol, n_threads, pj, ps);
    }
    return py::make_tuple(J, size);
}

template <class T>
void def_typed(py::module_ &m) {
    m.def("most_correlated_basis_sets", &sets_py<T>, py::arg("Wn").noconvert(),
          py::arg("X").noconvert(), py::arg("rank_tol"), py::arg("n_threads"),
          "(J (k, n) int64 in correlation order, -1 padded; size (k,)): J*(x) of each point.");
    m.def("most_correlated_basis_partial", &partial_py<T>, py::arg("Wn").noconvert(),
          py::arg("X").noconvert(), py::arg("check_rank"), py::arg("rank_tol"),
          py::arg("n_threads"), py::arg("isa") = "auto",
          "(min, hits) over the points X of <x, Wn_i> for i in the most correlated basis J*(x)\n"
          "(isa: 'auto' = this CPU's best; the others for tests).");
    m.def("most_correlated_basis_correlations", &correlations_py<T>, py::arg("Wn").noconvert(),
          py::arg("X").noconvert(), py::arg("isa"), py::arg("n_threads"),
          "X @ Wn.T computed by the MCB kernel's correlation engine (for tests).");
}

}  // namespace

void bind_mcb(py::module_ &m) {
    def_typed<double>(m);
    def_typed<float>(m);
    m.def("most_correlated_basis_isa", &most_correlated_basis_isa,
          "Instruction set of the MCB correlation engine on this CPU.");
}

}  // namespace reluinj
