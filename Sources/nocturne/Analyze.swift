import ArgumentParser
import Foundation
import Pipeline
import Sinks
import Telemetry

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Analyse captures and RAN telemetry: decode, window, detect, write findings and a report.",
        discussion: """
            PATH may be a file, a directory (read recursively) or a quoted glob such as
            'archive/n3/*.pcapng' or 'pm/**/*.xml.gz'. Inputs are recognised by their content:
              - pcap/pcapng captures (several files are one time-ordered stream; srsRAN metrics
                datagrams inside them, UDP to --metrics-port, are read too);
              - TS 32.435 / TS 28.532 PM XML files, plain or gzip;
              - srsRAN gNB metrics JSON (UDP datagram or WebSocket reports, one per line);
              - OpenAirInterface gNB logs or nrMAC_stats.log (placed in time from --start or
                an iPerf JSON beside the log);
              - KPI tables (CSV or JSON Lines) that a mapping file describes (--mapping; the
                files in pipelines/mappings/ are tried when present).

            Writes findings.jsonl, cells.jsonl, conversations.jsonl, tunnels.jsonl, flows.jsonl,
            gnbs.jsonl, report.md and nocturne.sqlite into --out (default nocturne-out/<run-id>/).

            Exit status: 0 done (findings or not), 1 an input could not be read at all,
            2 usage or configuration error.
            """)

    @Argument(help: "Capture files, directories or glob patterns.")
    var paths: [String] = []

    @Option(name: .long, help: "Output directory (default: nocturne-out/<run-id>).")
    var out: String?

    @Option(help: "Window length, e.g. 10s, 1m, 500ms.")
    var window: String = "10s"

    @Option(help: ArgumentHelp("Radio detector: bottleneck (the bundled model), rules, or a model file.",
                               discussion: "bottleneck is models/bottleneck/bottleneck.gguf; transport congestion is always judged by its rule on the user plane."))
    var detector: String = "bottleneck"

    @Option(help: "Rules file with thresholds (default: built-in, as pipelines/rules/default.yaml).")
    var rules: String?

    @Option(help: "BPF filter applied while reading, e.g. \"udp port 2152 or udp port 8805\".")
    var filter: String?

    @Option(name: .customLong("gtp-port"), help: "Extra UDP port carrying GTP-U (repeatable; 2152 is always on).")
    var gtpPorts: [UInt16] = []

    @Flag(help: "Also recognise GTP-U G-PDUs on any UDP port by their shape.")
    var gtpHeuristic = false

    @Option(help: "Capture live from this interface instead of reading files (stop with Ctrl-C).")
    var interface: String?

    @Option(help: "Read srsRAN metrics datagrams live on this UDP address, e.g. 0.0.0.0:55555 (stop with Ctrl-C).")
    var metricsUdp: String?

    @Option(help: "Read srsRAN metrics live from its WebSocket server, e.g. ws://127.0.0.1:8001 (srsRAN 25.10+).")
    var metricsWs: String?

    @Option(help: "Snap length for live capture, in bytes.")
    var snaplen: Int32 = 262_144

    @Flag(help: "Put the interface in promiscuous mode for live capture.")
    var promiscuous = false

    @Option(help: "Start time of logs that carry none (OAI), RFC 3339, e.g. 2026-11-29T05:00:00Z.")
    var start: String?

    @Option(name: .customLong("mapping"), help: "KPI-table mapping file (repeatable); see docs/telemetry.md.")
    var mappings: [String] = []

    @Option(help: "Vendor-counter mapping file adding to the built-in one; see docs/telemetry.md.")
    var vendorMapping: String?

    @Option(help: "Carrier bandwidth in MHz of cells whose data does not say (for N_RB, SE and peak rate).")
    var bandwidthMhz: Double?

    @Option(help: "Subcarrier spacing in kHz of cells whose data does not say (15, 30, 60, 120).")
    var scsKhz: Int?

    @Option(help: "UDP port of srsRAN metrics datagrams inside captures.")
    var metricsPort: UInt16 = 55555

    @Option(help: "Run id to use instead of one made from the clock.")
    var runID: String?

    @Option(help: "Output format on stdout: text or json (for scripts).")
    var format: OutputFormat = .text

    @Flag(help: "No progress and no warnings on stderr.")
    var quiet = false

    func validate() throws {
        let live = [interface, metricsUdp, metricsWs].compactMap { $0 }.count
        if paths.isEmpty && live == 0 {
            throw ValidationError("give at least one file, directory or glob, or --interface IF, --metrics-udp ADDR or --metrics-ws URL")
        }
        if (!paths.isEmpty && live > 0) || live > 1 {
            throw ValidationError("give paths or one live source (--interface, --metrics-udp, --metrics-ws), not several")
        }
        if let w = metricsWs, !w.hasPrefix("ws://") {
            throw ValidationError("--metrics-ws \(w): expected ws://host:port[/path]")
        }
        guard let seconds = JobLoader.parseDuration(window), seconds > 0 else {
            throw ValidationError("--window \(window): not a duration; write e.g. 10s, 1m or 500ms")
        }
        _ = seconds
        if let start, TelemetryTime.parse(Substring(start)) == nil {
            throw ValidationError("--start \(start): not a date and time; write e.g. 2026-11-29T05:00:00Z")
        }
        if let scsKhz, ![15, 30, 60, 120].contains(scsKhz) {
            throw ValidationError("--scs-khz \(scsKhz): NR subcarrier spacing is 15, 30, 60 or 120 kHz")
        }
        _ = try DetectorChoice.resolve(detector)
    }

    func run() throws {
        bootstrapLogging(quiet: quiet)
        var options = Analysis.Options()
        options.windowSeconds = JobLoader.parseDuration(window)!
        options.filter = filter
        options.gtpPorts = [2152] + gtpPorts.filter { $0 != 2152 }
        options.gtpHeuristic = gtpHeuristic
        options.detectorModel = try DetectorChoice.resolve(detector)
        if let rules {
            do { options.rules = try JobLoader.loadRules(path: rules) } catch {
                printError("nocturne: \(error)")
                throw ExitCode(2)
            }
        }
        do {
            options.telemetry = try telemetrySources()
        } catch {
            printError("nocturne: \(error)")
            throw ExitCode(2)
        }
        options.metricsPort = metricsPort
        if let runID { options.runID = runID }
        let directory = out ?? "nocturne-out/\(options.runID)"
        options.sinks = [.jsonl(directory: directory), .sqlite(path: directory + "/nocturne.sqlite"),
                         .report(path: directory + "/report.md")]
        options.progress = format == .json ? .off : Progress.automatic(quiet: quiet)
        options.streamFindings = interface != nil || metricsUdp != nil || metricsWs != nil
        StopSignal.install()
        if metricsUdp != nil || metricsWs != nil {
            return try runMetricsFeed(udp: metricsUdp, websocket: metricsWs, options: options, directory: directory, format: format, quiet: quiet)
        }
        try execute(options: options, directory: directory, format: format, quiet: quiet) { analysis in
            if let interface {
                return try analysis.runLive(interface: interface, filter: filter, snapLength: snaplen, promiscuous: promiscuous)
            }
            return try analysis.run(paths: paths)
        }
    }
}

extension Analyze {
    /// Mappings and cell configuration from the options; the shipped mappings when none is named.
    func telemetrySources() throws -> TelemetrySources {
        var t = TelemetrySources()
        t.start = start.flatMap { TelemetryTime.parse(Substring($0))?.ns }
        if mappings.isEmpty {
            t.tableMappings = try KpiTableMapping.loadAll(in: "pipelines/mappings")
        } else {
            for f in mappings { t.tableMappings.append((f, try KpiTableMapping.load(path: f))) }
        }
        if let v = vendorMapping {
            guard let text = try? String(contentsOfFile: v, encoding: .utf8) else {
                throw TelemetryIssue(path: v, line: nil, reason: "cannot read the vendor mapping")
            }
            t.vendorMapping = VendorMapping.default.merged(with: try VendorMapping.parse(text, path: v))
        }
        if let bw = bandwidthMhz { t.cellConfig.bwMHz = bw }
        if let scs = scsKhz { t.cellConfig.scsKHz = scs }
        if let bw = bandwidthMhz, let scs = scsKhz { t.cellConfig.nRB = CarrierTables.nRB(bandwidthMHz: bw, scsKHz: scs) }
        return t
    }
}

/// Opens a live srsRAN metrics feed and reads it; a feed that cannot be opened is exit 1.
func runMetricsFeed(udp: String?, websocket: String?, options: Analysis.Options, directory: String?, format: OutputFormat,
                    quiet: Bool) throws {
    let feed: MetricsFeed
    do {
        if let udp { feed = try UDPMetricsListener(address: udp) } else { feed = try WebSocketMetricsClient(url: websocket ?? "") }
    } catch {
        printError("nocturne: \(error)")
        throw ExitCode(1)
    }
    try execute(options: options, directory: directory, format: format, quiet: quiet) {
        try $0.runMetrics(feed: feed, name: udp.map { "udp://\($0)" } ?? websocket ?? "")
    }
}

/// Runs an analysis, prints its outcome and maps failures to the exit codes of the contract.
func execute(options: Analysis.Options, directory: String?, format: OutputFormat, quiet: Bool,
             _ body: (Analysis) throws -> Analysis.Outcome) throws {
    let outcome: Analysis.Outcome
    do {
        outcome = try body(Analysis(options: options))
    } catch {
        printError("nocturne: \(error)")
        throw ExitCode(1)
    }
    for input in outcome.summary.inputs {
        if let problem = input.problem, !quiet || outcome.unreadable.contains(input.path) {
            printError("nocturne: \(input.path): \(problem)")
        }
    }
    switch format {
    case .text: printText(outcome.summary, directory: directory)
    case .json: printJSON(outcome.summary, directory: directory)
    }
    if !outcome.unreadable.isEmpty { throw ExitCode(1) }
}

func printText(_ s: RunSummary, directory: String?) {
    let t = s.totals
    let read = s.inputs.filter { $0.kind != "missing" && $0.kind != "empty" && $0.packets > 0 }.count
    print("nocturne \(s.runID): \(read) input\(read == 1 ? "" : "s") read, \(t.packets) packets, \(t.bytes) bytes, "
          + "\(t.windows) windows of \(Int(s.windowSeconds)) s, \(t.gtpGPDUs) GTP-U G-PDUs, \(s.sessions) PFCP sessions, "
          + "\(t.malformed) malformed" + (s.interrupted ? " (interrupted)" : ""))
    if !s.cells.isEmpty {
        print("cells: \(s.cells.count) from RAN telemetry, \(s.cells.reduce(0) { $0 + $1.windows }) cell windows")
    }
    print("findings: \(s.findings.count)")
    for f in s.findings {
        let scope = f.scope.cell ?? f.scope.gnb ?? f.scope.gnbAddress ?? "?"
        print("  \(f.id) \(f.findingClass.rawValue) \(scope) \(RFC3339.format(f.start)) – \(f.end.map(RFC3339.format) ?? "open") \(f.severity.rawValue) score \(String(format2(f.score)))")
        print("    \(f.summary)")
    }
    if let directory {
        print("report: \(directory)/report.md")
        print("outputs: \(directory)/ (findings.jsonl, cells.jsonl, conversations.jsonl, tunnels.jsonl, flows.jsonl, gnbs.jsonl, nocturne.sqlite)")
    }
}

func printJSON(_ s: RunSummary, directory: String?) {
    var line = JSONLine()
    line.open()
    line.field("run_id", s.runID)
    line.field("output_dir", directory)
    line.field("interrupted", s.interrupted)
    line.field("packets", s.totals.packets)
    line.field("bytes", s.totals.bytes)
    line.field("windows", s.totals.windows)
    line.field("gtpu_gpdus", s.totals.gtpGPDUs)
    line.field("pfcp_sessions", s.sessions)
    line.field("malformed", s.totals.malformed)
    line.field("inputs") { a in
        a.appendRaw("[")
        for (i, input) in s.inputs.enumerated() {
            if i > 0 { a.appendRaw(",") }
            a.open()
            a.field("path", input.path); a.field("kind", input.kind); a.field("packets", input.packets)
            a.field("problem", input.problem)
            a.close()
        }
        a.appendRaw("]")
    }
    line.field("findings") { a in
        a.appendRaw("[")
        for (i, f) in s.findings.enumerated() {
            if i > 0 { a.appendRaw(",") }
            var one = JSONLine()
            FindingJSON.append(f, to: &one)
            a.appendRaw(String(decoding: one.bytes.dropLast(), as: UTF8.self))
        }
        a.appendRaw("]")
    }
    line.close()
    print(String(decoding: line.bytes, as: UTF8.self))
}

func format2(_ v: Double) -> String {
    String((v * 100).rounded() / 100)
}
