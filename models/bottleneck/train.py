#!/usr/bin/env python3
"""Trains the bottleneck detector and writes models/bottleneck/bottleneck.gguf, the Swift test
vectors and the metrics for the model card.

    python3 -m venv .build-train/venv && .build-train/venv/bin/pip install torch numpy gguf
    swift build -c release --product nocturne
    .build-train/venv/bin/python models/bottleneck/train.py

Data: random scenarios of the `train` regime (bottleneck.REGIMES), simulated and read back
through `nocturne simulate` and `nocturne analyze` (TS 32.435 PM XML, the format a real OSS
gives), plus every real KPI data set in ../shared/data as unlabelled normal windows (the
RANalyzer runs excepted: they are the real-data check). Training scenarios never use the
held-out regime's bandwidths, loads, user counts or PM period. Deterministic for a seed.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bottleneck as B  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VERSION = 1


def simulate(nocturne, work, name, seed, regime):
    """The scenario's outputs and its windows as `nocturne analyze` reads them from the PM files."""
    d = B.simulate(nocturne, work, name, seed, regime)
    if not os.path.exists(os.path.join(d, "out", "cells.jsonl")):
        B.run([nocturne, "analyze", os.path.join(d, "pm"), "--out", os.path.join(d, "out"), "--quiet", "--detector", "rules"])
    return d


def dataset(dirs, real_cells=()):
    xs, ys = [], []
    for d in dirs:
        cells = B.read_cells(os.path.join(d, "out", "cells.jsonl"))
        labels = [json.loads(l) for l in open(os.path.join(d, "labels.jsonl")) if l.strip()]
        y = B.window_labels(cells, labels)
        for cell, rows in cells.items():
            xs.append(B.cell_sequences(rows))
            ys.append(y[cell])
    for path in real_cells:
        for rows in B.read_cells(path).values():
            xs.append(B.cell_sequences(rows))
            ys.append(np.zeros(len(rows), dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nocturne", default=os.path.join(ROOT, ".build/release/nocturne"))
    ap.add_argument("--work", default=os.path.join(ROOT, ".build-train/bottleneck"))
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--scenarios", type=int, default=140)
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    import torch
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    rng = np.random.default_rng(args.seed)

    train_dirs = [simulate(args.nocturne, args.work, f"train-{s}", s, "train") for s in range(1, args.scenarios + 1)]
    # One scenario in eight is for validation (early stopping), by scenario, not by window.
    val_dirs = train_dirs[::8]
    fit_dirs = [d for d in train_dirs if d not in val_dirs]
    real = []
    if os.path.isdir(args.shared):
        for sub in ["pm-xml", "uccmisl-5g", "kpi", "oai-gnb-logs"]:
            out = os.path.join(args.work, "real-" + sub)
            if not os.path.exists(os.path.join(out, "cells.jsonl")):
                subprocess.run([args.nocturne, "analyze", os.path.join(args.shared, sub), "--out", out, "--quiet", "--detector", "rules"], capture_output=True)
            if os.path.exists(os.path.join(out, "cells.jsonl")) and os.path.getsize(os.path.join(out, "cells.jsonl")) > 0:
                real.append(os.path.join(out, "cells.jsonl"))
    X, Y = dataset(fit_dirs, real)
    Xv, Yv = dataset(val_dirs)
    counts = np.bincount(Y, minlength=len(B.CLASSES))
    print(f"training windows {len(Y)} by class {dict(zip(B.CLASSES, counts.tolist()))}; validation {len(Yv)}; real files {len(real)}")

    net = B.make_net()
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    weights = torch.tensor((counts.sum() / np.maximum(counts, 1)) ** 0.75, dtype=torch.float32)
    ce = torch.nn.CrossEntropyLoss(weight=weights / weights.mean())
    bce = torch.nn.BCEWithLogitsLoss()
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    Xvt, Yvt = torch.from_numpy(Xv), torch.from_numpy(Yv)
    best, best_state = -1.0, None
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    for epoch in range(args.epochs):
        net.train()
        order = torch.from_numpy(rng.permutation(len(Yt)))
        for i in range(0, len(order), 256):
            idx = order[i:i + 256]
            xb = Xt[idx]
            xb = xb * keep_mask(xb.shape[0])
            logits, anomaly = net(xb)
            loss = ce(logits, Yt[idx]) + 0.5 * bce(anomaly, (Yt[idx] > 0).float())
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        net.eval()
        with torch.no_grad():
            pred = net(Xvt)[0].argmax(-1)
        f1 = macro_f1(Yvt.numpy(), pred.numpy())
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, validation window macro F1 {f1:.3f}")
        if f1 > best:
            best, best_state = f1, {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    net.eval()
    params = sum(p.numel() for p in net.parameters())
    out = os.path.join(ROOT, "models", "bottleneck", "bottleneck.gguf")
    export(net, out, args, params, best, len(Y))
    vectors(net, os.path.join(ROOT, "fixtures", "bottleneck", "vectors.json"), val_dirs[0])
    print(f"{params} parameters; best validation window macro F1 {best:.3f}; wrote {out}")


# Feature groups that real inputs lack together: PM files without the CQI/MCS distributions,
# inputs without uplink noise counters.
GROUPS = [([B.FEATURES.index(f) for f in ["cqi", "cqi_vs_base", "mcs_se_dl"]], 0.3),
          ([B.FEATURES.index(f) for f in ["ul_ni_15khz", "ul_ni_vs_base", "pusch_sinr", "pusch_sinr_vs_base"]], 0.15)]


def keep_mask(n):
    """Which features each training sequence keeps: every feature dropped for the whole
    sequence with 20 % chance, and the groups above together. Inputs go missing in the field;
    the network learns to judge with what is there."""
    import torch
    drop = torch.rand(n, 1, B.F) < 0.2
    for idx, p in GROUPS:
        g = torch.rand(n, 1, 1) < p
        drop[:, :, idx] |= g
    drop[:, :, B.FEATURES.index("suspect")] = False
    keep = (~drop).float()
    return torch.cat([keep, keep], dim=-1)


def macro_f1(y, p):
    f = []
    for k in range(1, len(B.CLASSES)):
        tp = np.sum((p == k) & (y == k))
        fp = np.sum((p == k) & (y != k))
        fn = np.sum((p != k) & (y == k))
        f.append(2 * tp / max(1, 2 * tp + fp + fn))
    return float(np.mean(f))


def tensors(net):
    """Name → float32 array in the layout the Swift reader expects: a Linear's weight as rows of
    its inputs ([out, in], GGUF shape [in, out])."""
    t = {"patch.weight": net.patch.weight, "patch.bias": net.patch.bias, "pos": net.pos,
         "norm.weight": net.norm.weight, "norm.bias": net.norm.bias,
         "cls.weight": net.cls.weight, "cls.bias": net.cls.bias,
         "anomaly.weight": net.anomaly.weight, "anomaly.bias": net.anomaly.bias}
    for i, b in enumerate(net.blocks):
        for name in ["ln1", "ln2", "q", "k", "v", "o", "up", "down"]:
            m = getattr(b, name)
            t[f"blk.{i}.{name}.weight"] = m.weight
            t[f"blk.{i}.{name}.bias"] = m.bias
    return {k: v.detach().numpy().astype(np.float32) for k, v in t.items()}


def export(net, path, args, params, f1, windows):
    import gguf
    w = gguf.GGUFWriter(path, "nocturne-bottleneck")
    hp = net.hp
    w.add_uint32("nocturne-bottleneck.version", VERSION)
    w.add_uint32("nocturne-bottleneck.history", B.HISTORY)
    w.add_uint32("nocturne-bottleneck.patch", B.PATCH)
    w.add_uint32("nocturne-bottleneck.embedding_length", hp["d"])
    w.add_uint32("nocturne-bottleneck.head_count", hp["heads"])
    w.add_uint32("nocturne-bottleneck.feed_forward_length", hp["ff"])
    w.add_uint32("nocturne-bottleneck.block_count", hp["layers"])
    w.add_uint32("nocturne-bottleneck.baseline_windows", B.BASELINE_WINDOWS)
    w.add_uint32("nocturne-bottleneck.baseline_min", B.BASELINE_MIN)
    w.add_float32("nocturne-bottleneck.layer_norm_epsilon", 1e-5)
    w.add_array("nocturne-bottleneck.features", B.FEATURES)
    w.add_array("nocturne-bottleneck.classes", B.CLASSES)
    w.add_string("general.name", "nocturne bottleneck detector")
    w.add_string("general.description", f"trained on {args.scenarios} simulated scenarios (seed {args.seed}), {windows} windows; "
                 f"{params} parameters; validation window macro F1 {f1:.3f}")
    for name, a in tensors(net).items():
        w.add_tensor(name, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def vectors(net, path, scenario_dir):
    """Raw cells.jsonl rows of two cells and what the network gives for each window: the Swift
    test recomputes the features from the rows and runs the GGUF file."""
    import torch
    cells = B.read_cells(os.path.join(scenario_dir, "out", "cells.jsonl"))
    picked = sorted(cells)[:2]
    out = {"cells": []}
    for c in picked:
        rows = cells[c][:40]
        x = torch.from_numpy(B.cell_sequences(rows))
        with torch.no_grad():
            logits, anomaly = net(x)
        out["cells"].append({"cell": c, "rows": rows,
                             "probabilities": torch.softmax(logits, -1).numpy().tolist(),
                             "anomaly": torch.sigmoid(anomaly).numpy().tolist()})
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
