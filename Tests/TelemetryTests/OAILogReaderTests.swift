import Foundation
import PropertyBased
import Telemetry
import Testing

/// OAI MAC statistics: hand-written dumps in each line variant (values chosen so the expected
/// KPIs follow by arithmetic), the real RANalyzer logs, and damaged logs.
@Suite("OAI MAC statistics reader")
struct OAILogReaderTests {
    static let esc = "\u{1B}"

    /// Two dumps of one UE, v2.1-style lines with colours and `\r`, plus a log message that
    /// merely starts with "UE" after its prefix.
    static func v21(tx0: Int, tx1: Int) -> String {
        """
        \(esc)[0m[GNB_APP]   F1AP: gNB idx 0 gNB_DU_id 3585, gNB_DU_name gNB-OAI, TAC 1 MCC/MNC/length 1/1/2 cellID 12345678
        \(esc)[0m[PHY]   Init: N_RB_DL 106, first_carrier_offset 1076
        \(esc)[0m[PHY]   fp->scs=30000
        \(esc)[0m[GNB_APP]   ngran_DU: Configuring Cell 0 for TDD
        \(esc)[0m[NR_MAC]   Frame.Slot 128.0\r
        UE RNTI 4938 CU-UE-ID 1 in-sync PH 28 dB PCMAX 20 dBm, average RSRP -87 (32 meas)
        UE 4938: CQI 12, RI 2, PMI (0,1)
        UE 4938: dlsch_rounds 20000/400/30/2, dlsch_errors 0, pucch0_DTX 3, BLER 0.08411 MCS (1) 22
        UE 4938: ulsch_rounds 170000/900/14/0, ulsch_errors 0, ulsch_DTX 1, BLER 0.01022 MCS (0) 24 (Qm 6 deltaMCS 0 dB) NPRB 5  SNR 21.5 dB
        UE 4938: MAC:    TX      \(tx0) RX       20000000 bytes
        UE 4938: LCID 1: TX            627 RX            512 bytes

        \(esc)[0m\(esc)[32m[NR_MAC]   UE 4938: 698.7 Generating RA-Msg2 DCI, RA RNTI 0x10b, state 1\(esc)[0m
        \(esc)[0m[NR_MAC]   Frame.Slot 256.0
        UE RNTI 4938 CU-UE-ID 1 in-sync PH 27 dB PCMAX 20 dBm, average RSRP -89 (30 meas)
        UE 4938: CQI 10, RI 2, PMI (0,1)
        UE 4938: dlsch_rounds 21000/500/40/2, dlsch_errors 1, pucch0_DTX 3, BLER 0.09000 MCS (1) 20
        UE 4938: ulsch_rounds 171000/950/14/0, ulsch_errors 0, ulsch_DTX 1, BLER 0.01022 MCS (0) 24 (Qm 6 deltaMCS 0 dB) NPRB 5  SNR 20.5 dB
        UE 4938: MAC:    TX      \(tx1) RX       20128000 bytes
        """
    }

    static func read(_ text: String, start: Int64? = 1_000_000_000_000_000_000) -> TelemetryRead {
        var r = TelemetryRead(kind: "oai-log")
        OAILogReader(start: start).read(bytes: Array(text.utf8), path: "gnb.log", into: &r)
        return r
    }

    @Test("v2.1 dumps: differences of cumulative counters, levels as reported, cell from F1AP")
    func v21Dumps() throws {
        let r = Self.read(Self.v21(tx0: 246_860_900, tx1: 246_860_900 + 1_600_000))
        #expect(r.fatal == nil)
        #expect(r.samples.count == 2)
        let s = r.samples[1]
        #expect(s.cell.name == "gnb-3585/nci-bc614e") // 12345678 = 0xbc614e
        #expect(s.relativeTime && !s.native)
        #expect(s.end - s.start == 1_280_000_000)
        #expect(s.start == 1_000_000_000_000_000_000 + 1_280_000_000)
        // 1.6 MB in 1.28 s = 10 Mbit/s.
        #expect(abs(s.values[.cellThpDlMbps]! - 10) < 1e-9)
        let ulMbps: Double = 128_000 * 8 / 1.28 / 1e6
        #expect(abs(s.values[.cellThpUlMbps]! - ulMbps) < 1e-9)
        // Transmissions 21542 − 20432 = 1110; NACKs (retransmissions + final errors) 543 − 432 = 111.
        #expect(s.values[.tbDl] == 1110 && s.values[.tbErrDl] == 111)
        #expect(s.values[.tbUl] == 1050 && s.values[.tbErrUl] == 50)
        #expect(s.values[.mcsDlMean] == 20 && s.values[.cqiMean] == 10 && s.values[.rankDl] == 2)
        #expect(s.values[.puschSinrDb] == 20.5 && s.values[.rsrpDbm] == -89 && s.values[.powerHeadroomDb] == 27)
        let d = try #require(s.distributions.first { $0.quantity == .mcsDl })
        #expect(d.table == 2 && d.counts[20] == 1110) // "MCS (1)" = qam256 = TS 38.214 table 2
        #expect(s.config.nRB == 106 && s.config.scsKHz == 30 && s.config.bwMHz == 40)
        #expect(abs(s.config.dlShare! - 104.0 / 140) < 1e-9) // TDD without a printed pattern: OAI's default
        // The first dump has no earlier one: levels only.
        #expect(r.samples[0].values[.cellThpDlMbps] == nil && r.samples[0].values[.ues] == 1)
        #expect(r.records == 11)
    }

    @Test("RLC 'SDU rejected, SDU buffer full' warnings count into the dump that follows")
    func sduDrops() {
        let rlc = "\(Self.esc)[0m\(Self.esc)[93m[RLC]   /oai/nr_rlc_entity_am.c:1770:nr_rlc_entity_am_recv_sdu: warning: 3188 SDU rejected, SDU buffer full\(Self.esc)[0m"
        let text = Self.v21(tx0: 1_000, tx1: 2_000).replacingOccurrences(of: "[NR_MAC]   Frame.Slot 256.0", with: "[RLC] x\n\(rlc)\n\(rlc)\n\(Self.esc)[0m[NR_MAC]   Frame.Slot 256.0")
        let r = Self.read(text)
        #expect(r.samples.count == 2)
        #expect(r.samples[1].values[.dlSduDrops] == 6376)
        #expect(r.samples[0].values[.dlSduDrops] == nil)
    }

    @Test("a counter that goes backwards was reset: no negative difference, the others still count")
    func reset() {
        let r = Self.read(Self.v21(tx0: 900_000_000, tx1: 1_000))
        #expect(r.samples[1].values[.cellThpDlMbps] == nil)
        #expect(r.samples[1].values[.tbDl] == 1110)
    }

    @Test("a dump without a UE's MAC line: the next difference spans both periods, no spike from zero")
    func missingLine() {
        func dump(_ frame: Int, tx: Int?) -> String {
            "[NR_MAC]   Frame.Slot \(frame).0\nUE RNTI 0001 CU-UE-ID 1 in-sync PH 20 dB PCMAX 20 dBm\n"
                + "UE 0001: dlsch_rounds \(frame * 10)/0/0/0, dlsch_errors 0, pucch0_DTX 0, BLER 0.1 MCS (0) 9\n"
                + (tx.map { "UE 0001: MAC:    TX \($0) RX 0 bytes\n" } ?? "")
        }
        let r = Self.read(dump(0, tx: 1_000_000) + dump(128, tx: nil) + dump(256, tx: 1_320_000))
        #expect(r.samples[1].values[.cellThpDlMbps] == nil)
        // 320 000 bytes over the two periods land in the dump that printed them.
        #expect(abs(r.samples[2].values[.cellThpDlMbps]! - 320_000 * 8 / 1.28e6) < 1e-9)
        #expect(r.samples[2].values[.tbDl] == 1280)
    }

    @Test("v2.0 lines (DTX before errors, total bytes) and the newest (goodput, no MAC line)")
    func otherVersions() {
        let v20 = """
        [NR_MAC]   Frame.Slot 0.0
        UE RNTI 1234 (1) PH 20 dB PCMAX 20 dBm, average RSRP -90 (10 meas)
        UE 1234: dlsch_rounds 100/10/0/0, dlsch_errors 0, pucch0_DTX 0, BLER 0.1 MCS 9
        UE 1234: dlsch_total_bytes 1000
        UE 1234: ulsch_rounds 50/0/0/0, ulsch_DTX 0, ulsch_errors 0, BLER 0.0 MCS 9
        UE 1234: ulsch_total_bytes_scheduled 10, ulsch_total_bytes_received 10
        [NR_MAC]   Frame.Slot 128.0
        UE RNTI 1234 (1) PH 20 dB PCMAX 20 dBm, average RSRP -90 (10 meas)
        UE 1234: dlsch_rounds 300/20/0/0, dlsch_errors 0, pucch0_DTX 0, BLER 0.1 MCS 9
        UE 1234: dlsch_total_bytes 161000
        UE 1234: ulsch_rounds 50/0/0/0, ulsch_DTX 0, ulsch_errors 0, BLER 0.0 MCS 9
        UE 1234: ulsch_total_bytes_scheduled 10, ulsch_total_bytes_received 10
        """
        let a = Self.read(v20)
        #expect(abs(a.samples[1].values[.cellThpDlMbps]! - 1.0) < 1e-9)
        #expect(a.samples[1].values[.tbDl] == 210 && a.samples[1].values[.tbErrDl] == 10)
        #expect(a.samples[1].distributions.first?.table == 1)
        let newest = """
        [NR_MAC]   Frame.Slot 0.0
        UE RNTI 00aa CU-UE-ID 1 in-sync PH 20 dB PCMAX 20 dBm
        UE 00aa: dlsch_rounds 10/0/0/0, dlsch_errors 0, pucch0_DTX 0 (SNR 12.0+0.5 dB), BLER 0.10000 MCS (1) 15 CCE fail 0, goodput 40.00 Mbps
        UE 00aa: ulsch_rounds 10/0/0/0, ulsch_errors 0, ulsch_DTX 0, BLER 0.10000 MCS (1) 10 (Qm 4 deltaMCS 0 dB) NPRB 20 SNR 15.5 (+0.5) dB CCE fail 0, goodput 2.50 Mbps
        [NR_MAC]   Frame.Slot 128.0
        UE RNTI 00aa CU-UE-ID 1 in-sync PH 20 dB PCMAX 20 dBm
        UE 00aa: dlsch_rounds 510/0/0/0, dlsch_errors 0, pucch0_DTX 0 (SNR 12.0+0.5 dB), BLER 0.10000 MCS (1) 15 CCE fail 2, goodput 40.00 Mbps
        UE 00aa: ulsch_rounds 60/0/0/0, ulsch_errors 0, ulsch_DTX 0, BLER 0.10000 MCS (1) 10 (Qm 4 deltaMCS 0 dB) NPRB 20 SNR 15.5 (+0.5) dB CCE fail 0, goodput 2.50 Mbps
        """
        let b = Self.read(newest)
        #expect(b.samples[1].values[.cellThpDlMbps] == 40 && b.samples[1].values[.cellThpUlMbps] == 2.5)
        #expect(b.samples[1].values[.puschSinrDb] == 15.5 && b.samples[1].values[.pdcchFailures] == 2)
    }

    @Test("the stats-file snapshot (no dump header) is one sample of levels")
    func snapshot() {
        let text = """
        UE RNTI 49b1 CU-UE-ID 1 in-sync PH 44 dB PCMAX 22 dBm, average RSRP -72 (20 meas)
        UE 49b1: CQI 14, RI 2, PMI (0,1)
        UE 49b1: dlsch_rounds 90539/14/0/0, dlsch_errors 0, pucch0_DTX 3, BLER 0.00022 MCS (1) 9
        UE 49b1: MAC:    TX     1870405482 RX         403627 bytes
        """
        let r = Self.read(text, start: nil)
        #expect(r.samples.count == 1)
        #expect(r.samples[0].values[.cqiMean] == 14 && r.samples[0].values[.rsrpDbm] == -72)
        #expect(r.issues.contains { $0.reason.contains("no start time") })
    }

    @Test("the real nrMAC_stats.log snapshot (2-layer MIMO): one sample of levels",
          .enabled(if: Paths.sharedData != nil, "needs ../shared/data"))
    func statsFile() throws {
        let path = Paths.sharedData! + "/oai-gnb-logs/wineslab-du-metrics-pusher/nrMAC_stats.log"
        let r = try #require(TelemetrySources().read(path: path))
        #expect(r.kind == "oai-log" && r.fatal == nil && r.skipped == 0)
        let s = try #require(r.samples.first)
        #expect(r.samples.count == 1)
        #expect(s.values[.cqiMean] == 14 && s.values[.rankDl] == 2 && s.values[.rsrpDbm] == -72 && s.values[.powerHeadroomDb] == 44)
        #expect(s.values[.blerDlPct].map { abs($0 - 0.022) < 1e-9 } == true)
    }

    @Test("real RANalyzer logs: MAC bytes add up, iPerf start places the dumps")
    func ranalyzer() throws {
        var runs = [Paths.telemetry + "/oai/20241218", Paths.telemetry + "/oai/20231130"]
        if let shared = Paths.sharedData {
            runs += try FileManager.default.subpathsOfDirectory(atPath: shared + "/ranalyzer-oai-5g-ci-runs")
                .filter { $0.hasSuffix("nr-gnb.log") }.map { shared + "/ranalyzer-oai-5g-ci-runs/" + ($0 as NSString).deletingLastPathComponent }
        }
        for run in runs {
            var sources = TelemetrySources()
            sources.start = nil
            let r = try #require(sources.read(path: run + "/nr-gnb.log"))
            #expect(r.fatal == nil, "\(run)")
            #expect(r.skipped == 0, "\(run): \(r.issues.first?.description ?? "")")
            // Independent sum: the DL bytes a UE's counter grew by between consecutive dumps in
            // which it appears, from the raw text with a regular expression.
            let text = try String(contentsOfFile: run + "/nr-gnb.log", encoding: .utf8)
            var expectedBits = 0.0
            var last: [String: Double] = [:]
            var seenThisDump: [String: Double] = [:]
            let mac = try Regex(#"^UE ([0-9a-f]{4}): MAC:\s+TX\s+(\d+)"#)
            let total = try Regex(#"^UE ([0-9a-f]{4}): dlsch_total_bytes (\d+)"#)
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.contains("Frame.Slot") {
                    for (ue, v) in seenThisDump {
                        if let p = last[ue], v >= p { expectedBits += (v - p) * 8 }
                        last[ue] = v
                    }
                    seenThisDump = [:]
                    continue
                }
                if let m = try mac.firstMatch(in: line) ?? total.firstMatch(in: line) {
                    seenThisDump[String(m.output[1].substring!)] = Double(m.output[2].substring!)!
                }
            }
            for (ue, v) in seenThisDump { if let p = last[ue], v >= p { expectedBits += (v - p) * 8 } }
            let readBits = r.samples.compactMap { $0.values[.cellThpDlMbps] }.reduce(0, +) * 1.28 * 1e6
            #expect(abs(readBits - expectedBits) <= max(1, expectedBits * 1e-9), "\(run)")
            // The iPerf JSON beside the log gives the start.
            #expect(r.samples.first!.start > 1_600_000_000 * 1_000_000_000, "\(run)")
        }
    }

    @Test("cut and garbled logs never crash; unreadable lines name their line")
    func damaged() async {
        let text = Array(Self.v21(tx0: 1000, tx1: 2000).utf8)
        await propertyCheck(count: 400, input: Gen.int(in: 0...(text.count - 1)), Gen.int(in: 0...255), Gen.int(in: 0...1)) { at, byte, mode in
            var bytes = text
            if mode == 0 { bytes = Array(text[..<at]) } else { bytes[at] = UInt8(byte) }
            var r = TelemetryRead(kind: "oai-log")
            OAILogReader(start: 0).read(bytes: bytes, path: "gnb.log", into: &r)
            for i in r.issues where i.line != nil { #expect(i.description.hasPrefix("gnb.log:")) }
            for s in r.samples { #expect(s.values.values.allSatisfy { $0.isFinite && $0 >= -200 }) }
        }
        let bad = Self.read(Self.v21(tx0: 1, tx1: 2).replacingOccurrences(of: "dlsch_rounds 21000/500/40/2", with: "dlsch_rounds x/y"))
        let issue = bad.issues.first { $0.line != nil }
        #expect(issue?.line == 17)
        #expect(bad.skipped == 1)
    }
}
