#include <cstdint>

#include "bindings.hpp"
#include "reluinj/reconstruct.hpp"

namespace reluinj {
namespace {

using i64array = py::array_t<std::int64_t, py::array::c_style>;

template <class T>
void check_inverse_args(const carray<double> &W, const carray<double> &alpha, const carray<T> &Y,
                        double rank_tol) {
    check_ndim(W, 2, "W");
    check_ndim(alpha, 1, "alpha");
    check_ndim(Y, 2, "Y");
    check_dim(alpha, 0, W.shape(0), "alpha");
    check_dim(Y, 1, W.shape(0), "Y");
    require(W.shape(1) >= 1, "W must have at least one column");
    require(rank_tol > 0.0 && rank_tol < 1.0, "rank_tol must be in (0, 1)");
}

template <class T>
py::tuple dual_inverse_py(carray<double> W, carray<double> alpha, carray<T> Y, double rank_tol,
                          int n_threads) {
    check_inverse_args(W, alpha, Y, rank_tol);
    const auto m = W.shape(0), n = W.shape(1), B = Y.shape(0);
    carray<T> X({B, n});
    py::array_t<bool> inj(B);
    py::array_t<double> res(B);
    auto *o = reinterpret_cast<std::uint8_t *>(inj.mutable_data());
    const double *w = W.data(), *a = alpha.data();
    const T *y = Y.data();
    T *x = X.mutable_data();
    double *r = res.mutable_data();
    bool valid;
    {
        py::gil_scoped_release nogil;
        valid = dual_inverse(w, a, y, x, o, r, m, n, B, rank_tol, n_threads);
    }
    return py::make_tuple(X, inj, res, valid);
}

template <class T>
py::tuple facet_inverse_py(carray<double> W, carray<double> alpha, carray<T> Y, i64array indptr,
                           i64array indices, double rank_tol, int n_threads) {
    check_inverse_args(W, alpha, Y, rank_tol);
    check_ndim(indptr, 1, "indptr");
    check_ndim(indices, 1, "indices");
    const auto m = W.shape(0), n = W.shape(1), B = Y.shape(0);
    const auto n_facets = indptr.shape(0) - 1;
    require(n_facets >= 0, "indptr must have at least one entry");
    const std::int64_t *ip = indptr.data(), *ix = indices.data();
    require(ip[0] == 0 && ip[n_facets] == indices.shape(0),
            "indptr must start at 0 and end at len(indices)");
    for (std::ptrdiff_t f = 0; f < n_facets; ++f)
        require(ip[f] < ip[f + 1], "every facet must have at least one vertex (indptr increasing)");
    for (std::ptrdiff_t p = 0; p < indices.shape(0); ++p)
        require(ix[p] >= 0 && ix[p] < m, "facet vertex indices must lie in [0, m)");
    carray<T> X({B, n});
    py::array_t<bool> inj(B);
    py::array_t<double> res(B);
    py::array_t<std::int64_t> facet(B);
    auto *o = reinterpret_cast<std::uint8_t *>(inj.mutable_data());
    const double *w = W.data(), *a = alpha.data();
    const T *y = Y.data();
    T *x = X.mutable_data();
    double *r = res.mutable_data();
    std::int64_t *fc = facet.mutable_data();
    bool completed;
    {
        py::gil_scoped_release nogil;
        completed = facet_inverse(w, a, y, ip, ix, n_facets, x, o, r, fc, m, n, B, rank_tol,
                                  n_threads, PythonSignals{});
    }
    throw_if_interrupted(completed);
    return py::make_tuple(X, inj, res, facet);
}

template <class T>
py::tuple frame_inverse_py(carray<double> W, carray<double> alpha, carray<T> Y, bool relu_variant,
                           double lambda_full, double frame_upper, double tol, int max_iter,
                           double rank_tol, int n_threads) {
    check_inverse_args(W, alpha, Y, rank_tol);
    require(tol >= 0.0, "tol must be >= 0");
    require(max_iter >= 1, "max_iter must be >= 1");
    require(frame_upper > 0.0, "frame_upper must be > 0");
    const auto m = W.shape(0), n = W.shape(1), B = Y.shape(0);
    carray<T> X({B, n});
    py::array_t<bool> inj(B);
    py::array_t<double> res(B);
    py::array_t<std::int32_t> nit(B);
    auto *o = reinterpret_cast<std::uint8_t *>(inj.mutable_data());
    const double *w = W.data(), *a = alpha.data();
    const T *y = Y.data();
    T *x = X.mutable_data();
    double *r = res.mutable_data();
    std::int32_t *it = nit.mutable_data();
    {
        py::gil_scoped_release nogil;
        frame_inverse(w, a, y, x, o, r, it, m, n, B, relu_variant, lambda_full, frame_upper, tol,
                      max_iter, rank_tol, n_threads);
    }
    return py::make_tuple(X, inj, res, nit);
}

template <class T>
py::tuple cg_inverse_py(carray<double> W, carray<double> alpha, carray<T> Y, double tol,
                        int max_iter, double rank_tol, int n_threads) {
    check_inverse_args(W, alpha, Y, rank_tol);
    require(tol >= 0.0, "tol must be >= 0");
    require(max_iter >= 1, "max_iter must be >= 1");
    const auto m = W.shape(0), n = W.shape(1), B = Y.shape(0);
    carray<T> X({B, n});
    py::array_t<bool> inj(B);
    py::array_t<double> res(B);
    py::array_t<std::int32_t> nit(B);
    auto *o = reinterpret_cast<std::uint8_t *>(inj.mutable_data());
    const double *w = W.data(), *a = alpha.data();
    const T *y = Y.data();
    T *x = X.mutable_data();
    double *r = res.mutable_data();
    std::int32_t *it = nit.mutable_data();
    {
        py::gil_scoped_release nogil;
        cg_inverse(w, a, y, x, o, r, it, m, n, B, tol, max_iter, rank_tol, n_threads);
    }
    return py::make_tuple(X, inj, res, nit);
}

template <class T>
py::array_t<double> inverse_stability_py(carray<double> W, carray<double> alpha, carray<T> X,
                                         double rank_tol, int n_threads) {
    check_ndim(W, 2, "W");
    check_ndim(alpha, 1, "alpha");
    check_ndim(X, 2, "X");
    check_dim(alpha, 0, W.shape(0), "alpha");
    check_dim(X, 1, W.shape(1), "X");
    require(rank_tol > 0.0 && rank_tol < 1.0, "rank_tol must be in (0, 1)");
    const auto m = W.shape(0), n = W.shape(1), B = X.shape(0);
    py::array_t<double> out(B);
    const double *w = W.data(), *a = alpha.data();
    const T *x = X.data();
    double *o = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        inverse_stability(w, a, x, o, m, n, B, rank_tol, n_threads);
    }
    return out;
}

template <class T>
void def_typed(py::module_ &m) {
    m.def("dual_inverse", &dual_inverse_py<T>, py::arg("W").noconvert(), py::arg("alpha").noconvert(),
          py::arg("Y").noconvert(), py::arg("rank_tol"), py::arg("n_threads"),
          "Least squares on the active rows of each output: (X, injective, residual, y_valid); y_valid is False when Y has NaN, inf or negative entries.");
    m.def("facet_inverse", &facet_inverse_py<T>, py::arg("W").noconvert(),
          py::arg("alpha").noconvert(), py::arg("Y").noconvert(), py::arg("indptr").noconvert(),
          py::arg("indices").noconvert(), py::arg("rank_tol"), py::arg("n_threads"),
          "First fully active facet per output: (X, injective, residual, facet).");
    m.def("frame_inverse", &frame_inverse_py<T>, py::arg("W").noconvert(),
          py::arg("alpha").noconvert(), py::arg("Y").noconvert(), py::arg("relu_variant"),
          py::arg("lambda_full"), py::arg("frame_upper"), py::arg("tol"), py::arg("max_iter"),
          py::arg("rank_tol"), py::arg("n_threads"),
          "ReLU frame algorithm: (X, injective, residual, n_iter).");
    m.def("cg_inverse", &cg_inverse_py<T>, py::arg("W").noconvert(), py::arg("alpha").noconvert(),
          py::arg("Y").noconvert(), py::arg("tol"), py::arg("max_iter"), py::arg("rank_tol"),
          py::arg("n_threads"), "CG on the active normal equations: (X, injective, residual, n_iter).");
    m.def("inverse_stability", &inverse_stability_py<T>, py::arg("W").noconvert(),
          py::arg("alpha").noconvert(), py::arg("X").noconvert(), py::arg("rank_tol"),
          py::arg("n_threads"), "1/sqrt(lambda_min(W_I^T W_I)) per input point (inf if not spanning).");
}

}  // namespace

void bind_reconstruct(py::module_ &m) {
    def_typed<double>(m);
    def_typed<float>(m);
}

}  // namespace reluinj
