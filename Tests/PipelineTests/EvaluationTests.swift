import Evaluate
import Foundation
import Testing

/// `nocturne eval`'s matching and counting, on small hand-written label and finding files whose
/// right answers are worked out in the comments (DESIGN.md § Evaluation).
@Suite struct EvaluationTests {
    func write(_ lines: [String]) throws -> String {
        let path = TestPaths.temporaryDirectory() + "/\(UUID().uuidString).jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func label(_ c: String, _ cell: String?, _ start: String, _ end: String, gnb: String? = nil, address: String? = nil) -> String {
        var scope: [String] = []
        if let cell { scope.append("\"cell\":\"\(cell)\"") }
        if let gnb { scope.append("\"gnb\":\"\(gnb)\"") }
        if let address { scope.append("\"gnb_address\":\"\(address)\"") }
        return "{\"class\":\"\(c)\",\"scope\":{\(scope.joined(separator: ","))},\"start\":\"2026-11-29T\(start):00Z\",\"end\":\"2026-11-29T\(end):00Z\"}"
    }

    func finding(_ c: String, _ cell: String?, _ start: String, _ end: String?, gnb: String? = nil, address: String? = nil) -> String {
        var scope: [String] = []
        if let cell { scope.append("\"cell\":\"\(cell)\"") }
        if let gnb { scope.append("\"gnb\":\"\(gnb)\"") }
        if let address { scope.append("\"gnb_address\":\"\(address)\"") }
        let e = end.map { "\"2026-11-29T\($0):00Z\"" } ?? "null"
        return "{\"id\":\"f-\(c.prefix(3))\(start)\",\"class\":\"\(c)\",\"scope\":{\(scope.joined(separator: ","))},\"start\":\"2026-11-29T\(start):00Z\",\"end\":\(e)}"
    }

    @Test("one incident, two findings: the second is a false positive; names compare by number")
    func duplicates() throws {
        let truth = try write([label("prb_saturation", "gnb-0012/cell-3", "10:00", "11:00")])
        // gNB-12/cell-3 is the same cell; the second finding hits the matched episode again.
        let found = try write([finding("prb_saturation", "gNB-12/cell-3", "10:15", "10:40"),
                               finding("prb_saturation", "gnb-12/cell-03", "10:45", "11:00")])
        let r = Evaluation.score(truth: try Evaluation.read(path: truth), found: try Evaluation.read(path: found))
        let c = r.classes.first { $0.findingClass == "prb_saturation" }!
        #expect(c.matchedEpisodes == 1 && c.findings == 2)
        #expect(c.precision == 0.5 && c.recall == 1)
        #expect(abs(c.f1! - 2.0 / 3) < 1e-12)
        #expect(c.delays == [900])
        #expect(r.falseAlarms == 1)
    }

    @Test("the tolerance after an episode's end, a wrong class, a wrong cell and a benign overlap")
    func matching() throws {
        let truth = try write([
            label("uplink_interference", "gnb-1/cell-1", "09:00", "10:00"),
            label("low_spectral_efficiency", "gnb-1/cell-2", "09:00", "10:00"),
            label("benign", "gnb-1/cell-3", "12:00", "13:00"),
        ])
        let found = try write([
            // Starts 50 s after the end: within the default 60 s.
            "{\"class\":\"uplink_interference\",\"scope\":{\"cell\":\"gnb-1/cell-1\"},\"start\":\"2026-11-29T10:00:50Z\",\"end\":\"2026-11-29T10:20:00Z\"}",
            // Right time and cell, wrong class.
            finding("prb_saturation", "gnb-1/cell-2", "09:10", "09:50"),
            // Right class, another cell.
            finding("low_spectral_efficiency", "gnb-1/cell-4", "09:10", "09:50"),
            // On the benign episode, still open at the end of the input.
            finding("low_spectral_efficiency", "gnb-1/cell-3", "12:30", nil),
        ])
        let r = Evaluation.score(truth: try Evaluation.read(path: truth), found: try Evaluation.read(path: found),
                                 coverage: (cells: 4, hours: 10))
        let by = Dictionary(uniqueKeysWithValues: r.classes.map { ($0.findingClass, $0) })
        #expect(by["uplink_interference"]!.matchedEpisodes == 1)
        #expect(by["low_spectral_efficiency"]!.matchedEpisodes == 0 && by["low_spectral_efficiency"]!.findings == 2)
        #expect(by["prb_saturation"]!.f1 == 0)
        #expect(by["transport_congestion"]!.f1 == nil)
        // F1: interference 1, low SE 0, saturation 0 → macro over the three classes present.
        #expect(abs(r.macroF1! - 1.0 / 3) < 1e-12)
        #expect(r.falseAlarms == 3 && r.falseAlarmsOnBenign == 1)
        #expect(abs(r.falseAlarmsPerCellHour! - 3.0 / 40) < 1e-12)
        // Cells without a (non-benign) episode: 4 − 2; findings there: cell-3 and cell-4.
        #expect(r.healthyCells == 2 && r.falseAlarmsOnHealthyCells == 2)
        // Same evaluation with a 40 s tolerance: the interference finding starts too late.
        let strict = Evaluation.score(truth: try Evaluation.read(path: truth), found: try Evaluation.read(path: found), toleranceS: 40)
        #expect(strict.classes.first { $0.findingClass == "uplink_interference" }!.matchedEpisodes == 0)
    }

    @Test("transport findings match their gNB by name or by N3 address")
    func transport() throws {
        let truth = try write([label("transport_congestion", nil, "11:00", "11:40", gnb: "gnb-0101", address: "10.20.1.1"),
                               label("transport_congestion", nil, "21:00", "21:30", gnb: "gnb-0105", address: "10.20.1.5")])
        let found = try write([finding("transport_congestion", nil, "11:05", "11:35", address: "10.20.1.1"),
                               finding("transport_congestion", nil, "21:02", "21:20", gnb: "gNB-105")])
        let r = Evaluation.score(truth: try Evaluation.read(path: truth), found: try Evaluation.read(path: found))
        #expect(r.classes.first { $0.findingClass == "transport_congestion" }!.matchedEpisodes == 2)
        #expect(r.falseAlarms == 0)
    }

    @Test("a bad line is named with its file and line number")
    func badInput() throws {
        let path = try write([label("prb_saturation", "gnb-1/cell-1", "10:00", "11:00"), "{\"class\":\"overload\",\"start\":\"x\"}"])
        #expect { try Evaluation.read(path: path) } throws: { "\($0)".contains(":2: unknown class `overload`") }
        let time = try write(["{\"class\":\"benign\",\"start\":\"yesterday\"}"])
        #expect { try Evaluation.read(path: time) } throws: { "\($0)".contains(":1: `start` is not an RFC 3339 time") }
    }
}
