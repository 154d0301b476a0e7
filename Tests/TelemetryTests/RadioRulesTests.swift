import Detect
import Telemetry
import Testing
import Windows

/// The radio rules on window sequences with a known story: one incident is one finding, and
/// busy-but-healthy periods, short spikes and restarts are not findings.
@Suite("Radio rules")
struct RadioRulesTests {
    static let cell = CellID(gnb: "gnb-3", cell: "cell-1", ldn: "NRCellDU=1")

    /// Fifteen-minute windows from a list of KPI dictionaries.
    static func windows(_ values: [[String: Double]], suspect: Set<Int> = []) -> [CellWindow] {
        values.enumerated().map { i, v in
            var w = CellWindow(cell: cell, start: Int64(i) * 900_000_000_000, end: Int64(i + 1) * 900_000_000_000,
                               source: "test", relativeTime: false, suspect: suspect.contains(i))
            w.values = v
            return w
        }
    }

    static func run(_ ws: [CellWindow], config: RadioRuleConfig = RadioRuleConfig()) -> [Finding] {
        var rules = RadioRules(config: config, runID: "r-test")
        var found: [String: Finding] = [:]
        for w in ws { for e in rules.observe(w) { found[e.finding.id] = e.finding } }
        for e in rules.finish() { found[e.finding.id] = e.finding }
        return found.values.sorted { $0.start < $1.start }
    }

    static let normal: [String: Double] = ["prb_util_dl_pct": 45, "ue_thp_dl_mbps": 40, "cell_thp_dl_mbps": 200,
                                           "se_used_dl_bps_hz": 4, "cqi_mean": 11, "ul_ni_dbm_per_prb": -116, "scs_khz": 30]

    static func with(_ changes: [String: Double]) -> [String: Double] { normal.merging(changes) { $1 } }

    @Test("saturation with users slowing down: one finding, start, end, evidence against baseline")
    func saturation() throws {
        let busy = Self.with(["prb_util_dl_pct": 96, "ue_thp_dl_mbps": 6])
        let ws = Self.windows(Array(repeating: Self.normal, count: 10) + Array(repeating: busy, count: 5) + Array(repeating: Self.normal, count: 5))
        let found = Self.run(ws)
        #expect(found.count == 1)
        let f = try #require(found.first)
        #expect(f.findingClass == .prbSaturation && f.direction == "dl")
        #expect(f.scope.cell == "gnb-3/cell-1" && f.scope.gnb == "gnb-3")
        #expect(f.start == 10 * 900_000_000_000 && f.end == 15 * 900_000_000_000)
        let thp = try #require(f.evidence.first { $0.kpi == "ue_thp_dl_mbps" })
        #expect(thp.value == 6 && thp.baseline == 40)
    }

    @Test("uplink PRB saturation is its own finding, next to the downlink's")
    func uplinkSaturation() {
        let both = Self.with(["prb_util_dl_pct": 95, "ue_thp_dl_mbps": 3, "prb_util_ul_pct": 92, "ue_thp_ul_mbps": 0.3])
        let found = Self.run(Self.windows(Array(repeating: Self.with(["prb_util_ul_pct": 30, "ue_thp_ul_mbps": 4]), count: 8)
                                          + Array(repeating: both, count: 4)))
        #expect(found.map { "\($0.findingClass.rawValue) \($0.direction ?? "")" }.sorted() == ["prb_saturation dl", "prb_saturation ul"])
        #expect(Set(found.map(\.id)).count == 2)
    }

    @Test("DL SDUs dropped for a full buffer: saturation at a lower load, not on an idle cell")
    func drops() {
        let dropping = Self.with(["prb_util_dl_pct": 62, "ue_thp_dl_mbps": 35, "dl_sdu_drops": 3000])
        let found = Self.run(Self.windows(Array(repeating: Self.normal, count: 8) + Array(repeating: dropping, count: 4)))
        #expect(found.map(\.findingClass) == [.prbSaturation])
        #expect(found.first?.evidence.contains { $0.kpi == "dl_sdu_drops" } == true)
        let idle = Self.with(["prb_util_dl_pct": 20, "dl_sdu_drops": 3000])
        #expect(Self.run(Self.windows(Array(repeating: Self.normal, count: 8) + Array(repeating: idle, count: 4))).isEmpty)
    }

    @Test("busy but healthy, short spikes and a restart are not findings")
    func negatives() {
        let healthy = Self.with(["prb_util_dl_pct": 97, "ue_thp_dl_mbps": 38])
        #expect(Self.run(Self.windows(Array(repeating: Self.normal, count: 8) + Array(repeating: healthy, count: 8))).isEmpty)
        let spike = Self.with(["prb_util_dl_pct": 99, "ue_thp_dl_mbps": 2])
        #expect(Self.run(Self.windows(Array(repeating: Self.normal, count: 8) + [spike, spike] + Array(repeating: Self.normal, count: 4))).isEmpty)
        // A restart: the suspect window and the hold-off after it are not judged.
        let dip = Self.with(["se_used_dl_bps_hz": 0.5, "cqi_mean": 3])
        let ws = Self.windows(Array(repeating: Self.normal, count: 8) + [dip, dip, dip] + Array(repeating: Self.normal, count: 4), suspect: [8])
        #expect(Self.run(ws).isEmpty)
    }

    @Test("low spectral efficiency wins over saturation when PRBs carry few bits")
    func lowSE() throws {
        let poor = Self.with(["prb_util_dl_pct": 95, "ue_thp_dl_mbps": 5, "se_used_dl_bps_hz": 1.1, "cqi_mean": 5])
        let found = Self.run(Self.windows(Array(repeating: Self.normal, count: 8) + Array(repeating: poor, count: 4)))
        #expect(found.map(\.findingClass) == [.lowSpectralEfficiency])
        #expect(found.first?.evidence.contains { $0.kpi == "se_used_dl_bps_hz" && $0.baseline == 4 } == true)
    }

    @Test("uplink interference: a rise over the cell's own floor, normalised for SCS")
    func interference() {
        let raised = Self.with(["ul_ni_dbm_per_prb": -108])
        let found = Self.run(Self.windows(Array(repeating: Self.normal, count: 8) + Array(repeating: raised, count: 4) + [Self.normal, Self.normal]))
        #expect(found.map(\.findingClass) == [.uplinkInterference])
        #expect(found.first?.direction == "ul")
        // −108 dBm on a 30 kHz PRB is −111 on a 15 kHz basis: below the absolute −105 floor, so
        // only the 8 dB rise over the baseline flags it. A cell that always sits at −108 is fine.
        let steady = Self.with(["ul_ni_dbm_per_prb": -108])
        #expect(Self.run(Self.windows(Array(repeating: steady, count: 12))).isEmpty)
    }

    @Test("a pause in traffic neither ends nor extends a low-efficiency episode")
    func pauses() {
        let poor = Self.with(["se_used_dl_bps_hz": 1.0, "cqi_mean": 5])
        let idle: [String: Double] = ["cell_thp_dl_mbps": 0.01, "scs_khz": 30]
        let found = Self.run(Self.windows(Array(repeating: Self.normal, count: 6) + [poor, poor, idle, idle, poor, poor, Self.normal, Self.normal]))
        #expect(found.count == 1)
    }
}
