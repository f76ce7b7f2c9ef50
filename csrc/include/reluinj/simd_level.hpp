// The widest hand-written SIMD path (AVX-512, AVX2+FMA, or portable C++) the kernels may use.
//
// It is what this CPU supports (__builtin_cpu_supports), capped by the environment variable
// RELUINJ_SIMD=generic|avx2|avx512 when set, so that the portable and AVX2 paths can be run
// and tested on any machine. Read once per process; an unknown value is rejected by the Python
// package at import (reluinj._config), and ignored here. Functions that the compiler clones
// per instruction set (target_clones) are dispatched by the loader and not affected.
#pragma once
#include <cstdlib>
#include <cstring>

namespace reluinj {

enum class SimdLevel { generic = 0, avx2 = 1, avx512 = 2 };

inline SimdLevel cpu_simd_level() {
#if defined(__GNUC__) && defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return SimdLevel::avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SimdLevel::avx2;
#endif
    return SimdLevel::generic;
}

inline SimdLevel simd_level() {
    static const SimdLevel level = [] {
        const SimdLevel cpu = cpu_simd_level();
        const char *cap = std::getenv("RELUINJ_SIMD");
        SimdLevel limit = SimdLevel::avx512;
        if (cap && std::strcmp(cap, "generic") == 0) limit = SimdLevel::generic;
        else if (cap && std::strcmp(cap, "avx2") == 0) limit = SimdLevel::avx2;
        return int(cpu) < int(limit) ? cpu : limit;
    }();
    return level;
}

}  // namespace reluinj
