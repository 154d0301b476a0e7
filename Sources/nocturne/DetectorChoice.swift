import ArgumentParser
import Detect
import Foundation

/// `--detector` and a job's `detect.detector`: `rules`, `bottleneck` (the bundled model) or a
/// model file. A model that this build cannot run is refused here, before any input is read.
enum DetectorChoice {
    static let bundled = "models/bottleneck/bottleneck.gguf"

    /// The model file to use, or nil for the rules.
    static func resolve(_ choice: String) throws -> String? {
        if choice == "rules" { return nil }
        let path = choice == "bottleneck" ? try bundledPath() : choice
        do { _ = try BottleneckModel(path: path) } catch {
            throw ValidationError("--detector \(choice): \(error)")
        }
        return path
    }

    /// The bundled model: beside the working directory (a checkout), else in the checkout or
    /// share/ folder the executable was built or installed into.
    static func bundledPath() throws -> String {
        var candidates = [bundled]
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        candidates.append(exe.appendingPathComponent("../../../" + bundled).standardized.path)
        candidates.append(exe.appendingPathComponent("../share/nocturne/bottleneck.gguf").standardized.path)
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw ValidationError("--detector bottleneck: the bundled model is not in \(candidates.joined(separator: ", ")); give its path, or --detector rules")
        }
        return found
    }
}
