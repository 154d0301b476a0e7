import Foundation
import Pipeline
import Testing

/// Bad input gets a clear, located error and loses nothing that could be read.
@Suite("Bad input")
struct InputErrorTests {
    static let n3 = TestPaths.fixtures.appendingPathComponent("captures/n3_example.pcap").path

    func analyze(_ paths: [String]) throws -> (Analysis.Outcome, String) {
        let dir = TestPaths.temporaryDirectory()
        var options = Analysis.Options()
        options.sinks = [.jsonl(directory: dir), .report(path: dir + "/report.md"), .sqlite(path: dir + "/nocturne.sqlite")]
        return (try Analysis(options: options).run(paths: paths), dir)
    }

    @Test("a missing file and a file that is not a capture are named; the rest is still read")
    func missingAndNotCapture() throws {
        let dir = TestPaths.temporaryDirectory()
        let text = dir + "/notes.txt"
        try "not a capture\n".write(toFile: text, atomically: true, encoding: .utf8)
        let (outcome, out) = try analyze([dir + "/nope.pcap", text, Self.n3])
        #expect(outcome.unreadable.contains(dir + "/nope.pcap"))
        #expect(outcome.unreadable.contains(text))
        let problems = Dictionary(uniqueKeysWithValues: outcome.summary.inputs.map { ($0.path, $0.problem ?? "") })
        #expect(problems[dir + "/nope.pcap"]?.contains("no such file") == true)
        #expect(problems[text]?.contains("not a capture and no telemetry format") == true)
        #expect(outcome.summary.totals.packets == 92)
        let report = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
        #expect(report.contains("nope.pcap") && report.contains("notes.txt"))
    }

    @Test("a truncated capture is read up to the cut, which is reported with its byte offset",
          arguments: [30_000, 50_001, 87_000])
    func truncated(at cut: Int) throws {
        let dir = TestPaths.temporaryDirectory()
        let path = dir + "/cut.pcap"
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.n3)))
        try Data(bytes[..<cut]).write(to: URL(fileURLWithPath: path))
        let (outcome, _) = try analyze([path])
        let input = try #require(outcome.summary.inputs.first { $0.path == path })
        #expect(input.problem?.contains("stopped at byte") == true, "\(input.problem ?? "nil")")
        #expect(outcome.unreadable.isEmpty, "a partly readable capture is not unreadable")
        // Every whole record before the cut is counted: the same number tshark reads.
        if let tshark = Tools.tshark {
            let n = try Tools.run(tshark, ["-n", "-r", path, "-T", "fields", "-e", "frame.number"]).split(separator: "\n").count
            #expect(outcome.summary.totals.packets == n)
        }
        #expect(outcome.summary.totals.packets == input.packets)
    }

    @Test("an unsupported link type is refused with its number")
    func linkType() throws {
        let dir = TestPaths.temporaryDirectory()
        let path = dir + "/user0.pcap"
        let file = PcapFile(header: PcapFile.header(linkType: 147), records: [.init(seconds: 1, fraction: 0, wireLength: 4, data: [1, 2, 3, 4])])
        try file.write(path)
        let (outcome, _) = try analyze([path])
        #expect(outcome.unreadable == [path])
        #expect(outcome.summary.inputs.first { $0.path == path }?.problem?.contains("unsupported link type 147") == true)
    }

    @Test("a damaged record header stops that file, not the run")
    func damagedRecord() throws {
        let dir = TestPaths.temporaryDirectory()
        var file = try PcapFile(path: Self.n3)
        let good = file.records.count
        var bytes = file.bytes
        // Record 10's captured length becomes huge: libpcap must refuse it, not read past.
        var o = 24
        for _ in 0..<10 { o += 16 + Int(UInt32(bytes[o + 8]) | UInt32(bytes[o + 9]) << 8 | UInt32(bytes[o + 10]) << 16) }
        bytes[o + 10] = 0x7f
        bytes[o + 11] = 0x7f
        let path = dir + "/damaged.pcap"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        file.records = []
        let (outcome, _) = try analyze([path, TestPaths.fixtures.appendingPathComponent("captures/oai.pcap").path])
        let input = try #require(outcome.summary.inputs.first { $0.path == path })
        #expect(input.packets == 10 && good == 92)
        #expect(input.problem?.contains("stopped at byte") == true)
        #expect(outcome.summary.totals.packets == 10 + 753)
    }

    @Test("an empty file and an empty directory")
    func empty() throws {
        let dir = TestPaths.temporaryDirectory()
        FileManager.default.createFile(atPath: dir + "/empty.pcap", contents: Data())
        let (outcome, _) = try analyze([dir + "/empty.pcap"])
        #expect(outcome.unreadable == [dir + "/empty.pcap"])
        let emptyDir = TestPaths.temporaryDirectory()
        let (none, _) = try analyze([emptyDir])
        #expect(none.summary.totals.packets == 0)
    }
}

/// Several files are one time-ordered stream: the merge gives the same windows, conversations,
/// tunnels and flows as the single file they were split from.
@Suite("Archives of several files")
struct MergeTests {
    @Test("a capture split into interleaved files analyses like the whole",
          arguments: ["oai.pcap", "n3_example.pcap"])
    func interleaved(_ name: String) throws {
        let original = TestPaths.fixtures.appendingPathComponent("captures/\(name)").path
        let whole = try PcapFile(path: original)
        let dir = TestPaths.temporaryDirectory()
        // Even records to one file, odd ones to another, and a third holding nothing but the header.
        var even = whole, odd = whole, none = whole
        even.records = whole.records.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        odd.records = whole.records.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        none.records = []
        try even.write(dir + "/b.pcap")
        try odd.write(dir + "/a.pcap")
        try none.write(dir + "/c.pcap")

        func rows(_ paths: [String]) throws -> [String: [String]] {
            let out = TestPaths.temporaryDirectory()
            var options = Analysis.Options()
            options.sinks = [.jsonl(directory: out)]
            _ = try Analysis(options: options).run(paths: paths)
            var all: [String: [String]] = [:]
            for kind in ["conversations", "tunnels", "flows", "gnbs"] {
                all[kind] = try String(contentsOfFile: out + "/\(kind).jsonl", encoding: .utf8)
                    .split(separator: "\n").map(String.init).sorted()
            }
            return all
        }
        let single = try rows([original])
        let merged = try rows([dir])
        for kind in ["conversations", "tunnels", "flows", "gnbs"] {
            #expect(merged[kind] == single[kind], "\(kind) differ between the merged archive and the single file")
        }
        #expect(!(single["flows"] ?? []).isEmpty)
    }

    @Test("globs, including ** for any depth")
    func globs() throws {
        let dir = TestPaths.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/site/day1", withIntermediateDirectories: true)
        let n3 = TestPaths.fixtures.appendingPathComponent("captures/n3_example.pcap").path
        try FileManager.default.copyItem(atPath: n3, toPath: dir + "/site/day1/x.pcap")
        try FileManager.default.copyItem(atPath: n3, toPath: dir + "/site/y.pcap")
        try "x".write(toFile: dir + "/site/notes.txt", atomically: true, encoding: .utf8)
        var options = Analysis.Options()
        options.sinks = []
        let deep = try Analysis(options: options).run(paths: [dir + "/site/**/*.pcap"])
        #expect(deep.summary.totals.packets == 2 * 92)
        let shallow = try Analysis(options: options).run(paths: [dir + "/site/*.pcap"])
        #expect(shallow.summary.totals.packets == 92)
        let nothing = try Analysis(options: options).run(paths: [dir + "/site/*.pcapng"])
        #expect(nothing.unreadable == [dir + "/site/*.pcapng"])
    }
}
