import CPcap
import Decode

/// Packets from a network interface, as they arrive.
public final class LiveCapture {
    public let interface: String
    public let linkType: LinkType
    private var handle: OpaquePointer?

    /// Opens `interface` with a BPF `filter`; throws a one-line error for a missing interface,
    /// missing permission, or a filter libpcap rejects.
    public init(interface: String, filter: String?, snapLength: Int32 = 262_144, promiscuous: Bool = false,
                bufferBytes: Int32 = 16 << 20) throws(CaptureError) {
        self.interface = interface
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let h = pcap_create(interface, &errbuf) else {
            throw CaptureError(path: interface, reason: text(errbuf))
        }
        pcap_set_snaplen(h, snapLength)
        pcap_set_promisc(h, promiscuous ? 1 : 0)
        pcap_set_timeout(h, 200)
        pcap_set_buffer_size(h, bufferBytes)
        _ = pcap_set_tstamp_precision(h, Int32(PCAP_TSTAMP_PRECISION_NANO))
        let rc = pcap_activate(h)
        if rc < 0 {
            let detail = String(cString: pcap_geterr(h))
            pcap_close(h)
            let reason: String
            switch rc {
            case PCAP_ERROR_NO_SUCH_DEVICE: reason = "no such interface (\(detail)); list interfaces with `ip link`"
            case PCAP_ERROR_PERM_DENIED: reason = "no permission to capture (\(detail)); run as root or grant CAP_NET_RAW and CAP_NET_ADMIN"
            case PCAP_ERROR_PROMISC_PERM_DENIED: reason = "no permission for promiscuous mode (\(detail))"
            case PCAP_ERROR_IFACE_NOT_UP: reason = "interface is down (\(detail))"
            default: reason = "cannot capture: \(detail)"
            }
            throw CaptureError(path: interface, reason: reason)
        }
        let dlt = pcap_datalink(h)
        guard let linkType = LinkType(dlt: dlt) else {
            pcap_close(h)
            throw CaptureError(path: interface, reason: "unsupported link type \(dlt)")
        }
        if let filter, !filter.isEmpty {
            var program = bpf_program()
            guard pcap_compile(h, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0,
                  pcap_setfilter(h, &program) == 0 else {
                let message = String(cString: pcap_geterr(h))
                pcap_close(h)
                throw CaptureError(path: interface, reason: "bad capture filter \"\(filter)\": \(message)")
            }
            pcap_freecode(&program)
        }
        self.handle = h
        self.linkType = linkType
    }

    deinit { close() }

    /// The handle's bits, for a signal handler to pass to `breakLoop` (it may not touch objects).
    public var handleBits: UInt { handle.map { UInt(bitPattern: Int(bitPattern: UnsafeRawPointer($0))) } ?? 0 }

    /// Wakes a capture blocked in `next` (safe from a signal handler: libpcap sets a flag and
    /// signals its wake-up descriptor).
    public static func breakLoop(_ bits: UInt) {
        guard bits != 0, let raw = UnsafeRawPointer(bitPattern: bits) else { return }
        pcap_breakloop(OpaquePointer(raw))
    }

    public func close() {
        if let handle { pcap_close(handle) }
        handle = nil
    }

    public enum ReadResult { case packet, timeout, end }

    /// Waits up to the read timeout for the next packet.
    public func next(into packet: inout CapturedPacket) -> ReadResult {
        guard let handle else { return .end }
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        switch pcap_next_ex(handle, &header, &data) {
        case 1:
            guard let header, let data else { return .timeout }
            let h = header.pointee
            packet.timestamp = Int64(h.ts.tv_sec) &* 1_000_000_000 &+ Int64(h.ts.tv_usec)
            packet.wireLength = Int(h.len)
            packet.bytes = UnsafeRawBufferPointer(start: data, count: Int(h.caplen))
            packet.source = 0
            return .packet
        case 0:
            return .timeout
        default:
            return .end
        }
    }

    /// Packets the kernel dropped (buffer full) and the interface dropped, so far.
    public var drops: (kernel: UInt32, interface: UInt32) {
        guard let handle else { return (0, 0) }
        var stats = pcap_stat()
        guard pcap_stats(handle, &stats) == 0 else { return (0, 0) }
        return (stats.ps_drop, stats.ps_ifdrop)
    }
}
