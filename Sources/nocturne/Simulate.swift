import ArgumentParser
import Foundation
import Simulate
import Telemetry

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulate a small 5G RAN from a scenario: PM files, a KPI table and the labelled episodes.",
        discussion: """
            SCENARIO is a YAML file (pipelines/scenarios/): sites with cells (bandwidth, SCS,
            duplex, users, busy-hour load) and events — demand_spike, neighbour_outage,
            coverage_hole, tilt_fault, interferer, backhaul_drop, and the benign busy_healthy,
            cell_restart and short_dip. The same scenario and seed give byte-identical files.

            Writes into --out: pm/ (TS 32.435, one file per site and period), kpi.csv,
            labels.jsonl (DESIGN.md's label schema) and scenario.json; with a capture: section
            also capture.pcap (PFCP sessions, GTP-U downloads of sampled users, echoes, srsRAN
            metrics datagrams) and capture-flows.json.
            """)

    @Argument(help: "The scenario file.")
    var scenario: String

    @Option(help: "Output directory.")
    var out: String

    @Option(help: "Seed instead of the scenario's.")
    var seed: UInt64?

    @Option(help: "Compare the simulated KPI distributions with the real data in this folder (writes comparison.md).")
    var compareWith: String?

    func run() throws {
        var loaded: Scenario
        do { loaded = try Scenario.load(path: scenario) } catch {
            printError("nocturne: \(error)")
            throw ExitCode(2)
        }
        if let seed { loaded.seed = seed }
        let result: SimulationResult
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            result = try Simulator(scenario: loaded).run(telemetryTo: loaded.telemetryUEsPerReport != nil ? out + "/telemetry.pcap" : nil)
            try SimulationOutputs.write(result, scenario: loaded, to: out)
        } catch {
            printError("nocturne: \(out): cannot write the outputs (\(error.localizedDescription))")
            throw ExitCode(1)
        }
        if let real = compareWith {
            let mappings = (try? KpiTableMapping.loadAll(in: "pipelines/mappings")) ?? []
            let report = Comparison.markdown(Comparison.rows(result: result, scenario: loaded, real: real, mappings: mappings),
                                             scenario: loaded, real: real)
            _ = FileManager.default.createFile(atPath: out + "/comparison.md", contents: Data(report.utf8))
            print(report)
        }
        let cells = loaded.sites.reduce(0) { $0 + $1.cells.count }
        print("nocturne simulate \(loaded.name): \(cells) cells, \(Int(loaded.durationS)) s, \(result.periods.count) cell periods, \(result.labels.count) labelled episodes")
        print("outputs: \(out)/ (pm/, kpi.csv, labels.jsonl, scenario.json\(loaded.capture != nil ? ", capture.pcap, capture-flows.json" : "")\(loaded.telemetryUEsPerReport != nil ? ", telemetry.pcap" : ""))")
    }
}
