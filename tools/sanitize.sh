#!/usr/bin/env bash
# Build both compiled extensions with AddressSanitizer + UndefinedBehaviorSanitizer and run the
# tests against them; exits non-zero when a sanitizer reports anything (or a test fails).
#
# Usage (from anywhere; needs g++ with libasan/libubsan, pytest and setup.py's build requirements):
#     tools/sanitize.sh                                  # the compiled-kernel tests (a few minutes)
#     PYTEST_ARGS="tests" tools/sanitize.sh              # the whole suite
#     PYTEST_ARGS="-x tests/test_polytope.py" tools/sanitize.sh
#
# How: a compiler wrapper appends the sanitizer flags *after* setup.py's own (-O1 overrides its
# -O3, which would otherwise hide stack errors behind inlining). The modules are built into
# build/sanitize/ -- the in-place modules in src/reluinj/ are left alone -- and a copy of the
# package with them is staged in build/sanitize/pkg/. Python itself is not instrumented, so
# libasan must be preloaded, together with libstdc++ (without it a C++ exception thrown from a
# module aborts under ASan: its interceptor of __cxa_throw is resolved before libstdc++ loads).
# Leak detection is off: CPython keeps interned objects alive at exit by design.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/build/sanitize"
CXX_BIN="${CXX:-g++}"
cd "$ROOT"
mkdir -p "$OUT"

ASAN_LIB="$("$CXX_BIN" -print-file-name=libasan.so)"
if [ "${ASAN_LIB#/}" = "$ASAN_LIB" ]; then
    echo "sanitizers: SKIPPED, $CXX_BIN has no libasan (install the compiler's sanitizer runtime)"
    exit 0
fi

# setup.py runs outside pip here, so the [build-system] requirements must be importable.
python - "$ROOT/pyproject.toml" <<'PY' > "$OUT/build-requires.txt"
import sys, tomllib
print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["build-system"]["requires"]))
PY
python -m pip install -q -r "$OUT/build-requires.txt" > "$OUT/pip.log" 2>&1 \
    || { tail -20 "$OUT/pip.log"; exit 1; }

FLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
WRAP="$OUT/san-cxx"
printf '#!/bin/sh\nexec %s "$@" %s\n' "$CXX_BIN" "$FLAGS" > "$WRAP"
chmod +x "$WRAP"

echo "== building sanitized extensions in $OUT (about two minutes)"
CC="$WRAP" CXX="$WRAP" LDSHARED="$WRAP -shared" LDCXXSHARED="$WRAP -shared" RELUINJ_DEBUG=1 \
    python setup.py build_ext --build-temp "$OUT/temp" --build-lib "$OUT/lib" -j 2 \
    > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }

rm -rf "$OUT/pkg"
mkdir -p "$OUT/pkg"
cp -r src/reluinj "$OUT/pkg/reluinj"
find "$OUT/pkg/reluinj" -name '*.so' -delete
cp "$OUT"/lib/reluinj/*.so "$OUT/pkg/reluinj/"

PRELOAD="$ASAN_LIB $("$CXX_BIN" -print-file-name=libstdc++.so)"
# The tests that reach compiled code; torch-based tests are left out by default (torch's own
# libraries are not built for a preloaded ASan runtime and report false positives).
DEFAULT_TESTS="tests/test_layer.py tests/test_reconstruct.py tests/test_sampled.py
    tests/test_polytope.py tests/test_hull.py tests/test_region.py tests/test_cnn.py
    tests/test_operators.py tests/test_conv_geometry.py tests/test_activations.py
    tests/test_frames.py tests/test_domains.py tests/test_hardening.py tests/test_threads.py
    tests/test_simd_paths.py tests/test_network.py tests/test_validation.py tests/test_bindings.py"
TESTS=""
for t in $DEFAULT_TESTS; do [ -f "$t" ] && TESTS="$TESTS $t"; done
LOG="$OUT/pytest.log"
echo "== pytest under ASan/UBSan: ${PYTEST_ARGS:-$TESTS}"
set +e
RELUINJ_HYPOTHESIS_PROFILE=${RELUINJ_HYPOTHESIS_PROFILE:-ci} PYTHONPATH="$OUT/pkg" \
    LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:halt_on_error=1" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    python -m pytest -q -p no:cacheprovider -m "not slow" ${PYTEST_ARGS:-$TESTS} > "$LOG" 2>&1
rc=$?
set -e
grep -E "passed|failed|error" "$LOG" | tail -1
if grep -qE "ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer" "$LOG"; then
    echo "sanitizer reports (see $LOG):"
    grep -E -A12 "ERROR: AddressSanitizer|runtime error:" "$LOG" | head -60
    exit 1
fi
[ "$rc" -eq 0 ] || { echo "pytest failed under the sanitizers (rc=$rc, see $LOG)"; tail -30 "$LOG"; exit "$rc"; }
echo "sanitizers: nothing reported"
