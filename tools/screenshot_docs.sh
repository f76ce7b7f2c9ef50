#!/usr/bin/env bash
# Headless Chromium screenshots of the built docs (home, a guide page, a reference page, two gallery
# pages), to look at what a reader sees. Needs Debian's chromium (apt-get install chromium) and a
# built site: PYTHONPATH=src python -m sphinx -W --keep-going -b html docs docs/_build/html
# Usage: tools/screenshot_docs.sh [OUT_DIR]   (default docs/_build/screenshots)
set -euo pipefail
html="$(cd "$(dirname "$0")/.." && pwd)/docs/_build/html"
out="${1:-$html/../screenshots}"
mkdir -p "$out"
for page in index.html guide/frames.html api/generated/stubs/reluinj.polytope_bias.html \
            auto_examples/plot_frame_2d_injectivity.html auto_examples/plot_cnn_model_rip.html; do
    [ -f "$html/$page" ] || { echo "not built: $html/$page" >&2; exit 1; }
    png="$out/$(echo "${page%.html}" | tr '/' '_').png"
    timeout 60 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --window-size=1280,1600 --screenshot="$png" "file://$html/$page" 2>/dev/null
    echo "$png"
done
