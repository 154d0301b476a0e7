#!/usr/bin/env python3
"""Run-level table for the RANalyzer OAI CI runs (docs/ranalyzer-runs.md).

For every run folder (YYYYMMDD/HHMMSS) under the data set: the offered rate, received rate
and loss from the iPerf per-second CSV, and what `nocturne analyze` flags from the gNB log
alone, judged on the gNB's own statistics cadence (1.28 s windows). A run is lossy when it
received less than offered AND lost more than 5 % (CLARIFICATIONS.md).

usage: scripts/ranalyzer_table.py NOCTURNE_BINARY DATA_DIR [OUT.md]
"""
import csv, glob, json, os, subprocess, sys, tempfile

def main():
    binary, data = sys.argv[1], sys.argv[2]
    out = sys.argv[3] if len(sys.argv) > 3 else None
    rows, tally = [], {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for run in sorted(glob.glob(os.path.join(data, "*", "*"))):
        stats = glob.glob(os.path.join(run, "*_time_stats.csv"))
        log = os.path.join(run, "nr-gnb.log")
        if not stats or not os.path.exists(log):
            continue
        with open(stats[0]) as f:
            secs = list(csv.DictReader(f))
        target = float(secs[0]["target_rate_mbps"])
        received = sum(float(r["bits_per_second"]) for r in secs) / len(secs) / 1e6
        lost = sum(int(r["lost_packets"]) for r in secs)
        total = sum(int(r["packets"]) for r in secs)
        loss = 100.0 * lost / total if total else 0.0
        lossy = received < target and loss > 5.0
        with tempfile.TemporaryDirectory() as tmp:
            result = subprocess.run([binary, "analyze", log, "--detector", "rules", "--window", "1.28s", "--out", tmp, "--quiet", "--format", "json"],
                                    capture_output=True, text=True, check=True)
            summary = json.loads(result.stdout)
        findings = summary["findings"]
        classes = sorted({f["class"] for f in findings})
        flagged = bool(findings)
        key = ("tp" if lossy else "fp") if flagged else ("fn" if lossy else "tn")
        tally[key] += 1
        evidence = "; ".join(sorted({f"{e['kpi']} {e['value']:.2f}" for f in findings for e in f["evidence"][:1]}))
        day = os.path.basename(os.path.dirname(run))
        rows.append(f"| {day[:4]}-{day[4:6]}-{day[6:]} {os.path.basename(run)} | {target:g} | {received:.2f} | {loss:.2f} | "
                    f"{'yes' if lossy else 'no'} | {', '.join(classes) or '–'} ({len(findings)}) | {evidence or '–'} |")
    flagged = tally["tp"] + tally["fp"]
    lossy = tally["tp"] + tally["fn"]
    text = ["| run | offered Mbit/s | received Mbit/s | loss % | lossy | nocturne flags (findings) | first evidence |",
            "|---|---:|---:|---:|---|---|---|"] + rows + [
        "",
        f"Flagged runs that are lossy: {tally['tp']} of {flagged}; lossy runs flagged: {tally['tp']} of {lossy}; "
        f"clean runs flagged: {tally['fp']} of {tally['fp'] + tally['tn']}."]
    body = "\n".join(text) + "\n"
    if out:
        with open(out) as f:
            doc = f.read()
        start, end = doc.index("<!-- table -->"), doc.index("<!-- /table -->")
        with open(out, "w") as f:
            f.write(doc[:start] + "<!-- table -->\n" + body + doc[end:])
    print(body, end="")

if __name__ == "__main__":
    main()
