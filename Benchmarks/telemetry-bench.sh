#!/usr/bin/env bash
# RAN telemetry reading speed on one core, against anchors measured in the same run:
#  - PM XML: `nocturne analyze` on a folder of generated TS 32.435 files (the Ericsson RadioNode
#    fixture with distinct periods) against `xmllint --noout` on the same files (libxml2 parsing
#    them, well-formedness only, nothing extracted): files/s and values/s;
#  - KPI records: `nocturne analyze` on a generated uccmisl-style CSV through its mapping
#    against `awk -F,` summing one column of it: records/s.
# Repetitions are interleaved; the median CPU time (user+sys) of each tool is kept.
#
#   Benchmarks/telemetry-bench.sh          REPS=5 PM_FILES=400 CSV_ROWS=1000000
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${WORK:-.build-bench}/telemetry"
REPS="${REPS:-5}"
PM_FILES="${PM_FILES:-400}"
CSV_ROWS="${CSV_ROWS:-1000000}"
NOCTURNE="${NOCTURNE:-.build/release/nocturne}"
[[ -x "$NOCTURNE" ]] || { echo "telemetry-bench: $NOCTURNE not built (make build)" >&2; exit 2; }
command -v xmllint >/dev/null || { echo "telemetry-bench: xmllint missing (make deps)" >&2; exit 2; }
mkdir -p "$WORK/pm" "$WORK/out"

SRC=fixtures/telemetry/pm/A20220418.1900-1915_seliitdus00487.xml
if [[ $(ls "$WORK/pm" | wc -l) -ne $PM_FILES ]]; then
    rm -f "$WORK/pm"/*
    for ((i = 0; i < PM_FILES; i++)); do
        # A distinct 15-minute period per file: shift the date by i days.
        day=$(date -u -d "2022-04-18 + $i days" +%Y-%m-%d)
        sed "s/2022-04-18T/${day}T/g" "$SRC" >"$WORK/pm/A${day//-/}.1900-1915_seliitdus00487.xml"
    done
fi
CSV="$WORK/ue-trace-$CSV_ROWS.csv"
if [[ ! -s "$CSV" ]]; then
    awk -v n="$CSV_ROWS" 'BEGIN {
        print "Timestamp,Longitude,Latitude,Speed,Operatorname,CellID,NetworkMode,RSRP,RSRQ,SNR,CQI,RSSI,DL_bitrate,UL_bitrate,State,PINGAVG,PINGMIN,PINGMAX,PINGSTDEV,PINGLOSS,CELLHEX,NODEHEX,LACHEX,RAWCELLID,NRxRSRP,NRxRSRQ"
        srand(7); t = 1574600000
        for (i = 0; i < n; i++) {
            s = t + i
            c = int(i / 600) % 7  # the UE moves to another cell every 10 minutes
            printf "%s,-8.38,51.93,0,B,%d,5G,%d,-10,%.1f,%d,-84,%d,%d,D,-,-,-,-,-,%X,A81B,9CBA,11016972,-98.0,-13.0\n",
                strftime("%Y.%m.%d_%H.%M.%S", s, 1), c, -80 - int(rand() * 30), rand() * 20, 5 + int(rand() * 10), int(rand() * 90000), int(rand() * 5000), c
        }
    }' >"$CSV"
fi
VALUES=$(xmllint --xpath "count(//*[local-name()='r'])" "$SRC")
RES="$WORK/out/times.txt"; : >"$RES"
measure() {
    local name="$1"; shift
    /usr/bin/time -f "$name %U %S" -o "$WORK/out/time.txt" "$@" >"$WORK/out/$name.log" 2>&1 \
        || { echo "telemetry-bench: $name failed:" >&2; tail -5 "$WORK/out/$name.log" >&2; exit 1; }
    awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$WORK/out/time.txt" >>"$RES"
}
for ((i = 0; i < REPS; i++)); do
    measure xmllint xmllint --noout "$WORK/pm"/*.xml
    rm -rf "$WORK/out/pm"
    measure nocturne_pm "$NOCTURNE" analyze "$WORK/pm" --out "$WORK/out/pm" --quiet --run-id r-bench
    measure awk_csv awk -F, '{ s += $13 } END { print s }' "$CSV"
    rm -rf "$WORK/out/csv"
    measure nocturne_csv "$NOCTURNE" analyze "$CSV" --mapping pipelines/mappings/uccmisl-5g.yaml --out "$WORK/out/csv" --quiet --run-id r-bench
done
echo
echo "PM files: $PM_FILES × $(stat -c %s "$SRC") bytes, $VALUES values each; CSV: $CSV_ROWS rows; reps: $REPS (interleaved, median CPU)"
python3 - "$RES" "$PM_FILES" "$VALUES" "$CSV_ROWS" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    name, cpu = line.split()
    rows.setdefault(name, []).append(float(cpu))
files, values, records = int(sys.argv[2]), int(float(sys.argv[3])), int(sys.argv[4])
m = {k: statistics.median(v) for k, v in rows.items()}
print(f"{'PM XML':<22} nocturne {files / m['nocturne_pm']:8.1f} files/s  {files * values / m['nocturne_pm'] / 1e6:6.2f} M values/s   "
      f"xmllint --noout {files / m['xmllint']:8.1f} files/s   ratio {m['xmllint'] / m['nocturne_pm']:.2f}×")
print(f"{'KPI table (CSV)':<22} nocturne {records / m['nocturne_csv'] / 1e6:8.2f} M records/s                    "
      f"awk column sum  {records / m['awk_csv'] / 1e6:8.2f} M rows/s   ratio {m['awk_csv'] / m['nocturne_csv']:.2f}×")
PY
