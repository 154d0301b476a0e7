import Decode

/// One closed window's rows, handed to the detector and the sinks.
public struct WindowBatch: Sendable {
    /// Window bounds in nanoseconds since the Unix epoch, half-open.
    public var start: Int64
    public var end: Int64
    public var conversations: [ConversationRow] = []
    public var tunnels: [TunnelRow] = []
    public var flows: [FlowRow] = []
    public var gnbs: [GnbWindow] = []

    public init(start: Int64, end: Int64) {
        self.start = start
        self.end = end
    }

    public var seconds: Double { Double(end - start) / 1e9 }
}

/// Outer IP conversation, one direction (src → dst).
public struct ConversationRow: Sendable {
    public var src: IPAddress
    public var dst: IPAddress
    public var ipProto: UInt8
    public var packets: Int
    public var bytes: Int
}

/// A GTP-U tunnel (receiver address, TEID) in one window.
public struct TunnelRow: Sendable {
    public var dst: IPAddress
    public var teid: UInt32
    public var src: IPAddress
    /// "ul", "dl" or nil when neither a PDU Session Container nor PFCP says.
    public var direction: String?
    /// The gNB end of the tunnel, when the direction is known.
    public var gnbAddress: IPAddress?
    public var packets: Int
    public var bytes: Int
    public var innerBytes: Int
    /// Bit i set when QFI i was seen.
    public var qfiMask: UInt64
    public var seqGapEvents: Int
    public var seqLost: Int
    public var seqOutOfOrder: Int
    public var seidCP: UInt64?
    public var seidUP: UInt64?
    public var ueIP: IPAddress?

    public var qfis: [Int] { qfiList(qfiMask) }
}

/// An inner (or untunnelled) 5-tuple flow in one window; `a` is the initiator when known.
public struct FlowRow: Sendable {
    public var proto: UInt8
    public var aIP: IPAddress
    public var aPort: UInt16
    public var bIP: IPAddress
    public var bPort: UInt16
    public var packetsAB: Int
    public var packetsBA: Int
    public var bytesAB: Int
    public var bytesBA: Int
    public var retransmissions: Int
    public var sequenceGaps: Int
    public var rttSamples: Int
    public var rttP50Ms: Double?
    public var rttP95Ms: Double?
    /// Set when the flow travelled in a GTP-U tunnel of a known gNB.
    public var gnbAddress: IPAddress?
    public var tunnelled: Bool
}

/// Per-gNB user-plane features of one window: what the transport rule and, later, the cell
/// detector join by time.
public struct GnbWindow: Sendable {
    public var gnbAddress: IPAddress
    public var packetsUL = 0
    public var packetsDL = 0
    public var bytesUL = 0
    public var bytesDL = 0
    public var tunnels = 0
    public var tcpDataSegments = 0
    public var tcpRetransmissions = 0
    public var seqGapEvents = 0
    public var seqLost = 0
    public var gtpPacketsWithSequence = 0
    /// TCP round trips on the RAN side (capture point → UE → capture point), closed by uplink
    /// packets of this gNB's tunnels.
    public var rttSamples = 0
    public var rttP50Ms: Double?
    public var rttP95Ms: Double?
    public var echoRttMs: Double?
    public var errorIndications = 0

    public init(gnbAddress: IPAddress) { self.gnbAddress = gnbAddress }

    public var retransmissionPct: Double? {
        tcpDataSegments > 0 ? 100 * Double(tcpRetransmissions) / Double(tcpDataSegments) : nil
    }

    public var seqLossPct: Double? {
        gtpPacketsWithSequence > 0 ? 100 * Double(seqLost) / Double(gtpPacketsWithSequence + seqLost) : nil
    }
}

/// Run-wide counts: what was read, what was skipped and why.
public struct DecodeTotals: Sendable {
    public var packets = 0
    public var bytes = 0
    public var ipPackets = 0
    public var nonIPPackets = 0
    public var gtpPackets = 0
    public var gtpGPDUs = 0
    public var gtpEcho = 0
    public var pfcpMessages = 0
    public var fragments = 0
    public var snapCut = 0
    /// Packets older than the window already open (out of time order in the input).
    public var latePackets = 0
    public var issues = [Int](repeating: 0, count: DecodeIssue.allCases.count)
    public var windows = 0

    public init() {}

    public var malformed: Int { issues.reduce(0, +) }
}

/// The QFIs whose bits are set in a mask (bit i for QFI i).
public func qfiList(_ mask: UInt64) -> [Int] {
    (0..<64).filter { mask & (1 << UInt64($0)) != 0 }
}
