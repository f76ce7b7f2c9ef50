#include <cstdint>

#include "bindings.hpp"
#include "reluinj/facets.hpp"
#include "reluinj/nnls.hpp"

namespace reluinj {
namespace {

using i64array = carray<std::int64_t>;

void check_facets(const carray<double> &Wn, const i64array &indptr, const i64array &indices) {
    check_ndim(Wn, 2, "Wn");
    check_ndim(indptr, 1, "indptr");
    check_ndim(indices, 1, "indices");
    require(indptr.shape(0) >= 1, "indptr must have n_facets + 1 >= 1 entries");
    require(Wn.shape(1) >= 1, "Wn must have at least one column");
}

py::tuple nnls_py(carray<double> A, carray<double> b, int maxiter) {
    check_ndim(A, 2, "A");
    check_ndim(b, 1, "b");
    check_dim(b, 0, A.shape(0), "b");
    require(maxiter >= 1, "maxiter must be >= 1");
    const auto M = A.shape(0), N = A.shape(1);
    py::array_t<double> x(N);
    const double *a = A.data(), *bb = b.data();
    double *xp = x.mutable_data();
    double rnorm;
    {
        py::gil_scoped_release nogil;
        Nnls solver(M, N);
        rnorm = solver.solve(a, bb, xp, maxiter);
    }
    return py::make_tuple(x, rnorm);
}

py::tuple facet_traversal_py(carray<double> Wn, i64array indptr, i64array indices,
                             int variant, int n_threads) {
    check_facets(Wn, indptr, indices);
    const auto m = Wn.shape(0), n = Wn.shape(1), n_facets = indptr.shape(0) - 1;
    const auto nnz = indices.shape(0);
    require(variant >= 0 && variant <= 2, "variant must be 0 (vertex), 1 (facet) or 2 (authors)");
    py::array_t<double> beta(nnz), alpha(m);
    double sigma = 0.0;
    const double *w = Wn.data();
    const std::int64_t *ip = indptr.data(), *ix = indices.data();
    double *bp = beta.mutable_data(), *ap = alpha.mutable_data();
    bool completed;
    {
        py::gil_scoped_release nogil;
        require(ip[n_facets] == nnz, "indptr[-1] must equal len(indices)");
        completed = facet_traversal(w, m, n, ip, ix, n_facets, static_cast<Variant>(variant),
                                    bp, &sigma, ap, n_threads, PythonSignals{});
    }
    throw_if_interrupted(completed);
    return py::make_tuple(alpha, beta, sigma);
}

}  // namespace

void bind_facets(py::module_ &m) {
    m.def("nnls", &nnls_py, py::arg("A").noconvert(), py::arg("b").noconvert(),
          py::arg("maxiter"),
          "Lawson-Hanson NNLS: (x, rnorm) minimising ||A x - b|| subject to x >= 0.");
    m.def("facet_traversal", &facet_traversal_py, py::arg("Wn").noconvert(),
          py::arg("indptr").noconvert(), py::arg("indices").noconvert(), py::arg("variant"),
          py::arg("n_threads"),
          "Polytope bias over CSR facets: (alpha (m,), beta (nnz,), min_F sigma_min(Wn[F])).");
}

}  // namespace reluinj
