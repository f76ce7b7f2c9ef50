#include <cstdint>

#include "bindings.hpp"
#include "reluinj/injectivity.hpp"

namespace reluinj {
namespace {

template <class T>
void check_layer(const carray<T> &W, const carray<T> &alpha, const carray<T> &X) {
    check_ndim(W, 2, "W");
    check_ndim(alpha, 1, "alpha");
    check_ndim(X, 2, "X");
    check_dim(alpha, 0, W.shape(0), "alpha");
    check_dim(X, 1, W.shape(1), "X");
}

template <class T>
py::array_t<bool> active_mask_py(carray<T> W, carray<T> alpha, carray<T> X, int n_threads) {
    check_layer(W, alpha, X);
    const auto m = W.shape(0), n = W.shape(1), k = X.shape(0);
    py::array_t<bool> out({k, m});
    auto *o = reinterpret_cast<std::uint8_t *>(out.mutable_data());
    const T *w = W.data(), *a = alpha.data(), *x = X.data();
    {
        py::gil_scoped_release nogil;
        active_mask(w, a, x, o, m, n, k, n_threads);
    }
    return out;
}

template <class T>
py::object injective_at_py(carray<T> W, carray<T> alpha, carray<T> X, double rank_tol,
                           bool return_rank, int n_threads) {
    check_layer(W, alpha, X);
    if (!(rank_tol > 0.0 && rank_tol < 1.0))
        throw std::invalid_argument("rank_tol must be in (0, 1)");
    const auto m = W.shape(0), n = W.shape(1), k = X.shape(0);
    py::array_t<bool> out(k);
    py::array_t<std::int32_t> rank(return_rank ? k : 0);
    auto *o = reinterpret_cast<std::uint8_t *>(out.mutable_data());
    std::int32_t *r = return_rank ? rank.mutable_data() : nullptr;
    const T *w = W.data(), *a = alpha.data(), *x = X.data();
    {
        py::gil_scoped_release nogil;
        injective_at(w, a, x, o, r, m, n, k, rank_tol, n_threads);
    }
    if (return_rank) return py::make_tuple(out, rank);
    return std::move(out);
}

template <class T>
void def_typed(py::module_ &m) {
    m.def("active_mask", &active_mask_py<T>, py::arg("W").noconvert(),
          py::arg("alpha").noconvert(), py::arg("X").noconvert(), py::arg("n_threads"),
          "Boolean (k, m) mask <X[s], W[i]> >= alpha[i].");
    m.def("injective_at", &injective_at_py<T>, py::arg("W").noconvert(),
          py::arg("alpha").noconvert(), py::arg("X").noconvert(), py::arg("rank_tol"),
          py::arg("return_rank"), py::arg("n_threads"),
          "Per-sample test that the active rows of W span R^n (optionally with their rank).");
}

}  // namespace

void bind_injectivity(py::module_ &m) {
    def_typed<double>(m);
    def_typed<float>(m);
}

}  // namespace reluinj
