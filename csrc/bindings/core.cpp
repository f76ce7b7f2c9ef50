// reluinj._core: the pybind11 module. Kernels live in csrc/include/reluinj/*.hpp (no Python
// in them); this file only creates the module and calls each topic's bind function.
#include "bindings.hpp"
#include "reluinj/omp_compat.hpp"
#include "reluinj/simd.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "Compiled kernels of reluinj (private; use the public reluinj API).";
    m.attr("HAS_OPENMP") = py::bool_(RELUINJ_HAS_OPENMP != 0);
    m.def("max_threads", &reluinj_max_threads,
          "omp_get_max_threads() (1 without OpenMP); honours OMP_NUM_THREADS and threadpoolctl.");
#if defined(__clang__)
    m.attr("COMPILER") = "clang " __clang_version__;
#elif defined(__GNUC__)
    m.attr("COMPILER") = "gcc " __VERSION__;
#elif defined(_MSC_VER)
    m.attr("COMPILER") = "msvc " + std::to_string(_MSC_VER);
#else
    m.attr("COMPILER") = "unknown";
#endif
    m.def("simd_level", [] { return reluinj::isa_name(reluinj::active_isa()); }, "Widest hand-written SIMD path in use: 'avx512', 'avx2' or 'generic' (CPU support capped by RELUINJ_SIMD).");
    reluinj::bind_injectivity(m);
    reluinj::bind_facets(m);
    reluinj::bind_conv(m);
    reluinj::bind_reconstruct(m);
    reluinj::bind_mcb(m);
    reluinj::bind_radial(m);
}
