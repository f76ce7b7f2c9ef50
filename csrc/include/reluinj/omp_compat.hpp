// OpenMP compatibility layer: every kernel includes this instead of <omp.h>, so a
// build without OpenMP compiles the same sources into serial loops.
#pragma once
#ifdef _OPENMP
#include <omp.h>
#define RELUINJ_HAS_OPENMP 1
inline int reluinj_max_threads() { return omp_get_max_threads(); }
inline int reluinj_thread_num() { return omp_get_thread_num(); }
#else
#define RELUINJ_HAS_OPENMP 0
inline int reluinj_max_threads() { return 1; }
inline int reluinj_thread_num() { return 0; }
#endif
