#!/usr/bin/env bash
# Line coverage of the compiled code (csrc/) under the test suite, per SIMD level.
#
# Usage (from anywhere; needs g++, gcovr, pytest and the build requirements of setup.py):
#     tools/coverage.sh                 # every RELUINJ_SIMD level this CPU supports
#     tools/coverage.sh generic avx2    # only these levels
#     PYTEST_ARGS="-x tests/test_reconstruct.py" tools/coverage.sh   # a subset of the tests
#
# It builds both extensions with gcov instrumentation (--coverage -O1, and
# -fprofile-update=single: -fopenmp would otherwise make every counter update atomic, which is
# slow; racy counts are fine for line coverage), the flags appended after the
# -O3 of setup.py by a compiler wrapper, into build/coverage/ -- the in-place modules in
# src/reluinj/ are left alone -- stages a copy of the Python package with the instrumented
# modules in build/coverage/pkg/, then for each level clears the counters, runs
# `python -m pytest -q tests` with RELUINJ_SIMD=<level> and PYTHONPATH=build/coverage/pkg and
# prints gcovr's line coverage of every csrc/ file (headers included; the Cython-generated
# csrc/cython/_cykern.cpp is left out; the lines of all template instances merged; counts of
# 2^32 and more kept: gcovr's "suspicious hits" check dropped the BW-ReLU loops, run ~8e9 times). Per-level
# reports are also written to build/coverage/<level>.txt. Last, the union over the levels run
# (a line counts when some level reached it: each ISA path runs only at its own level), to
# build/coverage/all.txt, and every file of csrc/include/ below 90 % of its lines is named;
# the exit status is 1 then (and 0 when every header reaches 90 %).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/build/coverage"
cd "$ROOT"

if [ "$#" -gt 0 ]; then
    LEVELS=("$@")
else
    LEVELS=(generic)
    grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && LEVELS+=(avx2)
    grep -qw avx512f /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo \
        && grep -qw avx512dq /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo && LEVELS+=(avx512)
fi

mkdir -p "$OUT"
# g++ with the coverage flags last (so -O1 overrides setup.py's -O3).
WRAP="$OUT/gcov-cxx"
printf '#!/bin/sh\nexec %s "$@" -O1 --coverage -fprofile-update=single\n' "${CXX:-g++}" > "$WRAP"
chmod +x "$WRAP"

echo "== building instrumented extensions in $OUT"
CC="$WRAP" CXX="$WRAP" LDSHARED="$WRAP -shared" LDCXXSHARED="$WRAP -shared" \
    python setup.py build_ext --build-temp "$OUT/temp" --build-lib "$OUT/lib" -j 2 \
    > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }

rm -rf "$OUT/pkg"
mkdir -p "$OUT/pkg"
cp -r src/reluinj "$OUT/pkg/reluinj"
find "$OUT/pkg/reluinj" -name '*.so' -delete
cp "$OUT"/lib/reluinj/*.so "$OUT/pkg/reluinj/"

for level in "${LEVELS[@]}"; do
    echo "== RELUINJ_SIMD=$level"
    find "$OUT/temp" -name '*.gcda' -delete
    # A failing test is reported but does not stop the coverage report.
    (cd "$ROOT" && RELUINJ_HYPOTHESIS_PROFILE=${RELUINJ_HYPOTHESIS_PROFILE:-ci} RELUINJ_SIMD="$level" PYTHONPATH="$OUT/pkg" \
        python -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-tests} > "$OUT/pytest-$level.log" 2>&1) \
        || echo "pytest failed with RELUINJ_SIMD=$level (see $OUT/pytest-$level.log)"
    grep -E "passed|failed" "$OUT/pytest-$level.log" | tail -1
    gcovr --root "$ROOT" --filter "$ROOT/csrc/" --object-directory "$OUT/temp" \
        --exclude "$ROOT/csrc/cython/_cykern.cpp" --gcov-ignore-parse-errors=all --merge-lines \
        --gcov-suspicious-hits-threshold 0 \
        --json "$OUT/$level.json" --txt "$OUT/$level.txt" "$OUT/temp" 2> "$OUT/gcovr-$level.log"
    cat "$OUT/$level.txt"   # per file: lines, executed, percent, missing lines
done

echo "== union over the levels: ${LEVELS[*]}"
TRACES=()
for level in "${LEVELS[@]}"; do TRACES+=(--add-tracefile "$OUT/$level.json"); done
gcovr --root "$ROOT" --merge-lines "${TRACES[@]}" --txt "$OUT/all.txt" 2> "$OUT/gcovr-all.log"
cat "$OUT/all.txt"
# Headers below 90 % of their lines in the union (gcovr's table: file, lines, exec, cover).
awk '$1 ~ /^csrc\/include\// && $2 > 0 && $3 / $2 < 0.9 { print "below 90 %: " $1 " " $3 "/" $2; bad = 1 }
     END { exit bad }' "$OUT/all.txt"
