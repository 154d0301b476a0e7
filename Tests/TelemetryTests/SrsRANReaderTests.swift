import Foundation
import Telemetry
import Testing

/// srsRAN metrics JSON in its three shapes, built from the field lists of
/// reference/telemetry-formats.md §2 with values chosen so the KPIs follow by arithmetic.
@Suite("srsRAN metrics reader")
struct SrsRANReaderTests {
    static let v2404 = #"{"timestamp":1795928401.0,"ue_list":[{"ue_container":{"pci":1,"rnti":17921,"cqi":15,"ri":1,"dl_mcs":27,"dl_brate":98500000.0,"dl_nof_ok":990,"dl_nof_nok":10,"dl_bs":0,"pusch_snr_db":24.1,"ul_mcs":28,"ul_brate":1200000.0,"ul_nof_ok":200,"ul_nof_nok":0,"bsr":0}},{"ue_container":{"pci":1,"rnti":17922,"cqi":9,"ri":1,"dl_mcs":17,"dl_brate":1500000.0,"dl_nof_ok":900,"dl_nof_nok":100,"dl_bs":5000,"pusch_snr_db":12.1,"ul_mcs":20,"ul_brate":800000.0,"ul_nof_ok":100,"ul_nof_nok":0,"bsr":300}}]}"#
    static let v2510 = #"{"timestamp":"2026-11-29T05:00:01.000","cells":[{"cell_metrics":{"pci":1,"error_indication_count":0,"average_latency":23,"max_latency":71,"nof_failed_pdcch_allocs":4,"nof_failed_uci_allocs":0,"latency_histogram":[812,180,6,2,0,0,0,0,0,0],"pdsch_prbs_used_per_tdd_slot_idx":[100,100,100,0,0,50,50,50,0,0],"pusch_prbs_used_per_tdd_slot_idx":[0,0,0,40,0,0,0,0,20,0]},"ue_list":[{"ue":0,"pci":1,"rnti":17921,"cqi":14,"dl_ri":2.0,"ul_ri":1.0,"dl_mcs":25,"dl_brate":412300000.0,"dl_nof_ok":1480,"dl_nof_nok":20,"dl_bs":1052340,"pusch_snr_db":21.4,"pusch_rsrp_db":-57.3,"ul_mcs":27,"ul_brate":4120000.0,"ul_nof_ok":390,"ul_nof_nok":10,"last_phr":17,"bsr":0}],"event_list":[]}]}"#

    @Test("24.04 datagrams: per-cell sums and means of the UE fields")
    func v2404() throws {
        var reader = SrsRANReader(gnb: "gnb-7")
        let outcome = Self.v2404.utf8.withContiguousStorageIfAvailable { reader.ingest(UnsafeRawBufferPointer($0)) }!
        guard case .samples(let samples) = outcome else { Issue.record("not read"); return }
        let s = try #require(samples.first)
        #expect(samples.count == 1 && s.cell.name == "gnb-7/pci-1")
        #expect(s.end == 1_795_928_401_000_000_000 && s.end - s.start == 1_000_000_000)
        #expect(s.values[.cellThpDlMbps] == 100 && s.values[.cellThpUlMbps] == 2)
        #expect(s.values[.tbDl] == 2000 && s.values[.tbErrDl] == 110)
        #expect(s.values[.cqiMean] == 12 && s.values[.ues] == 2)
        #expect(s.values[.mcsDlMean] == 22) // (27·1000 + 17·1000) / 2000
        #expect(abs(s.values[.puschSinrDb]! - 18.1) < 1e-9)
        #expect(s.values[.dlBufferBytes] == 5000 && s.values[.ulBufferBytes] == 300)
        #expect(s.values[.activeUeDlMean] == 1)
    }

    @Test("25.10 WebSocket reports: cells array, PRBs per TDD slot, string timestamp without offset")
    func v2510() throws {
        var reader = SrsRANReader(gnb: "gnb-7", config: CellConfig(nRB: 273, scsKHz: 30))
        guard case .samples(let samples) = Self.v2510.utf8.withContiguousStorageIfAvailable({ reader.ingest(UnsafeRawBufferPointer($0)) })! else {
            Issue.record("not read"); return
        }
        let s = try #require(samples.first)
        #expect(s.end == ns("2026-11-29T05:00:01Z"))
        #expect(s.values[.prbUsedDl] == 75 && s.values[.prbAvailDl] == 273) // mean of slots that carried PDSCH
        #expect(s.values[.prbUsedUl] == 30)
        #expect(s.values[.pdcchFailures] == 4)
        #expect(s.values[.powerHeadroomDb] == 17)
        #expect(abs(s.values[.cellThpDlMbps]! - 412.3) < 1e-9)
        // A second report covers the time since the first.
        let next = Self.v2510.replacingOccurrences(of: "05:00:01.000", with: "05:00:03.000")
        guard case .samples(let again) = next.utf8.withContiguousStorageIfAvailable({ reader.ingest(UnsafeRawBufferPointer($0)) })! else {
            Issue.record("not read"); return
        }
        #expect(again[0].start == ns("2026-11-29T05:00:01Z") && again[0].end == ns("2026-11-29T05:00:03Z"))
    }

    @Test("other reports on the channel are ignored; broken lines are issues with their line")
    func mixedFile() throws {
        let text = [Self.v2404, #"{"cmd":"metrics_subscribe","timestamp":"2026-11-29T05:00:00.000"}"#,
                    #"{"du":{"du_high":{"mac":{"dl":[]}}}}"#, #"{"timestamp": 17959284"#, "", Self.v2510].joined(separator: "\n")
        let path = Paths.temporaryFile("metrics.jsonl", text)
        let r = SrsRANReader.read(path: path)
        #expect(r.fatal == nil)
        #expect(r.samples.count == 2)
        #expect(r.records == 5 && r.skipped == 1)
        #expect(r.issues.first?.line == 4)
        #expect(r.issues.first?.description.hasPrefix(path + ":4") == true)
    }

    @Test("the committed example report files read through content detection")
    func fixtures() throws {
        let dir = Paths.telemetry + "/srsran"
        for name in try FileManager.default.contentsOfDirectory(atPath: dir) where name.hasSuffix(".jsonl") {
            let r = try #require(TelemetrySources().read(path: dir + "/" + name))
            #expect(r.kind == "srsran-json" && r.fatal == nil && r.skipped == 0 && !r.samples.isEmpty, "\(name)")
        }
    }
}
