import Decode
import Windows

/// Run-wide totals per gNB, tunnel and conversation, summed from the windows as they close:
/// what the report ranks and the database keeps per tunnel. Grows with the number of distinct
/// keys, not with packets or windows.
public struct RunTotals: Sendable {
    public struct Tunnel: Sendable {
        public var src: IPAddress
        public var packets = 0
        public var bytes = 0
        public var innerBytes = 0
        public var qfiMask: UInt64 = 0
        public var seqGapEvents = 0
        public var seqLost = 0
        public var direction: String?
        public var gnbAddress: IPAddress?
        public var seidCP: UInt64?
        public var seidUP: UInt64?
        public var ueIP: IPAddress?
        public var firstWindow: Int64
        public var lastWindow: Int64
        public var windows = 0
    }

    public struct Gnb: Sendable {
        public var bytesUL = 0
        public var bytesDL = 0
        public var retransmissions = 0
        public var dataSegments = 0
        public var windows = 0
    }

    public struct TunnelID: Hashable, Sendable {
        public var dst: IPAddress
        public var teid: UInt32
    }

    public struct Pair: Hashable, Sendable {
        public var src: IPAddress
        public var dst: IPAddress
    }

    public private(set) var tunnels: [TunnelID: Tunnel] = [:]
    public private(set) var gnbs: [IPAddress: Gnb] = [:]
    public private(set) var conversations: [Pair: (packets: Int, bytes: Int)] = [:]
    public private(set) var flowWindows = 0

    public init() {}

    public mutating func add(_ batch: WindowBatch) {
        for g in batch.gnbs {
            gnbs[g.gnbAddress, default: Gnb()].bytesUL += g.bytesUL
            gnbs[g.gnbAddress]!.bytesDL += g.bytesDL
            gnbs[g.gnbAddress]!.retransmissions += g.tcpRetransmissions
            gnbs[g.gnbAddress]!.dataSegments += g.tcpDataSegments
            gnbs[g.gnbAddress]!.windows += 1
        }
        tunnels.reserveCapacity(tunnels.count + batch.tunnels.count / 8)
        for r in batch.tunnels {
            // Updated in place: one hash lookup per row.
            Self.update(&tunnels[TunnelID(dst: r.dst, teid: r.teid),
                                 default: Tunnel(src: r.src, firstWindow: batch.start, lastWindow: batch.start)], r, batch.start)
        }
        for c in batch.conversations {
            let id = Pair(src: c.src, dst: c.dst)
            conversations[id, default: (0, 0)].packets += c.packets
            conversations[id]!.bytes += c.bytes
        }
        flowWindows += batch.flows.count
    }

    private static func update(_ t: inout Tunnel, _ r: TunnelRow, _ window: Int64) {
        t.src = r.src
        t.packets += r.packets
        t.bytes += r.bytes
        t.innerBytes += r.innerBytes
        t.qfiMask |= r.qfiMask
        t.seqGapEvents += r.seqGapEvents
        t.seqLost += r.seqLost
        if let d = r.direction { t.direction = d }
        if let g = r.gnbAddress { t.gnbAddress = g }
        if let s = r.seidCP { t.seidCP = s }
        if let s = r.seidUP { t.seidUP = s }
        if let u = r.ueIP { t.ueIP = u }
        t.lastWindow = window
        t.windows += 1
    }
}
