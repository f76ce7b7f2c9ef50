# Declarations of csrc/include/reluinj/omp_compat.hpp for Cython kernels.
cdef extern from "reluinj/omp_compat.hpp" nogil:
    int RELUINJ_HAS_OPENMP
    int reluinj_max_threads()
