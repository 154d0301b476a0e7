import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A pcap written as it grows: the telemetry datagrams of a long run.
final class TelemetryStream {
    private let handle: FileHandle
    private var buffer: [UInt8] = []

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        handle = h
        buffer = [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0]
    }

    func add(_ f: Packets.Frame) throws {
        Packets.append32(&buffer, UInt32(f.time / 1_000_000)); Packets.append32(&buffer, UInt32(f.time % 1_000_000))
        Packets.append32(&buffer, UInt32(f.bytes.count)); Packets.append32(&buffer, UInt32(f.wire))
        buffer += f.bytes
        if buffer.count > 1 << 20 { try flush() }
    }

    func flush() throws {
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    func close() throws {
        try flush()
        try handle.close()
    }
}

/// Writes a simulation's files: `pm/` (TS 32.435), `kpi.csv`, `labels.jsonl`, `scenario.json`,
/// and with a `capture:` section `capture.pcap` and `capture-flows.json` (what it holds per user).
public enum SimulationOutputs {
    public static func write(_ result: SimulationResult, scenario: Scenario, to directory: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory + "/pm", withIntermediateDirectories: true)
        // One PM file per site and period, as a gNB's OSS drop folder holds them.
        var bySite: [String: [Int64: [CellPeriod]]] = [:]
        for p in result.periods { bySite[p.gnb, default: [:]][p.start, default: []].append(p) }
        for site in scenario.sites {
            for (start, periods) in (bySite[site.name] ?? [:]).sorted(by: { $0.key < $1.key }) {
                let end = start + Int64(scenario.granularityS * 1e9)
                let name = "A\(fileTime(start, date: true))-\(fileTime(end, date: false))_\(site.name).xml"
                try write(pmFile(site: site, start: start, end: end, periods: periods), to: directory + "/pm/" + name)
            }
        }
        try write(kpiTable(result.periods), to: directory + "/kpi.csv")
        try write(result.labels.map(labelLine).joined(), to: directory + "/labels.jsonl")
        try write(scenarioJSON(scenario), to: directory + "/scenario.json")
        if let capture = scenario.capture {
            try CaptureWriter(scenario: scenario, capture: capture, result: result)
                .write(to: directory + "/capture.pcap", log: directory + "/capture-flows.json")
        }
    }

    static func write(_ text: String, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }

    /// RFC 3339 UTC with `Z`.
    static func time(_ ns: Int64) -> String {
        var t = time_t(ns / 1_000_000_000)
        var tm = tm()
        gmtime_r(&t, &tm)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)
    }

    /// TS 32.432 file-name time: `YYYYMMDD.HHMM+0000` (start) or `HHMM+0000` (end).
    static func fileTime(_ ns: Int64, date: Bool) -> String {
        var t = time_t(ns / 1_000_000_000)
        var tm = tm()
        gmtime_r(&t, &tm)
        let hm = String(format: "%02d%02d+0000", tm.tm_hour, tm.tm_min)
        return date ? String(format: "%04d%02d%02d.", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) + hm : hm
    }

    static func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(format: "%.4f", v)
    }

    /// The TS 28.552 counters of one site's cells for one period, `measTypes`/`measResults`
    /// layout, plus the vendor UL noise counter the default vendor mapping reads.
    static func pmFile(site: Scenario.Site, start: Int64, end: Int64, periods: [CellPeriod]) -> String {
        var types = ["RRU.PrbUsedDl", "RRU.PrbAvailDl", "RRU.PrbUsedUl", "RRU.PrbAvailUl", "DRB.UEThpDl", "DRB.UEThpUl",
                     "DRB.PdcpSduVolumeDL", "DRB.PdcpSduVolumeUL", "RRC.ConnMean", "DRB.MeanActiveUeDl",
                     "TB.TotNbrDl", "TB.ErrToltalNbrDl"]
        types += (1...15).map { "CARR.WBCQIDist.Bin\($0).Bin1.Bin1" }
        types += (0...28).map { "CARR.PDSCHMCSDist.Bin1.Bin1.Bin\($0)" }
        var x = """
        <?xml version="1.0" encoding="UTF-8"?>
        <measCollecFile xmlns="http://www.3gpp.org/ftp/specs/archive/32_series/32.435#measCollec">
          <fileHeader fileFormatVersion="32.435 V10.0" vendorName="nocturne simulator" dnPrefix="SubNetwork=Sim">
            <fileSender localDn="ManagedElement=\(site.name)" elementType="gNB"/>
            <measCollec beginTime="\(time(start))"/>
          </fileHeader>
          <measData>
            <managedElement localDn="ManagedElement=\(site.name)" swVersion="sim-1"/>
            <measInfo measInfoId="NRCellDU">
              <granPeriod duration="PT\((end - start) / 1_000_000_000)S" endTime="\(time(end))"/>
              <measTypes>\(types.joined(separator: " "))</measTypes>

        """
        for p in periods.sorted(by: { $0.cellID < $1.cellID }) {
            let s = max(p.seconds, 1)
            var values: [String] = [
                number(p.prbUsedDl / s), String(p.nRB), number(p.prbUsedUl / s), String(p.nRB),
                p.thpTimeDl > 0 ? number(p.thpVolDl / p.thpTimeDl / 1e3) : "NIL",
                p.thpTimeUl > 0 ? number(p.thpVolUl / p.thpTimeUl / 1e3) : "NIL",
                number(p.volumeDlBits / 1e6), number(p.volumeUlBits / 1e6), number(p.rrcSum / s), number(p.activeSum / s),
                number(p.tbDl), number(p.tbErrDl),
            ]
            values += (1...15).map { number(p.cqiCounts[$0]) }
            values += (0...28).map { number(p.mcsCounts[$0]) }
            x += "      <measValue measObjLdn=\"ManagedElement=\(site.name),GNBDUFunction=1,NRCellDU=\(p.cellID)\">"
            x += "<measResults>\(values.joined(separator: " "))</measResults>"
            if p.suspect { x += "<suspect>true</suspect>" }
            x += "</measValue>\n"
        }
        x += """
            </measInfo>
            <measInfo measInfoId="VS-UL">
              <granPeriod duration="PT\((end - start) / 1_000_000_000)S" endTime="\(time(end))"/>
              <measTypes>VS.UL.NI.Avg VS.PUSCH.SINR.Avg</measTypes>

        """
        for p in periods.sorted(by: { $0.cellID < $1.cellID }) where p.ulSamples > 0 {
            x += "      <measValue measObjLdn=\"ManagedElement=\(site.name),GNBDUFunction=1,NRCellDU=\(p.cellID)\">"
            x += "<measResults>\(String(format: "%.1f %.1f", p.niSum / p.ulSamples, p.sinrSum / p.ulSamples))</measResults></measValue>\n"
        }
        x += """
            </measInfo>
          </measData>
          <fileFooter><measCollec endTime="\(time(end))"/></fileFooter>
        </measCollecFile>

        """
        return x
    }

    /// The same KPIs as a table (read back with pipelines/mappings/nocturne-sim.yaml).
    static func kpiTable(_ periods: [CellPeriod]) -> String {
        var out = "period_end,gnb,cell,window_s,prb_used_dl,prb_avail_dl,prb_util_dl_pct,ue_thp_dl_mbps,cell_thp_dl_mbps,cqi_mean,mcs_dl_mean,bler_dl_pct,ul_ni_dbm_per_prb,pusch_sinr_db,rrc_conn_mean,active_ue_dl_mean,suspect\n"
        for p in periods {
            let s = max(p.seconds, 1)
            let cqiN = p.cqiCounts.dropFirst().reduce(0, +)
            let cqi = cqiN > 0 ? p.cqiCounts.enumerated().dropFirst().reduce(0) { $0 + Double($1.offset) * $1.element } / cqiN : nil
            let mcsN = p.mcsCounts.reduce(0, +)
            let mcs = mcsN > 0 ? p.mcsCounts.enumerated().reduce(0) { $0 + Double($1.offset) * $1.element } / mcsN : nil
            let fields: [String] = [
                time(p.end), p.gnb, "cell-\(p.cellID)", number((Double(p.end - p.start) / 1e9)),
                number(p.prbUsedDl / s), String(p.nRB), number(p.prbUtilDlPct),
                p.ueThpDlMbps.map(number) ?? "", number(p.cellThpDlMbps), cqi.map(number) ?? "", mcs.map(number) ?? "",
                p.tbDl > 0 ? number(100 * p.tbErrDl / p.tbDl) : "",
                p.ulSamples > 0 ? number(p.niSum / p.ulSamples) : "", p.ulSamples > 0 ? number(p.sinrSum / p.ulSamples) : "",
                number(p.rrcSum / s), number(p.activeSum / s), p.suspect ? "1" : "0",
            ]
            out += fields.joined(separator: ",") + "\n"
        }
        return out
    }

    static func json(_ object: Any) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static func labelLine(_ l: Label) -> String {
        var scope: [String: Any] = ["gnb": l.gnb]
        if let c = l.cell { scope["cell"] = c }
        if let a = l.gnbAddress { scope["gnb_address"] = a }
        var o: [String: Any] = ["episode": l.episode, "class": l.findingClass, "scope": scope, "start": time(l.start), "end": time(l.end),
                                "cause": l.cause, "severity": l.severity]
        o["direction"] = l.direction ?? NSNull()
        return json(o) + "\n"
    }

    static func scenarioJSON(_ s: Scenario) -> String {
        let sites: [[String: Any]] = s.sites.map { site in
            ["name": site.name, "address": site.address, "backhaul_mbps": site.backhaulMbps,
             "cells": site.cells.map { c in
                 ["id": c.id, "bandwidth_mhz": c.bandwidthMHz, "scs_khz": c.scsKHz, "n_rb": c.nRB, "dl_share": c.dlShare,
                  "ues": c.ues, "mimo_layers": c.layers, "busy_hour_load": c.busyHourLoad] as [String: Any]
             }]
        }
        let events: [[String: Any]] = s.events.map { e in
            ["type": e.kind.rawValue, "target": e.target, "start_s": e.start, "duration_s": e.duration, "magnitude": e.magnitude,
             "severity": e.severity]
        }
        return json(["name": s.name, "seed": s.seed, "start": time(s.start), "duration_s": s.durationS,
                     "pm_granularity_s": s.granularityS, "sites": sites, "events": events,
                     "traffic_mix": Dictionary(uniqueKeysWithValues: s.trafficMix.map { ($0.key.rawValue, $0.value) }),
                     "generator": "nocturne simulate"]) + "\n"
    }
}
