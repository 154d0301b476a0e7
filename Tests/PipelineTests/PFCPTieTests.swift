import Foundation
import Pipeline
import Testing

/// Tunnels tied to PFCP sessions must be exactly the GTP-U tunnels whose (address, TEID) the
/// N4 messages announced, as tshark's PFCP dissector reads them (F-TEID and Outer Header
/// Creation), and the UE IP must be one the N4 messages gave.
@Suite("PFCP ties GTP-U tunnels to sessions", .enabled(if: Tools.tshark != nil, "tshark is not installed"))
struct PFCPTieTests {
    static func tsharkPFCP(_ file: String) throws -> (tunnels: Set<String>, ueIPs: Set<String>) {
        let text = try Tools.run(Tools.tshark!, [
            "-n", "-r", file, "-Y", "pfcp", "-T", "fields", "-E", "separator=|",
            "-e", "pfcp.f_teid.teid", "-e", "pfcp.f_teid.ipv4_addr",
            "-e", "pfcp.outer_hdr_creation.teid", "-e", "pfcp.outer_hdr_creation.ipv4", "-e", "pfcp.ue_ip_addr_ipv4",
        ])
        var tunnels = Set<String>(), ues = Set<String>()
        func split(_ s: String) -> [String] { s.split(separator: ",").map(String.init) }
        func teid(_ s: String) -> UInt32? { UInt32(s.replacingOccurrences(of: "0x", with: ""), radix: 16) }
        for line in text.split(separator: "\n") {
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 5 else { continue }
            for (t, a) in zip(split(f[0]), split(f[1])) { if let t = teid(t) { tunnels.insert("\(a)|\(t)") } }
            for (t, a) in zip(split(f[2]), split(f[3])) { if let t = teid(t) { tunnels.insert("\(a)|\(t)") } }
            ues.formUnion(split(f[4]))
        }
        return (tunnels, ues)
    }

    static var capturesWithPFCP: [String] {
        (TestPaths.fixtureCaptures + TestPaths.sharedCaptures).filter {
            !$0.contains("demo-") && ((try? tsharkPFCP($0).tunnels.isEmpty) == false)
        }
    }

    @Test("tunnels tied exactly as N4 announced them", arguments: capturesWithPFCP)
    func ties(_ file: String) throws {
        let expected = try Self.tsharkPFCP(file)
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = Analysis.Options()
        options.sinks = [.jsonl(directory: dir)]
        _ = try Analysis(options: options).run(paths: [file])
        for row in try readJSONLines(dir + "/tunnels.jsonl") {
            let key = "\(row["dst"]!)|\(row["teid"]!)"
            if row["seid_cp"] != nil {
                #expect(expected.tunnels.contains(key), "\(file): \(key) tied but not announced by PFCP")
                if let ue = row["ue_ip"] as? String {
                    #expect(expected.ueIPs.contains(ue), "\(file): UE IP \(ue) not in PFCP")
                }
            } else {
                #expect(!expected.tunnels.contains(key), "\(file): \(key) announced by PFCP but not tied")
            }
        }
    }

    @Test("the bundled free5GC and OAI captures tie both directions of their session")
    func fixtures() throws {
        for name in ["free5gc.pcap", "oai.pcap"] {
            let dir = TestPaths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            var options = Analysis.Options()
            options.sinks = [.jsonl(directory: dir)]
            _ = try Analysis(options: options).run(paths: [TestPaths.fixtures.appendingPathComponent("captures/\(name)").path])
            let rows = try readJSONLines(dir + "/tunnels.jsonl")
            let directions = Set(rows.filter { $0["seid_up"] != nil }.compactMap { $0["direction"] as? String })
            #expect(directions == ["ul", "dl"], "\(name): \(directions)")
        }
    }
}
