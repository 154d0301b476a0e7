import ArgumentParser
import Logging
import Pipeline

@main
struct Nocturne: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nocturne",
        abstract: "5G network analytics on the box next to the network.",
        discussion: """
            Reads user-plane captures (GTP-U, PFCP) and RAN telemetry (PM XML, srsRAN metrics,
            OAI logs, KPI tables), builds per-gNB, per-tunnel, per-flow and per-cell KPI windows and
            flags PRB saturation, low spectral efficiency, uplink interference and transport
            congestion. Start with:

              nocturne analyze capture.pcap pm/        files, folders or globs
              nocturne run pipelines/demo.yaml         a job file
              nocturne simulate pipelines/scenarios/smoke.yaml --out sim/
              nocturne slm generate --chat --prompt "…"   the in-process language model
            """,
        subcommands: [Analyze.self, Run.self, Validate.self, Simulate.self, Eval.self, SLMCommand.self])

    /// ArgumentParser exits 64 on usage errors; nocturne's contract says 2.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                printError(fullMessage(for: error))
                Foundation_exit(2)
            }
            exit(withError: error)
        }
    }
}

func bootstrapLogging(quiet: Bool) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = quiet ? .error : .warning
        return handler
    }
}
