import Foundation
import Pipeline
import Testing

/// `conversations.jsonl` and `tunnels.jsonl`, summed over windows, must equal what tshark
/// counts for the same packets (DESIGN.md). tshark is run with IP reassembly off, since
/// nocturne counts fragments without reassembling them.
@Suite("Agreement with tshark", .enabled(if: Tools.tshark != nil, "tshark is not installed (make test installs it)"))
struct TsharkAgreementTests {
    struct Counts: Equatable, CustomStringConvertible {
        var packets = 0
        var bytes = 0
        var description: String { "\(packets) pkts/\(bytes) B" }
    }

    /// tshark's view: per directional outer IP pair, and per (outer dst, TEID) for G-PDUs and
    /// End Markers on the GTP-U port.
    static func tsharkCounts(_ file: String) throws -> (conversations: [String: Counts], tunnels: [String: Counts]) {
        let text = try Tools.run(Tools.tshark!, [
            "-n", "-r", file, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
            "-T", "fields", "-E", "occurrence=f", "-E", "separator=|",
            "-e", "frame.protocols", "-e", "frame.len", "-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src", "-e", "ipv6.dst",
            "-e", "udp.srcport", "-e", "udp.dstport", "-e", "gtp.message", "-e", "gtp.teid",
        ])
        var conversations: [String: Counts] = [:]
        var tunnels: [String: Counts] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 10, let length = Int(f[1]) else { continue }
            // The outer IP is whichever of ip/ipv6 comes first in the protocol stack.
            let layers = f[0].split(separator: ":")
            guard let outer = layers.firstIndex(where: { $0 == "ip" || $0 == "ipv6" }) else { continue }
            let v6 = layers[outer] == "ipv6"
            let src = v6 ? f[4] : f[2], dst = v6 ? f[5] : f[3]
            guard !src.isEmpty, !dst.isEmpty else { continue }
            conversations["\(src)>\(dst)", default: Counts()].packets += 1
            conversations["\(src)>\(dst)", default: Counts()].bytes += length
            // GTP-U right above the outer UDP on port 2152.
            let gtpIndex = layers.firstIndex(of: "gtp")
            if let g = gtpIndex, g == outer + 2, layers[outer + 1] == "udp", f[6] == "2152" || f[7] == "2152",
               let type = Int(f[8].replacingOccurrences(of: "0x", with: ""), radix: f[8].hasPrefix("0x") ? 16 : 10),
               type == 0xff || type == 0xfe, !f[9].isEmpty,
               let teid = UInt32(f[9].replacingOccurrences(of: "0x", with: ""), radix: f[9].hasPrefix("0x") ? 16 : 10) {
                tunnels["\(dst)|\(teid)", default: Counts()].packets += 1
                tunnels["\(dst)|\(teid)", default: Counts()].bytes += length
            }
        }
        return (conversations, tunnels)
    }

    static func nocturneCounts(_ file: String) throws -> (conversations: [String: Counts], tunnels: [String: Counts]) {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = Analysis.Options()
        options.sinks = [.jsonl(directory: dir)]
        options.runID = "r-test"
        _ = try Analysis(options: options).run(paths: [file])
        var conversations: [String: Counts] = [:]
        for row in try readJSONLines(dir + "/conversations.jsonl") {
            let key = "\(row["src"]!)>\(row["dst"]!)"
            conversations[key, default: Counts()].packets += row["packets"] as! Int
            conversations[key, default: Counts()].bytes += row["bytes"] as! Int
        }
        var tunnels: [String: Counts] = [:]
        for row in try readJSONLines(dir + "/tunnels.jsonl") {
            let key = "\(row["dst"]!)|\(row["teid"]!)"
            tunnels[key, default: Counts()].packets += row["packets"] as! Int
            tunnels[key, default: Counts()].bytes += row["bytes"] as! Int
        }
        return (conversations, tunnels)
    }

    static func compare(_ file: String) throws {
        let expected = try tsharkCounts(file)
        let actual = try nocturneCounts(file)
        #expect(!expected.conversations.isEmpty, "tshark saw no IP conversations in \(file)")
        for (key, want) in expected.conversations where actual.conversations[key] != want {
            Issue.record("\(file): conversation \(key): tshark \(want), nocturne \(actual.conversations[key]?.description ?? "absent")")
        }
        for key in actual.conversations.keys where expected.conversations[key] == nil {
            Issue.record("\(file): conversation \(key) not seen by tshark")
        }
        for (key, want) in expected.tunnels where actual.tunnels[key] != want {
            Issue.record("\(file): tunnel \(key): tshark \(want), nocturne \(actual.tunnels[key]?.description ?? "absent")")
        }
        for key in actual.tunnels.keys where expected.tunnels[key] == nil {
            Issue.record("\(file): tunnel \(key) not seen by tshark")
        }
    }

    @Test("fixture captures", arguments: TestPaths.fixtureCaptures)
    func fixture(_ file: String) throws {
        try Self.compare(file)
    }

    /// The benchmark's traffic (VLAN tags, IPv6 UEs, QFIs, GTP-U sequence numbers), made by the
    /// anchors' own generator: the N3 fast path decodes nearly all of it.
    @Test("a capture from ../shared/bench/pcap's generator (skipped without ../shared or cc)",
          .enabled(if: TestPaths.shared != nil && Tools.which("cc") != nil, "needs ../shared and a C compiler"))
    func benchGenerator() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = TestPaths.shared!.appendingPathComponent("bench/pcap/gen_gtpu.c").path
        _ = try Tools.run(Tools.which("cc")!, ["-O2", "-o", dir + "/gen_gtpu", source])
        _ = try Tools.run(dir + "/gen_gtpu", ["--packets", "30000", "--seed", "5", "--pps", "5000", "--out", dir + "/gen.pcap"])
        try Self.compare(dir + "/gen.pcap")
    }

    @Test("every capture in ../shared/data (skipped without ../shared)",
          .enabled(if: TestPaths.shared != nil, "../shared is absent (a user's clone)"),
          arguments: TestPaths.sharedCaptures)
    func shared(_ file: String) throws {
        try Self.compare(file)
    }
}
