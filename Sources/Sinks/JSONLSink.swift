import Decode
import Detect
import Windows

/// `conversations.jsonl`, `tunnels.jsonl`, `flows.jsonl`, `gnbs.jsonl`, `cells.jsonl` and
/// `findings.jsonl` in one directory (DESIGN.md's CLI contract).
public final class JSONLSink: Sink {
    public let directory: String
    /// Live jobs write a finding when it opens and again when it resolves; batch runs write
    /// each finding once, resolved.
    public let streamFindings: Bool
    private let conversations: OutputFile
    private let tunnels: OutputFile
    private let flows: OutputFile
    private let gnbs: OutputFile
    private let cells: OutputFile
    private let findings: OutputFile
    private var line = JSONLine()

    public init(directory: String, streamFindings: Bool = false) throws {
        self.directory = directory
        self.streamFindings = streamFindings
        conversations = try OutputFile(path: directory + "/conversations.jsonl")
        tunnels = try OutputFile(path: directory + "/tunnels.jsonl")
        flows = try OutputFile(path: directory + "/flows.jsonl")
        gnbs = try OutputFile(path: directory + "/gnbs.jsonl")
        cells = try OutputFile(path: directory + "/cells.jsonl")
        findings = try OutputFile(path: directory + "/findings.jsonl")
    }

    public func write(_ batch: WindowBatch) throws {
        var bounds = JSONLine()
        bounds.open()
        bounds.field("window_start", time: batch.start)
        bounds.field("window_end", time: batch.end)
        let window = Array(bounds.bytes.dropFirst())
        line.reset()
        for c in batch.conversations {
            line.open()
            line.fields(window)
            line.field("src", c.src); line.field("dst", c.dst); line.field("ip_proto", Int(c.ipProto))
            line.field("packets", c.packets); line.field("bytes", c.bytes)
            line.close(); line.newline()
        }
        try conversations.write(line)
        line.reset()
        for t in batch.tunnels {
            line.open()
            line.fields(window)
            line.field("dst", t.dst); line.field("teid", Int(t.teid)); line.field("src", t.src)
            line.field("direction", t.direction); line.field("gnb_address", t.gnbAddress)
            line.field("packets", t.packets); line.field("bytes", t.bytes); line.field("inner_bytes", t.innerBytes)
            line.field("throughput_mbps", Double(t.bytes) * 8 / batch.seconds / 1e6)
            line.field("qfis", ints: t.qfis)
            line.field("seq_gap_events", t.seqGapEvents); line.field("seq_lost", t.seqLost)
            line.field("seq_out_of_order", t.seqOutOfOrder)
            if let s = t.seidCP { line.field("seid_cp", hex(s)) }
            if let s = t.seidUP { line.field("seid_up", hex(s)) }
            if let ue = t.ueIP { line.field("ue_ip", ue) }
            line.close(); line.newline()
        }
        try tunnels.write(line)
        line.reset()
        for f in batch.flows {
            line.open()
            line.fields(window)
            line.field("proto", Int(f.proto))
            line.field("a_ip", f.aIP); line.field("a_port", Int(f.aPort))
            line.field("b_ip", f.bIP); line.field("b_port", Int(f.bPort))
            line.field("packets_ab", f.packetsAB); line.field("packets_ba", f.packetsBA)
            line.field("bytes_ab", f.bytesAB); line.field("bytes_ba", f.bytesBA)
            line.field("retransmissions", f.retransmissions); line.field("seq_gaps", f.sequenceGaps)
            line.field("rtt_samples", f.rttSamples)
            line.field("rtt_ms_p50", f.rttP50Ms); line.field("rtt_ms_p95", f.rttP95Ms)
            line.field("tunnelled", f.tunnelled)
            if let g = f.gnbAddress { line.field("gnb_address", g) }
            line.close(); line.newline()
        }
        try flows.write(line)
        line.reset()
        for g in batch.gnbs {
            line.open()
            line.fields(window)
            line.field("window_s", batch.seconds)
            line.field("gnb_address", g.gnbAddress)
            line.field("packets_ul", g.packetsUL); line.field("packets_dl", g.packetsDL)
            line.field("bytes_ul", g.bytesUL); line.field("bytes_dl", g.bytesDL)
            line.field("thp_ul_mbps", Double(g.bytesUL) * 8 / batch.seconds / 1e6)
            line.field("thp_dl_mbps", Double(g.bytesDL) * 8 / batch.seconds / 1e6)
            line.field("tunnels", g.tunnels)
            line.field("tcp_data_segments", g.tcpDataSegments); line.field("tcp_retransmissions", g.tcpRetransmissions)
            line.field("tcp_retrans_pct", g.retransmissionPct)
            line.field("rtt_samples", g.rttSamples)
            line.field("rtt_ms_p50", g.rttP50Ms); line.field("rtt_ms_p95", g.rttP95Ms)
            line.field("seq_gap_events", g.seqGapEvents); line.field("seq_lost", g.seqLost)
            line.field("gtpu_seq_loss_pct", g.seqLossPct)
            line.field("echo_rtt_ms", g.echoRttMs)
            line.field("error_indications", g.errorIndications)
            line.close(); line.newline()
        }
        try gnbs.write(line)
    }

    public func write(_ windows: [CellWindow]) throws {
        line.reset()
        for w in windows {
            line.open()
            line.field("window_start", time: w.start)
            line.field("window_end", time: w.end)
            line.field("window_s", w.seconds)
            line.field("cell", w.cell.name)
            line.field("gnb", w.cell.gnb)
            line.field("ldn", w.cell.ldn)
            line.field("source", w.source)
            if w.relativeTime { line.field("time_basis", "relative") }
            if w.suspect { line.field("suspect", true) }
            for (k, v) in w.orderedValues { line.field(k, v) }
            if !w.insufficientSamples.isEmpty { line.field("insufficient_samples", strings: w.insufficientSamples) }
            if !w.vendor.isEmpty {
                line.field("vendor") { o in
                    o.open()
                    for (k, v) in w.vendor.sorted(by: { $0.key < $1.key }) {
                        if v.count == 1 { o.field(k, v[0].isNaN ? nil : v[0]) } else { o.field(k, doubles: v) }
                    }
                    o.close()
                }
            }
            line.close(); line.newline()
        }
        try cells.write(line)
        // Live runs: readers tailing the file see each window as it closes.
        if streamFindings { try cells.flush() }
    }

    public func write(_ events: [FindingEvent]) throws {
        guard streamFindings else { return }
        line.reset()
        for e in events { FindingJSON.append(e.finding, to: &line) }
        try findings.write(line)
        try findings.flush()
    }

    public func close(_ summary: RunSummary) throws {
        if !streamFindings {
            line.reset()
            for f in summary.findings { FindingJSON.append(f, to: &line) }
            try findings.write(line)
        }
        for file in [conversations, tunnels, flows, gnbs, cells, findings] { try file.close() }
    }

    private func hex(_ v: UInt64) -> String {
        let digits = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// The `findings.jsonl` line of a finding.
public enum FindingJSON {
    public static func append(_ f: Finding, to line: inout JSONLine) {
        line.open()
        line.field("id", f.id)
        line.field("run_id", f.runID)
        line.field("class", f.findingClass.rawValue)
        line.field("direction", f.direction)
        line.field("scope") { s in
            s.open()
            if let cell = f.scope.cell { s.field("cell", cell) }
            if let gnb = f.scope.gnb { s.field("gnb", gnb) }
            if let ldn = f.scope.ldn { s.field("ldn", ldn) }
            if let address = f.scope.gnbAddress { s.field("gnb_address", address) }
            if let teid = f.scope.teid { s.field("teid", Int(teid)) }
            s.close()
        }
        line.field("start", time: f.start)
        line.field("end", time: f.end)
        line.field("state", f.state)
        line.field("severity", f.severity.rawValue)
        line.field("score", f.score)
        line.field("detector", f.detector)
        line.field("evidence") { a in
            a.appendRaw("[")
            for (i, e) in f.evidence.enumerated() {
                if i > 0 { a.appendRaw(",") }
                a.open()
                a.field("kpi", e.kpi); a.field("value", e.value); a.field("baseline", e.baseline); a.field("unit", e.unit)
                a.close()
            }
            a.appendRaw("]")
        }
        line.field("missing_inputs", strings: f.missingInputs)
        line.field("summary", f.summary)
        line.field("explanation", f.explanation)
        line.close()
        line.newline()
    }
}
