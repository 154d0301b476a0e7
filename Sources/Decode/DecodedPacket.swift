/// Link-layer types nocturne decodes, by libpcap's DLT value.
public enum LinkType: Sendable, Equatable {
    case ethernet, linuxSLL, linuxSLL2, rawIP, ipv4, ipv6, bsdLoopback(networkOrder: Bool)

    /// Maps a DLT/LINKTYPE number to a link type, or nil when nocturne cannot decode it.
    public init?(dlt: Int32) {
        switch dlt {
        case 1: self = .ethernet
        case 113: self = .linuxSLL
        case 276: self = .linuxSLL2
        case 12, 14, 101: self = .rawIP
        case 228: self = .ipv4
        case 229: self = .ipv6
        case 0: self = .bsdLoopback(networkOrder: false)
        case 108: self = .bsdLoopback(networkOrder: true)
        default: return nil
        }
    }
}

/// Why a packet could not be decoded all the way. Each is counted per run and reported;
/// the packet itself still counts at every layer that was read.
public enum DecodeIssue: Int, CaseIterable, Sendable {
    case linkTruncated, vlanTruncated
    case ipv4Truncated, ipv4BadHeader, ipv4BadLength
    case ipv6Truncated, ipv6ExtensionTruncated, ipv6BadLength
    case udpTruncated, udpBadLength
    case tcpTruncated, tcpBadOffset, tcpOptionMalformed
    case sctpTruncated, sctpChunkMalformed
    case gtpTruncated, gtpBadVersion, gtpBadLength, gtpExtensionMalformed
    case innerIPMalformed
    case pfcpMalformed

    public var reason: String {
        switch self {
        case .linkTruncated: "link-layer header truncated"
        case .vlanTruncated: "802.1Q tag truncated"
        case .ipv4Truncated: "IPv4 header truncated"
        case .ipv4BadHeader: "IPv4 header length below 20 bytes"
        case .ipv4BadLength: "IPv4 total length inconsistent with the frame"
        case .ipv6Truncated: "IPv6 header truncated"
        case .ipv6ExtensionTruncated: "IPv6 extension header truncated"
        case .ipv6BadLength: "IPv6 payload length exceeds the frame"
        case .udpTruncated: "UDP header truncated"
        case .udpBadLength: "UDP length inconsistent with the IP payload"
        case .tcpTruncated: "TCP header truncated"
        case .tcpBadOffset: "TCP data offset below 20 bytes or past the segment"
        case .tcpOptionMalformed: "TCP option with a bad length"
        case .sctpTruncated: "SCTP common header truncated"
        case .sctpChunkMalformed: "SCTP chunk with a bad length"
        case .gtpTruncated: "GTP-U header truncated"
        case .gtpBadVersion: "GTP-U version is not 1 or PT is not set"
        case .gtpBadLength: "GTP-U length exceeds the UDP payload"
        case .gtpExtensionMalformed: "GTP-U extension header with length 0 or past the message"
        case .innerIPMalformed: "tunnelled packet is not a valid IPv4/IPv6 packet"
        case .pfcpMalformed: "PFCP message malformed"
        }
    }

    /// A short stable key for JSON and the database.
    public var key: String {
        switch self {
        case .linkTruncated: "link_truncated"
        case .vlanTruncated: "vlan_truncated"
        case .ipv4Truncated: "ipv4_truncated"
        case .ipv4BadHeader: "ipv4_bad_header"
        case .ipv4BadLength: "ipv4_bad_length"
        case .ipv6Truncated: "ipv6_truncated"
        case .ipv6ExtensionTruncated: "ipv6_extension_truncated"
        case .ipv6BadLength: "ipv6_bad_length"
        case .udpTruncated: "udp_truncated"
        case .udpBadLength: "udp_bad_length"
        case .tcpTruncated: "tcp_truncated"
        case .tcpBadOffset: "tcp_bad_offset"
        case .tcpOptionMalformed: "tcp_option_malformed"
        case .sctpTruncated: "sctp_truncated"
        case .sctpChunkMalformed: "sctp_chunk_malformed"
        case .gtpTruncated: "gtp_truncated"
        case .gtpBadVersion: "gtp_bad_version"
        case .gtpBadLength: "gtp_bad_length"
        case .gtpExtensionMalformed: "gtp_extension_malformed"
        case .innerIPMalformed: "inner_ip_malformed"
        case .pfcpMalformed: "pfcp_malformed"
        }
    }
}

/// One IP layer as read from the packet: addresses, protocol, declared length and ports.
public struct IPLayer: Sendable {
    public var src: IPAddress = .none
    public var dst: IPAddress = .none
    /// Upper-layer protocol after IPv6 extension headers.
    public var proto: UInt8 = 0
    /// Total length the header declares (IPv4 total length; 40 + payload length for IPv6).
    public var totalLength: UInt32 = 0
    public var srcPort: UInt16 = 0
    public var dstPort: UInt16 = 0
    public var isFragment: Bool = false
    /// True when a later fragment carries no transport header.
    public var isNonFirstFragment: Bool = false

    public init() {}
}

/// TCP fields needed for retransmission and RTT analysis.
public struct TCPSegment: Sendable {
    public var flags: UInt8 = 0
    public var seq: UInt32 = 0
    public var ack: UInt32 = 0
    /// Payload bytes per the IP length (not the captured length).
    public var payloadLength: UInt32 = 0
    public var hasTimestamp: Bool = false
    public var tsVal: UInt32 = 0
    public var tsEcr: UInt32 = 0

    public static let fin: UInt8 = 0x01, syn: UInt8 = 0x02, rst: UInt8 = 0x04, ackFlag: UInt8 = 0x10

    public init() {}
}

/// The outermost GTP-U header of a packet.
public struct GTPUHeader: Sendable {
    public var messageType: UInt8 = 0
    public var teid: UInt32 = 0
    public var hasSequence: Bool = false
    public var sequence: UInt16 = 0
    /// PDU Session Container PDU type: 0 downlink, 1 uplink; `noContainer` when absent.
    public var pduType: UInt8 = GTPUHeader.noContainer
    public var qfi: UInt8 = 0
    /// Bytes of the tunnelled packet per the GTP-U length (G-PDU only).
    public var innerLength: UInt32 = 0
    /// Tunnels inside this tunnel (GTP-U in GTP-U).
    public var nestedDepth: UInt8 = 0

    public static let noContainer: UInt8 = 0xff
    public static let echoRequest: UInt8 = 1, echoResponse: UInt8 = 2
    public static let errorIndication: UInt8 = 26, endMarker: UInt8 = 254, gpdu: UInt8 = 255

    public init() {}
}

/// Everything the aggregation stage needs from one packet, read in place from the capture
/// buffer. A plain value: the decoder overwrites one instance per packet, nothing is allocated.
public struct DecodedPacket: Sendable {
    /// Outer IP layer (present when `hasIP`).
    public var outer = IPLayer()
    public var hasIP = false
    public var vlanTags: UInt8 = 0
    /// GTP-U on the outer UDP (present when `hasGTP`).
    public var gtp = GTPUHeader()
    public var hasGTP = false
    /// The innermost tunnelled IP layer of a G-PDU (present when `hasInner`).
    public var inner = IPLayer()
    public var hasInner = false
    /// TCP of the flow layer (inner for G-PDUs, else outer), present when `hasTCP`.
    public var tcp = TCPSegment()
    public var hasTCP = false
    /// Byte range of a PFCP message in the buffer; empty when none.
    public var pfcpOffset = 0
    public var pfcpLength = 0
    /// Byte range of a gNB metrics datagram (UDP to the metrics port); empty when none.
    public var metricsOffset = 0
    public var metricsLength = 0
    public var sctpChunks: UInt16 = 0
    /// The capture kept fewer bytes than were on the wire (snap length).
    public var snapCut = false
    /// First malformation met, if any; decoding stopped at that layer.
    public var issue: DecodeIssue? = nil

    public init() {}

    /// Clears the presence flags for the next packet. Layers are written whole when present,
    /// so their old contents never show through a set flag.
    @inlinable
    public mutating func reset() {
        hasIP = false
        vlanTags = 0
        hasGTP = false
        hasInner = false
        hasTCP = false
        pfcpOffset = 0
        pfcpLength = 0
        metricsLength = 0
        sctpChunks = 0
        snapCut = false
        issue = nil
    }

    /// The IP layer that keys the 5-tuple flow: the tunnelled packet for G-PDUs, else the outer.
    @inlinable
    public var flowLayer: IPLayer? {
        if hasInner { return inner }
        if hasIP && !hasGTP && !outer.isNonFirstFragment { return outer }
        return nil
    }
}
