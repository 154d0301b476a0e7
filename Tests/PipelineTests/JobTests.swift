import Foundation
import Pipeline
import Testing

@Suite("Job files")
struct JobTests {
    func write(_ text: String) throws -> String {
        let path = TestPaths.temporaryDirectory() + "/job.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("the shipped jobs load")
    func shipped() throws {
        let cwd = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(TestPaths.repository.path)
        defer { FileManager.default.changeCurrentDirectoryPath(cwd) }
        for name in ["demo", "n3-nightly", "live-n3", "pm-nightly", "srsran-live"] {
            let job = try JobLoader.load(path: "pipelines/\(name).yaml")
            #expect(job.name == name && job.windowSeconds == 10 && job.sinks.count == 3)
        }
    }

    @Test("errors name the line and the key", arguments: [
        ("name: x\nsource:\n  pcap: {paths: [a.pcap]}\nwindow: 10s\nsinks:\n  - jsonl: {dir: o}\n  - parquet: {path: p}\n", 7, "sinks[1].parquet"),
        ("name: x\nsource:\n  pcap: {paths: [a.pcap], filtr: udp}\nsinks:\n  - jsonl: {dir: o}\n", 3, "source.pcap.filtr"),
        ("name: x\nsource:\n  pcap: {paths: [a.pcap]}\nwindow: ten\nsinks:\n  - jsonl: {dir: o}\n", 4, "window"),
        ("name: x\nsorce:\n  pcap: {paths: [a.pcap]}\n", 2, "sorce"),
        ("name: x\nsource:\n  live: {interface: eth0, snaplen: -5}\nsinks:\n  - jsonl: {dir: o}\n", 3, "source.live.snaplen"),
        ("name: x\nsource:\n  pcap: {paths: [a.pcap]}\ndetect: {detector: magic}\nsinks:\n  - jsonl: {dir: o}\n", 4, "detect.detector"),
    ])
    func errors(_ text: String, line: Int, key: String) throws {
        let path = try write(text)
        #expect {
            try JobLoader.load(path: path)
        } throws: { error in
            guard let e = error as? JobError else { return false }
            return e.line == line && e.key == key && e.description.hasPrefix("\(path):\(line): \(key): ")
        }
    }

    @Test("the documented rules file holds the built-in defaults; radio keys are checked")
    func rulesFile() throws {
        let rules = try JobLoader.loadRules(path: TestPaths.repository.appendingPathComponent("pipelines/rules/default.yaml").path)
        #expect(rules == RulesConfig())
        let path = try write("prb_saturation:\n  prb_util_pct: 85\nradio_episodes:\n  min_windows: 4\nuplink_interference:\n  ul_ni_rise: 6\n")
        #expect {
            try JobLoader.loadRules(path: path)
        } throws: { error in
            guard let e = error as? JobError else { return false }
            return e.line == 6 && e.key == "uplink_interference.ul_ni_rise"
        }
        let ok = try write("prb_saturation:\n  prb_util_pct: 85\nradio_episodes:\n  min_windows: 4\n")
        let loaded = try JobLoader.loadRules(path: ok)
        #expect(loaded.radio.prbUtilPct == 85 && loaded.radio.minWindows == 4 && loaded.radio.ulNiRiseDb == 6)
    }

    @Test("invalid YAML is reported with its line")
    func syntax() throws {
        let path = try write("name: x\nsource:\n  pcap: {paths: [a.pcap]\nsinks: [\n")
        #expect {
            try JobLoader.load(path: path)
        } throws: { error in
            (error as? JobError)?.line != nil && "\(error)".contains("invalid YAML")
        }
    }

    @Test("durations")
    func durations() {
        #expect(JobLoader.parseDuration("10s") == 10)
        #expect(JobLoader.parseDuration("500ms") == 0.5)
        #expect(JobLoader.parseDuration("1m") == 60)
        #expect(JobLoader.parseDuration("2h") == 7200)
        #expect(JobLoader.parseDuration("15") == 15)
        #expect(JobLoader.parseDuration("soon") == nil)
    }
}
