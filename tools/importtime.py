"""Measure ``import reluinj`` against ``import numpy`` with ``python -X importtime``.

Usage: ``python tools/importtime.py [REPEATS]``. Each import runs REPEATS times in a fresh
interpreter; the minimum of the cumulative microseconds of the top-level module is reported
(the machine is noisy: the minimum is the least disturbed run).
"""
import subprocess
import sys


def cumulative_us(module):
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                         capture_output=True, text=True, check=True).stderr
    for line in reversed(err.splitlines()):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1])
    raise RuntimeError(f"no importtime line for {module}")


def main(repeats=7):
    best = {m: min(cumulative_us(m) for _ in range(repeats)) for m in ("numpy", "reluinj")}
    print(f"import numpy   {best['numpy'] / 1e6:.3f} s (min of {repeats})")
    print(f"import reluinj {best['reluinj'] / 1e6:.3f} s (min of {repeats}); "
          f"{(best['reluinj'] - best['numpy']) / 1e6:+.3f} s over numpy")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
