import Foundation

/// srsRAN Project gNB metrics JSON in all its shapes: the 24.04 UDP datagrams
/// (`{"timestamp": epoch, "ue_list": [{"ue_container": {…}}]}`), 24.10/25.04 datagrams with
/// `cell_metrics` and `event_list`, and the 25.10+ WebSocket reports
/// (`{"timestamp": "…", "cells": [{"cell_metrics", "ue_list", "event_list"}]}`). Reports of other
/// kinds on the same channel (`du`, `rlc_metrics`, command replies) are counted and ignored.
///
/// One report becomes one sample per cell (PCI) covering the time since that cell's previous
/// report (the first is assumed to cover `defaultPeriod`).
public struct SrsRANReader {
    public var gnb: String
    public var config: CellConfig
    public var defaultPeriod: Int64 = 1_000_000_000
    private var lastReport: [Int: Int64] = [:]

    public init(gnb: String = "srsgnb", config: CellConfig = CellConfig()) {
        self.gnb = gnb
        self.config = config
    }

    /// True when a JSON text looks like a srsRAN metrics report.
    public static func recognises(_ head: Substring) -> Bool {
        head.contains("\"ue_list\"") || head.contains("\"cell_metrics\"") || head.contains("\"ue_container\"")
    }

    public enum Outcome {
        case samples([CellSample])
        /// A well-formed report of another kind (command reply, RLC/PDCP/DU report).
        case ignored
        case invalid(String)
    }

    /// One report (a datagram payload, a WebSocket text frame, a line of a file).
    public mutating func ingest(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) as? [String: Any] else {
            return .invalid("not a JSON object")
        }
        let time: Int64
        switch object["timestamp"] {
        case let n as NSNumber:
            // Epoch seconds with millisecond precision, within 1973–2096.
            guard let secs = bounded(n.doubleValue, 4e9), secs > 1e8 else { return .invalid("timestamp \(n) is not epoch seconds") }
            time = Int64((secs * 1000).rounded()) * 1_000_000
        case let s as String:
            // 25.10+ writes UTC without an offset.
            guard let t = TelemetryTime.parse(Substring(s)) else { return .invalid("timestamp '\(s)' is not a date and time") }
            time = t.ns
        default:
            if object["cells"] == nil && object["ue_list"] == nil { return .ignored }
            return .invalid("report without a timestamp")
        }
        var cells: [(metrics: [String: Any]?, ues: [[String: Any]])] = []
        if let list = object["cells"] as? [[String: Any]] {
            for c in list { cells.append((c["cell_metrics"] as? [String: Any], Self.ues(c["ue_list"]))) }
        } else if object["ue_list"] != nil || object["cell_metrics"] != nil {
            cells.append((object["cell_metrics"] as? [String: Any], Self.ues(object["ue_list"])))
        } else {
            return .ignored
        }
        var out: [CellSample] = []
        for c in cells {
            // One report may hold several cells (25.10+) or UEs of several PCIs (older ones).
            var byPCI: [Int: [[String: Any]]] = [:]
            func pci(_ any: Any?) -> Int? { bounded((any as? NSNumber)?.doubleValue, 1007).map { Int($0) } }
            let cellPCI = pci(c.metrics?["pci"])
            for ue in c.ues { byPCI[pci(ue["pci"]) ?? cellPCI ?? 0, default: []].append(ue) }
            if byPCI.isEmpty { byPCI[cellPCI ?? 0] = [] }
            for (pci, ues) in byPCI.sorted(by: { $0.key < $1.key }) {
                let start = lastReport[pci].map { min($0, time - 1) } ?? time - defaultPeriod
                lastReport[pci] = time
                out.append(sample(pci: pci, start: start, end: time, ues: ues, metrics: cellPCI == nil || cellPCI == pci ? c.metrics : nil))
            }
        }
        return .samples(out)
    }

    static func ues(_ any: Any?) -> [[String: Any]] {
        guard let list = any as? [[String: Any]] else { return [] }
        return list.map { ($0["ue_container"] as? [String: Any]) ?? $0 }
    }

    func sample(pci: Int, start: Int64, end: Int64, ues: [[String: Any]], metrics: [String: Any]?) -> CellSample {
        var s = CellSample(cell: CellID(gnb: gnb, cell: "pci-\(pci)", ldn: "pci=\(pci)"), start: start, end: end,
                           source: "srsran", native: false)
        s.config = config
        // Finite numbers only (24.10 writes some as strings, "n/a" among them).
        func num(_ d: [String: Any], _ k: String) -> Double? {
            switch d[k] {
            case let n as NSNumber: return bounded(n.doubleValue, 1e15)
            case let t as String: return bounded(Double(t), 1e15)
            default: return nil
            }
        }
        s.values[.ues] = Double(ues.count)
        var sums: [Kpi: Double] = [:]
        var means: [Kpi: (Double, Double)] = [:]
        var mcsDl = (0.0, 0.0), mcsUl = (0.0, 0.0)
        var activeDl = 0.0, activeUl = 0.0
        for ue in ues {
            if let v = num(ue, "dl_brate") { sums[.cellThpDlMbps, default: 0] += v / 1e6 }
            if let v = num(ue, "ul_brate") { sums[.cellThpUlMbps, default: 0] += v / 1e6 }
            let okDl = num(ue, "dl_nof_ok") ?? 0, nokDl = num(ue, "dl_nof_nok") ?? 0
            let okUl = num(ue, "ul_nof_ok") ?? 0, nokUl = num(ue, "ul_nof_nok") ?? 0
            if ue["dl_nof_ok"] != nil { sums[.tbDl, default: 0] += okDl + nokDl; sums[.tbErrDl, default: 0] += nokDl }
            if ue["ul_nof_ok"] != nil { sums[.tbUl, default: 0] += okUl + nokUl; sums[.tbErrUl, default: 0] += nokUl }
            if let m = num(ue, "dl_mcs"), okDl + nokDl > 0 { mcsDl.0 += m * (okDl + nokDl); mcsDl.1 += okDl + nokDl }
            if let m = num(ue, "ul_mcs"), okUl + nokUl > 0 { mcsUl.0 += m * (okUl + nokUl); mcsUl.1 += okUl + nokUl }
            if let v = num(ue, "dl_bs") { sums[.dlBufferBytes, default: 0] += v; if v > 0 { activeDl += 1 } }
            if let v = num(ue, "bsr") { sums[.ulBufferBytes, default: 0] += v; if v > 0 { activeUl += 1 } }
            for (key, kpi) in [("cqi", Kpi.cqiMean), ("pusch_snr_db", .puschSinrDb), ("last_phr", .powerHeadroomDb)] {
                if let v = num(ue, key) { means[kpi, default: (0, 0)].0 += v; means[kpi, default: (0, 0)].1 += 1 }
            }
        }
        for (k, v) in sums { s.values[k] = v }
        for (k, (sum, n)) in means where n > 0 { s.values[k] = sum / n }
        if mcsDl.1 > 0 { s.values[.mcsDlMean] = mcsDl.0 / mcsDl.1 }
        if mcsUl.1 > 0 { s.values[.mcsUlMean] = mcsUl.0 / mcsUl.1 }
        if !ues.isEmpty {
            s.values[.activeUeDlMean] = activeDl
            s.values[.activeUeUlMean] = activeUl
        }
        if let m = metrics {
            if let v = num(m, "nof_failed_pdcch_allocs") { s.values[.pdcchFailures] = v }
            // PRBs used per TDD slot index: the mean over slots that carried any (UL slots read 0).
            for (key, kpi) in [("pdsch_prbs_used_per_tdd_slot_idx", Kpi.prbUsedDl), ("pusch_prbs_used_per_tdd_slot_idx", .prbUsedUl)] {
                if let list = m[key] as? [NSNumber] {
                    let used = list.compactMap { bounded($0.doubleValue, 1e4) }.filter { $0 > 0 }
                    s.values[kpi] = used.isEmpty ? 0 : used.reduce(0, +) / Double(used.count)
                }
            }
            if let n = config.nRB {
                if s.values[.prbUsedDl] != nil { s.values[.prbAvailDl] = Double(n) }
                if s.values[.prbUsedUl] != nil { s.values[.prbAvailUl] = Double(n) }
            }
        }
        return s
    }

    /// A file of reports: JSON Lines (datagrams or WebSocket frames as recorded), one per line.
    public static func read(path: String, gnb: String = "srsgnb", config: CellConfig = CellConfig()) -> TelemetryRead {
        InputBytes.read(path, kind: "srsran-json") { read(bytes: $0, path: path, gnb: gnb, config: config, into: &$1) }
    }

    public static func read(bytes: [UInt8], path: String, gnb: String = "srsgnb", config: CellConfig = CellConfig(),
                            into result: inout TelemetryRead) {
        var reader = SrsRANReader(gnb: gnb, config: config)
        var line = 0
        var start = 0
        var anyReport = false
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            line += 1
            defer { start = end + 1 }
            if bytes[start..<end].allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
            result.records += 1
            switch bytes.withUnsafeBytes({ reader.ingest(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }) {
            case .samples(let s): result.samples += s; anyReport = true
            case .ignored: anyReport = true
            case .invalid(let why):
                result.skipped += 1
                result.issues.append(TelemetryIssue(path: path, line: line, field: "report", reason: why))
            }
        }
        if !anyReport { result.fatal = TelemetryIssue(path: path, line: result.issues.first?.line, reason: "no srsRAN metrics report read") }
    }
}
