import Detect
import Evaluate
import Foundation
import Pipeline
import Telemetry
import Testing
import Windows

/// The bottleneck detector: Swift against PyTorch on the training script's test vectors, the
/// file checks, and what it finds in the simulator's smoke run (a scenario it was not trained on).
@Suite struct BottleneckTests {
    static let model = TestPaths.repository.appendingPathComponent("models/bottleneck/bottleneck.gguf").path

    /// A cells.jsonl row as the CellWindow it was written from.
    static func window(_ row: [String: Any]) -> CellWindow {
        func time(_ key: String) -> Int64 { TelemetryTime.parse(Substring(row[key] as! String))!.ns }
        let cell = (row["cell"] as! String).split(separator: "/").last.map(String.init)!
        var w = CellWindow(cell: CellID(gnb: row["gnb"] as! String, cell: cell, ldn: row["ldn"] as? String ?? ""),
                           start: time("window_start"), end: time("window_end"), source: row["source"] as? String ?? "",
                           relativeTime: false, suspect: row["suspect"] as? Bool ?? false)
        for (k, v) in row where k != "suspect" && k != "window_s" {
            if let d = v as? Double { w.values[k] = d } else if let i = v as? Int { w.values[k] = Double(i) }
        }
        return w
    }

    @Test("features and network agree with PyTorch to 1e-4 on the exported test vectors")
    func vectors() throws {
        let data = try Data(contentsOf: TestPaths.fixtures.appendingPathComponent("bottleneck/vectors.json"))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let model = try BottleneckModel(path: Self.model)
        var checked = 0
        var worst: Float = 0
        for c in json["cells"] as! [[String: Any]] {
            var features = CellFeatures(history: model.history, baselineWindows: model.baselineWindows, baselineMin: model.baselineMin)
            let rows = c["rows"] as! [[String: Any]]
            let probabilities = c["probabilities"] as! [[Double]]
            let anomaly = c["anomaly"] as! [Double]
            for (i, row) in rows.enumerated() {
                features.push(Self.window(row))
                let out = model.evaluate(features.input)
                for (a, b) in zip(out.probabilities, probabilities[i]) { worst = max(worst, abs(a - Float(b))) }
                worst = max(worst, abs(out.anomaly - Float(anomaly[i])))
                checked += 1
            }
        }
        #expect(checked >= 60)
        #expect(worst < 1e-4, "largest difference \(worst)")
    }

    @Test("the bundled model is small: under 1 M parameters")
    func size() throws {
        let model = try BottleneckModel(path: Self.model)
        #expect(model.parameterCount > 1000 && model.parameterCount < 1_000_000)
    }

    @Test("a file that is not this model, of another version or shape, or cut short is refused with the reason")
    func refused() throws {
        let slm = TestPaths.fixtures.appendingPathComponent("slm").path
        let other = try #require(FileManager.default.enumerator(atPath: slm)?.compactMap { $0 as? String }.first { $0.hasSuffix(".gguf") })
        #expect { try BottleneckModel(path: slm + "/" + other) } throws: { "\($0)".contains("not a bottleneck detector") }

        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.model)))
        let key = Array("nocturne-bottleneck.version".utf8)
        let at = try #require((0..<(bytes.count - key.count)).first { bytes[$0..<($0 + key.count)].elementsEqual(key) })
        // Key, then the value's type (uint32 = 4), then the value.
        bytes[at + key.count + 4] = 99
        let dir = TestPaths.temporaryDirectory()
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/v99.gguf"))
        #expect { try BottleneckModel(path: dir + "/v99.gguf") } throws: { "\($0)".contains("model version 99") }

        // A model whose metadata promises another width than its tensors have.
        var narrow = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.model)))
        let width = Array("nocturne-bottleneck.embedding_length".utf8)
        let w = try #require((0..<(narrow.count - width.count)).first { narrow[$0..<($0 + width.count)].elementsEqual(width) })
        narrow[w + width.count + 4] = 16
        try Data(narrow).write(to: URL(fileURLWithPath: dir + "/narrow.gguf"))
        #expect { try BottleneckModel(path: dir + "/narrow.gguf") } throws: { "\($0)".contains("has shape") && "\($0)".contains("expected") }

        try Data(bytes.prefix(bytes.count / 2)).write(to: URL(fileURLWithPath: dir + "/cut.gguf"))
        #expect { try BottleneckModel(path: dir + "/cut.gguf") } throws: { "\($0)".contains("cut.gguf") }
    }

    /// The smoke scenario's windows through the detector, optionally without some KPIs.
    func findings(removing: Set<String> = []) throws -> [Finding] {
        let dir = TestPaths.temporaryDirectory()
        var options = Analysis.Options()
        options.sinks = [.jsonl(directory: dir)]
        _ = try Analysis(options: options).run(paths: [TestPaths.fixtures.appendingPathComponent("sim-smoke/pm").path])
        var detector = BottleneckDetector(model: try BottleneckModel(path: Self.model), runID: "r-test")
        var found: [Finding] = []
        for row in try readJSONLines(dir + "/cells.jsonl") {
            var w = Self.window(row)
            for k in removing { w.values[k] = nil }
            found += detector.observe(w).filter { $0.kind == .resolved }.map(\.finding)
        }
        found += detector.finish().map(\.finding)
        return found
    }

    func score(_ found: [Finding]) throws -> Evaluation.Report {
        let truth = try Evaluation.read(path: TestPaths.fixtures.appendingPathComponent("sim-smoke/labels.jsonl").path)
        let events = found.map { f in
            Evaluation.Event(id: f.id, findingClass: f.findingClass.rawValue,
                             scope: .init(gnb: f.scope.gnb, cell: f.scope.cell, gnbAddress: nil), start: f.start, end: f.end)
        }
        return Evaluation.score(truth: truth, found: events)
    }

    @Test("the smoke run (not a training scenario): each radio episode is one finding, nothing else, with evidence")
    func smoke() throws {
        let found = try findings()
        let report = try score(found)
        for c in report.classes where c.findingClass != "transport_congestion" {
            #expect(c.episodes == 1 && c.matchedEpisodes == 1 && c.findings == 1, "\(c.findingClass): \(c)")
        }
        #expect(report.falseAlarms == 0)
        for f in found {
            #expect(!f.evidence.isEmpty && f.detector == "bottleneck@1")
            // The FDD cell's PM has no duplex share, so its efficiency on used PRBs is unknown.
            #expect(f.missingInputs.allSatisfy { $0 == "se_used_dl_bps_hz" })
        }
    }

    @Test("without the uplink KPIs the downlink findings stay, and the uplink class says what it lacked")
    func missingInputs() throws {
        let found = try findings(removing: ["ul_ni_dbm_per_prb", "pusch_sinr_db", "cqi_mean", "cqi_p10", "cqi_p50", "cqi_p90"])
        let report = try score(found)
        let byClass = Dictionary(uniqueKeysWithValues: report.classes.map { ($0.findingClass, $0) })
        #expect(byClass["prb_saturation"]!.matchedEpisodes == 1)
        #expect(byClass["low_spectral_efficiency"]!.matchedEpisodes == 1)
        for f in found where f.findingClass == .lowSpectralEfficiency {
            #expect(f.missingInputs.contains("cqi_mean") && !f.missingInputs.contains("bler_dl_pct"))
        }
        for f in found where f.findingClass == .uplinkInterference { #expect(f.missingInputs.contains("ul_ni_dbm_per_prb")) }
    }
}
