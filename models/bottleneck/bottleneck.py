"""The bottleneck detector's features, network and scenarios, shared by train.py and the
detector benchmark. The features are mirrored in Swift (Sources/Detect/CellFeatures.swift);
test vectors exported by train.py hold the two to 1e-4."""

import json
import math
import os
import random
import subprocess
import sys

import numpy as np

# --- features -------------------------------------------------------------------------------

# What the classes are defined by (DESIGN.md): load and what users get, bits per PRB and link
# quality, uplink noise. Uplink traffic is left out on purpose: how it moves with downlink demand
# is a property of one network's traffic (and of our simulator), not of a bottleneck.
FEATURES = [
    "prb_util_dl", "ue_thp_dl_vs_base", "ue_thp_dl_per_mhz", "se_used_dl", "se_used_dl_vs_base",
    "cqi", "cqi_vs_base", "mcs_se_dl", "bler_dl", "ul_ni_15khz", "ul_ni_vs_base", "pusch_sinr",
    "pusch_sinr_vs_base", "active_ue_vs_base", "cell_thp_dl_vs_base", "suspect",
]
F = len(FEATURES)
BASE_KPIS = ["ue_thp_dl_mbps", "se_used_dl_bps_hz", "cqi_mean", "ul_ni_dbm_per_prb", "pusch_sinr_db",
             "active_ue_dl_mean", "cell_thp_dl_mbps"]
BASELINE_WINDOWS = 96   # a day of 15-minute periods
BASELINE_MIN = 4        # fewer earlier windows: no baseline yet
HISTORY = 12            # windows the network sees, the judged one last
PATCH = 2
CLASSES = ["normal", "prb_saturation", "low_spectral_efficiency", "uplink_interference"]
DIRECTIONS = [None, "dl", "dl", "ul"]


def median(v):
    s = sorted(v)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def clip(v, lo, hi):
    return lo if v < lo else hi if v > hi else v


def window_features(w, base):
    """One window's feature values and presence flags (0 and absent when an input is missing)."""
    x = [0.0] * F
    m = [0.0] * F

    def put(i, v):
        if v is not None and math.isfinite(v):
            x[i] = v
            m[i] = 1.0

    def g(k):
        v = w.get(k)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    def ratio(i, k, eps):
        v, b = g(k), base.get(k)
        if v is not None and b is not None:
            put(i, clip(math.log2((max(v, 0) + eps) / (max(b, 0) + eps)), -4, 4) / 2)

    def diff(i, k, scale):
        v, b = g(k), base.get(k)
        if v is not None and b is not None:
            put(i, clip((v - b) / scale, -3, 3))

    # Where the input has no PRB counts (OAI logs), the load estimated from throughput and MCS.
    util_dl = g("prb_util_dl_pct") if g("prb_util_dl_pct") is not None else g("prb_util_dl_est_pct")
    if util_dl is not None: put(0, clip(util_dl / 100, 0, 1.2))
    ratio(1, "ue_thp_dl_mbps", 0.1)
    if g("ue_thp_dl_mbps") is not None and g("bw_mhz"):
        put(2, math.log2(max(g("ue_thp_dl_mbps"), 0) / g("bw_mhz") + 0.01) / 4)
    if g("se_used_dl_bps_hz") is not None: put(3, clip(g("se_used_dl_bps_hz") / 5, 0, 3))
    ratio(4, "se_used_dl_bps_hz", 0.05)
    if g("cqi_mean") is not None: put(5, g("cqi_mean") / 15)
    diff(6, "cqi_mean", 5)
    if g("mcs_dl_se_bps_hz") is not None: put(7, clip(g("mcs_dl_se_bps_hz") / 5, 0, 3))
    if g("bler_dl_pct") is not None: put(8, clip(g("bler_dl_pct") / 50, 0, 2))
    ni = g("ul_ni_dbm_per_prb")
    if ni is not None:
        scs = g("scs_khz")
        put(9, clip((ni - (10 * math.log10(scs / 15) if scs else 0) + 110) / 10, -3, 5))
    diff(10, "ul_ni_dbm_per_prb", 10)
    if g("pusch_sinr_db") is not None: put(11, clip(g("pusch_sinr_db") / 20, -2, 2))
    diff(12, "pusch_sinr_db", 10)
    ratio(13, "active_ue_dl_mean", 0.1)
    ratio(14, "cell_thp_dl_mbps", 0.1)
    x[15] = 1.0 if w.get("suspect") else 0.0
    m[15] = 1.0
    return x, m


def cell_sequences(rows):
    """For one cell's windows in time order: the network input of each window, [n, HISTORY, 2F]
    (values then presence flags, zero-padded before the first window)."""
    hist = {k: [] for k in BASE_KPIS}
    out = np.zeros((len(rows), HISTORY, 2 * F), dtype=np.float32)
    feats = []
    for t, w in enumerate(rows):
        base = {k: median(v) for k, v in hist.items() if len(v) >= BASELINE_MIN}
        x, m = window_features(w, base)
        feats.append(x + m)
        lo = max(0, t + 1 - HISTORY)
        chunk = feats[lo:t + 1]
        out[t, HISTORY - len(chunk):] = np.asarray(chunk, dtype=np.float32)
        if not w.get("suspect"):
            for k in BASE_KPIS:
                v = w.get(k)
                if isinstance(v, (int, float)) and math.isfinite(v):
                    hist[k].append(float(v))
                    if len(hist[k]) > BASELINE_WINDOWS:
                        hist[k].pop(0)
    return out


def read_cells(path):
    """cells.jsonl → {cell: [rows in time order]}."""
    cells = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                cells.setdefault(r["cell"], []).append(r)
    for rows in cells.values():
        rows.sort(key=lambda r: r["window_start"])
    return cells


# --- network --------------------------------------------------------------------------------

def make_net(d=32, heads=4, ff=64, layers=2):
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
            self.up, self.down = nn.Linear(d, ff), nn.Linear(ff, d)

        def forward(self, x):
            b, n, _ = x.shape
            h = self.ln1(x)
            split = lambda t: t.view(b, n, heads, d // heads).transpose(1, 2)
            q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // heads), dim=-1) @ v
            x = x + self.o(a.transpose(1, 2).reshape(b, n, d))
            return x + self.down(torch.nn.functional.gelu(self.up(self.ln2(x))))

    class Net(nn.Module):
        """PatchTST-style: patches of windows → linear embedding + position → pre-norm encoder →
        (last patch, mean of patches) → class logits and an anomaly logit."""

        def __init__(self):
            super().__init__()
            self.patch = nn.Linear(PATCH * 2 * F, d)
            self.pos = nn.Parameter(torch.zeros(HISTORY // PATCH, d))
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.norm = nn.LayerNorm(d)
            self.cls = nn.Linear(2 * d, len(CLASSES))
            self.anomaly = nn.Linear(2 * d, 1)
            self.hp = dict(d=d, heads=heads, ff=ff, layers=layers)

        def forward(self, x):
            b = x.shape[0]
            h = self.patch(x.reshape(b, HISTORY // PATCH, PATCH * 2 * F)) + self.pos
            for blk in self.blocks:
                h = blk(h)
            h = self.norm(h)
            z = torch.cat([h[:, -1], h.mean(dim=1)], dim=-1)
            return self.cls(z), self.anomaly(z).squeeze(-1)

    return Net()


# --- scenarios ------------------------------------------------------------------------------

# Parameter regimes: training and held-out scenarios never share bandwidths, load levels or the
# PM period, so the held-out score says how the model does on cells it has not seen.
REGIMES = {
    "train": dict(bw30=[40, 60, 100], bw15=[10, 20], load=(0.25, 0.55), ues=(6, 40), periods=["15m", "1m"]),
    "heldout": dict(bw30=[50, 80, 90], bw15=[15, 30], load=(0.55, 0.72), ues=(40, 70), periods=["5m"]),
}
RADIO_EVENTS = ["demand_spike", "neighbour_outage", "coverage_hole", "tilt_fault", "interferer"]
BENIGN_EVENTS = ["busy_healthy", "cell_restart", "short_dip"]


def scenario_yaml(name, seed, regime):
    """A random scenario of the regime: sites, cells, and at most one event per cell at a time."""
    r = random.Random(seed)
    p = REGIMES[regime]
    period = r.choice(p["periods"])
    duration = {"15m": "1d", "5m": "12h", "1m": "4h"}[period]
    dur_s = {"15m": 86400, "5m": 43200, "1m": 14400}[period]
    unit = {"15m": 900, "5m": 300, "1m": 60}[period]
    lines = [f"name: {name}", f"seed: {seed}", "start: 2026-11-29T00:00:00Z", f"duration: {duration}",
             f"pm_granularity: {period}",
             "traffic_mix: {video: %d, web: %d, bulk: %d, upload: %d}" % tuple(r.randint(1, 10) for _ in range(4)),
             "sites:"]
    cells = []
    for s in range(r.randint(2, 4)):
        site = f"gnb-{seed % 1000:03d}{s + 1}"
        lines += [f"  - name: {site}", f"    address: 10.{seed % 200}.{s}.1", "    cells:"]
        for c in range(r.randint(1, 3)):
            if r.random() < 0.7:
                bw, scs, duplex = r.choice(p["bw30"]), 30, "tdd"
            else:
                bw, scs, duplex = r.choice(p["bw15"]), 15, "fdd"
            lines.append("      - {id: %d, bandwidth_mhz: %d, scs_khz: %d, duplex: %s, ues: %d, busy_hour_load: %.2f, mimo_layers: %d}"
                         % (c + 1, bw, scs, duplex, r.randint(*p["ues"]), r.uniform(*p["load"]), r.choice([1, 2, 4])))
            cells.append(f"{site}/cell-{c + 1}")
    lines.append("events:")
    for cell in cells:
        if r.random() < 0.3:
            continue                     # a healthy cell: nothing happens to it all run
        t = r.randint(2, 6) * unit * 2   # leave the baseline time to form
        while t < dur_s - 6 * unit:
            # Saturation needs demand beyond the cell's capacity; many spikes are absorbed (benign), so they come twice as often.
            kind = r.choice(RADIO_EVENTS + ["demand_spike", "neighbour_outage"] + BENIGN_EVENTS + ["none", "none"])
            if kind == "none":
                t += r.randint(4, 20) * unit
                continue
            if kind == "cell_restart":
                d, mag = r.choice([300, 600, 900]), 0
            elif kind == "short_dip":
                d, mag = r.randint(60, 420), r.uniform(8, 14)
            else:
                d = r.randint(3, 12) * unit if unit < 900 else r.randint(2, 8) * unit
                mag = {"demand_spike": r.uniform(1.5, 9), "neighbour_outage": r.uniform(1.5, 9),
                       "coverage_hole": r.uniform(8, 16), "tilt_fault": r.uniform(6, 12),
                       "interferer": r.uniform(6, 18), "busy_healthy": 1}[kind]
            if t + d > dur_s:
                break
            lines.append("  - {type: %s, target: %s, start: %ds, duration: %ds, magnitude: %.1f}" % (kind, cell, t, d, mag))
            t += d + r.randint(4, 16) * unit
    return "\n".join(lines) + "\n"


def run(cmd, **kw):
    """Runs a command; its failure ends the script with the command's own message."""
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-800:]}")
    return r.stdout


def simulate(nocturne, work, name, seed, regime):
    """`work/name`: the scenario of that seed and regime and its `nocturne simulate` outputs
    (pm/, labels.jsonl, …), made once and reused."""
    d = os.path.join(work, name)
    if not os.path.exists(os.path.join(d, "labels.jsonl")):
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "scenario.yaml"), "w") as f:
            f.write(scenario_yaml(name, seed, regime))
        run([nocturne, "simulate", os.path.join(d, "scenario.yaml"), "--out", d])
    return d


def window_labels(cells, labels):
    """The class index of each window: the radio episode covering most of it, else normal;
    benign and transport episodes are normal for the radio classes."""
    from datetime import datetime

    def ts(s):
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()

    by_cell = {}
    for l in labels:
        c = l.get("scope", {}).get("cell")
        if c and l["class"] in CLASSES:
            by_cell.setdefault(c, []).append((ts(l["start"]), ts(l["end"]), CLASSES.index(l["class"])))
    out = {}
    for cell, rows in cells.items():
        y = np.zeros(len(rows), dtype=np.int64)
        for i, w in enumerate(rows):
            s, e = ts(w["window_start"]), ts(w["window_end"])
            for a, b, k in by_cell.get(cell, []):
                if min(e, b) - max(s, a) >= 0.5 * (e - s):
                    y[i] = k
        out[cell] = y
    return out
