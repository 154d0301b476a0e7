import Foundation
import Telemetry

/// Fixture and shared-data locations (the shared folder is absent in a user's clone).
enum Paths {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let telemetry = repository.appendingPathComponent("fixtures/telemetry").path

    static var sharedData: String? {
        let url = repository.deletingLastPathComponent().appendingPathComponent("shared/data")
        return FileManager.default.fileExists(atPath: url.path) ? url.path : nil
    }

    static func temporaryFile(_ name: String, _ contents: String) -> String {
        let dir = NSTemporaryDirectory() + "nocturne-telemetry-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data(contents.utf8))
        return path
    }

    static func temporaryFile(_ name: String, bytes: [UInt8]) -> String {
        let dir = NSTemporaryDirectory() + "nocturne-telemetry-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }
}

enum Tool {
    static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

extension TelemetryRead {
    func sample(_ cell: String) -> CellSample? { samples.first { $0.cell.name == cell } }
}

/// ns since the epoch of an RFC 3339 text (test input only).
func ns(_ text: String) -> Int64 { TelemetryTime.parse(Substring(text))!.ns }
