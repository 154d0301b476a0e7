import Foundation
import Telemetry
import Testing
import Windows

/// Derived KPIs against the formulas and worked examples of kpi-vocabulary.md, and the merge
/// and re-cut rules of the window builder.
@Suite("Cell windows and derived KPIs")
struct CellWindowTests {
    static let cell = CellID(gnb: "gnb-1", cell: "cell-1", ldn: "NRCellDU=1")

    static func sample(_ start: Int64, _ seconds: Int64, native: Bool, _ values: [Kpi: Double]) -> CellSample {
        var s = CellSample(cell: cell, start: start * 1_000_000_000, end: (start + seconds) * 1_000_000_000, source: "test", native: native)
        s.values = values
        return s
    }

    @Test("TS 38.306 worked example: 100 MHz, 30 kHz, 4 layers, 256QAM → 2337 Mbit/s")
    func peak() throws {
        var b = CellWindowBuilder(windowLength: 10_000_000_000, defaultConfig: CellConfig(scsKHz: 30, bwMHz: 100, dlShare: 1, layersDl: 4))
        var s = Self.sample(0, 900, native: true, [.prbUsedDl: 136.5, .prbAvailDl: 273, .volumeDlMbit: 90_000])
        s.distributions = [Distribution(quantity: .cqi, table: 2, counts: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 20, 40, 20, 10, 0])]
        b.add(s)
        let w = try #require(b.finish().first)
        #expect(w["n_rb"] == 273)
        #expect(abs(w["peak_dl_mbps"]! - 2337.0) < 0.5)
        #expect(w["prb_util_dl_pct"] == 50 && w["headroom_dl_pct"] == 50)
        #expect(w["cell_thp_dl_mbps"] == 100) // 90 000 Mbit over 900 s
        // 100 Mbit/s over 273 PRBs × 12 × 30 kHz.
        let carrierHz: Double = 273 * 12 * 30e3
        let usedHz: Double = 136.5 * 12 * 30e3
        #expect(abs(w["se_dl_bps_hz"]! - 100e6 / carrierHz) < 1e-12)
        #expect(abs(w["se_used_dl_bps_hz"]! - 100e6 / usedHz) < 1e-12)
        // Bits per used PRB per slot: 2000 slots/s at 30 kHz.
        let prbSlots: Double = 136.5 * 2000
        #expect(abs(w["bits_per_prb_dl"]! - 100e6 / prbSlots) < 1e-9)
        // CQI statistics from the bins: mean 12; cumulative 10, 30, 70, 90, 100 % at CQI 10…14,
        // so p10 = 10, p50 = 12, p90 = 13.
        #expect(w["cqi_mean"] == 12 && w["cqi_p10"] == 10 && w["cqi_p50"] == 12 && w["cqi_p90"] == 13)
    }

    @Test("few TBs or CQI reports: the statistic is absent and said to be")
    func sampleGuards() throws {
        var b = CellWindowBuilder(windowLength: 10_000_000_000)
        var s = Self.sample(0, 60, native: true, [.tbDl: 40, .tbErrDl: 20])
        s.distributions = [Distribution(quantity: .cqi, table: 1, counts: [0, 0, 0, 5] + Array(repeating: 0, count: 12))]
        b.add(s)
        let w = try #require(b.finish().first)
        #expect(w["bler_dl_pct"] == nil && w["cqi_mean"] == nil)
        #expect(w.insufficientSamples.contains("bler_dl_pct") && w.insufficientSamples.contains("cqi_mean"))
    }

    @Test("MCS efficiency uses each sample's table")
    func mcsTables() throws {
        var b = CellWindowBuilder(windowLength: 10_000_000_000)
        var s = Self.sample(0, 60, native: true, [:])
        var t1 = Array(repeating: 0.0, count: 32), t2 = Array(repeating: 0.0, count: 32)
        t1[20] = 1; t2[20] = 1 // MCS 20: 3.3223 in table 1, 5.3320 in table 2
        s.distributions = [Distribution(quantity: .mcsDl, table: 1, counts: t1), Distribution(quantity: .mcsDl, table: 2, counts: t2)]
        b.add(s)
        let w = try #require(b.finish().first)
        #expect(abs(w["mcs_dl_se_bps_hz"]! - (3.3223 + 5.3320) / 2) < 1e-12)
        #expect(w["mcs_dl_mean"] == nil && w["mcs_dl_p50"] == nil) // indices of two tables are not averaged
        // One table: index mean and percentiles (10 reports at MCS 5, 80 at 20, 10 at 27).
        var one = CellWindowBuilder(windowLength: 10_000_000_000)
        var single = Self.sample(0, 60, native: true, [:])
        var counts = Array(repeating: 0.0, count: 32)
        counts[5] = 10; counts[20] = 80; counts[27] = 10
        single.distributions = [Distribution(quantity: .mcsDl, table: 2, counts: counts)]
        one.add(single)
        let v = try #require(one.finish().first)
        #expect(v["mcs_dl_mean"] == 19.2 && v["mcs_dl_p10"] == 5 && v["mcs_dl_p50"] == 20 && v["mcs_dl_p90"] == 20)
    }

    @Test("streaming samples re-cut into aligned windows: counts add, levels average by time")
    func recut() throws {
        var b = CellWindowBuilder(windowLength: 10_000_000_000)
        for i in 0..<20 {
            b.add(Self.sample(1000 + Int64(i), 1, native: false, [.tbDl: 100, .tbErrDl: Double(i % 2 * 10), .cellThpDlMbps: Double(i)]))
        }
        let ws = b.finish()
        #expect(ws.count == 2)
        #expect(ws[0].start == 1_000_000_000_000 && ws[0].end == 1_010_000_000_000)
        #expect(ws[0]["tb_dl"] == 1000 && ws[0]["tb_err_dl"] == 50)
        #expect(ws[0]["cell_thp_dl_mbps"] == 4.5 && ws[1]["cell_thp_dl_mbps"] == 14.5)
        #expect(ws[0]["bler_dl_pct"] == 5)
    }

    @Test("a PM period read twice (a re-sent file) is one window; the later values win")
    func duplicates() {
        var b = CellWindowBuilder(windowLength: 10_000_000_000)
        b.add(Self.sample(0, 900, native: true, [.prbUsedDl: 10, .prbAvailDl: 100]))
        b.add(Self.sample(0, 900, native: true, [.prbUsedDl: 20, .rrcConnMean: 3]))
        let ws = b.finish()
        #expect(ws.count == 1)
        #expect(ws[0]["prb_util_dl_pct"] == 20 && ws[0]["rrc_conn_mean"] == 3)
    }
}
