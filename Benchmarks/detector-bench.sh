#!/usr/bin/env bash
# Detection quality: the bottleneck model against the radio rules, EWMA/z-score and Isolation
# Forest on held-out simulated scenarios, scored by `nocturne eval`, and the verdicts on the real
# RANalyzer runs (Benchmarks/detector/bench.py). scikit-learn and numpy go into a venv under
# .build-bench; the scenarios are generated there and reused.
#
#   Benchmarks/detector-bench.sh          SCENARIOS=16
set -euo pipefail
cd "$(dirname "$0")/.."
NOCTURNE="${NOCTURNE:-.build/release/nocturne}"
[[ -x "$NOCTURNE" ]] || { echo "detector-bench: $NOCTURNE not built (make build)" >&2; exit 2; }
VENV=.build-bench/venv-detector
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c "import sklearn, numpy" 2>/dev/null; then
    python3 -m venv "$VENV" 2>/dev/null || { apt-get install -y -qq python3-venv >/dev/null && python3 -m venv "$VENV"; }
    "$VENV/bin/pip" install -q numpy scikit-learn
fi
"$VENV/bin/python" Benchmarks/detector/bench.py --nocturne "$NOCTURNE" --scenarios "${SCENARIOS:-16}"
