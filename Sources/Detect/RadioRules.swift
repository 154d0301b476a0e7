#if canImport(Glibc)
import Glibc
#endif
import Telemetry
import Windows

/// Thresholds of the radio rules (`prb_saturation`, `low_spectral_efficiency`,
/// `uplink_interference`), as read from the rules YAML. Defaults follow the operator practice
/// in kpi-vocabulary.md §6–§7; each is documented in pipelines/rules/default.yaml.
public struct RadioRuleConfig: Codable, Sendable, Equatable {
    // prb_saturation
    public var prbUtilPct: Double = 80
    /// Without a user-impact KPI in the input, utilisation alone must reach this.
    public var prbUtilAlonePct: Double = 95
    /// When the gNB drops DL SDUs for a full buffer, the cell could not carry what was offered;
    /// then this utilisation suffices (a PRB count or its estimate can understate how busy the
    /// scheduler is).
    public var prbUtilWithDropsPct: Double = 50
    public var ueThpFloorMbps: Double = 5
    public var ueThpDropFactor: Double = 0.7
    public var ueThpUlFloorMbps: Double = 1
    // low_spectral_efficiency
    public var seUsedFloorBpsHz: Double = 1.5
    /// The MCS's own efficiency (Q_m × R) counts no overhead and no HARQ loss: the floor on used
    /// PRBs divided by (1 − 0.14 overhead, TS 38.306) × (1 − 10 % BLER target) ≈ 1.94.
    public var mcsSEFloorBpsHz: Double = 2.0
    public var cqiMeanFloor: Double = 7
    public var blerDlPct: Double = 30
    public var seDropFactor: Double = 0.6
    /// Low-traffic guard: windows carrying less than this are not judged for efficiency …
    public var minCellThpMbps: Double = 1
    /// … nor near-empty cells, where one cell-edge user fills the PRBs: below this PRB
    /// utilisation, or under two active users, where the input says.
    public var minPrbUtilPct: Double = 10
    // uplink_interference
    /// Mean UL noise + interference per PRB, normalised to a 15 kHz PRB.
    public var ulNiDbmPerPrb15kHz: Double = -105
    public var ulNiRiseDb: Double = 6
    public var puschSinrFloorDb: Double = 3
    public var sinrDropDb: Double = 6
    /// UEs must still have this much power headroom for a low SINR to count as interference.
    public var minPowerHeadroomDb: Double = 3
    // Episodes
    public var minWindows: Int = 3
    public var clearWindows: Int = 2
    public var warmupWindows: Int = 4
    public var baselineWindows: Int = 96
    /// Windows left out after a suspect (restart) window.
    public var restartHoldoffWindows: Int = 2

    public init() {}

    enum CodingKeys: String, CodingKey {
        case prbUtilPct = "prb_util_pct", prbUtilAlonePct = "prb_util_alone_pct", prbUtilWithDropsPct = "prb_util_with_drops_pct"
        case ueThpFloorMbps = "ue_thp_floor_mbps", ueThpDropFactor = "ue_thp_drop_factor", ueThpUlFloorMbps = "ue_thp_ul_floor_mbps"
        case seUsedFloorBpsHz = "se_used_floor_bps_hz", mcsSEFloorBpsHz = "mcs_se_floor_bps_hz", cqiMeanFloor = "cqi_mean_floor"
        case blerDlPct = "bler_dl_pct", seDropFactor = "se_drop_factor", minCellThpMbps = "min_cell_thp_mbps"
        case minPrbUtilPct = "min_prb_util_pct"
        case ulNiDbmPerPrb15kHz = "ul_ni_dbm_per_prb_15khz", ulNiRiseDb = "ul_ni_rise_db"
        case puschSinrFloorDb = "pusch_sinr_floor_db", sinrDropDb = "sinr_drop_db", minPowerHeadroomDb = "min_power_headroom_db"
        case minWindows = "min_windows", clearWindows = "clear_windows", warmupWindows = "warmup_windows"
        case baselineWindows = "baseline_windows", restartHoldoffWindows = "restart_holdoff_windows"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var d = RadioRuleConfig()
        func read<T: Decodable>(_ key: CodingKeys, _ path: WritableKeyPath<RadioRuleConfig, T>) throws {
            if let v = try c.decodeIfPresent(T.self, forKey: key) { d[keyPath: path] = v }
        }
        try read(.prbUtilPct, \.prbUtilPct); try read(.prbUtilAlonePct, \.prbUtilAlonePct)
        try read(.prbUtilWithDropsPct, \.prbUtilWithDropsPct)
        try read(.ueThpFloorMbps, \.ueThpFloorMbps); try read(.ueThpDropFactor, \.ueThpDropFactor)
        try read(.ueThpUlFloorMbps, \.ueThpUlFloorMbps)
        try read(.seUsedFloorBpsHz, \.seUsedFloorBpsHz); try read(.mcsSEFloorBpsHz, \.mcsSEFloorBpsHz)
        try read(.cqiMeanFloor, \.cqiMeanFloor); try read(.blerDlPct, \.blerDlPct); try read(.seDropFactor, \.seDropFactor)
        try read(.minCellThpMbps, \.minCellThpMbps); try read(.minPrbUtilPct, \.minPrbUtilPct)
        try read(.ulNiDbmPerPrb15kHz, \.ulNiDbmPerPrb15kHz); try read(.ulNiRiseDb, \.ulNiRiseDb)
        try read(.puschSinrFloorDb, \.puschSinrFloorDb); try read(.sinrDropDb, \.sinrDropDb)
        try read(.minPowerHeadroomDb, \.minPowerHeadroomDb)
        try read(.minWindows, \.minWindows); try read(.clearWindows, \.clearWindows); try read(.warmupWindows, \.warmupWindows)
        try read(.baselineWindows, \.baselineWindows); try read(.restartHoldoffWindows, \.restartHoldoffWindows)
        self = d
    }
}

/// The three radio finding classes as transparent rules over each cell's own windows.
///
/// A window is judged against fixed operator floors (kpi-vocabulary §6) and against the cell's
/// own baseline: the median of its recent windows that were not themselves flagged. An episode
/// opens after `minWindows` consecutive flagged windows and resolves after `clearWindows`
/// normal ones, so one incident is one finding. Suspect (restart) windows and a hold-off after
/// them are not judged. When both could apply, low spectral efficiency wins over saturation:
/// PRBs run out *because* each carries few bits.
public struct RadioRules {
    public let name = "rules@1"
    public var config: RadioRuleConfig
    public var runID: String
    private var cells: [CellID: CellState] = [:]

    public init(config: RadioRuleConfig = RadioRuleConfig(), runID: String) {
        self.config = config
        self.runID = runID
    }

    struct Episode {
        var run = 0
        var clear = 0
        var candidateStart: Int64 = 0
        var lastHotEnd: Int64 = 0
        var peak: Verdict?
        var open: Finding?
    }

    struct CellState {
        var baseline = KpiBaseline()
        var judged = 0
        var holdoff = 0
        var lastEnd: Int64?
        var episodes: [Track: Episode] = [:]
    }

    /// What an episode is about: a class in one direction.
    struct Track: Hashable, Comparable {
        var findingClass: Finding.Class
        var direction: String

        static let all = [Track(findingClass: .prbSaturation, direction: "dl"), Track(findingClass: .prbSaturation, direction: "ul"),
                          Track(findingClass: .lowSpectralEfficiency, direction: "dl"), Track(findingClass: .uplinkInterference, direction: "ul")]

        static func < (a: Track, b: Track) -> Bool { (a.findingClass.rawValue, a.direction) < (b.findingClass.rawValue, b.direction) }
    }

    struct Verdict {
        var findingClass: Finding.Class
        var direction: String
        var excess: Double
        var evidence: [Finding.Evidence]
        var missing: [String]
    }

    /// Judges one cell window (windows of a cell must come in time order).
    public mutating func observe(_ w: CellWindow) -> [FindingEvent] {
        var st = cells[w.cell] ?? CellState()
        defer { cells[w.cell] = st }
        var events: [FindingEvent] = []
        // A gap of more than one window breaks every run of flagged windows.
        if let last = st.lastEnd, w.start > last + (w.end - w.start) {
            for c in Array(st.episodes.keys) { events += close(&st, c, cell: w.cell, force: true) }
        }
        st.lastEnd = w.end
        if w.suspect {
            st.holdoff = config.restartHoldoffWindows
            return events
        }
        if st.holdoff > 0 {
            st.holdoff -= 1
            return events
        }
        st.judged += 1
        let verdicts = judge(w, st.baseline, warm: st.judged > config.warmupWindows)
        for c in Track.all {
            if let v = verdicts.first(where: { $0.findingClass == c.findingClass && $0.direction == c.direction }) {
                var e = st.episodes[c] ?? Episode()
                if e.run == 0 { e.candidateStart = w.start; e.peak = nil }
                e.run += 1
                e.clear = 0
                e.lastHotEnd = w.end
                if v.excess > (e.peak?.excess ?? -1) { e.peak = v }
                if e.open == nil, e.run >= config.minWindows {
                    let f = makeFinding(w.cell, start: e.candidateStart, verdict: e.peak!)
                    e.open = f
                    events.append(FindingEvent(.opened, f))
                } else if var f = e.open, let p = e.peak {
                    f.evidence = p.evidence
                    f.severity = severity(p)
                    f.score = score(p.excess)
                    e.open = f
                }
                st.episodes[c] = e
            } else if st.episodes[c] != nil && judged(c, w) {
                // Only a window that could have shown the problem and did not clears it; a
                // pause in traffic neither extends nor ends an episode.
                events += close(&st, c, cell: w.cell, force: false)
            }
        }
        // Only windows without any verdict teach the baseline, and link-quality KPIs only from
        // windows with enough traffic to mean something (an idle cell's MCS is a default).
        if verdicts.isEmpty {
            var keys = ["ul_ni_dbm_per_prb", "pusch_sinr_db"]
            if carriesTraffic(w) { keys += ["ue_thp_dl_mbps", "ue_thp_ul_mbps", "se_used_dl_bps_hz", "mcs_dl_se_bps_hz", "cqi_mean"] }
            for k in keys { st.baseline.add(k, w[k], keep: config.baselineWindows) }
        }
        return events
    }

    private mutating func close(_ st: inout CellState, _ c: Track, cell: CellID, force: Bool) -> [FindingEvent] {
        guard var e = st.episodes[c] else { return [] }
        e.clear += 1
        if !force && e.open != nil && e.clear < config.clearWindows {
            st.episodes[c] = e
            return []
        }
        st.episodes[c] = nil
        guard var f = e.open else { return [] }
        f.end = e.lastHotEnd
        return [FindingEvent(.resolved, f)]
    }

    /// End of input: open episodes resolve at their last flagged window.
    public mutating func finish() -> [FindingEvent] {
        var events: [FindingEvent] = []
        for cell in cells.keys.sorted() {
            var st = cells[cell]!
            for c in st.episodes.keys.sorted() {
                events += close(&st, c, cell: cell, force: true)
            }
            cells[cell] = st
        }
        return events
    }

    func judge(_ w: CellWindow, _ b: KpiBaseline, warm: Bool) -> [Verdict] {
        var out: [Verdict] = []
        let c = config
        func ev(_ k: String, _ v: Double, _ base: Double?, _ unit: String) -> Finding.Evidence {
            Finding.Evidence(kpi: k, value: v, baseline: base, unit: unit)
        }

        // low_spectral_efficiency (DL): enough traffic, and the bits per PRB / MCS / CQI low
        // against the floor or well below the cell's own normal.
        var lowSE: Verdict?
        if carriesTraffic(w) {
            var evidence: [Finding.Evidence] = []
            var excess = 0.0
            for (k, floor, unit) in [("se_used_dl_bps_hz", c.seUsedFloorBpsHz, "bit/s/Hz"), ("mcs_dl_se_bps_hz", c.mcsSEFloorBpsHz, "bit/s/Hz"),
                                     ("cqi_mean", c.cqiMeanFloor, "")] {
                guard let v = w[k] else { continue }
                let base = warm ? b.median(k) : nil
                // Below the operator floor, or well below the cell's own normal.
                if v < floor || (base.map { v < $0 * c.seDropFactor } ?? false) {
                    evidence.append(ev(k, v, base, unit))
                    excess = max(excess, (base.map { $0 / max(v, 0.01) } ?? floor / max(v, 0.01)))
                }
            }
            if !evidence.isEmpty {
                if let bler = w["bler_dl_pct"] { evidence.append(ev("bler_dl_pct", bler, nil, "%")) }
                lowSE = Verdict(findingClass: .lowSpectralEfficiency, direction: "dl", excess: excess, evidence: evidence, missing: [])
            } else if let bler = w["bler_dl_pct"], bler >= c.blerDlPct {
                lowSE = Verdict(findingClass: .lowSpectralEfficiency, direction: "dl", excess: bler / c.blerDlPct,
                                evidence: [ev("bler_dl_pct", bler, nil, "%")], missing: [])
            }
        }
        if let lowSE { out.append(lowSE) }

        // prb_saturation: PRBs near full and users feel it (throughput per UE down, queues,
        // scheduler blocking). Busy-but-healthy windows (users still fast) are not flagged.
        if lowSE == nil, let v = saturation(w, b, warm: warm, direction: "dl") { out.append(v) }
        if let v = saturation(w, b, warm: warm, direction: "ul") { out.append(v) }

        // uplink_interference: N+I per PRB above the floor or risen over the cell's normal; or,
        // without N+I, PUSCH SINR low although UEs have power to spare.
        if let ni = w["ul_ni_dbm_per_prb"] {
            let scs = (w["scs_khz"] ?? 15) > 0 ? w["scs_khz"] ?? 15 : 15
            let ni15 = ni - 10 * log10(scs / 15)
            let base = warm ? b.median("ul_ni_dbm_per_prb") : nil
            if ni15 >= c.ulNiDbmPerPrb15kHz || (base.map { ni >= $0 + c.ulNiRiseDb } ?? false) {
                var evidence = [ev("ul_ni_dbm_per_prb", ni, base, "dBm")]
                if let s = w["pusch_sinr_db"] { evidence.append(ev("pusch_sinr_db", s, warm ? b.median("pusch_sinr_db") : nil, "dB")) }
                let excess = max(ni15 - c.ulNiDbmPerPrb15kHz, ni - (base ?? ni)) / c.ulNiRiseDb + 1
                out.append(Verdict(findingClass: .uplinkInterference, direction: "ul", excess: excess, evidence: evidence, missing: []))
            }
        } else if let sinr = w["pusch_sinr_db"], (w["ues"] ?? 1) >= 1 {
            let base = warm ? b.median("pusch_sinr_db") : nil
            let headroomOK = (w["power_headroom_db"] ?? c.minPowerHeadroomDb) >= c.minPowerHeadroomDb
            if headroomOK, sinr < c.puschSinrFloorDb || (base.map { sinr <= $0 - c.sinrDropDb } ?? false) {
                var evidence = [ev("pusch_sinr_db", sinr, base, "dB")]
                if let ph = w["power_headroom_db"] { evidence.append(ev("power_headroom_db", ph, nil, "dB")) }
                let excess = 1 + max(c.puschSinrFloorDb - sinr, (base ?? sinr) - sinr) / c.sinrDropDb
                out.append(Verdict(findingClass: .uplinkInterference, direction: "ul", excess: excess, evidence: evidence,
                                   missing: ["ul_ni_dbm_per_prb"]))
            }
        }
        return out
    }

    /// Whether a window has the inputs to show a problem of this kind at all.
    func judged(_ t: Track, _ w: CellWindow) -> Bool {
        switch (t.findingClass, t.direction) {
        case (.lowSpectralEfficiency, _): carriesTraffic(w)
        case (.prbSaturation, "dl"): w["prb_util_dl_pct"] != nil || w["prb_util_dl_est_pct"] != nil
        case (.prbSaturation, _): w["prb_util_ul_pct"] != nil
        case (.uplinkInterference, _): w["ul_ni_dbm_per_prb"] != nil || w["pusch_sinr_db"] != nil
        case (.transportCongestion, _): false
        }
    }

    /// PRB saturation in one direction: utilisation at the threshold and a user-impact signal.
    func saturation(_ w: CellWindow, _ b: KpiBaseline, warm: Bool, direction d: String) -> Verdict? {
        let c = config
        let measured = w["prb_util_\(d)_pct"]
        // The load estimate from throughput and MCS exists for the downlink only.
        let estimated = d == "dl" ? w["prb_util_dl_est_pct"] : nil
        let drops = d == "dl" ? (w["dl_sdu_drops"] ?? 0) : 0
        guard let util = measured ?? estimated, util >= (drops > 0 ? min(c.prbUtilPct, c.prbUtilWithDropsPct) : c.prbUtilPct) else { return nil }
        let floor = d == "dl" ? c.ueThpFloorMbps : c.ueThpUlFloorMbps
        let thpKey = "ue_thp_\(d)_mbps"
        var evidence = [Finding.Evidence(kpi: measured != nil ? "prb_util_\(d)_pct" : "prb_util_dl_est_pct", value: util, baseline: nil, unit: "%")]
        var impact = false, healthy = false
        var missing: [String] = []
        let base = warm ? b.median(thpKey) : nil
        if let thp = w[thpKey] {
            if thp < floor || (base.map { thp < $0 * c.ueThpDropFactor } ?? false) {
                impact = true
                evidence.append(Finding.Evidence(kpi: thpKey, value: thp, baseline: base, unit: "Mbit/s"))
            } else {
                healthy = true
            }
        } else {
            missing.append(thpKey)
        }
        if drops > 0 {
            impact = true
            evidence.append(Finding.Evidence(kpi: "dl_sdu_drops", value: drops, baseline: nil, unit: "SDUs"))
        }
        if d == "dl" {
            if let f = w["pdcch_failures"], f > 0 { impact = true; evidence.append(Finding.Evidence(kpi: "pdcch_failures", value: f, baseline: nil, unit: "")) }
            if let a = w["active_ue_dl_mean"], let t = w["cell_thp_dl_mbps"], a >= 1, t / a < floor, w[thpKey] == nil {
                impact = true
                evidence.append(Finding.Evidence(kpi: "cell_thp_per_active_ue_mbps", value: t / a, baseline: nil, unit: "Mbit/s"))
            }
            if w[thpKey] == nil && w["dl_buffer_bytes"] == nil { missing.append("dl_buffer_bytes") }
        }
        if !impact && !healthy && util >= c.prbUtilAlonePct { impact = true }
        // Users still fast means busy but healthy, unless the gNB is already dropping their data.
        guard impact && (!healthy || drops > 0) else { return nil }
        // Users at under half their normal speed make it worse than the PRB count says.
        let halved = w[thpKey].map { thp in thp < 0.5 * (base ?? 2 * floor) } ?? false
        return Verdict(findingClass: .prbSaturation, direction: d, excess: util / c.prbUtilPct + (halved ? 0.5 : 0),
                       evidence: evidence, missing: missing)
    }

    /// Enough DL traffic to judge link quality: bits or transport blocks, and not a near-empty
    /// cell (kpi-vocabulary §7: one edge user dominating is no finding).
    func carriesTraffic(_ w: CellWindow) -> Bool {
        let enough = (w["cell_thp_dl_mbps"] ?? w["ue_thp_dl_mbps"] ?? 0) >= config.minCellThpMbps || (w["tb_dl"] ?? 0) >= 100
        let nearEmpty = (w["prb_util_dl_pct"].map { $0 < config.minPrbUtilPct } ?? false) || (w["active_ue_dl_mean"].map { $0 < 2 } ?? false)
        return enough && !nearEmpty
    }

    func makeFinding(_ cell: CellID, start: Int64, verdict v: Verdict) -> Finding {
        let scope = Finding.Scope(cell: cell.name, gnb: cell.gnb, ldn: cell.ldn)
        return Finding(id: Finding.makeID(v.findingClass, scope, start: start, direction: v.direction), runID: runID, findingClass: v.findingClass,
                       direction: v.direction, scope: scope, start: start, end: nil, severity: severity(v), score: score(v.excess),
                       detector: name, evidence: v.evidence, missingInputs: v.missing, summary: "", explanation: nil)
    }

    func severity(_ v: Verdict) -> Finding.Severity {
        switch v.excess {
        case 2...: .critical
        case 1.5..<2: .major
        case 1.15..<1.5: .minor
        default: .warning
        }
    }

    func score(_ excess: Double) -> Double { min(1, max(0, 1 - 1 / max(excess, 1) + 0.5)) }
}

