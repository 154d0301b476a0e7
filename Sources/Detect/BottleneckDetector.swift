import Telemetry
import Windows

/// Judges cell windows one at a time, in time order per cell, and keeps its own per-cell state.
/// The radio rules and the bottleneck model are the two; `--detector` chooses.
public protocol CellDetector {
    var name: String { get }
    mutating func observe(_ w: CellWindow) -> [FindingEvent]
    mutating func finish() -> [FindingEvent]
}

extension RadioRules: CellDetector {}

/// How the bottleneck detector turns window probabilities into episodes (`bottleneck_episodes`
/// in a rules file). Ten minutes is the shortest incident an operator acts on; shorter dips are
/// benign by DESIGN.md.
public struct BottleneckEpisodes: Codable, Sendable, Equatable {
    public var openProbability: Float = 0.5
    public var holdProbability: Float = 0.3
    public var minDurationS: Double = 600
    public var clearS: Double = 600

    public init() {}

    enum CodingKeys: String, CodingKey {
        case openProbability = "open_probability", holdProbability = "hold_probability", minDurationS = "min_duration_s", clearS = "clear_s"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        openProbability = try c.decodeIfPresent(Float.self, forKey: .openProbability) ?? openProbability
        holdProbability = try c.decodeIfPresent(Float.self, forKey: .holdProbability) ?? holdProbability
        minDurationS = try c.decodeIfPresent(Double.self, forKey: .minDurationS) ?? minDurationS
        clearS = try c.decodeIfPresent(Double.self, forKey: .clearS) ?? clearS
    }
}

/// The learned radio detector: the bottleneck model judges every window of a cell, and episodes
/// turn its per-window probabilities into findings. A class opens when its probability stays at
/// or above the open probability for the minimum duration, stays open while it is at or above
/// the hold probability, and resolves after `clear_s` below it, so one incident is one finding and a dip of a
/// few minutes is none.
///
/// Evidence comes from occlusion: at the window where the episode peaks, each KPI the model used
/// is taken away in turn, and of the class's defining KPIs those whose absence lowers its
/// probability most are the ones that drove it, shown with their value and the cell's baseline.
public struct BottleneckDetector: CellDetector {
    public let name = "bottleneck@1"
    public var runID: String
    public var episodes: BottleneckEpisodes
    let model: BottleneckModel
    private var cells: [CellID: CellState] = [:]
    private var probabilities = [Float](repeating: 0, count: BottleneckModel.classes.count)
    private var occluded: [Float] = []

    static let classes: [(Finding.Class, String)] = [(.prbSaturation, "dl"), (.lowSpectralEfficiency, "dl"), (.uplinkInterference, "ul")]
    /// The KPIs that define each class (DESIGN.md): evidence is drawn from these, ranked by how
    /// much each drove the model.
    static let defining: [Set<String>] = [
        ["prb_util_dl_pct", "ue_thp_dl_mbps", "active_ue_dl_mean", "cell_thp_dl_mbps"],
        ["se_used_dl_bps_hz", "cqi_mean", "mcs_dl_se_bps_hz", "bler_dl_pct", "ue_thp_dl_mbps"],
        ["ul_ni_dbm_per_prb", "pusch_sinr_db"],
    ]
    /// What each class needs to be judged well; absent ones are named in `missing_inputs`.
    static let needs: [[String]] = [
        ["prb_util_dl_pct", "ue_thp_dl_mbps", "active_ue_dl_mean"],
        ["se_used_dl_bps_hz", "cqi_mean", "mcs_dl_se_bps_hz", "bler_dl_pct"],
        ["ul_ni_dbm_per_prb", "pusch_sinr_db"],
    ]
    static let units: [String: String] = [
        "prb_util_dl_pct": "%", "prb_util_dl_est_pct": "%", "ue_thp_dl_mbps": "Mbit/s",
        "cell_thp_dl_mbps": "Mbit/s", "se_used_dl_bps_hz": "bit/s/Hz", "mcs_dl_se_bps_hz": "bit/s/Hz", "cqi_mean": "",
        "bler_dl_pct": "%", "ul_ni_dbm_per_prb": "dBm", "pusch_sinr_db": "dB", "active_ue_dl_mean": "", "bw_mhz": "MHz",
    ]

    struct Episode {
        var runS = 0.0
        var clearS = 0.0
        var candidateStart: Int64 = 0
        var lastHotEnd: Int64 = 0
        var peak: Float = 0
        var open: Finding?
    }

    struct CellState {
        var features: CellFeatures
        var episodes: [Episode?]
        var lastEnd: Int64?
    }

    public init(model: BottleneckModel, runID: String, episodes: BottleneckEpisodes = BottleneckEpisodes()) {
        self.model = model
        self.runID = runID
        self.episodes = episodes
        occluded = [Float](repeating: 0, count: model.history * 2 * CellFeatures.count)
    }

    public mutating func observe(_ w: CellWindow) -> [FindingEvent] {
        // Taken out of the table while it changes, so its buffers are not copied on write.
        var st = cells.removeValue(forKey: w.cell)
            ?? CellState(features: CellFeatures(history: model.history, baselineWindows: model.baselineWindows, baselineMin: model.baselineMin),
                         episodes: Array(repeating: nil, count: Self.classes.count))
        defer { cells[w.cell] = st }
        var events: [FindingEvent] = []
        // A gap of more than one window breaks every episode.
        if let last = st.lastEnd, w.start > last + (w.end - w.start) {
            for c in Self.classes.indices { events += close(&st, c) }
        }
        st.lastEnd = w.end
        st.features.push(w)
        _ = st.features.input.withUnsafeBufferPointer { i in
            probabilities.withUnsafeMutableBufferPointer { model.evaluate(i, probabilities: $0) }
        }
        // Evidence passes overwrite the scratch probabilities.
        let judged = probabilities
        for c in Self.classes.indices {
            let p = judged[c + 1]
            let hot = p >= (st.episodes[c]?.open != nil ? episodes.holdProbability : episodes.openProbability) && !w.suspect
            if hot {
                var e = st.episodes[c] ?? Episode(candidateStart: w.start)
                e.runS += w.seconds
                e.clearS = 0
                e.lastHotEnd = w.end
                let newPeak = p > e.peak
                if newPeak { e.peak = p }
                if e.open == nil, e.runS >= episodes.minDurationS {
                    e.open = finding(c, w, st.features, start: e.candidateStart, probability: p, score: e.peak)
                    events.append(FindingEvent(.opened, e.open!))
                } else if var f = e.open, newPeak {
                    let updated = finding(c, w, st.features, start: f.start, probability: p, score: e.peak)
                    f.evidence = updated.evidence
                    f.severity = updated.severity
                    f.score = updated.score
                    f.missingInputs = updated.missingInputs
                    e.open = f
                }
                st.episodes[c] = e
            } else if var e = st.episodes[c] {
                if e.open == nil {
                    st.episodes[c] = nil
                } else {
                    e.clearS += w.seconds
                    st.episodes[c] = e
                    if e.clearS >= episodes.clearS { events += close(&st, c) }
                }
            }
        }
        return events
    }

    public mutating func finish() -> [FindingEvent] {
        var events: [FindingEvent] = []
        for cell in cells.keys.sorted() {
            var st = cells[cell]!
            for c in Self.classes.indices { events += close(&st, c) }
            cells[cell] = st
        }
        return events
    }

    private func close(_ st: inout CellState, _ c: Int) -> [FindingEvent] {
        guard let e = st.episodes[c] else { return [] }
        st.episodes[c] = nil
        guard var f = e.open else { return [] }
        f.end = e.lastHotEnd
        return [FindingEvent(.resolved, f)]
    }

    /// The finding for class `c` as of window `w`, its evidence by occlusion.
    private mutating func finding(_ c: Int, _ w: CellWindow, _ features: CellFeatures,
                                  start: Int64, probability: Float, score: Float) -> Finding {
        let (cls, direction) = Self.classes[c]
        let n = CellFeatures.count
        let newest = (model.history - 1) * 2 * n
        // How much the class's probability falls without each KPI of the newest window.
        var drops: [String: Float] = [:]
        for (i, kpis) in CellFeatures.inputs.enumerated() where !kpis.isEmpty && features.input[newest + n + i] != 0 {
            occluded = features.input
            occluded[newest + i] = 0
            occluded[newest + n + i] = 0
            let p = occluded.withUnsafeBufferPointer { o in
                probabilities.withUnsafeMutableBufferPointer { _ = model.evaluate(o, probabilities: $0); return $0[c + 1] }
            }
            drops[kpis[0], default: 0] += probability - p
        }
        let ranked = drops.filter { $0.value > 0.01 && Self.defining[c].contains($0.key) }.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(4)
        var evidence = ranked.compactMap { kpi, _ -> Finding.Evidence? in
            guard let v = w[kpi] ?? (kpi == "prb_util_dl_pct" ? w["prb_util_dl_est_pct"] : nil) else { return nil }
            return Finding.Evidence(kpi: kpi, value: v, baseline: features.base(kpi), unit: Self.units[kpi] ?? "")
        }
        if evidence.isEmpty {
            // None of them single-handedly drove it: show what the class is about.
            evidence = Self.needs[c].compactMap { k in w[k].map { Finding.Evidence(kpi: k, value: $0, baseline: features.base(k), unit: Self.units[k] ?? "") } }
        }
        var missing = Self.needs[c].filter { w[$0] == nil }
        if c == 0, w["prb_util_dl_est_pct"] != nil { missing.removeAll { $0 == "prb_util_dl_pct" } }
        let scope = Finding.Scope(cell: w.cell.name, gnb: w.cell.gnb, ldn: w.cell.ldn)
        let severity: Finding.Severity = score >= 0.98 ? .critical : score >= 0.9 ? .major : score >= 0.7 ? .minor : .warning
        return Finding(id: Finding.makeID(cls, scope, start: start, direction: direction), runID: runID, findingClass: cls,
                       direction: direction, scope: scope, start: start, end: nil, severity: severity, score: Double(score),
                       detector: name, evidence: evidence, missingInputs: missing, summary: "", explanation: nil)
    }
}
