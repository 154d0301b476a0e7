#if canImport(Glibc)
import Glibc
#endif
import Windows

/// What the bottleneck model sees of one cell: each window's KPIs turned into numbers that
/// compare across cells of any bandwidth (shares, bit/s/Hz, and ratios or differences to the
/// cell's own baseline), each with a flag saying whether the input had it, over the last
/// `history` windows. models/bottleneck/bottleneck.py computes the same; the model's test
/// vectors hold the two together.
public struct CellFeatures {
    /// What the classes are defined by (DESIGN.md): load and what users get, bits per PRB and
    /// link quality, uplink noise. Uplink traffic is left out on purpose: how it moves with
    /// downlink demand is a property of one network's traffic, not of a bottleneck.
    public static let names = [
        "prb_util_dl", "ue_thp_dl_vs_base", "ue_thp_dl_per_mhz", "se_used_dl", "se_used_dl_vs_base",
        "cqi", "cqi_vs_base", "mcs_se_dl", "bler_dl", "ul_ni_15khz", "ul_ni_vs_base", "pusch_sinr",
        "pusch_sinr_vs_base", "active_ue_vs_base", "cell_thp_dl_vs_base", "suspect",
    ]
    public static var count: Int { names.count }
    /// The KPIs each feature is made from, for evidence and for `missing_inputs`.
    public static let inputs: [[String]] = [
        ["prb_util_dl_pct"], ["ue_thp_dl_mbps"], ["ue_thp_dl_mbps", "bw_mhz"], ["se_used_dl_bps_hz"], ["se_used_dl_bps_hz"],
        ["cqi_mean"], ["cqi_mean"], ["mcs_dl_se_bps_hz"], ["bler_dl_pct"], ["ul_ni_dbm_per_prb"], ["ul_ni_dbm_per_prb"],
        ["pusch_sinr_db"], ["pusch_sinr_db"], ["active_ue_dl_mean"], ["cell_thp_dl_mbps"], [],
    ]
    static let baselineKPIs = ["ue_thp_dl_mbps", "se_used_dl_bps_hz", "cqi_mean", "ul_ni_dbm_per_prb", "pusch_sinr_db",
                               "active_ue_dl_mean", "cell_thp_dl_mbps"]

    public let history: Int
    let baselineWindows: Int
    let baselineMin: Int
    private(set) var baseline = KpiBaseline()
    /// `history` rows of 2 × count floats (values, then presence flags), oldest first.
    public private(set) var input: [Float]

    public init(history: Int, baselineWindows: Int, baselineMin: Int) {
        self.history = history
        self.baselineWindows = baselineWindows
        self.baselineMin = baselineMin
        input = [Float](repeating: 0, count: history * 2 * Self.count)
    }

    /// The baseline of `kpi` as the features use it: nil until enough windows were seen.
    func base(_ kpi: String) -> Double? { Self.base(kpi, baseline, baselineMin) }

    static func base(_ kpi: String, _ b: KpiBaseline, _ minimum: Int) -> Double? { b.count(kpi) >= minimum ? b.median(kpi) : nil }

    /// Shifts `w` in as the newest row, then (unless it is suspect) into the baseline.
    public mutating func push(_ w: CellWindow) {
        do {
            let width = 2 * Self.count, history = history, current = baseline, minimum = baselineMin
            input.withUnsafeMutableBufferPointer { p in
                for i in 0..<(history - 1) * width { p[i] = p[i + width] }
                let row = UnsafeMutableBufferPointer(rebasing: p[((history - 1) * width)...])
                for i in row.indices { row[i] = 0 }
                Self.write(w, current, minimum, into: row)
            }
        }
        if !w.suspect {
            for k in Self.baselineKPIs { baseline.add(k, w[k], keep: baselineWindows) }
        }
    }

    private static func write(_ w: CellWindow, _ baseline: KpiBaseline, _ minimum: Int, into row: UnsafeMutableBufferPointer<Float>) {
        func base(_ k: String) -> Double? { Self.base(k, baseline, minimum) }
        let n = count
        func put(_ i: Int, _ v: Double?) {
            guard let v, v.isFinite else { return }
            row[i] = Float(v)
            row[n + i] = 1
        }
        func clip(_ v: Double, _ lo: Double, _ hi: Double) -> Double { v < lo ? lo : v > hi ? hi : v }
        func ratio(_ i: Int, _ k: String, _ eps: Double) {
            guard let v = w[k], let b = base(k) else { return }
            put(i, clip(log2((max(v, 0) + eps) / (max(b, 0) + eps)), -4, 4) / 2)
        }
        func diff(_ i: Int, _ k: String, _ scale: Double) {
            guard let v = w[k], let b = base(k) else { return }
            put(i, clip((v - b) / scale, -3, 3))
        }
        // Where the input has no PRB counts (OAI logs), the load estimated from throughput and MCS.
        if let u = w["prb_util_dl_pct"] ?? w["prb_util_dl_est_pct"] { put(0, clip(u / 100, 0, 1.2)) }
        ratio(1, "ue_thp_dl_mbps", 0.1)
        if let t = w["ue_thp_dl_mbps"], let bw = w["bw_mhz"], bw != 0 { put(2, log2(max(t, 0) / bw + 0.01) / 4) }
        if let v = w["se_used_dl_bps_hz"] { put(3, clip(v / 5, 0, 3)) }
        ratio(4, "se_used_dl_bps_hz", 0.05)
        if let v = w["cqi_mean"] { put(5, v / 15) }
        diff(6, "cqi_mean", 5)
        if let v = w["mcs_dl_se_bps_hz"] { put(7, clip(v / 5, 0, 3)) }
        if let v = w["bler_dl_pct"] { put(8, clip(v / 50, 0, 2)) }
        if let ni = w["ul_ni_dbm_per_prb"] {
            // Noise per PRB grows with the PRB's width: compare at 15 kHz.
            let scs = w["scs_khz"] ?? 0
            put(9, clip((ni - (scs != 0 ? 10 * log10(scs / 15) : 0) + 110) / 10, -3, 5))
        }
        diff(10, "ul_ni_dbm_per_prb", 10)
        if let v = w["pusch_sinr_db"] { put(11, clip(v / 20, -2, 2)) }
        diff(12, "pusch_sinr_db", 10)
        ratio(13, "active_ue_dl_mean", 0.1)
        ratio(14, "cell_thp_dl_mbps", 0.1)
        row[15] = w.suspect ? 1 : 0
        row[n + 15] = 1
    }
}
