#!/usr/bin/env bash
# Simulator speed: a day (96 PM periods at 15 min) of 30 cells — PM files, kpi.csv, labels and
# one srsRAN metrics datagram per cell and second (telemetry.pcap) —
# in release mode; the target is under a minute. Median CPU time of interleaved repetitions.
#
#   Benchmarks/simulate-bench.sh          REPS=3 CELLS=30
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${WORK:-.build-bench}/simulate"
REPS="${REPS:-3}"
CELLS="${CELLS:-30}"
NOCTURNE="${NOCTURNE:-.build/release/nocturne}"
[[ -x "$NOCTURNE" ]] || { echo "simulate-bench: $NOCTURNE not built (make build)" >&2; exit 2; }
mkdir -p "$WORK"
SCENARIO="$WORK/day-$CELLS.yaml"
{
    echo "name: bench-day"; echo "seed: 5"; echo "start: 2026-11-29T00:00:00Z"; echo "duration: 1d"; echo "pm_granularity: 15m"
    echo "sites:"
    for ((s = 0; s < CELLS / 3; s++)); do
        printf '  - name: gnb-%04d\n    address: 10.30.%d.%d\n    cells:\n' $((s + 1)) $((s / 250)) $((s % 250 + 1))
        for c in 1 2 3; do echo "      - {id: $c, bandwidth_mhz: 100, scs_khz: 30, duplex: tdd, ues: 24, busy_hour_load: 0.5}"; done
    done
    echo "telemetry: {datagrams: true, ues_per_report: 2}"
    echo "events:"
    echo "  - {type: demand_spike, target: gnb-0001/cell-1, start: 19h, duration: 1h, magnitude: 3}"
    echo "  - {type: interferer, target: gnb-0002/cell-2, start: 3h, duration: 1h, magnitude: 12}"
} >"$SCENARIO"
: >"$WORK/times.txt"
for ((i = 0; i < REPS; i++)); do
    rm -rf "$WORK/out"
    /usr/bin/time -f "%U %S" -o "$WORK/time.txt" "$NOCTURNE" simulate "$SCENARIO" --out "$WORK/out" >/dev/null
    awk '{ print $1 + $2 }' "$WORK/time.txt" >>"$WORK/times.txt"
done
median=$(sort -n "$WORK/times.txt" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
files=$(ls "$WORK/out/pm" | wc -l)
echo "simulate: $CELLS cells × 1 day (96 periods, $files PM files, kpi.csv, labels, $(stat -c %s "$WORK/out/telemetry.pcap") bytes of datagrams): ${median} s CPU (median of $REPS); target < 60 s"
