import Foundation
import Pipeline
import Telemetry
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Live srsRAN metrics: datagrams on a UDP port (the CLI, stopped by SIGINT) and a WebSocket
/// server that this test plays, frame by frame, as RFC 6455 describes the server side.
@Suite("Live gNB metrics feeds")
struct MetricsFeedTests {
    static let fixture = TestPaths.fixtures.appendingPathComponent("telemetry/srsran/metrics-25.10-websocket.jsonl").path

    @Test("UDP datagrams read live until SIGINT: cell windows written, exit 0", .enabled(if: CLI.binary != nil))
    func udpListener() throws {
        let dir = TestPaths.temporaryDirectory()
        let port = UInt16.random(in: 40_000...60_000)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binary!)
        process.arguments = ["analyze", "--metrics-udp", "127.0.0.1:\(port)", "--window", "1s", "--out", dir + "/out", "--format", "json"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        Thread.sleep(forTimeInterval: 1.0)
        let sender = LoopbackSender(port: port)
        func send(_ text: String) { sender.send(Array(text.utf8)) }
        // Reports stamped with the wall clock, as a running gNB sends them.
        for i in 0..<6 {
            let now = Date().timeIntervalSince1970
            send(#"{"timestamp":\#(now),"ue_list":[{"ue_container":{"pci":7,"rnti":\#(100 + i),"cqi":11,"dl_mcs":20,"dl_brate":20000000.0,"dl_nof_ok":500,"dl_nof_nok":5,"dl_bs":10,"ul_brate":1000000.0,"ul_nof_ok":50,"ul_nof_nok":0,"bsr":0}}]}"#)
            Thread.sleep(forTimeInterval: 0.3)
        }
        send("not json")
        Thread.sleep(forTimeInterval: 0.5)
        process.interrupt()
        process.waitUntilExit()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(stderr)")
        let summary = try JSONSerialization.jsonObject(with: out.fileHandleForReading.readDataToEndOfFile()) as! [String: Any]
        let input = (summary["inputs"] as! [[String: Any]])[0]
        #expect(input["packets"] as? Int == 7)
        #expect((input["problem"] as? String)?.contains("1 of 7 reports unreadable") == true)
        let cells = try readJSONLines(dir + "/out/cells.jsonl")
        #expect(!cells.isEmpty && cells.allSatisfy { $0["cell"] as? String == "gnb-127.0.0.1/pci-7" })
        let tbs = cells.compactMap { $0["tb_dl"] as? Double }.reduce(0, +)
        #expect(tbs == 6 * 505)
    }

    @Test("the 25.10 WebSocket: handshake, subscription, fragmented and long messages, ping, close")
    func webSocket() throws {
        guard let sha1sum = Tools.which("sha1sum") else { Issue.record("sha1sum missing"); return }
        let reports = try String(contentsOfFile: Self.fixture, encoding: .utf8).split(separator: "\n").filter { $0.contains("\"cells\"") }
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        listen(listener, 1)
        let port = UInt16(bigEndian: address.sin_port)

        final class Log: @unchecked Sendable { var lines: [String] = [] }
        let log = Log()
        let server = Thread {
            let c = accept(listener, nil, nil)
            defer { close(c); close(listener) }
            func read(_ n: Int) -> [UInt8] {
                var out: [UInt8] = []
                var b = [UInt8](repeating: 0, count: 1)
                while out.count < n, recv(c, &b, 1, 0) == 1 { out.append(b[0]) }
                return out
            }
            func write(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { Glibc.send(c, $0.baseAddress, $0.count, 0) } }
            func frame(_ opcode: UInt8, fin: Bool = true, _ payload: [UInt8]) -> [UInt8] {
                var f: [UInt8] = [(fin ? 0x80 : 0) | opcode]
                if payload.count < 126 { f.append(UInt8(payload.count)) } else { f += [126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)] }
                return f + payload
            }
            /// A client frame: must be masked; returns (opcode, unmasked payload).
            func clientFrame() -> (UInt8, [UInt8], Bool) {
                let h = read(2)
                guard h.count == 2 else { return (0xff, [], false) }
                var n = Int(h[1] & 0x7f)
                if n == 126 { let e = read(2); n = Int(e[0]) << 8 | Int(e[1]) }
                let mask = read(4)
                let p = read(n).enumerated().map { $1 ^ mask[$0 % 4] }
                return (h[0] & 0x0f, p, h[1] & 0x80 != 0)
            }
            var request: [UInt8] = []
            while !request.suffix(4).elementsEqual([13, 10, 13, 10]) {
                let b = read(1)
                if b.isEmpty { return }
                request += b
            }
            let text = String(decoding: request, as: UTF8.self)
            log.lines.append(text.components(separatedBy: "\r\n")[0])
            let key = text.components(separatedBy: "\r\n").first { $0.hasPrefix("Sec-WebSocket-Key:") }!.dropFirst(18).trimmingCharacters(in: .whitespaces)
            // The accept key from an independent SHA-1 (coreutils).
            let file = TestPaths.temporaryDirectory() + "/key"
            try? (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").write(toFile: file, atomically: true, encoding: .utf8)
            let hex = (try? Tools.run(sha1sum, [file]))?.prefix(40) ?? ""
            let digest = stride(from: 0, to: hex.count, by: 2).map { UInt8(String(Array(hex)[$0...$0 + 1]), radix: 16)! }
            write(Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(Data(digest).base64EncodedString())\r\n\r\n".utf8))
            let (op, subscribe, masked) = clientFrame()
            log.lines.append("client \(op) masked=\(masked) \(String(decoding: subscribe, as: UTF8.self))")
            write(frame(1, Array(#"{"cmd":"metrics_subscribe","timestamp":"2026-11-29T05:00:00.000"}"#.utf8)))
            let first = Array(reports[0].utf8)
            write(frame(1, fin: false, Array(first[..<100])) + frame(0, Array(first[100...])))
            write(frame(9, Array("hi".utf8)))
            let (pongOp, pong, pongMasked) = clientFrame()
            log.lines.append("pong \(pongOp) masked=\(pongMasked) \(String(decoding: pong, as: UTF8.self))")
            write(frame(1, Array(reports[1].utf8)))
            write(frame(8, [0x03, 0xe8]))
            let (closeOp, _, _) = clientFrame()
            log.lines.append("close \(closeOp)")
        }
        server.start()

        let feed = try WebSocketMetricsClient(url: "ws://127.0.0.1:\(port)/")
        let dir = TestPaths.temporaryDirectory()
        var options = Analysis.Options()
        options.sinks = [.jsonl(directory: dir)]
        options.windowSeconds = 1
        let outcome = try Analysis(options: options).runMetrics(feed: feed, name: "ws://127.0.0.1:\(port)/")
        Thread.sleep(forTimeInterval: 0.2)
        #expect(log.lines.first == "GET / HTTP/1.1")
        #expect(log.lines.contains(#"client 1 masked=true {"cmd": "metrics_subscribe"}"#))
        #expect(log.lines.contains("pong 10 masked=true hi"))
        #expect(log.lines.contains("close 8"))
        // The command reply and the two reports; the feed ended cleanly.
        #expect(outcome.summary.inputs[0].packets == 3)
        #expect(outcome.summary.inputs[0].problem == nil)
        let cells = try readJSONLines(dir + "/cells.jsonl")
        #expect(cells.count == 2)
        #expect(cells.allSatisfy { $0["cell"] as? String == "gnb-127.0.0.1:\(port)/pci-1" && $0["prb_used_dl"] as? Double == 120 })
    }

    @Test("feeds that cannot open say why")
    func failures() {
        #expect(throws: FeedError.self) { try WebSocketMetricsClient(url: "http://127.0.0.1:1/") }
        #expect(throws: FeedError.self) { try WebSocketMetricsClient(url: "ws://127.0.0.1:1/") } // nothing listens on port 1
        #expect(throws: FeedError.self) { try UDPMetricsListener(address: "127.0.0.1:notaport") }
    }
}
