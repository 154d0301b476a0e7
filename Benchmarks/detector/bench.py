#!/usr/bin/env python3
"""Detection quality on scenarios no detector was tuned on: the bottleneck model, the radio
rules, EWMA/z-score per KPI and Isolation Forest (scikit-learn), scored by `nocturne eval`;
then the run-level verdicts on the real RANalyzer runs next to their iPerf loss.

Held-out scenarios are of bottleneck.REGIMES["heldout"]: bandwidths, loads, user counts and a
PM period that training never used, and seeds it never saw. They carry PM files only, so the
user-plane transport rule (the same in every column) has nothing to judge: the macro F1 is over
the three radio classes.

    Benchmarks/detector-bench.sh            (makes the venv, builds, runs this)
"""

import argparse
import csv
import glob
import json
import math
import os
import sys

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "models", "bottleneck"))
import bottleneck as B  # noqa: E402

CLASS_KPIS = {  # the KPIs of each class and the direction that is bad
    "prb_saturation": [("prb_util_dl_pct", +1), ("ue_thp_dl_mbps", -1)],
    "low_spectral_efficiency": [("se_used_dl_bps_hz", -1), ("cqi_mean", -1), ("mcs_dl_se_bps_hz", -1), ("bler_dl_pct", +1)],
    "uplink_interference": [("ul_ni_dbm_per_prb", +1), ("pusch_sinr_db", -1)],
}
DIRECTION = {"prb_saturation": "dl", "low_spectral_efficiency": "dl", "uplink_interference": "ul"}


run, scenario = B.run, B.simulate


def analyze(nocturne, inputs, out, detector, extra=()):
    run([nocturne, "analyze", *inputs, "--out", out, "--detector", detector, "--quiet", *extra], cwd=ROOT)
    return [json.loads(l) for l in open(os.path.join(out, "findings.jsonl")) if l.strip()]


def ts(s):
    from datetime import datetime
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def iso(t):
    from datetime import datetime, timezone
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def episodes(rows, hot, detector, minimum_s=600, clear_s=600):
    """Per-window verdicts (class or None) of one cell → findings, with the bottleneck
    detector's hysteresis: open after `minimum_s` of hot windows, resolve after `clear_s`."""
    out = []
    state = {}
    for w, c in zip(rows, hot):
        s, e = ts(w["window_start"]), ts(w["window_end"])
        for k in CLASS_KPIS:
            st = state.get(k)
            if c == k:
                if st is None:
                    st = state[k] = {"start": s, "run": 0.0, "open": False, "clear": 0.0}
                st["run"] += e - s
                st["clear"] = 0.0
                st["last"] = e
                if not st["open"] and st["run"] >= minimum_s:
                    st["open"] = True
            elif st is not None:
                if not st["open"]:
                    del state[k]
                else:
                    st["clear"] += e - s
                    if st["clear"] >= clear_s:
                        out.append((k, st["start"], st["last"]))
                        del state[k]
    out += [(k, st["start"], st["last"]) for k, st in state.items() if st["open"]]
    cell = rows[0]["cell"]
    return [{"class": k, "direction": DIRECTION[k], "scope": {"cell": cell, "gnb": cell.split("/")[0]},
             "start": iso(a), "end": iso(b), "detector": detector} for k, a, b in out]


def ewma_findings(cells, alpha=0.05, z=3.0, warmup=8):
    """EWMA mean and variance per KPI and cell; a window is hot for the class whose KPIs are
    furthest beyond z standard deviations in their bad direction. Hot windows do not teach."""
    found = []
    for rows in cells.values():
        mean, var, seen, hot = {}, {}, 0, []
        for w in rows:
            best, verdict = z, None
            if seen >= warmup and not w.get("suspect"):
                for cls, kpis in CLASS_KPIS.items():
                    for k, sign in kpis:
                        v = w.get(k)
                        if v is None or k not in mean:
                            continue
                        score = sign * (v - mean[k]) / math.sqrt(var[k] + 1e-6 + (0.02 * abs(mean[k])) ** 2)
                        if score > best:
                            best, verdict = score, cls
            hot.append(verdict)
            if verdict is None and not w.get("suspect"):
                seen += 1
                for kpis in CLASS_KPIS.values():
                    for k, _ in kpis:
                        v = w.get(k)
                        if v is None:
                            continue
                        if k not in mean:
                            mean[k], var[k] = v, 0.0
                        else:
                            d = v - mean[k]
                            mean[k] += alpha * d
                            var[k] = (1 - alpha) * (var[k] + alpha * d * d)
        found += episodes(rows, hot, "ewma-z")
    return found


def iforest_features(rows):
    return B.cell_sequences(rows)[:, -1, :]


def iforest_class(x):
    """The class whose feature group strays furthest (features as bottleneck.FEATURES)."""
    f = {n: x[i] for i, n in enumerate(B.FEATURES)}
    sat = max(0.0, f["prb_util_dl"] - 0.8) * 5 + max(0.0, -f["ue_thp_dl_vs_base"])
    lowse = max(0.0, -f["se_used_dl_vs_base"]) + max(0.0, -f["cqi_vs_base"]) + max(0.0, f["bler_dl"] - 0.4)
    ulint = max(0.0, f["ul_ni_vs_base"]) + max(0.0, -f["pusch_sinr_vs_base"])
    scores = {"prb_saturation": sat, "low_spectral_efficiency": lowse, "uplink_interference": ulint}
    return max(scores, key=scores.get)


def iforest_findings(cells, forest, threshold):
    found = []
    for rows in cells.values():
        x = iforest_features(rows)
        s = forest.score_samples(x)
        hot = [iforest_class(x[i]) if s[i] < threshold and not rows[i].get("suspect") else None for i in range(len(rows))]
        found += episodes(rows, hot, "isolation-forest")
    return found


def write(path, items):
    with open(path, "w") as f:
        for i in items:
            f.write(json.dumps(i) + "\n")


def evaluate(nocturne, truth, found, cells):
    return json.loads(run([nocturne, "eval", "--truth", truth, "--found", found, "--cells", cells, "--format", "json"]))


def ranalyzer(nocturne, shared, work):
    rows = []
    for run_dir in sorted(glob.glob(os.path.join(shared, "ranalyzer-oai-5g-ci-runs", "*", "*"))):
        lost = total = 0
        target = None
        for c in glob.glob(os.path.join(run_dir, "*time_stats.csv")):
            for r in csv.DictReader(open(c)):
                lost += float(r.get("lost_packets") or 0)
                total += float(r.get("packets") or r.get("total_packets") or 0)
                target = r.get("target_rate_mbps") or target
        name = os.path.relpath(run_dir, os.path.join(shared, "ranalyzer-oai-5g-ci-runs"))
        verdicts = {}
        for det in ["bottleneck", "rules"]:
            f = analyze(nocturne, [run_dir], os.path.join(work, "ranalyzer", name.replace("/", "-"), det), det,
                        ["--rules", os.path.join(ROOT, "Benchmarks", "detector", "lab-runs.yaml")])
            verdicts[det] = sorted({x["class"] for x in f if x["class"] != "transport_congestion"}) or ["none"]
        rows.append((name, target, 100 * lost / total if total else float("nan"), verdicts))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nocturne", default=os.path.join(ROOT, ".build/release/nocturne"))
    ap.add_argument("--work", default=os.path.join(ROOT, ".build-bench/detector"))
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--scenarios", type=int, default=16)
    args = ap.parse_args()
    from sklearn.ensemble import IsolationForest

    held = [scenario(args.nocturne, args.work, f"heldout-{s}", s, "heldout") for s in range(9001, 9001 + args.scenarios)]
    # Isolation Forest learns "normal" from unlabelled windows of the training regime, as the
    # O-RAN SC AD xApp fits on history. Its threshold gets the same help the transformer had:
    # the score quantile that best separates those windows' labels (any class vs normal).
    fit = [scenario(args.nocturne, args.work, f"fit-{s}", s, "train") for s in range(501, 509)]
    fit_x, fit_y = [], []
    for d in fit:
        analyze(args.nocturne, [os.path.join(d, "pm")], os.path.join(d, "rules"), "rules")
        cells = B.read_cells(os.path.join(d, "rules", "cells.jsonl"))
        labels = B.window_labels(cells, [json.loads(l) for l in open(os.path.join(d, "labels.jsonl")) if l.strip()])
        for cell, rows in cells.items():
            fit_x.append(iforest_features(rows))
            fit_y.append(labels[cell] > 0)
    fit_x, fit_y = np.concatenate(fit_x), np.concatenate(fit_y)
    forest = IsolationForest(n_estimators=200, random_state=1).fit(fit_x)
    scores = forest.score_samples(fit_x)

    def window_f1(t):
        hot = scores < t
        tp = np.sum(hot & fit_y)
        return 2 * tp / max(1, hot.sum() + fit_y.sum())

    threshold = max((np.quantile(scores, q) for q in np.linspace(0.01, 0.3, 30)), key=window_f1)

    merged = {k: [] for k in ["bottleneck", "rules", "ewma", "iforest", "labels", "cells"]}
    for d in held:
        for det in ["bottleneck", "rules"]:
            merged[det] += analyze(args.nocturne, [os.path.join(d, "pm")], os.path.join(d, det), det)
        cells_path = os.path.join(d, "rules", "cells.jsonl")
        merged["cells"] += [l for l in open(cells_path) if l.strip()]
        cells = B.read_cells(cells_path)
        merged["ewma"] += ewma_findings(cells)
        merged["iforest"] += iforest_findings(cells, forest, threshold)
        merged["labels"] += [json.loads(l) for l in open(os.path.join(d, "labels.jsonl")) if l.strip()]
    truth, cells = os.path.join(args.work, "labels.jsonl"), os.path.join(args.work, "cells.jsonl")
    write(truth, merged["labels"])
    with open(cells, "w") as f:
        f.writelines(merged["cells"])
    names = {"bottleneck": "bottleneck@1 (transformer)", "rules": "rules@1", "ewma": "EWMA/z-score", "iforest": "Isolation Forest"}
    episodes_by_class = {c: sum(1 for l in merged["labels"] if l["class"] == c) for c in B.CLASSES[1:]}
    benign = sum(1 for l in merged["labels"] if l["class"] == "benign")
    print(f"held-out: {len(held)} scenarios, {len({json.loads(l)['cell'] for l in merged['cells']})} cells, "
          f"episodes {episodes_by_class}, {benign} benign")
    print()
    print("| detector | F1 prb_saturation | F1 low_spectral_efficiency | F1 uplink_interference | macro F1 | delay p50 / p95 | false alarms per cell-hour | per healthy cell-day | on benign episodes |")
    print("|---|---|---|---|---|---|---|---|---|")
    results = {}
    for det in ["bottleneck", "rules", "ewma", "iforest"]:
        path = os.path.join(args.work, f"found-{det}.jsonl")
        write(path, merged[det])
        r = results[det] = evaluate(args.nocturne, truth, path, cells)
        f1 = {c["class"]: c["f1"] for c in r["classes"]}
        fmt = lambda v: "–" if v is None else f"{v:.2f}"
        delay = lambda v: "–" if v is None else f"{v / 60:.0f} min"
        print(f"| {names[det]} | {fmt(f1['prb_saturation'])} | {fmt(f1['low_spectral_efficiency'])} | {fmt(f1['uplink_interference'])} "
              f"| **{fmt(r['macro_f1'])}** | {delay(r['delay_median_s'])} / {delay(r['delay_p95_s'])} "
              f"| {r['false_alarms_per_cell_hour'] or 0:.4f} | {fmt(r['false_alarms_per_healthy_cell_day'])} | {r['false_alarms_on_benign']} |")
    with open(os.path.join(args.work, "results.json"), "w") as f:
        json.dump(results, f, indent=1)

    if os.path.isdir(os.path.join(args.shared, "ranalyzer-oai-5g-ci-runs")):
        print()
        print("Real RANalyzer runs (OAI gNB logs, 10 s windows; episodes of 30 s, Benchmarks/detector/lab-runs.yaml):")
        print("radio findings per run next to the iPerf UDP loss")
        print()
        print("| run | target Mbit/s | iPerf loss | bottleneck@1 | rules@1 |")
        print("|---|---|---|---|---|")
        for name, target, loss, v in ranalyzer(args.nocturne, args.shared, args.work):
            print(f"| {name} | {target} | {loss:.2f} % | {', '.join(v['bottleneck'])} | {', '.join(v['rules'])} |")
    else:
        print("\n(../shared/data absent: the RANalyzer verdicts are skipped)")


if __name__ == "__main__":
    main()
