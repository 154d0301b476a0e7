import Foundation
import Pipeline
import Sinks
import Telemetry
import Testing

/// RAN telemetry through the whole pipeline: inputs recognised by content, srsRAN datagrams
/// found inside a capture, cell windows in cells.jsonl and the database, radio findings.
@Suite("RAN telemetry end to end")
struct TelemetryPipelineTests {
    static let telemetry = TestPaths.fixtures.appendingPathComponent("telemetry").path

    func analyze(_ paths: [String], window: Double = 10, configure: (inout Analysis.Options) -> Void = { _ in }) throws -> (Analysis.Outcome, String) {
        let dir = TestPaths.temporaryDirectory()
        var options = Analysis.Options()
        options.windowSeconds = window
        options.sinks = [.jsonl(directory: dir), .report(path: dir + "/report.md"), .sqlite(path: dir + "/nocturne.sqlite")]
        configure(&options)
        return (try Analysis(options: options).run(paths: paths), dir)
    }

    /// Ethernet / IPv4 / UDP frames to the metrics port, one per datagram, a second apart.
    static func metricsCapture(_ payloads: [String], from source: [UInt8] = [10, 1, 2, 3], start: UInt32 = 1_795_928_401) -> PcapFile {
        var records: [PcapFile.Record] = []
        for (i, text) in payloads.enumerated() {
            let payload = Array(text.utf8)
            let udpLength = 8 + payload.count
            let ipLength = 20 + udpLength
            var ip: [UInt8] = [0x45, 0, UInt8(ipLength >> 8), UInt8(ipLength & 0xff), 0, 1, 0x40, 0, 64, 17, 0, 0] + source + [10, 0, 0, 9]
            var sum: UInt32 = 0
            for k in stride(from: 0, to: 20, by: 2) { sum += UInt32(ip[k]) << 8 | UInt32(ip[k + 1]) }
            while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
            let checksum = ~UInt16(sum)
            ip[10] = UInt8(checksum >> 8); ip[11] = UInt8(checksum & 0xff)
            let udp: [UInt8] = [0xd9, 0x03, 0xd9, 0x03, UInt8(udpLength >> 8), UInt8(udpLength & 0xff), 0, 0]
            let frame: [UInt8] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00] + ip + udp + payload
            records.append(PcapFile.Record(seconds: start + UInt32(i), fraction: 0, wireLength: UInt32(frame.count), data: frame))
        }
        return PcapFile(header: PcapFile.header(linkType: 1), records: records)
    }

    @Test("srsRAN datagrams inside a capture become cell windows named after the sender")
    func datagramsInCapture() throws {
        let lines = try String(contentsOfFile: Self.telemetry + "/srsran/metrics-24.04.jsonl", encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let dir = TestPaths.temporaryDirectory()
        let capture = dir + "/metrics.pcap"
        // The fixture's reports carry their own timestamps (from 1795928400); the frames are sent
        // a second after each.
        try Self.metricsCapture(lines, start: 1_795_928_401).write(capture)
        if let tshark = Tools.tshark {
            // Independent check that the frames are well-formed UDP datagrams on 55555.
            let out = try Tools.run(tshark, ["-r", capture, "-T", "fields", "-e", "udp.dstport", "-e", "_ws.expert"])
            #expect(out.split(separator: "\n").count == lines.count)
            #expect(out.split(separator: "\n").allSatisfy { $0.hasPrefix("55555") && !$0.contains("alformed") })
        }
        let (outcome, out) = try analyze([capture])
        #expect(outcome.unreadable.isEmpty)
        let cells = try readJSONLines(out + "/cells.jsonl")
        // A report stamped t covers the second before it; 60 reports from t = …400 to …459 fall
        // into the windows [390, 400) … [450, 460).
        #expect(cells.count == 7)
        #expect(cells.allSatisfy { $0["cell"] as? String == "gnb-10.1.2.3/pci-1" && $0["source"] as? String == "srsran" })
        // Independent mean from the fixture: Σ dl_brate of each report, averaged per window.
        var perWindow: [Int: [Double]] = [:]
        for line in lines {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let window = Int(((o["timestamp"] as! Double) - 0.5) / 10)
            let sum = (o["ue_list"] as! [[String: Any]]).reduce(0.0) { $0 + (($1["ue_container"] as! [String: Any])["dl_brate"] as! Double) / 1e6 }
            perWindow[window, default: []].append(sum)
        }
        let expected = perWindow.keys.sorted().map { k in perWindow[k]!.reduce(0, +) / Double(perWindow[k]!.count) }
        #expect(expected.count == cells.count)
        for (i, c) in cells.enumerated() where i < expected.count {
            #expect(abs((c["cell_thp_dl_mbps"] as! Double) - expected[i]) < 1e-4, "window \(i)")
        }
        #expect(outcome.summary.cells.first?.windows == 7)
    }

    @Test("PM files, an OAI log and srsRAN reports in one run: cells.jsonl, SQLite and the report agree")
    func mixedInputs() throws {
        let (outcome, out) = try analyze([Self.telemetry + "/pm", Self.telemetry + "/oai/20241218", Self.telemetry + "/srsran"])
        // The iPerf files beside the log are JSON of no format we read: reported, not fatal.
        #expect(outcome.unreadable.isEmpty)
        let kinds = Dictionary(grouping: outcome.summary.inputs, by: \.kind).mapValues(\.count)
        #expect(kinds["pm-xml"] == 4 && kinds["oai-log"] == 1 && kinds["srsran-json"] == 2)
        let cells = try readJSONLines(out + "/cells.jsonl")
        let sources = Set(cells.compactMap { $0["source"] as? String })
        #expect(sources == ["pm-xml", "oai-log", "srsran"])
        #expect(cells.filter { $0["source"] as? String == "oai-log" }.allSatisfy { $0["time_basis"] as? String == "relative" })
        // Every row names its window, cell, gNB and LDN; KPI values are numbers or absent.
        for c in cells {
            for k in ["window_start", "window_end", "cell", "gnb", "ldn", "source"] { #expect(c[k] is String, "\(k)") }
            #expect(c["window_s"] is NSNumber)
        }
        if let sqlite = Tools.which("sqlite3") {
            let rows = try Tools.run(sqlite, [out + "/nocturne.sqlite", "SELECT count(*) FROM cell_windows"])
            #expect(Int(rows.trimmingCharacters(in: .whitespacesAndNewlines)) == cells.count)
        }
        let report = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
        #expect(report.contains("## Cells (RAN telemetry)") && report.contains("gnb-3585/nci-bc614e"))
        // The OAI run's low-MCS stretches are low-spectral-efficiency findings on its cell.
        let findings = try readJSONLines(out + "/findings.jsonl")
        #expect(findings.contains { $0["class"] as? String == "low_spectral_efficiency" })
        for f in findings { #expect((f["scope"] as? [String: Any])?["cell"] is String) }
    }

    /// The demo files come from their own generator (fixtures/make_demo_pm.py), not the simulator
    /// the bottleneck model was trained on: both detectors must tell the same story.
    @Test("the demo PM files: the generator's two incidents are found, its busy-but-healthy hour and restart are not",
          arguments: ["rules", "bottleneck"])
    func demoStory(_ detector: String) throws {
        let (outcome, out) = try analyze([TestPaths.fixtures.appendingPathComponent("demo-pm").path]) { options in
            if detector == "bottleneck" { options.detectorModel = TestPaths.repository.appendingPathComponent("models/bottleneck/bottleneck.gguf").path }
        }
        #expect(outcome.unreadable.isEmpty)
        let found = outcome.summary.findings.map { "\($0.findingClass.rawValue) \($0.scope.cell ?? "") \(RFC3339.format($0.start)) \($0.end.map(RFC3339.format) ?? "open")" }
        // fixtures/make_demo_pm.py: cell-1 interferer 14:00–15:15, cell-2 saturated 17:00–18:00.
        #expect(found == ["uplink_interference gNB-23/cell-1 2026-11-29T14:00:00Z 2026-11-29T15:15:00Z",
                          "prb_saturation gNB-23/cell-2 2026-11-29T17:00:00Z 2026-11-29T18:00:00Z"])
        let cells = try readJSONLines(out + "/cells.jsonl")
        #expect(cells.count == 3 * 32)
        // The restart ROP is marked suspect; gzip and plain files read alike.
        #expect(cells.filter { $0["suspect"] as? Bool == true }.map { $0["window_start"] as? String } == ["2026-11-29T18:30:00Z"])
        #expect(outcome.summary.inputs.filter { $0.path.hasSuffix(".gz") }.allSatisfy { $0.kind == "pm-xml" && $0.packets > 0 })
        // Derived: utilisation from PRB counts, throughput from volume, vendor N+I mapped.
        let first = try #require(cells.first { $0["cell"] as? String == "gNB-23/cell-2" })
        let used = first["prb_used_dl"] as! Double, avail = first["prb_avail_dl"] as! Double
        #expect(abs((first["prb_util_dl_pct"] as! Double) - 100 * used / avail) < 1e-4)
        #expect(abs((first["cell_thp_dl_mbps"] as! Double) - (first["volume_dl_mbit"] as! Double) / 900) < 1e-4)
        #expect(first["ul_ni_dbm_per_prb"] is Double && first["n_rb"] as? Double == 273)
        #expect((first["vendor"] as? [String: Any])?["VS.UL.NI.Avg"] != nil)
    }

    @Test("the simulator's smoke outputs: each radio episode is one finding, benign episodes none (PM files and kpi.csv)",
          arguments: ["pm", "kpi.csv"])
    func simulatedSmoke(_ input: String) throws {
        let dir = TestPaths.fixtures.appendingPathComponent("sim-smoke").path
        let (outcome, _) = try analyze([dir + "/" + input]) { options in
            options.telemetry.tableMappings = [("nocturne-sim", try! KpiTableMapping.load(path: TestPaths.repository.appendingPathComponent("pipelines/mappings/nocturne-sim.yaml").path))]
        }
        let labels = try readJSONLines(dir + "/labels.jsonl")
        func time(_ s: Any?) -> Int64 { TelemetryTime.parse(Substring(s as! String))!.ns }
        // DESIGN.md's matching: same class and cell, overlapping the episode (+60 s).
        var matched = Set<String>()
        for f in outcome.summary.findings {
            let hit = labels.first { l in
                let scope = l["scope"] as! [String: Any]
                return l["class"] as? String == f.findingClass.rawValue && scope["cell"] as? String == f.scope.cell
                    && f.start < time(l["end"]) + 60_000_000_000 && (f.end ?? .max) > time(l["start"])
            }
            let episode = try #require(hit, "unmatched finding \(f.findingClass.rawValue) \(f.scope.cell ?? "") at \(RFC3339.format(f.start))")["episode"] as! String
            #expect(!matched.contains(episode), "a second finding for \(episode)")
            matched.insert(episode)
        }
        let radio = labels.filter { ["prb_saturation", "low_spectral_efficiency", "uplink_interference"].contains($0["class"] as? String) }
        #expect(Set(radio.map { $0["episode"] as! String }) == matched)
    }

    @Test("the simulator's smoke capture: the backhaul drop is one transport finding on its gNB; PFCP ties the tunnels")
    func simulatedCapture() throws {
        let dir = TestPaths.fixtures.appendingPathComponent("sim-smoke").path
        let (outcome, out) = try analyze([dir + "/capture.pcap"])
        #expect(outcome.summary.totals.malformed == 0)
        #expect(outcome.summary.sessions == 2 && outcome.summary.tunnelsTied >= 4)
        let label = try #require(try readJSONLines(dir + "/labels.jsonl").first { $0["class"] as? String == "transport_congestion" })
        let scope = label["scope"] as! [String: Any]
        let findings = outcome.summary.findings
        #expect(findings.count == 1)
        let f = try #require(findings.first)
        #expect(f.findingClass == .transportCongestion && f.scope.gnbAddress == scope["gnb_address"] as? String)
        let start = TelemetryTime.parse(Substring(label["start"] as! String))!.ns
        #expect(abs(f.start - start) <= 30_000_000_000)
        // The metrics datagrams in the capture became cell windows of the two captured cells.
        let cells = Set(try readJSONLines(out + "/cells.jsonl").compactMap { $0["cell"] as? String })
        #expect(cells == ["gnb-10.20.0.2/pci-1", "gnb-10.20.0.2/pci-2"])
    }

    @Test("a damaged PM file named on the command line is read up to the damage and reported")
    func damagedExplicit() throws {
        let dir = TestPaths.temporaryDirectory()
        let text = try String(contentsOfFile: Self.telemetry + "/pm/A20220418.1900-1915_seliitdus00487.xml", encoding: .utf8)
        let cut = dir + "/A20220418.1900-1915_cut.xml"
        try String(text.prefix(text.count / 2)).write(toFile: cut, atomically: true, encoding: .utf8)
        let garbage = dir + "/garbage.xml"
        try "<html>not pm</html>".write(toFile: garbage, atomically: true, encoding: .utf8)
        let (outcome, _) = try analyze([cut, garbage])
        #expect(!outcome.unreadable.contains(cut))
        #expect(outcome.unreadable.contains(garbage))
        let problems = Dictionary(uniqueKeysWithValues: outcome.summary.inputs.map { ($0.path, $0.problem ?? "") })
        // "stopped early:<line>: <element>: … read up to there"
        #expect(problems[cut]?.hasPrefix("stopped early:") == true && problems[cut]?.contains("read up to there") == true)
        #expect(!outcome.summary.cells.isEmpty)
    }

    @Test("the RANalyzer run table in docs/ranalyzer-runs.md is what this build flags",
          .enabled(if: TestPaths.shared != nil, "needs ../shared/data"))
    func ranalyzerTable() throws {
        let doc = try String(contentsOf: TestPaths.repository.appendingPathComponent("docs/ranalyzer-runs.md"), encoding: .utf8)
        let data = TestPaths.shared!.appendingPathComponent("data/ranalyzer-oai-5g-ci-runs").path
        let days = try FileManager.default.contentsOfDirectory(atPath: data).sorted()
        #expect(days.count == 15)
        for day in days {
            for time in try FileManager.default.contentsOfDirectory(atPath: data + "/" + day) {
                let (outcome, _) = try analyze([data + "/\(day)/\(time)/nr-gnb.log"], window: 1.28)
                let classes = Set(outcome.summary.findings.map(\.findingClass.rawValue)).sorted().joined(separator: ", ")
                let label = "\(day.prefix(4))-\(day.dropFirst(4).prefix(2))-\(day.suffix(2)) \(time)"
                let row = try #require(doc.split(separator: "\n").first { $0.hasPrefix("| \(label) |") }, "\(label)")
                #expect(row.contains("| \(classes.isEmpty ? "–" : classes) (\(outcome.summary.findings.count)) |"), "\(label)")
            }
        }
    }
}
