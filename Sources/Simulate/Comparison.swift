import Foundation
import Telemetry
import Windows

/// `nocturne simulate --compare-with DIR`: the distributions of the KPIs a normal simulated
/// day shows next to those of real data sets, each KPI from the real data that has it (MCS,
/// BLER, SNR from OAI gNB logs; CQI and throughput from UE traces; PRB use from PM files).
public enum Comparison {
    public struct Row: Sendable {
        public var kpi: String
        public var realSource: String
        public var real: [Double]
        public var simulated: [Double]
    }

    /// Periods untouched by any event, as the "normal" sample.
    static func normalPeriods(_ result: SimulationResult, _ scenario: Scenario) -> [CellPeriod] {
        result.periods.filter { p in
            !p.suspect && !scenario.events.contains { e in
                let s = scenario.start + Int64(e.start * 1e9), end = s + Int64(e.duration * 1e9)
                return (e.target == p.cell || e.target == p.gnb) && p.start < end && p.end > s
            }
        }
    }

    public static func rows(result: SimulationResult, scenario: Scenario, real directory: String,
                            mappings: [(path: String, mapping: KpiTableMapping)]) -> [Row] {
        var sources = TelemetrySources()
        sources.tableMappings = mappings
        var builder = CellWindowBuilder(windowLength: 10_000_000_000)
        var kinds: [String: String] = [:]
        let files = (FileManager.default.enumerator(atPath: directory)?.compactMap { $0 as? String } ?? []).sorted()
        for f in files {
            let path = directory + "/" + f
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
                  !f.hasSuffix(".pcap"), !f.hasSuffix(".pcapng"), let read = sources.read(path: path), read.fatal == nil else { continue }
            for s in read.samples {
                kinds[s.source] = kinds[s.source] ?? read.kind
                builder.add(s)
            }
        }
        let windows = builder.finish()
        func real(_ kpi: String, from source: String, where ok: (CellWindow) -> Bool = { _ in true }) -> [Double] {
            windows.filter { $0.source == source && ok($0) }.compactMap { $0[kpi] }
        }
        let busy: (CellWindow) -> Bool = { ($0["cell_thp_dl_mbps"] ?? 0) >= 1 || ($0["tb_dl"] ?? 0) >= 100 }
        let sim = normalPeriods(result, scenario)
        func simulated(_ f: (CellPeriod) -> Double?) -> [Double] { sim.compactMap(f) }
        func mean(_ counts: [Double], from first: Int) -> Double? {
            let n = counts.dropFirst(first).reduce(0, +)
            return n > 0 ? counts.enumerated().dropFirst(first).reduce(0) { $0 + Double($1.offset) * $1.element } / n : nil
        }
        return [
            Row(kpi: "prb_util_dl_pct", realSource: "PM files (pm-xml)", real: real("prb_util_dl_pct", from: "pm-xml"),
                simulated: simulated { $0.prbUtilDlPct }),
            Row(kpi: "mcs_dl_mean", realSource: "OAI gNB logs, windows with traffic", real: real("mcs_dl_mean", from: "oai-log", where: busy),
                simulated: simulated { mean($0.mcsCounts, from: 0) }),
            Row(kpi: "bler_dl_pct", realSource: "OAI gNB logs, windows with traffic", real: real("bler_dl_pct", from: "oai-log", where: busy),
                simulated: simulated { $0.tbDl > 0 ? 100 * $0.tbErrDl / $0.tbDl : nil }),
            Row(kpi: "pusch_sinr_db", realSource: "OAI gNB logs (UL SNR)", real: real("pusch_sinr_db", from: "oai-log"),
                simulated: simulated { $0.ulSamples > 0 ? $0.sinrSum / $0.ulSamples : nil }),
            Row(kpi: "cqi_mean", realSource: "UE traces (kpi-table)", real: real("cqi_mean", from: "kpi-table"),
                simulated: simulated { mean($0.cqiCounts, from: 1) }),
            Row(kpi: "ue_thp_dl_mbps", realSource: "UE traces (kpi-table)", real: real("ue_thp_dl_mbps", from: "kpi-table"),
                simulated: simulated { $0.ueThpDlMbps }),
        ]
    }

    static func quantile(_ v: [Double], _ p: Double) -> Double {
        let s = v.sorted()
        return s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
    }

    /// A Markdown report: p10 / p50 / p90 and the sample count of each side.
    public static func markdown(_ rows: [Row], scenario: Scenario, real directory: String) -> String {
        func cell(_ v: [Double]) -> String {
            guard !v.isEmpty else { return "– (0)" }
            return String(format: "%.1f / %.1f / %.1f (%d)", quantile(v, 0.1), quantile(v, 0.5), quantile(v, 0.9), v.count)
        }
        var md = "# Simulated `\(scenario.name)` (seed \(scenario.seed)) against the real data in `\(directory)`\n\n"
        md += "Simulated: the periods no event touches. Real: each KPI from the data set that has it.\n"
        md += "Values are p10 / p50 / p90 (samples).\n\n"
        md += "| KPI | real source | real | simulated |\n|---|---|---|---|\n"
        for r in rows { md += "| `\(r.kpi)` | \(r.realSource) | \(cell(r.real)) | \(cell(r.simulated)) |\n" }
        return md
    }
}
