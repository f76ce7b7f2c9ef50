// The one place that knows about instruction sets (ISAs).
//
// * Isa / active_isa(): what this CPU supports (__builtin_cpu_supports), capped by the
//   environment variable RELUINJ_SIMD=generic|avx2|avx512 (an empty value means unset; an
//   unknown value is rejected by the Python package at import and ignored here). Read once per
//   process. Every kernel that has per-ISA code asks active_isa(), nothing else.
// * RELUINJ_TARGET_AVX2 / RELUINJ_TARGET_AVX512: the target attributes of the per-ISA entry
//   points (one list each). RELUINJ_FORCE_INLINE: the algorithm bodies they instantiate.
// * vec<T, I>: the small vector type (GCC vector extension) of one register of ISA I; an
//   algorithm is written once over it, as a RELUINJ_FORCE_INLINE template on Isa, and compiled
//   per ISA by the one-line wrappers of RELUINJ_ISA_DISPATCH (RELUINJ_WIDE_ISA_DISPATCH for
//   kernels that need at least four doubles per vector: AVX2 and AVX-512 only).
// * Broadcasts (vsplat), tail masking (keep_first), comparison masks as bits (mask_bits) and fixed-order
//   lane reductions (results independent of threads and chunking).
#pragma once
// Vector values passed between force-inlined helpers never cross an ABI boundary.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <utility>

#if defined(__GNUC__) && defined(__x86_64__)
#define RELUINJ_X86 1
#include <immintrin.h>
#define RELUINJ_TARGET_AVX2 __attribute__((target("avx2,fma,bmi,bmi2,popcnt")))
#define RELUINJ_TARGET_AVX512 \
    __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx2,fma,bmi,bmi2,popcnt")))
#else
#define RELUINJ_X86 0
#define RELUINJ_TARGET_AVX2
#define RELUINJ_TARGET_AVX512
#endif

#if defined(__GNUC__)
#define RELUINJ_FORCE_INLINE inline __attribute__((always_inline))
#else
#define RELUINJ_FORCE_INLINE inline
#endif

namespace reluinj {

enum class Isa { generic = 0, avx2 = 1, avx512 = 2 };

inline Isa cpu_isa() {
#if RELUINJ_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
        return Isa::avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
#endif
    return Isa::generic;
}

// The cap from RELUINJ_SIMD (avx512 when unset, empty or unknown).
inline Isa env_isa_cap() {
    const char *cap = std::getenv("RELUINJ_SIMD");
    if (cap && std::strcmp(cap, "generic") == 0) return Isa::generic;
    if (cap && std::strcmp(cap, "avx2") == 0) return Isa::avx2;
    return Isa::avx512;
}

inline Isa active_isa() {
    static const Isa isa = [] {
        const Isa cpu = cpu_isa(), cap = env_isa_cap();
        return int(cpu) < int(cap) ? cpu : cap;
    }();
    return isa;
}

// Whether the active ISA has vectors of at least four doubles (RELUINJ_WIDE_ISA_DISPATCH).
inline bool wide_vectors() { return active_isa() != Isa::generic; }

inline const char *isa_name(Isa isa) {
    switch (isa) {
        case Isa::avx512: return "avx512";
        case Isa::avx2: return "avx2";
        default: return "generic";
    }
}

// Bytes of one vector register of each ISA (SSE2 for generic x86-64).
constexpr int vec_bytes(Isa isa) { return isa == Isa::avx512 ? 64 : isa == Isa::avx2 ? 32 : 16; }

template <class T, int Bytes>
struct SimdVec {
    typedef T type __attribute__((vector_size(Bytes)));
};
template <class T, Isa I>
using vec = typename SimdVec<T, vec_bytes(I)>::type;
template <class T, Isa I>
constexpr int lanes() { return vec_bytes(I) / int(sizeof(T)); }

template <class V>
RELUINJ_FORCE_INLINE V vload(const void *p) {
    V v;
    std::memcpy(&v, p, sizeof(V));
    return v;
}
template <class V>
RELUINJ_FORCE_INLINE void vstore(void *p, V v) {
    std::memcpy(p, &v, sizeof(V));
}

// Lanes l < len of a vector read from p (the others 0): a tail of length len < lanes.
template <class V, class T>
RELUINJ_FORCE_INLINE V vload_tail(const T *p, std::ptrdiff_t len) {
    V v = {};
    for (std::ptrdiff_t l = 0; l < len; ++l) v[l] = p[l];
    return v;
}
template <class V, class T>
RELUINJ_FORCE_INLINE void vstore_tail(T *p, V v, std::ptrdiff_t len) {
    for (std::ptrdiff_t l = 0; l < len; ++l) p[l] = v[l];
}

// The integer vector of a comparison of two vec<T, I> (lanes all ones or zero).
template <class T, Isa I>
using vmask = decltype(vec<T, I>{} < vec<T, I>{});

// Bit l = lane l of the comparison mask m (lanes all ones or zero; at most 32 lanes): the lanes
// narrowed to bytes, each 8 bytes gathered into one byte by a multiplication.
template <class M>
RELUINJ_FORCE_INLINE unsigned mask_bits(M m) {
    constexpr int L = sizeof(M) / sizeof(m[0]);
    static_assert(L <= 32, "bits of an unsigned");
    const auto b = __builtin_convertvector(-m, typename SimdVec<signed char, L>::type);  // 1 or 0
    unsigned bits = 0;
    for (int w = 0; w < L; w += 8) {
        std::uint64_t x = 0;
        std::memcpy(&x, reinterpret_cast<const char *>(&b) + w, L - w < 8 ? L - w : 8);
        bits |= unsigned((x * 0x0102040810204080ull) >> 56) << w;
    }
    return bits;
}

// The lanes Ix... (compile-time, < 2 L) of the concatenation (a, b) of two vectors of L lanes.
template <int... Ix, class V>
RELUINJ_FORCE_INLINE V shuffle2(V a, V b) {
    static_assert(sizeof...(Ix) == sizeof(V) / sizeof(a[0]), "one index per lane");
#if defined(__clang__)
    return __builtin_shufflevector(a, b, Ix...);
#else
    using Lane = decltype(a[0] + a[0]);
    using Index = typename SimdVec<typename std::conditional<sizeof(Lane) == 8, long long, int>::type, sizeof(V)>::type;
    return __builtin_shuffle(a, b, Index{Ix...});
#endif
}

// A vector with every lane x: lane 0 shuffled to all (one broadcast; GCC 12 builds {x, x, ...}
// lane by lane in some loops).
template <class V, class T, int... Ix>
RELUINJ_FORCE_INLINE V vsplat_impl(T x, std::integer_sequence<int, Ix...>) {
    V v = {};
    v[0] = x;
    return shuffle2<((void)Ix, 0)...>(v, v);
}
template <class V, class T>
RELUINJ_FORCE_INLINE V vsplat(T x) {
    return vsplat_impl<V>(x, std::make_integer_sequence<int, sizeof(V) / sizeof(V{}[0])>{});
}

// The lanes l < len of v (the others fill).
template <class V, class T>
RELUINJ_FORCE_INLINE V keep_first(V v, std::ptrdiff_t len, T fill) {
    constexpr int L = sizeof(V) / sizeof(v[0]);
    V idx;
    for (int l = 0; l < L; ++l) idx[l] = T(l);
    return idx < vsplat<V>(T(len < L ? len : L)) ? v : vsplat<V>(fill);
}

// Sum of the lanes of v in a fixed pairwise order: lanes l and l + L/2 first, recursively.
template <class V>
RELUINJ_FORCE_INLINE double reduce_add(V v) {
    constexpr int L = sizeof(V) / sizeof(v[0]);
    double t[L];
    for (int l = 0; l < L; ++l) t[l] = double(v[l]);
    for (int h = L / 2; h >= 1; h /= 2)
        for (int l = 0; l < h; ++l) t[l] += t[l + h];
    return t[0];
}

}  // namespace reluinj

// name(args...) calls impl<Isa::...>(args...) compiled for the active ISA: one-line wrappers
// per ISA and the switch on active_isa(). RELUINJ_ISA_DISPATCH has generic, AVX2 and AVX-512
// instances; RELUINJ_WIDE_ISA_DISPATCH, for kernels that need vectors of four or eight doubles,
// only AVX2 and AVX-512 (callers check wide_vectors() first).
#if RELUINJ_X86
#define RELUINJ_VECTOR_ISA_WRAPPERS(name, impl)                                                 \
    template <class... A>                                                                      \
    RELUINJ_TARGET_AVX2 inline auto name##_avx2(A... a) { return impl<::reluinj::Isa::avx2>(a...); } \
    template <class... A>                                                                      \
    RELUINJ_TARGET_AVX512 inline auto name##_avx512(A... a) {                                  \
        return impl<::reluinj::Isa::avx512>(a...);                                             \
    }
#define RELUINJ_ISA_DISPATCH(name, impl)                                                        \
    RELUINJ_VECTOR_ISA_WRAPPERS(name, impl)                                                    \
    template <class... A>                                                                      \
    inline auto name(A... a) {                                                                 \
        switch (::reluinj::active_isa()) {                                                     \
            case ::reluinj::Isa::avx512: return name##_avx512(a...);                           \
            case ::reluinj::Isa::avx2: return name##_avx2(a...);                               \
            default: return impl<::reluinj::Isa::generic>(a...);                               \
        }                                                                                      \
    }
#define RELUINJ_WIDE_ISA_DISPATCH(name, impl)                                                   \
    RELUINJ_VECTOR_ISA_WRAPPERS(name, impl)                                                    \
    template <class... A>                                                                      \
    inline auto name(A... a) {                                                                 \
        if (::reluinj::active_isa() == ::reluinj::Isa::avx512) return name##_avx512(a...);     \
        return name##_avx2(a...);                                                              \
    }
#else
#define RELUINJ_ISA_DISPATCH(name, impl)                                                        \
    template <class... A>                                                                      \
    inline auto name(A... a) { return impl<::reluinj::Isa::generic>(a...); }
#define RELUINJ_WIDE_ISA_DISPATCH(name, impl)                                                   \
    template <class... A>                                                                      \
    inline auto name(A... a) { return impl<::reluinj::Isa::avx2>(a...); }
#endif
