import Foundation
@testable import Simulate
import Telemetry
import Testing

/// The simulator's RAN half: scenario errors, determinism, the formats read back by
/// independent means (xmllint, the project's PM reader), and physics sanity.
@Suite("Scenario simulator")
struct SimulatorTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let smoke = repository.appendingPathComponent("pipelines/scenarios/smoke.yaml").path

    /// One run of the smoke scenario shared by the checks that only read it.
    static let smokeRun: (Scenario, SimulationResult) = {
        let scenario = try! Scenario.load(path: smoke)
        return (scenario, try! Simulator(scenario: scenario).run())
    }()

    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "nocturne-sim-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static let tsharkPath = ["/usr/bin/tshark", "/usr/local/bin/tshark"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// tshark's standard output for these arguments.
    static func tshark(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tsharkPath!)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    static func files(_ dir: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for f in try FileManager.default.subpathsOfDirectory(atPath: dir) {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir + "/" + f, isDirectory: &isDir), !isDir.boolValue {
                out[f] = FileManager.default.contents(atPath: dir + "/" + f)
            }
        }
        return out
    }

    @Test("same scenario and seed: byte-identical files; another seed: different ones")
    func determinism() throws {
        let (scenario, first) = Self.smokeRun
        let a = Self.temporaryDirectory(), b = Self.temporaryDirectory(), c = Self.temporaryDirectory()
        try SimulationOutputs.write(first, scenario: scenario, to: a)
        try SimulationOutputs.write(try Simulator(scenario: scenario).run(), scenario: scenario, to: b)
        var other = scenario
        other.seed += 1
        try SimulationOutputs.write(try Simulator(scenario: other).run(), scenario: other, to: c)
        let fa = try Self.files(a), fb = try Self.files(b), fc = try Self.files(c)
        #expect(fa.count == 4 * 24 / 2 + 5) // 2 sites × 24 periods + kpi.csv, labels, scenario, capture, its log
        #expect(fa == fb)
        #expect(fa["kpi.csv"] != fc["kpi.csv"])
    }

    @Test("PM files are well-formed (xmllint) and read back by the PM reader to the simulated values")
    func formats() throws {
        let (scenario, result) = Self.smokeRun
        let dir = Self.temporaryDirectory()
        try SimulationOutputs.write(result, scenario: scenario, to: dir)
        let pm = try FileManager.default.contentsOfDirectory(atPath: dir + "/pm").sorted().map { dir + "/pm/" + $0 }
        #expect(pm.count == 48)
        let xmllint = ["/usr/bin/xmllint", "/bin/xmllint"].first { FileManager.default.isExecutableFile(atPath: $0) }
        if let xmllint {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: xmllint)
            p.arguments = ["--noout"] + pm
            p.standardError = Pipe()
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
        } else {
            Issue.record("xmllint missing: make test installs libxml2-utils")
        }
        var read: [String: CellSample] = [:]
        for f in pm {
            let r = PMReader().read(path: f)
            #expect(r.fatal == nil && r.skipped == 0 && r.issues.isEmpty, "\(f)")
            for s in r.samples { read["\(s.cell.name)@\(s.end)"] = s }
        }
        #expect(read.count == result.periods.count)
        for p in result.periods {
            let s = try #require(read["\(p.cell)@\(p.end)"])
            #expect(abs(s.values[.prbUsedDl]! - p.prbUsedDl / p.seconds) < 1e-3)
            #expect(abs(s.values[.volumeDlMbit]! - p.volumeDlBits / 1e6) < 1e-3)
            #expect(s.values[.tbDl] == p.tbDl && s.suspect == p.suspect)
            let cqi = try #require(s.distributions.first { $0.quantity == .cqi })
            #expect(Array(cqi.counts[1...15]) == Array(p.cqiCounts[1...15]))
        }
    }

    @Test("physics: PRB use within the carrier, throughput under the TS 38.306 peak, buffers grow in saturation")
    func physics() throws {
        let (scenario, result) = Self.smokeRun
        let cells = Dictionary(uniqueKeysWithValues: scenario.sites.flatMap { s in s.cells.map { ("\(s.name)/cell-\($0.id)", $0) } })
        for p in result.periods {
            let cell = cells[p.cell]!
            #expect(p.prbUtilDlPct >= 0 && p.prbUtilDlPct <= 100 + 1e-9)
            // The cell's layers, 64QAM (the simulated MCS table), overhead 0.14, the DL share (TS 38.306 §4.1.2).
            let symbolRate = Double(cell.nRB) * 12 * 14 * 1000 * Double(cell.scsKHz) / 15
            let peak = Double(cell.layers) * 6 * 948.0 / 1024 * symbolRate * (1 - 0.14) * cell.dlShare
            #expect(p.peakSecondDlBits <= peak, "\(p.cell) \(p.start)")
        }
        // The demand spike (13:00–14:00 on gnb-0001/cell-1) fills the carrier and queues grow.
        let spike = result.periods.filter { $0.cell == "gnb-0001/cell-1" && $0.start >= scenario.start + 3600_000_000_000 && $0.end <= scenario.start + 7200_000_000_000 }
        #expect(spike.count == 4)
        #expect(spike.allSatisfy { $0.prbUtilDlPct > 90 && $0.exhaustedSeconds > 0.5 * $0.seconds })
        #expect(spike.first!.bufferEndBits > spike.first!.bufferStartBits)
        // The restart period is suspect.
        #expect(result.periods.contains { $0.cell == "gnb-0002/cell-2" && $0.suspect })
    }

    @Test("the capture decodes in tshark without malformed packets; TEIDs and per-user bytes are what the simulator logged")
    func capture() throws {
        guard Self.tsharkPath != nil else {
            Issue.record("tshark missing: make test installs it")
            return
        }
        let (scenario, result) = Self.smokeRun
        let dir = Self.temporaryDirectory()
        try SimulationOutputs.write(result, scenario: scenario, to: dir)
        let run = Self.tshark
        let capture = dir + "/capture.pcap"
        #expect(try run(["-r", capture, "-Y", "_ws.malformed || _ws.expert.severity >= error"]).isEmpty)
        // Wire bytes per GTP-U TEID, as tshark reads them.
        var bytes: [UInt32: Int] = [:], packets: [UInt32: Int] = [:]
        for line in try run(["-r", capture, "-Y", "gtp.message == 0xff", "-T", "fields", "-e", "gtp.teid", "-e", "frame.len"]).split(separator: "\n") {
            let f = line.split(separator: "\t")
            guard f.count == 2, let teid = UInt32(f[0].dropFirst(2), radix: 16), let len = Int(f[1]) else { continue }
            bytes[teid, default: 0] += len
            packets[teid, default: 0] += 1
        }
        let log = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/capture-flows.json"))) as! [[String: Any]]
        #expect(log.count == 2)
        for flow in log {
            let dl = UInt32(flow["teid_dl"] as! Int), ul = UInt32(flow["teid_ul"] as! Int)
            #expect(bytes[dl] == flow["dl_bytes"] as? Int && packets[dl] == flow["dl_packets"] as? Int)
            #expect(bytes[ul] == flow["ul_bytes"] as? Int && packets[ul] == flow["ul_packets"] as? Int)
        }
        // The PFCP sessions carry the same TEIDs and UE addresses.
        let pfcp = try run(["-r", capture, "-Y", "pfcp.msg_type == 50", "-T", "fields", "-e", "pfcp.f_teid.teid", "-e", "pfcp.ue_ip_addr_ipv4"])
        for flow in log {
            #expect(pfcp.contains(String(format: "0x%08x", flow["teid_ul"] as! Int)) && pfcp.contains(flow["ue_ip"] as! String))
        }
    }

    @Test("traffic mix: users split in the mix's shares, and every kind offers the mean load in its own rhythm")
    func trafficMix() throws {
        let scenario = try Scenario.parse("""
            traffic_mix: {bulk: 1, video: 2, web: 1}
            sites:
              - {name: g, cells: [{id: 1, ues: 40, busy_hour_load: 0.5}]}
            """, path: "s.yaml")
        #expect(scenario.trafficMix == [.bulk: 0.25, .video: 0.5, .web: 0.25, .upload: 0])
        var random = Random(seed: 3)
        var model = CellModel(site: scenario.sites[0], cell: scenario.sites[0].cells[0], mix: scenario.trafficMix, random: &random)
        let counts = Dictionary(grouping: model.traffic, by: { $0 }).mapValues(\.count)
        #expect(counts == [.bulk: 10, .video: 20, .web: 10])
        // The first users already sample the mix (the capture takes the first k of each cell).
        #expect(Set(model.traffic.prefix(4)) == [.bulk, .video, .web])
        // Over a simulated fortnight at 60 % of the busy hour, each kind's DL offer averages
        // the mean (±10 %: bulk files are rare and large); bursts differ by kind.
        model.traffic = [.bulk, .video, .web, .upload] + Array(model.traffic.dropFirst(4))
        let seconds = 1_200_000
        for u in 0..<4 {
            let mean = model.demandPerUE * model.weight[u] * 0.6
            var dl = 0.0, ul = 0.0, busy = 0
            for t in 0..<seconds {
                let o = model.offer(u, mean: mean, second: t, random: &random)
                dl += o.dl; ul += o.ul; busy += o.dl > 0 ? 1 : 0
            }
            let kind = model.traffic[u]
            let dlShare = kind == .upload ? 0.1 : 1
            #expect(abs(dl / Double(seconds) / (mean * dlShare) - 1) < 0.1, "\(kind) DL")
            if kind == .upload { #expect(abs(ul / Double(seconds) / (mean * 0.5) - 1) < 0.1, "upload UL") }
            // Bulk users are idle most seconds, video users fetch one segment in four while
            // playing, uploaders keep a trickle of requests going.
            let active = Double(busy) / Double(seconds)
            switch kind {
            case .bulk: #expect(active < 0.05)
            case .video: #expect(active > 0.05 && active < 0.25)
            case .web: #expect(active > 0.05 && active < 0.2)
            case .upload: #expect(active == 1)
            }
        }
    }

    @Test("a demand spike the cell absorbs is labelled benign, not prb_saturation")
    func absorbedSpike() throws {
        let text = """
        duration: 3h
        start: 2026-11-29T02:00:00Z
        sites:
          - {name: g, cells: [{id: 1, ues: 10, busy_hour_load: 0.1}]}
        events:
          - {type: demand_spike, target: g/cell-1, start: 1h, duration: 1h, magnitude: 1.5}
        """
        let scenario = try Scenario.parse(text, path: "s.yaml")
        let labels = try Simulator(scenario: scenario).run().labels
        #expect(labels.map(\.findingClass) == ["benign"] && labels.map(\.cause) == ["demand_spike_absorbed"])
    }

    @Test("the comparison with real data reads each KPI from the data set that has it")
    func comparison() throws {
        let (scenario, result) = Self.smokeRun
        let rows = Comparison.rows(result: result, scenario: scenario, real: Self.repository.appendingPathComponent("fixtures/telemetry").path,
                                   mappings: [])
        #expect(rows.count == 6)
        #expect(rows.first { $0.kpi == "mcs_dl_mean" }!.real.count > 10) // the two OAI logs in fixtures/
        #expect(rows.allSatisfy { !$0.simulated.isEmpty })
        #expect(Comparison.markdown(rows, scenario: scenario, real: "fixtures/telemetry").contains("| `bler_dl_pct` | OAI gNB logs"))
    }

    @Test("telemetry.pcap: one srsRAN metrics datagram per cell and second, well-formed JSON on UDP 55555")
    func telemetryStream() throws {
        let text = """
        duration: 10m
        start: 2026-11-29T18:00:00Z
        sites:
          - {name: g1, address: 10.20.0.1, cells: [{id: 1, ues: 6}, {id: 2, ues: 4}]}
        telemetry: {datagrams: true, ues_per_report: 3}
        """
        let scenario = try Scenario.parse(text, path: "s.yaml")
        let dir = Self.temporaryDirectory()
        let result = try Simulator(scenario: scenario).run(telemetryTo: dir + "/telemetry.pcap")
        #expect(result.periods.count == 2)
        guard Self.tsharkPath != nil else { Issue.record("tshark missing"); return }
        let lines = try Self.tshark(["-r", dir + "/telemetry.pcap", "-d", "udp.port==55555,json", "-T", "fields", "-e", "udp.dstport", "-e", "_ws.malformed"])
            .split(separator: "\n")
        #expect(lines.count == 2 * 600)
        #expect(lines.allSatisfy { $0 == "55555" || $0 == "55555\t" })
        // The reports read back through the project's own reader: three users per report.
        var reader = SrsRANReader()
        let first = Packets.metricsReport(result.captureSeconds.values.first?.first ?? CaptureSecond(second: 0, servedBits: [1, 2, 3], prbUtil: 0.5, backlogged: 0, backhaulExcess: 0, cqi: [9, 9, 9], mcs: [15, 15, 15]),
                                          cell: scenario.sites[0].cells[0], epoch: 1_795_000_000_000_000)
        let outcome = first.utf8.withContiguousStorageIfAvailable { reader.ingest(UnsafeRawBufferPointer($0)) }!
        guard case .samples(let samples) = outcome else { Issue.record("report not read"); return }
        #expect(samples.first?.values[.ues] == 3)
    }

    @Test("bad scenarios: unknown keys, impossible parameters and events outside the run name key and line",
          arguments: [
            ("name: x\nsites:\n  - name: g\n    cells:\n      - {id: 1, bandwidth_mhz: 60, scs_khz: 15}\n", 5, "sites[0].cells[0].bandwidth_mhz"),
            ("name: x\nsites:\n  - name: g\n    cells:\n      - {id: 1, bandwidth_mhz: -5}\n", 5, "sites[0].cells[0].bandwidth_mhz"),
            ("name: x\nduraton: 1h\n", 2, "duraton"),
            ("duration: 1h\nsites:\n  - {name: g, cells: [{id: 1}]}\nevents:\n  - {type: interferer, target: g/cell-1, start: 2h}\n", 5, "events[0].start"),
            ("duration: 1h\nsites:\n  - {name: g, cells: [{id: 1}]}\nevents:\n  - {type: solar_flare, target: g/cell-1, start: 1m}\n", 5, "events[0].type"),
            ("traffic_mix: {video: 0, web: 0}\nsites:\n  - {name: g, cells: [{id: 1}]}\n", 1, "traffic_mix"),
            ("traffic_mix: {video: 0.5, gaming: 0.5}\nsites:\n  - {name: g, cells: [{id: 1}]}\n", 1, "traffic_mix.gaming"),
            ("sites:\n  - {name: g, cells: [{id: 1, mimo_layers: 16}]}\n", 2, "sites[0].cells[0].mimo_layers"),
          ])
    func errors(_ text: String, line: Int, key: String) {
        #expect {
            try Scenario.parse(text, path: "s.yaml")
        } throws: { error in
            guard let e = error as? ScenarioError else { return false }
            return e.line == line && e.key == key && e.description.hasPrefix("s.yaml:\(line): \(key): ")
        }
    }
}
