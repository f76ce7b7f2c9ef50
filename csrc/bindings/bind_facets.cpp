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
                             py::object used_obj, int variant, int n_threads) {
    check_facets(Wn, indptr, indices);
    const auto m = Wn.shape(0), n = Wn.shape(1), n_facets = indptr.shape(0) - 1;
    const auto nnz = indices.shape(0);
    require(variant >= 0 && variant <= 2, "variant must be 0 (vertex), 1 (facet) or 2 (authors)");
    const std::uint8_t *used = nullptr;
    py::array_t<bool, py::array::c_style> used_arr;
    if (!used_obj.is_none()) {
        used_arr = used_obj.cast<py::array_t<bool, py::array::c_style>>();
        check_ndim(used_arr, 1, "used");
        check_dim(used_arr, 0, n_facets, "used");
        used = reinterpret_cast<const std::uint8_t *>(used_arr.data());
    }
    py::array_t<double> beta(nnz), alpha(m);
    double sigma = 0.0;
    const double *w = Wn.data();
    const std::int64_t *ip = indptr.data(), *ix = indices.data();
    double *bp = beta.mutable_data(), *ap = alpha.mutable_data();
    bool completed;
    {
        py::gil_scoped_release nogil;
        require(ip[n_facets] == nnz, "indptr[-1] must equal len(indices)");
        completed = facet_traversal(w, m, n, ip, ix, n_facets, used, static_cast<Variant>(variant),
                                    bp, &sigma, ap, n_threads, PythonSignals{});
    }
    throw_if_interrupted(completed);
    return py::make_tuple(alpha, beta, sigma);
}

py::array_t<bool> facets_meeting_orthant_py(carray<double> Wn, i64array indptr,
                                            i64array indices, double tol, int n_threads) {
    check_facets(Wn, indptr, indices);
    const auto m = Wn.shape(0), n = Wn.shape(1), n_facets = indptr.shape(0) - 1;
    const auto nnz = indices.shape(0);
    require(tol >= 0.0, "tol must be >= 0");
    py::array_t<bool> out(n_facets);
    const double *w = Wn.data();
    const std::int64_t *ip = indptr.data(), *ix = indices.data();
    auto *o = reinterpret_cast<std::uint8_t *>(out.mutable_data());
    bool completed;
    {
        py::gil_scoped_release nogil;
        require(ip[n_facets] == nnz, "indptr[-1] must equal len(indices)");
        completed = facets_meeting_orthant(w, m, n, ip, ix, n_facets, o, tol, n_threads,
                                           PythonSignals{});
    }
    throw_if_interrupted(completed);
    return out;
}

}  // namespace

void bind_facets(py::module_ &m) {
    m.def("nnls", &nnls_py, py::arg("A").noconvert(), py::arg("b").noconvert(),
          py::arg("maxiter"),
          "Lawson-Hanson NNLS: (x, rnorm) minimising ||A x - b|| subject to x >= 0.");
    m.def("facet_traversal", &facet_traversal_py, py::arg("Wn").noconvert(),
          py::arg("indptr").noconvert(), py::arg("indices").noconvert(), py::arg("used"),
          py::arg("variant"), py::arg("n_threads"),
          "Polytope bias over CSR facets: (alpha (m,), beta (nnz,), min_F sigma_min(Wn[F])).");
    m.def("facets_meeting_orthant", &facets_meeting_orthant_py, py::arg("Wn").noconvert(),
          py::arg("indptr").noconvert(), py::arg("indices").noconvert(), py::arg("tol"),
          py::arg("n_threads"), "Boolean (n_facets,): cone(F) meets R^n_+ outside 0.");
}

}  // namespace reluinj
