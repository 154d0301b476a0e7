import Decode
import Detect
import Windows

/// `report.md`: what was read, what was skipped and why, the findings, and the busiest gNBs,
/// tunnels and conversations of the run (from the run's totals, written at the end).
public final class ReportSink: Sink {
    public let path: String

    public init(path: String) { self.path = path }

    public func write(_ batch: WindowBatch) throws {}

    public func write(_ events: [FindingEvent]) throws {}

    public func close(_ s: RunSummary) throws {
        var md = "# nocturne run \(s.runID)\n\n"
        md += "- started \(RFC3339.format(s.startedAt)), finished \(RFC3339.format(s.finishedAt))"
        md += s.interrupted ? " (interrupted: outputs hold what was read until then)\n" : "\n"
        if let first = s.firstPacket, let last = s.lastPacket {
            md += "- capture time \(RFC3339.format(first)) – \(RFC3339.format(last))\n"
        }
        md += "- windows of \(fmt(s.windowSeconds)) s: \(s.totals.windows); detector `\(s.detector)`\n\n"

        md += "## Inputs\n\n| file | kind | link type | bytes | packets / records | problem |\n|---|---|---|---:|---:|---|\n"
        for i in s.inputs {
            md += "| `\(i.path)` | \(i.kind) | \(i.linkType ?? "–") | \(i.bytes) | \(i.packets) | \(i.problem ?? "–") |\n"
        }
        let t = s.totals
        let run = s.runTotals
        md += "\n## Counts\n\n"
        md += "| what | count |\n|---|---:|\n"
        md += "| packets | \(t.packets) |\n| bytes on the wire | \(t.bytes) |\n| IP packets | \(t.ipPackets) |\n"
        md += "| non-IP frames (ARP, …) | \(t.nonIPPackets) |\n| GTP-U messages | \(t.gtpPackets) |\n"
        md += "| GTP-U G-PDUs | \(t.gtpGPDUs) |\n| GTP-U echo | \(t.gtpEcho) |\n| PFCP messages | \(t.pfcpMessages) |\n"
        md += "| PFCP sessions / tunnels tied | \(s.sessions) / \(s.tunnelsTied) |\n"
        md += "| IP fragments (counted, not reassembled) | \(t.fragments) |\n| cut by snap length | \(t.snapCut) |\n"
        md += "| out of time order | \(t.latePackets) |\n| malformed or inconsistent headers | \(t.malformed) |\n"
        if t.malformed > 0 {
            md += "\nMalformed by reason:\n\n"
            for issue in DecodeIssue.allCases where t.issues[issue.rawValue] > 0 {
                md += "- \(issue.reason) (`\(issue.key)`): \(t.issues[issue.rawValue])\n"
            }
        }

        md += "\n## Findings (\(s.findings.count))\n\n"
        if s.findings.isEmpty {
            md += "None.\n"
        } else {
            md += "| id | class | scope | start | end | severity | score | evidence |\n|---|---|---|---|---|---|---:|---|\n"
            for f in s.findings {
                let scope = [f.scope.cell, f.scope.gnb, f.scope.gnbAddress].compactMap { $0 }.joined(separator: " ")
                let evidence = f.evidence.map { e in
                    "\(e.kpi) \(fmt(e.value)) \(e.unit)" + (e.baseline.map { " (baseline \(fmt($0)))" } ?? "")
                }.joined(separator: "; ")
                md += "| \(f.id) | \(f.findingClass.rawValue) | \(scope) | \(RFC3339.format(f.start)) | \(f.end.map(RFC3339.format) ?? "open") | \(f.severity.rawValue) | \(fmt(f.score)) | \(evidence) |\n"
            }
            md += "\n"
            for f in s.findings where !f.summary.isEmpty { md += "- **\(f.id)**: \(f.summary)\n" }
        }

        if !s.cells.isEmpty {
            md += "\n## Cells (RAN telemetry)\n\n"
            md += "| cell | source | windows | suspect | from | to | max PRB util DL % | mean cell thp DL Mbit/s | mean CQI | mean DL MCS |\n"
            md += "|---|---|---:|---:|---|---|---:|---:|---:|---:|\n"
            for c in s.cells.prefix(50) {
                let rel = c.relativeTime ? " (relative)" : ""
                md += "| \(c.cell) | \(c.sources.joined(separator: ", ")) | \(c.windows) | \(c.suspectWindows) | \(RFC3339.format(c.first))\(rel) | \(RFC3339.format(c.last)) | \(c.prbUtilDlMaxPct.map(fmt) ?? "–") | \(c.cellThpDlMeanMbps.map(fmt) ?? "–") | \(c.cqiMean.map(fmt) ?? "–") | \(c.mcsDlMean.map(fmt) ?? "–") |\n"
            }
            if s.cells.count > 50 { md += "\n\(s.cells.count - 50) more cells in cells.jsonl.\n" }
        }

        md += "\n## Top gNBs (by user-plane bytes)\n\n"
        if run.gnbs.isEmpty {
            md += "No gNB identified (no PDU Session Container and no PFCP tying tunnels to a gNB).\n"
        } else {
            md += "| gNB address | UL bytes | DL bytes | TCP retrans % | windows |\n|---|---:|---:|---:|---:|\n"
            for (address, g) in run.gnbs.sorted(by: { ($0.value.bytesUL + $0.value.bytesDL, $1.key) > ($1.value.bytesUL + $1.value.bytesDL, $0.key) }).prefix(10) {
                let pct = g.dataSegments > 0 ? fmt(100 * Double(g.retransmissions) / Double(g.dataSegments)) : "–"
                md += "| \(address) | \(g.bytesUL) | \(g.bytesDL) | \(pct) | \(g.windows) |\n"
            }
        }
        md += "\n## Top tunnels (by bytes)\n\n"
        if run.tunnels.isEmpty {
            md += "No GTP-U tunnels.\n"
        } else {
            md += "| receiver | TEID | direction | UE IP | packets | bytes |\n|---|---|---|---|---:|---:|\n"
            for (id, v) in run.tunnels.sorted(by: { ($0.value.bytes, $1.key.teid) > ($1.value.bytes, $0.key.teid) }).prefix(10) {
                md += "| \(id.dst) | 0x\(String(id.teid, radix: 16)) | \(v.direction ?? "–") | \(v.ueIP?.description ?? "–") | \(v.packets) | \(v.bytes) |\n"
            }
        }
        md += "\n## Top conversations (outer IP, by bytes)\n\n| src | dst | packets | bytes |\n|---|---|---:|---:|\n"
        for (id, v) in run.conversations.sorted(by: { ($0.value.bytes, $1.key.src) > ($1.value.bytes, $0.key.src) }).prefix(10) {
            md += "| \(id.src) | \(id.dst) | \(v.packets) | \(v.bytes) |\n"
        }
        md += "\nFlow-window rows written: \(run.flowWindows).\n"
        let file = try OutputFile(path: path)
        try file.write(Array(md.utf8))
        try file.close()
    }
}

func fmt(_ v: Double) -> String {
    if v == v.rounded() && abs(v) < 1e12 { return String(Int64(v)) }
    return String((v * 100).rounded() / 100)
}
