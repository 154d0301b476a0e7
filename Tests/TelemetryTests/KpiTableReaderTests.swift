import Foundation
import PropertyBased
import Telemetry
import Testing

/// KPI tables through mapping files: quoting, missing values, time zones, several cell
/// columns, and the shipped mappings on the real data sets.
@Suite("KPI tables")
struct KpiTableReaderTests {
    static let mapping = """
    name: test
    time_columns: [day, clock]
    time_format: "%Y.%m.%d %H:%M:%S"
    time_is: end
    timezone: Europe/Dublin
    window_s: 900
    cell_columns: [site, sector]
    gnb_column: site
    na_values: ["-", ""]
    columns:
      - {name: "PRB used, DL", kpi: prb_used_dl}
      - {name: avail, kpi: prb_avail_dl}
      - {name: thp_kbps, kpi: ue_thp_dl_mbps, scale: 0.001}
    """

    @Test("CSV with quotes, na values, a summer-time zone and a joined cell key")
    func csv() throws {
        let m = try KpiTableMapping.parse(Self.mapping, path: "m.yaml")
        let csv = """
        day,clock,site,sector,"PRB used, DL",avail,thp_kbps,extra
        2024.07.01,12:15:00,S1,2,"137",273,12500,x
        2024.12.01,12:15:00,S1,2,-,273,,y
        2024.12.01,12:30:00,S1,2,abc,273,800,z
        """
        var r = TelemetryRead(kind: "kpi-table")
        KpiTableReader.read(bytes: Array(csv.utf8), path: "t.csv", mapping: m, into: &r)
        #expect(r.fatal == nil && r.samples.count == 3)
        let summer = r.samples[0]
        #expect(summer.cell.name == "S1/S1-2")
        #expect(summer.end == ns("2024-07-01T11:15:00Z")) // IST = UTC+1 in July
        #expect(summer.end - summer.start == 900_000_000_000)
        #expect(summer.values[.prbUsedDl] == 137 && summer.values[.ueThpDlMbps] == 12.5)
        #expect(r.samples[1].end == ns("2024-12-01T12:15:00Z")) // GMT in December
        #expect(r.samples[1].values[.prbUsedDl] == nil && r.samples[1].values[.ueThpDlMbps] == nil)
        let bad = try #require(r.issues.first { $0.field == "PRB used, DL" })
        #expect(bad.line == 4)
        #expect(r.issues.contains { $0.reason.contains("extra") })
    }

    @Test("cut and garbled tables and report files never crash; problems name file and line")
    func damaged() async throws {
        let m = try KpiTableMapping.parse(Self.mapping, path: "m.yaml")
        let csv = Array("""
        day,clock,site,sector,"PRB used, DL",avail,thp_kbps
        2024.07.01,12:15:00,S1,2,137,273,12500
        2024.07.01,12:30:00,S1,2,140,273,12000
        2024.07.01,12:45:00,S1,2,"1""41",273,11000
        """.utf8)
        let reports = Array(try String(contentsOfFile: Paths.telemetry + "/srsran/metrics-25.10-websocket.jsonl", encoding: .utf8)
            .split(separator: "\n").prefix(3).joined(separator: "\n").utf8)
        await propertyCheck(count: 300, input: Gen.int(in: 0...10_000), Gen.int(in: 0...255), Gen.int(in: 0...1)) { at, byte, mode in
            for (original, isTable) in [(csv, true), (reports, false)] {
                var bytes = original
                let i = at % bytes.count
                if mode == 0 { bytes = Array(bytes[..<i]) } else { bytes[i] = UInt8(byte) }
                var r = TelemetryRead(kind: "test")
                if isTable {
                    KpiTableReader.read(bytes: bytes, path: "t.csv", mapping: m, into: &r)
                } else {
                    SrsRANReader.read(bytes: bytes, path: "r.jsonl", into: &r)
                }
                for issue in r.issues + [r.fatal].compactMap({ $0 }) where issue.line != nil {
                    #expect(issue.description.hasPrefix(isTable ? "t.csv:" : "r.jsonl:"))
                }
                #expect(r.samples.count <= 4)
                #expect(r.samples.allSatisfy { $0.values.values.allSatisfy(\.isFinite) })
            }
        }
    }

    @Test("mapping errors name the key")
    func mappingErrors() {
        #expect(throws: TelemetryIssue.self) { try KpiTableMapping.parse("window_s: 60\ncell_constant: a\ncolumns: []\n", path: "m.yaml") }
        do {
            _ = try KpiTableMapping.parse("time_column: t\nwindow_s: 60\ncell_constant: a\ncolumns:\n  - {name: x, kpi: nope}\n", path: "m.yaml")
            Issue.record("accepted an unknown kpi")
        } catch let e as TelemetryIssue {
            #expect(e.field == "x" && e.reason.contains("nope"))
        } catch { Issue.record("\(error)") }
        do {
            _ = try KpiTableMapping.parse("time_column: t\nwindow_s: 60\ncell_constant: a\ntimezone: Mars/Base\ncolumns: []\n", path: "m.yaml")
            Issue.record("accepted an unknown zone")
        } catch let e as TelemetryIssue {
            #expect(e.field == "timezone")
        } catch { Issue.record("\(error)") }
    }

    @Test("JSON Lines rows")
    func jsonLines() throws {
        let m = try KpiTableMapping.parse("time_column: t\nwindow_s: 60\ncell_columns: [c]\ncolumns:\n  - {name: u, kpi: prb_util_dl_pct}\n", path: "m")
        var r = TelemetryRead(kind: "kpi-table")
        KpiTableReader.read(bytes: Array(#"{"t":"2024-01-01T00:01:00Z","c":"x","u":55.5}\#n{"t":"2024-01-01T00:02:00Z","c":"x","u":null}"#.utf8),
                            path: "t.jsonl", mapping: m, into: &r)
        #expect(r.samples.count == 2 && r.samples[0].values[.prbUtilDlPct] == 55.5 && r.samples[1].values[.prbUtilDlPct] == nil)
    }

    @Test("shipped mappings read the uccmisl traces (LTE anchor cells) and the OAI Colosseum history",
          .enabled(if: Paths.sharedData != nil, "needs ../shared/data"))
    func sharedData() throws {
        let shared = Paths.sharedData!
        let dir = Paths.repository.appendingPathComponent("pipelines/mappings").path
        var sources = TelemetrySources()
        for f in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() {
            sources.tableMappings.append((f, try KpiTableMapping.load(path: dir + "/" + f)))
        }
        let traces = try FileManager.default.subpathsOfDirectory(atPath: shared + "/uccmisl-5g").filter { $0.hasSuffix(".csv") }
        #expect(traces.count == 9)
        for t in traces {
            let r = try #require(sources.read(path: shared + "/uccmisl-5g/" + t))
            #expect(r.kind == "kpi-table" && r.fatal == nil && r.skipped == 0, "\(t)")
            #expect(r.samples.allSatisfy { $0.cell.cell.hasPrefix("lte-anchor-") && $0.cell.gnb.hasPrefix("enb-") })
            // Independent count: rows whose NetworkMode (7th column) is 5G.
            let text = try String(contentsOfFile: shared + "/uccmisl-5g/" + t, encoding: .utf8)
            let fiveG = text.split(separator: "\n").dropFirst().filter { $0.split(separator: ",", omittingEmptySubsequences: false)[6] == "5G" }.count
            #expect(r.samples.count == fiveG, "\(t)")
        }
        let kpi = shared + "/kpi/openrangym-oai-colosseum-ci/test_mean_history_tcp_"
        let dl = try #require(sources.read(path: kpi + "downlink.csv"))
        #expect(dl.samples.count == 398)
        #expect(dl.samples.allSatisfy { $0.cell.name == "colosseum-oai/cell-1" && $0.values[.ueThpDlMbps] != nil })
        // The uplink file shares the throughput column; the more specific mapping reads it as UL.
        let ul = try #require(sources.read(path: kpi + "uplink.csv"))
        #expect(ul.samples.count == 428)
        #expect(ul.samples.allSatisfy { $0.values[.ueThpUlMbps] != nil && $0.values[.ueThpDlMbps] == nil })
    }
}
