import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A live stream of gNB metrics reports: srsRAN's JSON datagrams on a UDP port (24.04–25.04)
/// or its WebSocket remote-control server (25.10 and later).
public protocol MetricsFeed: AnyObject {
    /// Waits up to `timeoutMs` for the next report.
    func next(timeoutMs: Int32) -> MetricsFeedEvent
    func close()
}

public enum MetricsFeedEvent: Equatable {
    /// One JSON report; `source` names the sender (the datagram's address, or the server).
    case report(bytes: [UInt8], source: String)
    case timeout
    /// The feed ended (the server closed the connection); the reason when it was not clean.
    case ended(String?)
}

public struct FeedError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}

/// `host:port` → an IPv4/IPv6 socket address through getaddrinfo.
func resolve(_ host: String, _ port: UInt16, type: Int32) throws(FeedError) -> (family: Int32, address: [UInt8]) {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = type
    var list: UnsafeMutablePointer<addrinfo>?
    let rc = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &list)
    guard rc == 0, let first = list else {
        throw FeedError("\(host):\(port): cannot resolve (\(String(cString: gai_strerror(rc))))")
    }
    defer { freeaddrinfo(list) }
    let bytes = [UInt8](UnsafeRawBufferPointer(start: first.pointee.ai_addr, count: Int(first.pointee.ai_addrlen)))
    return (first.pointee.ai_family, bytes)
}

/// Splits `host:port` (IPv6 in brackets) with a default port.
func hostPort(_ text: String, defaultPort: UInt16) throws(FeedError) -> (String, UInt16) {
    if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
        let host = String(text[text.index(after: text.startIndex)..<close])
        let rest = text[text.index(after: close)...]
        guard rest.isEmpty || rest.hasPrefix(":") else { throw FeedError("\(text): expected [address]:port") }
        guard let port = rest.isEmpty ? defaultPort : UInt16(rest.dropFirst()) else { throw FeedError("\(text): bad port") }
        return (host, port)
    }
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count <= 2 else { throw FeedError("\(text): put an IPv6 address in brackets, e.g. [::1]:55555") }
    guard let port = parts.count == 2 ? UInt16(parts[1]) : defaultPort else { throw FeedError("\(text): bad port") }
    return (String(parts[0]), port)
}

/// srsRAN 24.04–25.04 metrics datagrams (`metrics: addr/port`, default 127.0.0.1:55555).
public final class UDPMetricsListener: MetricsFeed {
    private var fd: Int32
    /// The port actually bound (useful with port 0).
    public let port: UInt16
    private var buffer = [UInt8](repeating: 0, count: 65_536)

    /// Listens on `address`, `host:port` or `:port` (all interfaces).
    public init(address: String) throws(FeedError) {
        let (host, port) = try hostPort(address, defaultPort: 55555)
        let (family, sockaddr) = try resolve(host.isEmpty ? "0.0.0.0" : host, port, type: Int32(SOCK_DGRAM.rawValue))
        let socketFD = socket(family, Int32(SOCK_DGRAM.rawValue), 0)
        guard socketFD >= 0 else { throw FeedError("\(address): cannot open a UDP socket (\(String(cString: strerror(errno))))") }
        let bound = sockaddr.withUnsafeBytes { bind(socketFD, $0.baseAddress!.assumingMemoryBound(to: Glibc.sockaddr.self), socklen_t($0.count)) }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(socketFD)
            throw FeedError("\(address): cannot listen (\(reason))")
        }
        var local = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &local) { $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &length) } }
        fd = socketFD
        // sin_port and sin6_port sit at the same offset, in network order.
        self.port = withUnsafeBytes(of: local) { raw in UInt16(raw[2]) << 8 | UInt16(raw[3]) }
    }

    public func next(timeoutMs: Int32) -> MetricsFeedEvent {
        guard fd >= 0 else { return .ended(nil) }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&p, 1, timeoutMs)
        guard ready > 0 else { return .timeout }
        var from = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let n = buffer.withUnsafeMutableBytes { b in
            withUnsafeMutablePointer(to: &from) {
                $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { recvfrom(fd, b.baseAddress, b.count, 0, $0, &length) }
            }
        }
        guard n > 0 else { return .timeout }
        return .report(bytes: Array(buffer[..<n]), source: Self.text(from))
    }

    static func text(_ a: sockaddr_storage) -> String {
        var a = a
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let rc = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) {
                getnameinfo($0, socklen_t(MemoryLayout<sockaddr_storage>.size), &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST)
            }
        }
        return rc == 0 ? String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown"
    }

    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    deinit { close() }
}

/// srsRAN 25.10+ remote-control WebSocket (`remote_control: {enabled: true, port: 8001}`):
/// connects, subscribes with `{"cmd": "metrics_subscribe"}` and yields each text message.
/// RFC 6455 client side: masked frames out, fragmented messages joined, pings answered.
public final class WebSocketMetricsClient: MetricsFeed {
    private var fd: Int32 = -1
    private var inbox: [UInt8] = []
    private var message: [UInt8] = []
    private var inMessage = false
    private let source: String
    /// Messages larger than this end the feed (a report is a few kB).
    static let maxMessage = 16 << 20

    /// `ws://host:port/path` (plain WebSocket; srsRAN binds to a local address).
    public init(url: String) throws(FeedError) {
        guard url.hasPrefix("ws://") else { throw FeedError("\(url): expected ws://host:port[/path]") }
        let rest = url.dropFirst(5)
        let authority = String(rest.prefix { $0 != "/" })
        let path = rest.dropFirst(authority.count).isEmpty ? "/" : String(rest.dropFirst(authority.count))
        let (host, port) = try hostPort(authority, defaultPort: 80)
        source = authority
        let (family, address) = try resolve(host, port, type: Int32(SOCK_STREAM.rawValue))
        fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FeedError("\(url): cannot open a socket (\(String(cString: strerror(errno))))") }
        let connected = address.withUnsafeBytes { connect(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count)) }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            close()
            throw FeedError("\(url): cannot connect (\(reason))")
        }
        var keyBytes = [UInt8](repeating: 0, count: 16)
        for i in keyBytes.indices { keyBytes[i] = UInt8.random(in: 0...255) }
        let key = Data(keyBytes).base64EncodedString()
        let request = "GET \(path) HTTP/1.1\r\nHost: \(authority)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n"
        guard send(Array(request.utf8)) else { close(); throw FeedError("\(url): connection lost during the handshake") }
        // The response head, up to the blank line; what follows it is already frame data.
        var head: [UInt8] = []
        while true {
            guard let end = Self.headEnd(inbox) else {
                guard receive(timeoutMs: 5000), inbox.count < 65_536 else { close(); throw FeedError("\(url): no WebSocket handshake reply") }
                continue
            }
            head = Array(inbox[..<end])
            inbox.removeFirst(end + 4)
            break
        }
        let text = String(decoding: head, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        guard let status = lines.first, status.split(separator: " ").dropFirst().first == "101" else {
            close()
            throw FeedError("\(url): the server refused the WebSocket upgrade (\(lines.first ?? ""))")
        }
        func header(_ name: String) -> String? {
            lines.first { $0.lowercased().hasPrefix(name + ":") }?.split(separator: ":", maxSplits: 1).last?
                .trimmingCharacters(in: .whitespaces)
        }
        // RFC 6455 §4.1: the client fails the connection unless the reply upgrades to websocket
        // and proves it read our key.
        let expected = Data(SHA1.digest(Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))).base64EncodedString()
        guard header("upgrade")?.lowercased() == "websocket",
              header("connection")?.lowercased().split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == "upgrade" }) == true
        else { close(); throw FeedError("\(url): the reply does not upgrade the connection to websocket") }
        guard header("sec-websocket-accept") == expected else { close(); throw FeedError("\(url): wrong Sec-WebSocket-Accept in the reply") }
        guard sendFrame(opcode: 1, Array(#"{"cmd": "metrics_subscribe"}"#.utf8)) else {
            close()
            throw FeedError("\(url): connection lost while subscribing")
        }
    }

    static func headEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
        return nil
    }

    public func next(timeoutMs: Int32) -> MetricsFeedEvent {
        while true {
            switch parseFrame() {
            case .message(let m): return .report(bytes: m, source: source)
            case .ended(let why): close(); return .ended(why)
            case .needMore:
                guard fd >= 0 else { return .ended("connection closed") }
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, timeoutMs) > 0 else { return .timeout }
                guard receive(timeoutMs: 0) else { close(); return .ended("connection closed without a close frame") }
            }
        }
    }

    enum Parsed { case message([UInt8]), needMore, ended(String?) }

    /// Ends the connection for a protocol error (RFC 6455 §7.4.1: 1002).
    private func fail(_ why: String) -> Parsed {
        sendFrame(opcode: 8, [0x03, 0xEA])
        return .ended("WebSocket protocol error: \(why)")
    }

    /// One frame from the inbox, if complete; control frames are handled here.
    func parseFrame() -> Parsed {
        while true {
            guard inbox.count >= 2 else { return .needMore }
            let fin = inbox[0] & 0x80 != 0
            let opcode = inbox[0] & 0x0F
            let masked = inbox[1] & 0x80 != 0
            // §5.1–5.5: no extension was agreed, so no RSV bits; a server never masks; control
            // frames are whole and short; only the defined opcodes.
            if inbox[0] & 0x70 != 0 { return fail("reserved bits set") }
            if masked { return fail("a masked frame from the server") }
            if opcode >= 8 && (!fin || inbox[1] & 0x7F > 125) { return fail("a fragmented or long control frame") }
            if ![0, 1, 2, 8, 9, 10].contains(opcode) { return fail("unknown opcode \(opcode)") }
            if opcode == 0 && !inMessage { return fail("a continuation frame outside a message") }
            if (opcode == 1 || opcode == 2) && inMessage { return fail("a new message inside a fragmented one") }
            var length = Int(inbox[1] & 0x7F)
            var offset = 2
            if length == 126 {
                guard inbox.count >= 4 else { return .needMore }
                length = Int(inbox[2]) << 8 | Int(inbox[3])
                offset = 4
            } else if length == 127 {
                guard inbox.count >= 10 else { return .needMore }
                var l: UInt64 = 0
                for i in 2..<10 { l = l << 8 | UInt64(inbox[i]) }
                guard l <= UInt64(Self.maxMessage) else { return .ended("a frame of \(l) bytes is larger than any metrics report") }
                length = Int(l)
                offset = 10
            }
            let maskKey = masked ? offset : -1
            if masked { offset += 4 }
            guard inbox.count >= offset + length else { return .needMore }
            var payload = Array(inbox[offset..<(offset + length)])
            if maskKey >= 0 { for i in payload.indices { payload[i] ^= inbox[maskKey + i % 4] } }
            inbox.removeFirst(offset + length)
            switch opcode {
            case 0, 1, 2:
                message += payload
                guard message.count <= Self.maxMessage else { return .ended("a message larger than any metrics report") }
                inMessage = !fin
                if fin {
                    defer { message = [] }
                    return .message(message)
                }
            case 8:
                _ = sendFrame(opcode: 8, Array(payload.prefix(2)))
                let code = payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : 1005
                return .ended(code == 1000 || code == 1005 ? nil : "closed by the server with code \(code)")
            case 9:
                _ = sendFrame(opcode: 10, payload)
            default:
                break // pong, reserved
            }
        }
    }

    /// Reads what is there (waiting up to `timeoutMs`); false when the peer closed.
    private func receive(timeoutMs: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        if timeoutMs > 0 && poll(&p, 1, timeoutMs) <= 0 { return false }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return false }
        inbox += chunk[..<n]
        return true
    }

    /// A masked client frame (RFC 6455 §5.3).
    @discardableResult
    func sendFrame(opcode: UInt8, _ payload: [UInt8]) -> Bool {
        var frame: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8((UInt64(payload.count) >> UInt64(shift)) & 0xFF)) }
        }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame += mask
        for (i, b) in payload.enumerated() { frame.append(b ^ mask[i % 4]) }
        return send(frame)
    }

    private func send(_ bytes: [UInt8]) -> Bool {
        guard fd >= 0 else { return false }
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }

    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    deinit { close() }
}

/// SHA-1 (FIPS 180-4), only for the WebSocket handshake's accept key.
enum SHA1 {
    static func digest(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
        var m = message
        let bitLength = UInt64(message.count) * 8
        m.append(0x80)
        while m.count % 64 != 56 { m.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { m.append(UInt8((bitLength >> UInt64(shift)) & 0xFF)) }
        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: m.count, by: 64) {
            for i in 0..<16 {
                w[i] = UInt32(m[chunk + 4 * i]) << 24 | UInt32(m[chunk + 4 * i + 1]) << 16 | UInt32(m[chunk + 4 * i + 2]) << 8 | UInt32(m[chunk + 4 * i + 3])
            }
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w[i] = x << 1 | x >> 31
            }
            var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
            for i in 0..<80 {
                let (f, k): (UInt32, UInt32)
                switch i {
                case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A82_7999)
                case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9_EBA1)
                case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
                default: (f, k) = (b ^ c ^ d, 0xCA62_C1D6)
                }
                let t = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[i]
                (e, d, c, b, a) = (d, c, b << 30 | b >> 2, a, t)
            }
            h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e
        }
        return h.flatMap { v in [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    }
}
