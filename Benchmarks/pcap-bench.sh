#!/usr/bin/env bash
# Times `nocturne analyze` against the anchors of ../shared/bench/pcap on the same generated
# 2-million-packet GTP-U capture, in one run: pcount (libpcap read, the floor), pdecode full
# (hand-written C doing the same aggregation) and tshark. Repetitions are interleaved and the
# median CPU time (user+sys) of each tool is kept; ratios are packets/s over packets/s.
#
#   Benchmarks/pcap-bench.sh              REPS=5 PACKETS=2000000 SEED=1 SKIP_TSHARK=1 SHARED=../shared
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${SHARED:-../shared}"
ANCHORS="$SHARED/bench/pcap"
WORK="${WORK:-.build-bench}"
PACKETS="${PACKETS:-2000000}"
SEED="${SEED:-1}"
REPS="${REPS:-5}"
NOCTURNE="${NOCTURNE:-.build/release/nocturne}"

[[ -f "$ANCHORS/pcount.c" ]] || { echo "pcap-bench: $ANCHORS not found (set SHARED=path/to/shared)" >&2; exit 2; }
[[ -x "$NOCTURNE" ]] || { echo "pcap-bench: $NOCTURNE not built (make build)" >&2; exit 2; }
mkdir -p "$WORK/bin" "$WORK/data" "$WORK/out"
cc -O2 -Wall -o "$WORK/bin/gen_gtpu" "$ANCHORS/gen_gtpu.c"
cc -O2 -Wall -o "$WORK/bin/pcount" "$ANCHORS/pcount.c" -lpcap
cc -O2 -Wall -o "$WORK/bin/pdecode" "$ANCHORS/pdecode.c" -lpcap
CAPTURE="$WORK/data/gtpu_${PACKETS}_s${SEED}.pcap"
if [[ ! -s "$CAPTURE" ]]; then
    echo "generating $PACKETS packets (seed $SEED) -> $CAPTURE" >&2
    "$WORK/bin/gen_gtpu" --packets "$PACKETS" --seed "$SEED" --out "$CAPTURE.tmp" && mv "$CAPTURE.tmp" "$CAPTURE"
fi
cat "$CAPTURE" >/dev/null

RES="$WORK/out/times.txt"; : >"$RES"
measure() {  # NAME CMD... -> "name cpu wall maxrss_kb"
    local name="$1"; shift
    /usr/bin/time -f "$name %U %S %e %M" -o "$WORK/out/time.txt" "$@" >"$WORK/out/$name.log" 2>&1 \
        || { echo "pcap-bench: $name failed:" >&2; tail -5 "$WORK/out/$name.log" >&2; exit 1; }
    awk '{ printf "%s %.3f %.3f %d\n", $1, $2 + $3, $4, $5 }' "$WORK/out/time.txt" >>"$RES"
}
for ((i = 0; i < REPS; i++)); do
    measure pcount "$WORK/bin/pcount" "$CAPTURE"
    measure pdecode_full "$WORK/bin/pdecode" full "$CAPTURE" "$WORK/out/pdecode_full.jsonl"
    rm -rf "$WORK/out/nocturne"
    measure nocturne "$NOCTURNE" analyze "$CAPTURE" --out "$WORK/out/nocturne" --quiet --run-id r-bench
done
if [[ -z "${SKIP_TSHARK:-}" ]]; then
    measure tshark tshark -n -r "$CAPTURE" -q -z conv,ip -z endpoints,ip
fi

echo
echo "capture: $CAPTURE  packets: $PACKETS  size: $(stat -c %s "$CAPTURE") bytes  reps: $REPS (interleaved, median CPU)  cpus: $(nproc)"
python3 - "$RES" "$PACKETS" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    name, cpu, wall, rss = line.split()
    rows.setdefault(name, []).append((float(cpu), float(wall), int(rss)))
n = int(sys.argv[2])
med = {k: (statistics.median(c for c, _, _ in v), statistics.median(w for _, w, _ in v), max(r for _, _, r in v)) for k, v in rows.items()}
pps = {k: n / max(v[0], 1e-9) for k, v in med.items()}
for k in ["pcount", "pdecode_full", "tshark", "nocturne"]:
    if k not in med: continue
    cpu, wall, rss = med[k]
    print(f"{k:14s} cpu {cpu:7.2f} s  wall {wall:7.2f} s  maxrss {rss/1024:8.1f} MiB  pps {pps[k]:12,.0f}  vs pcount {pps[k]/pps['pcount']:.3f}")
print()
print(f"nocturne / pcount       {pps['nocturne']/pps['pcount']:.3f}x   (goal >= 0.5)")
print(f"nocturne / pdecode full {pps['nocturne']/pps['pdecode_full']:.3f}x   (target >= 0.85)")
if "tshark" in pps:
    print(f"nocturne / tshark       {pps['nocturne']/pps['tshark']:.1f}x   (target >= 25)")
PY
