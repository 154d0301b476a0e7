import Decode
import Detect
import Foundation
import Pipeline
import Testing
import Windows

/// The `transport_congestion` rule on windows with a known story, and end to end on the demo
/// capture, whose incident was written into it by its generator (fixtures/make_demo_capture.py).
@Suite("Transport congestion rule")
struct DetectionTests {
    static let gnb = IPAddress("10.10.0.2")!

    /// Ten-second windows of one gNB: RTT p50 and retransmission % per window.
    static func windows(_ values: [(rtt: Double, retrans: Double)], start: Int64 = 1_800_000_000) -> [WindowBatch] {
        values.enumerated().map { i, v in
            let s = (start + Int64(i) * 10) * 1_000_000_000
            var w = GnbWindow(gnbAddress: gnb)
            w.packetsDL = 500
            w.rttSamples = 100
            w.rttP50Ms = v.rtt
            w.tcpDataSegments = 200
            w.tcpRetransmissions = Int((v.retrans * 2).rounded())
            var b = WindowBatch(start: s, end: s + 10_000_000_000)
            b.gnbs = [w]
            return b
        }
    }

    static func run(_ batches: [WindowBatch], config: TransportRuleConfig = TransportRuleConfig()) -> [Finding] {
        var rule = TransportCongestionRule(config: config, runID: "r-test")
        var found: [String: Finding] = [:]
        for b in batches { for e in rule.observe(b) { found[e.finding.id] = e.finding } }
        for e in rule.finish() { found[e.finding.id] = e.finding }
        return found.values.sorted { $0.start < $1.start }
    }

    @Test("a sustained RTT rise is one finding with its start, end and evidence")
    func sustained() throws {
        let normal = Array(repeating: (rtt: 30.0, retrans: 0.5), count: 12)
        let incident = Array(repeating: (rtt: 180.0, retrans: 6.0), count: 9)
        let findings = Self.run(Self.windows(normal + incident + normal))
        try #require(findings.count == 1)
        let f = findings[0]
        #expect(f.findingClass == .transportCongestion && f.scope.gnbAddress == "10.10.0.2")
        #expect(f.start == (1_800_000_000 + 120) * 1_000_000_000)
        #expect(f.end.map { $0 / 1_000_000_000 } == 1_800_000_210)
        let rtt = try #require(f.evidence.first { $0.kpi == "tcp_rtt_ms_p50" })
        #expect(rtt.value == 180 && rtt.baseline == 30)
        #expect(f.severity == .critical && f.score > 0.8)
        #expect(f.missingInputs.contains("prb_util_dl_pct"))
    }

    @Test("spikes shorter than the minimum duration, and busy-but-healthy windows, are not findings")
    func notFindings() {
        let normal = Array(repeating: (rtt: 30.0, retrans: 0.5), count: 12)
        let spike = Array(repeating: (rtt: 150.0, retrans: 0.5), count: 2)
        #expect(Self.run(Self.windows(normal + spike + normal)).isEmpty)
        // A busy gNB has a higher RTT all along: its own baseline absorbs it.
        #expect(Self.run(Self.windows(Array(repeating: (rtt: 90.0, retrans: 1.0), count: 40))).isEmpty)
    }

    @Test("hysteresis: a one-window dip inside an incident does not split it")
    func hysteresis() {
        let normal = Array(repeating: (rtt: 30.0, retrans: 0.5), count: 12)
        let high = Array(repeating: (rtt: 200.0, retrans: 0.5), count: 5)
        let findings = Self.run(Self.windows(normal + high + [(30, 0.5)] + high + normal))
        #expect(findings.count == 1)
    }

    @Test("retransmissions alone can make the finding; thresholds come from the rules file")
    func retransmissionsAndConfig() throws {
        let normal = Array(repeating: (rtt: 30.0, retrans: 0.5), count: 12)
        let lossy = Array(repeating: (rtt: 32.0, retrans: 5.0), count: 6)
        #expect(Self.run(Self.windows(normal + lossy + normal)).count == 1)
        let dir = TestPaths.temporaryDirectory()
        try "transport_congestion:\n  retransmission_increase_pct: 10\n".write(toFile: dir + "/r.yaml", atomically: true, encoding: .utf8)
        let rules = try JobLoader.loadRules(path: dir + "/r.yaml")
        #expect(rules.transport.retransmissionIncreasePct == 10 && rules.transport.rttFactor == 2)
        #expect(Self.run(Self.windows(normal + lossy + normal), config: rules.transport).isEmpty)
    }

    @Test("the shipped rules file is the documented default")
    func shippedRules() throws {
        let rules = try JobLoader.loadRules(path: TestPaths.repository.appendingPathComponent("pipelines/rules/default.yaml").path)
        #expect(rules.transport == TransportRuleConfig())
    }

    @Test("demo capture: the injected incident on 10.10.0.2 is found, the short spike on 10.10.0.3 is not")
    func demoCapture() throws {
        let dir = TestPaths.temporaryDirectory()
        var options = Analysis.Options()
        options.sinks = [.jsonl(directory: dir)]
        let outcome = try Analysis(options: options).run(paths: [TestPaths.fixtures.appendingPathComponent("captures/demo-n3-congestion.pcap").path])
        let findings = try readJSONLines(dir + "/findings.jsonl")
        try #require(findings.count == 1, "\(findings)")
        let f = findings[0]
        #expect((f["scope"] as? [String: Any])?["gnb_address"] as? String == "10.10.0.2")
        #expect(f["class"] as? String == "transport_congestion" && f["state"] as? String == "resolved")
        // The generator's incident: 18:04:00–18:05:30 (t = 240–330 s). Window-aligned, ±10 s.
        let start = try #require(f["start"] as? String), end = try #require(f["end"] as? String)
        #expect(["2026-11-29T18:03:50Z", "2026-11-29T18:04:00Z", "2026-11-29T18:04:10Z"].contains(start))
        #expect(["2026-11-29T18:05:20Z", "2026-11-29T18:05:30Z", "2026-11-29T18:05:40Z"].contains(end))
        #expect(outcome.summary.sessions == 12)
        // Every G-PDU tunnel is tied to its PFCP session and UE.
        let tunnels = try readJSONLines(dir + "/tunnels.jsonl")
        #expect(!tunnels.isEmpty && tunnels.allSatisfy { $0["ue_ip"] is String && $0["seid_up"] is String })
    }
}
