#!/usr/bin/env bash
# Compiles the C++ extension with Clang for targets of the release wheels that GCC on this
# machine does not cover: x86-64 (the intrinsics paths, with Clang) and arm64 macOS (Apple's
# compiler is a Clang; the same non-x86 code as aarch64 Linux, `aarch64-linux-gnu`). The kernels use GCC/Clang vector extensions; a GCC-only builtin (such as
# __builtin_shuffle) or an x86-only path reached on ARM fails here, not on a user's Mac.
#
# Usage: tools/clang_check.sh [TARGET ...]     (default: x86_64-linux-gnu aarch64-macos)
#
# The Clang is Zig's (`pip install ziglang`: a self-contained Clang with the C/C++ headers of
# every target). Objects only (no link, no OpenMP: omp_compat.hpp's serial fallback); warnings
# of -Wall -Wextra are errors, except the cross-compilation noise of this machine's pyconfig.h.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
python -m ziglang version > /dev/null 2>&1 || python -m pip install -q "ziglang>=0.13"
python -c "import pybind11" 2> /dev/null || python -m pip install -q "pybind11>=2.12"  # its headers

TARGETS=("$@")
[ "${#TARGETS[@]}" -gt 0 ] || TARGETS=(x86_64-linux-gnu aarch64-macos)
export PYINC PBINC OUT
PYINC=$(python -c "import sysconfig; print(sysconfig.get_paths()['include'])")
PBINC=$(python -c "import pybind11; print(pybind11.get_include())")
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# One compilation: "TARGET SOURCE"; prints the errors and fails when it does not compile.
compile_one() {
    local target=$1 src=$2 log
    log="$OUT/$target-$(basename "$src" .cpp).log"
    python -m ziglang c++ -target "$target" -std=c++17 -O1 -c "$src" -o "${log%.log}.o" \
        -Icsrc/include -Icsrc/bindings -I"$PYINC" -I"$PBINC" \
        -Wall -Wextra -Werror -Wno-macro-redefined -Wno-unused-command-line-argument \
        > "$log" 2>&1 && return 0
    echo "clang ($target) fails on $src:"
    grep -E "error" "$log" | head -20
    return 1
}
export -f compile_one

for target in "${TARGETS[@]}"; do
    for src in csrc/bindings/*.cpp; do echo "$target $src"; done
done | xargs -P "$(nproc)" -n 2 bash -c 'compile_one "$0" "$1"' \
    && echo "clang ${TARGETS[*]}: every source compiles" \
    || { echo "clang: FAILED"; exit 1; }
