import Telemetry

/// One cell over one window: the row of `cells.jsonl` and what the radio rules judge.
public struct CellWindow: Sendable {
    public var cell: CellID
    public var start: Int64
    public var end: Int64
    public var source: String
    public var relativeTime: Bool
    public var suspect: Bool
    /// KPIs read and derived, keyed by their `cells.jsonl` names (unit in the name).
    public var values: [String: Double] = [:]
    /// Vendor counters under their native names.
    public var vendor: [String: [Double]] = [:]
    /// KPIs not computed because the window had too few samples (TBs, CQI reports).
    public var insufficientSamples: [String] = []

    public init(cell: CellID, start: Int64, end: Int64, source: String, relativeTime: Bool, suspect: Bool) {
        self.cell = cell
        self.start = start
        self.end = end
        self.source = source
        self.relativeTime = relativeTime
        self.suspect = suspect
    }

    public var seconds: Double { Double(end - start) / 1e9 }

    public subscript(_ name: String) -> Double? { values[name] }

    /// Field order in `cells.jsonl`: standard KPIs first, in DESIGN.md order; others after.
    public static let fieldOrder: [String] = [
        "prb_used_dl", "prb_avail_dl", "prb_util_dl_pct", "prb_util_dl_est_pct", "prb_used_ul", "prb_avail_ul", "prb_util_ul_pct",
        "ue_thp_dl_mbps", "ue_thp_ul_mbps", "cell_thp_dl_mbps", "cell_thp_ul_mbps", "volume_dl_mbit", "volume_ul_mbit",
        "se_dl_bps_hz", "se_used_dl_bps_hz", "bits_per_prb_dl", "se_ul_bps_hz",
        "cqi_mean", "cqi_p10", "cqi_p50", "cqi_p90", "cqi_reports", "rank_dl_mean",
        "mcs_dl_mean", "mcs_dl_p10", "mcs_dl_p50", "mcs_dl_p90", "mcs_dl_se_bps_hz", "mcs_ul_mean", "bler_dl_pct", "bler_ul_pct", "tb_dl", "tb_err_dl", "tb_ul", "tb_err_ul",
        "ul_ni_dbm_per_prb", "pusch_sinr_db", "rsrp_dbm", "power_headroom_db",
        "rrc_conn_mean", "rrc_conn_max", "active_ue_dl_mean", "active_ue_ul_mean", "ues",
        "dl_buffer_bytes", "ul_buffer_bytes", "pdcch_failures", "dl_sdu_drops",
        "bw_mhz", "scs_khz", "n_rb", "dl_share", "peak_dl_mbps", "capacity_dl_at_mcs_mbps", "headroom_dl_pct", "prb_tot_dl_pct", "prb_tot_ul_pct",
    ]

    static let fieldRank: [String: Int] = Dictionary(uniqueKeysWithValues: fieldOrder.enumerated().map { ($1, $0) })

    public var orderedValues: [(String, Double)] {
        values.map { ($0.key, $0.value) }.sorted { a, b in
            let ra = CellWindow.fieldRank[a.0] ?? Int.max, rb = CellWindow.fieldRank[b.0] ?? Int.max
            return ra != rb ? ra < rb : a.0 < b.0
        }
    }
}

/// Turns telemetry samples into cell windows: samples of one cell and period merge (a re-sent
/// PM file or two measInfo blocks), streaming samples (srsRAN reports, OAI dumps, second-level
/// tables) are re-cut into aligned windows of `windowLength`, and the derived capacity KPIs are
/// computed (kpi-vocabulary.md §2–§5).
public struct CellWindowBuilder {
    public var windowLength: Int64
    /// Configuration for cells whose data does not say (inventory or command line).
    public var defaultConfig: CellConfig
    /// Sample-size guards: fewer TBs or CQI reports and BLER / CQI statistics are not computed.
    public var minTransportBlocks = 100.0
    public var minCQIReports = 20.0

    struct Key: Hashable {
        var cell: CellID
        var start: Int64
        var end: Int64
    }

    /// Open windows: the merged sample and, per averaged KPI, the seconds its mean stands for.
    private var pending: [Key: (sample: CellSample, weights: [Kpi: Double])] = [:]
    /// Windows ending at or before this have been handed out (live sources close by the clock).
    public private(set) var closedUpTo: Int64 = .min
    /// Samples that arrived for a window already handed out.
    public private(set) var lateSamples = 0

    public init(windowLength: Int64, defaultConfig: CellConfig = CellConfig()) {
        self.windowLength = windowLength
        self.defaultConfig = defaultConfig
    }

    public mutating func add(_ s: CellSample) {
        var key = Key(cell: s.cell, start: s.start, end: s.end)
        if !s.native {
            let mid = s.start + (s.end - s.start) / 2
            let start = mid >= 0 ? mid / windowLength * windowLength : ((mid + 1) / windowLength - 1) * windowLength
            key = Key(cell: s.cell, start: start, end: start + windowLength)
        }
        guard key.end > closedUpTo else {
            lateSamples += 1
            return
        }
        guard let existing = pending[key] else {
            var first = s
            first.start = key.start
            first.end = key.end
            pending[key] = (first, Dictionary(uniqueKeysWithValues: s.values.keys.map { ($0, s.seconds) }))
            return
        }
        pending[key] = s.native ? (Self.union(existing.sample, s), existing.weights)
                                : Self.combine(existing.sample, weights: existing.weights, s)
    }

    /// The windows that end at or before `watermark`, in time order; later samples for them
    /// are counted as late.
    public mutating func close(upTo watermark: Int64) -> [CellWindow] {
        let keys = pending.keys.filter { $0.end <= watermark }
            .sorted { ($0.start, $0.cell, $0.end) < ($1.start, $1.cell, $1.end) }
        var samples: [CellSample] = []
        samples.reserveCapacity(keys.count)
        for k in keys { samples.append(pending.removeValue(forKey: k)!.sample) }
        closedUpTo = max(closedUpTo, watermark)
        return samples.map(derive)
    }

    /// All windows, in time order; the builder is empty afterwards.
    public mutating func finish() -> [CellWindow] { close(upTo: .max) }

    /// Two readings of the same period: the later one's values win counter by counter.
    static func union(_ a: CellSample, _ b: CellSample) -> CellSample {
        var out = a
        out.values.merge(b.values) { _, new in new }
        out.vendor.merge(b.vendor) { _, new in new }
        for d in b.distributions {
            if let i = out.distributions.firstIndex(where: { $0.quantity == d.quantity && $0.table == d.table }) { out.distributions[i] = d }
            else { out.distributions.append(d) }
        }
        out.suspect = a.suspect || b.suspect
        out.config = merge(a.config, b.config)
        return out
    }

    /// Consecutive samples in one window: counts add, levels average by time, maxima take the max.
    /// A level is weighted by the time its own samples cover, so a KPI that appears late in a
    /// window is not diluted by the seconds before it.
    static func combine(_ a: CellSample, weights: [Kpi: Double], _ b: CellSample) -> (CellSample, [Kpi: Double]) {
        var out = a
        var weights = weights
        let wb = b.seconds
        for (kpi, v) in b.values {
            let wa = weights[kpi] ?? 0
            weights[kpi] = wa + wb
            guard let old = a.values[kpi] else { out.values[kpi] = v; continue }
            switch kpi.combine {
            case .sum: out.values[kpi] = old + v
            case .max: out.values[kpi] = max(old, v)
            case .mean: out.values[kpi] = wa + wb > 0 ? (old * wa + v * wb) / (wa + wb) : v
            }
        }
        for d in b.distributions {
            for (i, c) in d.counts.enumerated() where c > 0 { out.addToDistribution(d.quantity, table: d.table, index: i, count: c) }
        }
        out.suspect = a.suspect || b.suspect
        out.config = merge(a.config, b.config)
        return (out, weights)
    }

    static func merge(_ a: CellConfig, _ b: CellConfig) -> CellConfig {
        CellConfig(nRB: a.nRB ?? b.nRB, scsKHz: a.scsKHz ?? b.scsKHz, bwMHz: a.bwMHz ?? b.bwMHz,
                   dlShare: a.dlShare ?? b.dlShare, layersDl: a.layersDl ?? b.layersDl)
    }

    /// The derived KPIs of one window.
    func derive(_ s: CellSample) -> CellWindow {
        var w = CellWindow(cell: s.cell, start: s.start, end: s.end, source: s.source, relativeTime: s.relativeTime, suspect: s.suspect)
        w.vendor = s.vendor
        for (k, v) in s.values { w.values[k.rawValue] = v }
        let T = w.seconds
        var config = CellWindowBuilder.merge(s.config, defaultConfig)
        if config.nRB == nil, let avail = s.values[.prbAvailDl], avail >= 1, avail <= 3300 { config.nRB = Int(avail.rounded()) }
        // Configuration the formulas cannot use (zero, negative) is no configuration.
        if let n = config.nRB, n <= 0 { config.nRB = nil }
        if let scs = config.scsKHz, scs <= 0 { config.scsKHz = nil }
        if let share = config.dlShare, !(share > 0 && share <= 1) { config.dlShare = nil }
        // An N_RB that only one subcarrier spacing has (273 → 30 kHz, 100 MHz) names both.
        if config.scsKHz == nil, let n = config.nRB { config.scsKHz = CarrierTables.onlySCS(forNRB: n) }
        if config.bwMHz == nil, let n = config.nRB, let scs = config.scsKHz { config.bwMHz = CarrierTables.bandwidthMHz(nRB: n, scsKHz: scs) }
        if config.nRB == nil, let bw = config.bwMHz, let scs = config.scsKHz { config.nRB = CarrierTables.nRB(bandwidthMHz: bw, scsKHz: scs) }
        if let n = config.nRB { w.values["n_rb"] = Double(n) }
        if let scs = config.scsKHz { w.values["scs_khz"] = Double(scs) }
        if let bw = config.bwMHz { w.values["bw_mhz"] = bw }
        let dlShare = config.dlShare ?? 1
        if config.dlShare != nil { w.values["dl_share"] = dlShare }

        // PRB utilisation.
        for (used, avail, tot, out) in [(Kpi.prbUsedDl, Kpi.prbAvailDl, Kpi.prbTotDlPct, "prb_util_dl_pct"),
                                        (.prbUsedUl, .prbAvailUl, .prbTotUlPct, "prb_util_ul_pct")] {
            if let u = s.values[used], let a = s.values[avail] ?? config.nRB.map(Double.init), a > 0 {
                w.values[out] = 100 * u / a
            } else if w.values[out] == nil, let t = s.values[tot] {
                w.values[out] = t
            }
        }
        // Cell throughput from volume when the source reports volume.
        if w.values["cell_thp_dl_mbps"] == nil, let v = s.values[.volumeDlMbit], T > 0 { w.values["cell_thp_dl_mbps"] = v / T }
        if w.values["cell_thp_ul_mbps"] == nil, let v = s.values[.volumeUlMbit], T > 0 { w.values["cell_thp_ul_mbps"] = v / T }

        // Spectral efficiency and bits per PRB.
        if let thp = w.values["cell_thp_dl_mbps"], let n = config.nRB, let scs = config.scsKHz, n > 0 {
            let hz = Double(n) * 12 * Double(scs) * 1e3 * dlShare
            w.values["se_dl_bps_hz"] = thp * 1e6 / hz
            if let used = s.values[.prbUsedDl], used > 0 {
                w.values["se_used_dl_bps_hz"] = thp * 1e6 / (used * 12 * Double(scs) * 1e3 * dlShare)
                let dlSlotsPerSecond = 1000 * Double(scs) / 15 * dlShare
                w.values["bits_per_prb_dl"] = thp * 1e6 / (used * dlSlotsPerSecond)
            }
        }

        // BLER from TB counters, gated on the sample size.
        for (tb, err, out) in [(Kpi.tbDl, Kpi.tbErrDl, "bler_dl_pct"), (.tbUl, .tbErrUl, "bler_ul_pct")] {
            guard let n = s.values[tb], let e = s.values[err] else { continue }
            if n >= minTransportBlocks { w.values[out] = 100 * e / n } else {
                w.values[out] = nil
                w.insufficientSamples.append(out)
            }
        }

        // CQI from its distribution: the table with most reports, CQI 0 ("out of range") excluded.
        if let d = s.distributions.filter({ $0.quantity == .cqi }).max(by: { $0.counts.dropFirst().reduce(0, +) < $1.counts.dropFirst().reduce(0, +) }) {
            let counts = Array(d.counts.prefix(16))
            let total = counts.dropFirst().reduce(0, +)
            if total >= minCQIReports {
                var mean = 0.0
                for c in 1..<counts.count { mean += Double(c) * counts[c] }
                w.values["cqi_mean"] = mean / total
                w.values["cqi_p10"] = Double(Self.percentile(counts, 0.10))
                w.values["cqi_p50"] = Double(Self.percentile(counts, 0.50))
                w.values["cqi_p90"] = Double(Self.percentile(counts, 0.90))
                w.values["cqi_table"] = Double(d.table)
            } else if total > 0 {
                w.insufficientSamples.append("cqi_mean")
            }
            w.values["cqi_reports"] = total
        }
        // MCS: spectral efficiency through the right table; the index mean only within one table.
        let mcs = s.distributions.filter { $0.quantity == .mcsDl }
        var maxQm = 6
        if !mcs.isEmpty {
            var se = 0.0, n = 0.0, index = 0.0
            for d in mcs {
                if d.table == 2 { maxQm = 8 }
                for (m, c) in d.counts.enumerated() where c > 0 {
                    guard let e = MCSTables.efficiency(table: d.table, mcs: m) else { continue }
                    se += e * c; n += c; index += Double(m) * c
                }
            }
            if n > 0 {
                w.values["mcs_dl_se_bps_hz"] = se / n
                // Index statistics only within one table: MCS 20 is 3.3 bit/s/Hz in one, 5.3 in the other.
                if mcs.count == 1 {
                    w.values["mcs_dl_mean"] = index / n
                    w.values["mcs_dl_p10"] = Double(Self.percentile(mcs[0].counts, 0.10, from: 0))
                    w.values["mcs_dl_p50"] = Double(Self.percentile(mcs[0].counts, 0.50, from: 0))
                    w.values["mcs_dl_p90"] = Double(Self.percentile(mcs[0].counts, 0.90, from: 0))
                }
            }
        }
        if s.distributions.contains(where: { $0.quantity == .cqi && $0.table == 2 }) { maxQm = 8 }

        // TS 38.306 §4.1.2 peak for the carrier (one CC, f = 1, FR1 DL overhead 0.14), TDD share applied.
        if let n = config.nRB, let scs = config.scsKHz {
            let layers = Double(config.layersDl ?? 1)
            let symbolRate = Double(n) * 12 * 14 * 1000 * Double(scs) / 15
            let peak = layers * Double(maxQm) * 948.0 / 1024.0 * symbolRate * (1 - 0.14) * dlShare / 1e6
            w.values["peak_dl_mbps"] = peak
            // Without PRB counters, the load is estimated from what the cell carried against what
            // it could carry at the MCS it used (same formula, the MCS's efficiency for Q_m·R).
            if let se = w.values["mcs_dl_se_bps_hz"], let thp = w.values["cell_thp_dl_mbps"] {
                // The rank the UEs report, when they do, is the layers the channel carries.
                let rank = min(layers, max(1, (w.values["rank_dl_mean"] ?? layers).rounded()))
                let capacity = rank * se * symbolRate * (1 - 0.14) * dlShare / 1e6
                w.values["capacity_dl_at_mcs_mbps"] = capacity
                if w.values["prb_util_dl_pct"] == nil, capacity > 0 { w.values["prb_util_dl_est_pct"] = 100 * thp / capacity }
            }
        }
        if let u = w.values["prb_util_dl_pct"] { w.values["headroom_dl_pct"] = max(0, 100 - u) }
        return w
    }

    /// Smallest value c with Σ_{k≤c} n_k ≥ p·Σn over the bins from `first` (CQI 0, "out of
    /// range", is left out by starting at 1).
    static func percentile(_ counts: [Double], _ p: Double, from first: Int = 1) -> Int {
        let total = counts.dropFirst(first).reduce(0, +)
        var running = 0.0
        for c in first..<counts.count {
            running += counts[c]
            if running >= p * total { return c }
        }
        return counts.count - 1
    }
}

/// TS 38.214 PDSCH MCS tables 5.1.3.1-1 (qam64) and -2 (qam256): spectral efficiency per index.
public enum MCSTables {
    static let table1: [Double] = [0.2344, 0.3066, 0.3770, 0.4902, 0.6016, 0.7402, 0.8770, 1.0273, 1.1758, 1.3262,
                                   1.3281, 1.4766, 1.6953, 1.9141, 2.1602, 2.4063, 2.5703, 2.5664, 2.7305, 3.0293,
                                   3.3223, 3.6094, 3.9023, 4.2129, 4.5234, 4.8164, 5.1152, 5.3320, 5.5547]
    static let table2: [Double] = [0.2344, 0.3770, 0.6016, 0.8770, 1.1758, 1.4766, 1.6953, 1.9141, 2.1602, 2.4063,
                                   2.5703, 2.7305, 3.0293, 3.3223, 3.6094, 3.9023, 4.2129, 4.5234, 4.8164, 5.1152,
                                   5.3320, 5.5547, 5.8906, 6.2266, 6.5703, 6.9141, 7.1602, 7.4063]

    /// nil for reserved indices (retransmissions) and unknown tables.
    public static func efficiency(table: Int, mcs: Int) -> Double? {
        switch table {
        case 1: mcs >= 0 && mcs < table1.count ? table1[mcs] : nil
        case 2: mcs >= 0 && mcs < table2.count ? table2[mcs] : nil
        default: nil
        }
    }
}
