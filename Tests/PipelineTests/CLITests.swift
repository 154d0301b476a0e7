import Foundation
import Testing

/// The command line's contract: exit codes, one-line errors, JSON for scripts, and a job that
/// drains and exits 0 on SIGINT.
@Suite("Command line", .enabled(if: CLI.binary != nil, "the nocturne executable is not built (swift build)"))
struct CLITests {
    @Test("usage errors exit 2 with a message that says what to do")
    func usage() throws {
        let none = try CLI.run([])
        #expect(none.status == 0 || none.status == 2)  // bare `nocturne` prints help
        let noPaths = try CLI.run(["analyze"])
        #expect(noPaths.status == 2 && noPaths.stderr.contains("give at least one file, directory or glob"))
        let window = try CLI.run(["analyze", "x.pcap", "--window", "soon"])
        #expect(window.status == 2 && window.stderr.contains("--window"))
        let detector = try CLI.run(["analyze", "x.pcap", "--detector", "model.gguf"])
        #expect(detector.status == 2)
    }

    @Test("an unreadable input exits 1 with one line naming it; readable ones are still analysed")
    func unreadable() throws {
        let out = TestPaths.temporaryDirectory()
        let n3 = TestPaths.fixtures.appendingPathComponent("captures/n3_example.pcap").path
        let r = try CLI.run(["analyze", "/nonexistent/a.pcap", n3, "--out", out, "--quiet"])
        #expect(r.status == 1)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("/nonexistent/a.pcap") && lines[0].contains("no such file"))
        #expect(FileManager.default.fileExists(atPath: out + "/conversations.jsonl"))
    }

    @Test("a live capture on an interface that does not exist exits 1 with one line")
    func noSuchInterface() throws {
        let r = try CLI.run(["analyze", "--interface", "nocturne-no-such0", "--out", TestPaths.temporaryDirectory()])
        #expect(r.status == 1)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("nocturne-no-such0"), "\(r.stderr)")
    }

    @Test("--format json gives one JSON document with the findings")
    func json() throws {
        let out = TestPaths.temporaryDirectory()
        let demo = TestPaths.fixtures.appendingPathComponent("captures/demo-n3-congestion.pcap").path
        let r = try CLI.run(["analyze", demo, "--out", out, "--format", "json", "--run-id", "r-cli"])
        #expect(r.status == 0)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(doc["run_id"] as? String == "r-cli" && doc["packets"] as? Int == 21065)
        #expect((doc["findings"] as? [[String: Any]])?.count == 1)
        // The database holds the same run and findings.
        if let sqlite = Tools.which("sqlite3") {
            let count = try Tools.run(sqlite, [out + "/nocturne.sqlite", """
                SELECT count(*) FROM findings; SELECT status, packets FROM runs;
                SELECT count(*), sum(ue_ip IS NOT NULL), sum(packets) FROM tunnels;
                """])
            // 12 PDU sessions × 2 directions, all tied; every G-PDU counted once.
            #expect(count == "1\ncomplete|21065\n24|24|20969\n")
        }
    }

    @Test("validate: ok for a good job, exit 2 with line and key for a bad one")
    func validate() throws {
        let good = try CLI.run(["validate", TestPaths.repository.appendingPathComponent("pipelines/live-n3.yaml").path])
        #expect(good.status == 0 && good.stdout.contains("ok"))
        let path = TestPaths.temporaryDirectory() + "/bad.yaml"
        try "name: x\nsource:\n  pcap: {paths: [a]}\nwindow: 10s\nsinkz: []\n".write(toFile: path, atomically: true, encoding: .utf8)
        let bad = try CLI.run(["validate", path])
        #expect(bad.status == 2 && bad.stderr.contains("\(path):5: sinkz: unknown key"))
    }

    @Test("a live job on loopback drains on SIGINT, writes its outputs and exits 0",
          .enabled(if: getuid() == 0, "live capture needs root"))
    func liveSIGINT() throws {
        let dir = TestPaths.temporaryDirectory()
        let job = dir + "/live.yaml"
        try """
            name: live-lo
            source:
              live: {interface: lo, filter: "udp port 2152", snaplen: 256}
            window: 1s
            sinks:
              - jsonl: {dir: \(dir)/out}
              - report: {path: \(dir)/out/report.md}
            """.write(toFile: job, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binary!)
        process.arguments = ["run", job, "--quiet"]
        process.standardOutput = Pipe()
        let err = Pipe()
        process.standardError = err
        try process.run()
        Thread.sleep(forTimeInterval: 1.5)
        // A few GTP-U datagrams to the loopback.
        let sender = LoopbackSender(port: 2152)
        for _ in 0..<5 { sender.send([0x30, 0xff, 0, 4, 0, 0, 0, 7, 0x45, 0, 0, 4]) }
        Thread.sleep(forTimeInterval: 0.5)
        process.interrupt()
        process.waitUntilExit()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(stderr)")
        let conversations = try String(contentsOfFile: dir + "/out/conversations.jsonl", encoding: .utf8)
        #expect(conversations.contains("\"src\":\"127.0.0.1\""))
        #expect(FileManager.default.fileExists(atPath: dir + "/out/report.md"))
    }
}

enum CLI {
    static var binary: String? {
        for configuration in ["debug", "release"] {
            let path = TestPaths.repository.appendingPathComponent(".build/\(configuration)/nocturne").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary!)
        process.arguments = arguments
        process.currentDirectoryURL = TestPaths.repository
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
