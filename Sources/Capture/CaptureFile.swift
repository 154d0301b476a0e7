import CPcap
import Decode
#if canImport(Glibc)
import Glibc
#endif

/// A problem with an input, named the way an operator can act on it.
public struct CaptureError: Error, Sendable, CustomStringConvertible {
    public var path: String
    /// Byte offset in the file where reading stopped, when known.
    public var offset: Int64?
    public var reason: String

    public init(path: String, offset: Int64? = nil, reason: String) {
        self.path = path
        self.offset = offset
        self.reason = reason
    }

    public var description: String {
        if let offset { return "\(path): at byte \(offset): \(reason)" }
        return "\(path): \(reason)"
    }
}

/// One record handed over by libpcap, valid until the next read from the same source.
public struct CapturedPacket {
    /// Nanoseconds since the Unix epoch.
    public var timestamp: Int64
    /// Length on the wire (`frame.len`).
    public var wireLength: Int
    /// The captured bytes, in libpcap's buffer.
    public var bytes: UnsafeRawBufferPointer
    /// Index of the source the packet came from (for its link type).
    public var source: Int

    public init(timestamp: Int64, wireLength: Int, bytes: UnsafeRawBufferPointer, source: Int) {
        self.timestamp = timestamp
        self.wireLength = wireLength
        self.bytes = bytes
        self.source = source
    }
}

/// A pcap or pcapng file opened through libpcap at nanosecond precision.
public final class CaptureFile {
    public let path: String
    public let linkType: LinkType
    public let dlt: Int32
    public internal(set) var packets = 0
    /// Set when reading stopped before the end of the file (truncated or corrupt record).
    public private(set) var stopError: CaptureError?
    private var handle: OpaquePointer?

    public init(path: String, filter: String? = nil) throws(CaptureError) {
        self.path = path
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        // The file is opened here so that it gets a 64 KiB stdio buffer: libpcap reads each record
        // with two small freads, and the default 4 KiB buffer turns that into a system call
        // every few packets.
        guard let stream = fopen(path, "rb") else {
            throw CaptureError(path: path, reason: errno == ENOENT ? "no such file" : String(cString: strerror(errno)))
        }
        setvbuf(stream, nil, _IOFBF, 1 << 16)
        guard let h = pcap_fopen_offline_with_tstamp_precision(stream, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) else {
            fclose(stream)
            throw CaptureError(path: path, reason: CaptureFile.explain(text(errbuf), path: path))
        }
        let dlt = pcap_datalink(h)
        guard let linkType = LinkType(dlt: dlt) else {
            let name = pcap_datalink_val_to_name(dlt).map { String(cString: $0) } ?? "?"
            pcap_close(h)
            throw CaptureError(path: path, reason: "unsupported link type \(dlt) (\(name)); nocturne reads Ethernet, Linux cooked (SLL, SLL2), raw IP and BSD loopback")
        }
        if let filter, !filter.isEmpty {
            var program = bpf_program()
            if pcap_compile(h, &program, filter, 1, PCAP_NETMASK_UNKNOWN) != 0 {
                let message = String(cString: pcap_geterr(h))
                pcap_close(h)
                throw CaptureError(path: path, reason: "bad capture filter \"\(filter)\": \(message)")
            }
            defer { pcap_freecode(&program) }
            if pcap_setfilter(h, &program) != 0 {
                let message = String(cString: pcap_geterr(h))
                pcap_close(h)
                throw CaptureError(path: path, reason: "cannot apply capture filter: \(message)")
            }
        }
        self.handle = h
        self.dlt = dlt
        self.linkType = linkType
    }

    deinit { close() }

    public func close() {
        if let handle { pcap_close(handle) }
        handle = nil
    }

    /// Byte offset reached in the file.
    public var offset: Int64 {
        guard let handle, let file = pcap_file(handle) else { return 0 }
        return Int64(ftell(file))
    }

    /// Reads the next record into `packet`; false at the end of the file or when a record could
    /// not be read (then `stopError` says where and why).
    @inline(__always)
    public func next(into packet: inout CapturedPacket) -> Bool {
        guard let handle else { return false }
        let rc = CaptureFile.read(handle, into: &packet)
        if rc == 1 {
            packets &+= 1
            return true
        }
        return end(rc)
    }

    /// One `pcap_next_ex` into `packet`; returns libpcap's code (1 when a packet was read).
    @inline(__always)
    static func read(_ handle: OpaquePointer, into packet: inout CapturedPacket) -> Int32 {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        let rc = pcap_next_ex(handle, &header, &data)
        if rc == 1, let header, let data {
            let h = header.pointee
            packet.timestamp = Int64(h.ts.tv_sec) &* 1_000_000_000 &+ Int64(h.ts.tv_usec)
            packet.wireLength = Int(h.len)
            packet.bytes = UnsafeRawBufferPointer(start: data, count: Int(h.caplen))
            return 1
        }
        return rc == 1 ? PCAP_ERROR : rc
    }

    /// The libpcap handle while the file is open (for the merge's tight loop).
    var rawHandle: OpaquePointer? { handle }

    /// Closes the file after a non-1 read code; records where and why when it was an error.
    @discardableResult
    func end(_ rc: Int32) -> Bool {
        if rc == PCAP_ERROR, let handle {
            let message = String(cString: pcap_geterr(handle))
            stopError = CaptureError(path: path, offset: offset,
                                     reason: "\(message); \(packets) packets read before this point")
        }
        close()
        return false
    }

    static func explain(_ message: String, path: String) -> String {
        if message.contains("No such file") { return "no such file" }
        if message.contains("unknown file format") || message.contains("bad dump file format") {
            return "not a pcap or pcapng capture (\(message))"
        }
        if message.contains("truncated") { return "truncated capture: \(message)" }
        return message
    }
}

/// The text of a NUL-terminated C buffer (libpcap's error buffer).
func text(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
