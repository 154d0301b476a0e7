import ArgumentParser
import Pipeline
import Telemetry

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a pipeline job (pipelines/JOB.yaml) until its input ends or Ctrl-C.",
        discussion: "SIGINT or SIGTERM drains the open window, writes every sink and exits 0.")

    @Argument(help: "The job file.")
    var job: String

    @Option(help: "Run id to use instead of one made from the clock.")
    var runID: String?

    @Option(help: "Output format on stdout: text or json.")
    var format: OutputFormat = .text

    @Flag(help: "No progress and no warnings on stderr.")
    var quiet = false

    func run() throws {
        bootstrapLogging(quiet: quiet)
        let loaded: Job
        do { loaded = try JobLoader.load(path: job) } catch {
            printError("nocturne: \(error)")
            throw ExitCode(2)
        }
        if !quiet { for w in loaded.warnings { printError("nocturne: \(job): \(w)") } }
        var options = Analysis.Options()
        options.windowSeconds = loaded.windowSeconds
        options.gtpPorts = loaded.gtpPorts
        options.gtpHeuristic = loaded.gtpHeuristic
        options.rules = loaded.rules
        options.sinks = loaded.sinks
        do {
            options.detectorModel = try DetectorChoice.resolve(loaded.detector)
        } catch {
            printError("nocturne: \(job): detect.detector: \(error)")
            throw ExitCode(2)
        }
        do {
            options.telemetry.tableMappings = try KpiTableMapping.loadAll(in: "pipelines/mappings")
        } catch {
            printError("nocturne: \(error)")
            throw ExitCode(2)
        }
        if let runID { options.runID = runID }
        options.progress = format == .json ? .off : Progress.automatic(quiet: quiet)
        let directory = loaded.sinks.compactMap { spec -> String? in
            if case .jsonl(let d) = spec { return d } else { return nil }
        }.first
        StopSignal.install()
        switch loaded.source {
        case .files(let paths, let filter):
            options.filter = filter
            try execute(options: options, directory: directory, format: format, quiet: quiet) { try $0.run(paths: paths) }
        case .metrics(let udp, let websocket):
            options.streamFindings = true
            try runMetricsFeed(udp: udp, websocket: websocket, options: options, directory: directory, format: format, quiet: quiet)
        case .live(let interface, let filter, let snap, let promiscuous):
            options.streamFindings = true
            try execute(options: options, directory: directory, format: format, quiet: quiet) {
                try $0.runLive(interface: interface, filter: filter, snapLength: snap, promiscuous: promiscuous)
            }
        }
    }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a job file: keys, values, rules file; prints what the job will do.")

    @Argument(help: "The job file.")
    var job: String

    func run() throws {
        let loaded: Job
        do { loaded = try JobLoader.load(path: job) } catch {
            printError("nocturne: \(error)")
            throw ExitCode(2)
        }
        switch loaded.source {
        case .files(let paths, let filter):
            print("\(job): ok: job \(loaded.name) reads \(paths.joined(separator: ", "))" + (filter.map { " with filter \"\($0)\"" } ?? ""))
        case .metrics(let udp, let websocket):
            print("\(job): ok: job \(loaded.name) reads srsRAN metrics " + (udp.map { "datagrams on \($0)" } ?? "from \(websocket ?? "")"))
        case .live(let interface, let filter, let snap, let promiscuous):
            print("\(job): ok: job \(loaded.name) captures on \(interface) (snaplen \(snap)\(promiscuous ? ", promiscuous" : ""))" + (filter.map { " with filter \"\($0)\"" } ?? ""))
        }
        do { _ = try DetectorChoice.resolve(loaded.detector) } catch {
            printError("nocturne: \(job): detect.detector: \(error)")
            throw ExitCode(2)
        }
        print("  window \(loaded.windowSeconds) s, detector \(loaded.detector), sinks: " + loaded.sinks.map { spec in
            switch spec {
            case .jsonl(let d): "jsonl \(d)"
            case .sqlite(let p): "sqlite \(p)"
            case .report(let p): "report \(p)"
            }
        }.joined(separator: ", "))
        for w in loaded.warnings { print("  note: \(w)") }
    }
}
