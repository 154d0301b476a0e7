import Decode

/// Aggregates decoded packets into fixed windows, aligned to multiples of the window length
/// since the Unix epoch, keyed by outer conversation, GTP-U tunnel, inner 5-tuple and gNB.
///
/// Tables are hash maps that keep their capacity between windows, so that in steady state a
/// packet costs a few lookups and no allocation. State that outlives a window (TCP sequence
/// and timestamp tracking, GTP-U sequence numbers) stays until a flow ends (FIN/RST) or is
/// idle for `flowIdle`.
public final class WindowAggregator {
    public let windowLength: Int64
    public let flowIdle: Int64
    public private(set) var sessions = PFCPSessionTable()
    public private(set) var totals = DecodeTotals()
    public private(set) var windowStart: Int64 = .min
    public private(set) var lastTimestamp: Int64 = .min
    public private(set) var firstTimestamp: Int64 = .max

    private var conversations: [ConversationKey: Counter] = [:]
    private var tunnels: [TunnelKey: TunnelState] = [:]
    private var flows: [FlowKey: FlowState] = [:]
    private var gnbIndex: [IPAddress: Int] = [:]
    private var gnbs: [GnbState] = []
    private var samples: [RTTSample] = []
    private var echoRequests: [EchoKey: Int64] = [:]
    private var scratch: [Float] = []

    /// - Parameters:
    ///   - windowLength: nanoseconds.
    ///   - flowIdle: nanoseconds without packets after which a flow ends (DESIGN: 120 s).
    public init(windowLength: Int64, flowIdle: Int64 = 120_000_000_000) {
        precondition(windowLength > 0)
        self.windowLength = windowLength
        self.flowIdle = flowIdle
        conversations.reserveCapacity(1024)
        tunnels.reserveCapacity(4096)
        flows.reserveCapacity(8192)
        samples.reserveCapacity(1 << 16)
        scratch.reserveCapacity(1024)
    }

    public var windowEnd: Int64 { windowStart == .min ? .min : windowStart + windowLength }

    @inline(__always)
    func align(_ t: Int64) -> Int64 {
        let r = t % windowLength
        return r >= 0 ? t - r : t - r - windowLength
    }

    /// Adds one packet. When the packet belongs to a later window, the open window is closed
    /// first and returned.
    public func add(_ p: DecodedPacket, frame: UnsafeRawBufferPointer, timestamp: Int64,
                    wireLength: Int) -> WindowBatch? {
        var closed: WindowBatch? = nil
        if windowStart == .min {
            windowStart = align(timestamp)
        } else if timestamp >= windowStart &+ windowLength {
            closed = closeWindow()
            windowStart = align(timestamp)
        } else if timestamp < windowStart {
            totals.latePackets += 1
        }
        if timestamp < firstTimestamp { firstTimestamp = timestamp }
        if timestamp > lastTimestamp { lastTimestamp = timestamp }
        totals.packets += 1
        totals.bytes += wireLength
        if p.snapCut { totals.snapCut += 1 }
        if let issue = p.issue { totals.issues[issue.rawValue] += 1 }
        guard p.hasIP else {
            totals.nonIPPackets += 1
            return closed
        }
        totals.ipPackets += 1
        if p.outer.isFragment { totals.fragments += 1 }

        let conversation = ConversationKey(src: p.outer.src, dst: p.outer.dst, proto: p.outer.proto)
        if let i = conversations.index(forKey: conversation) {
            conversations.values[i].packets += 1
            conversations.values[i].bytes += wireLength
        } else {
            conversations[conversation] = Counter(packets: 1, bytes: wireLength)
        }

        if p.pfcpLength > 0 {
            totals.pfcpMessages += 1
            let payload = UnsafeRawBufferPointer(rebasing: frame[p.pfcpOffset..<(p.pfcpOffset + p.pfcpLength)])
            if !sessions.ingest(payload, src: p.outer.src, dst: p.outer.dst) {
                totals.issues[DecodeIssue.pfcpMalformed.rawValue] += 1
            }
        }

        var gnb = -1
        if p.hasGTP {
            totals.gtpPackets += 1
            gnb = addGTP(p, timestamp: timestamp, wireLength: wireLength)
        }
        if let layer = p.flowLayer, !layer.isNonFirstFragment {
            addFlow(p, layer, gnb: gnb, timestamp: timestamp)
        }
        return closed
    }

    /// Closes the open window (at the end of input, or on a timer for live sources).
    public func flush() -> WindowBatch? {
        guard windowStart != .min else { return nil }
        let batch = closeWindow()
        windowStart = .min
        return batch
    }

    // MARK: GTP-U

    private func addGTP(_ p: DecodedPacket, timestamp: Int64, wireLength: Int) -> Int {
        let gtp = p.gtp
        switch gtp.messageType {
        case GTPUHeader.gpdu, GTPUHeader.endMarker:
            break
        case GTPUHeader.echoRequest:
            totals.gtpEcho += 1
            if gtp.hasSequence {
                echoRequests[EchoKey(from: p.outer.src, to: p.outer.dst, sequence: gtp.sequence)] = timestamp
            }
            return -1
        case GTPUHeader.echoResponse:
            totals.gtpEcho += 1
            if let sent = echoRequests.removeValue(forKey: EchoKey(from: p.outer.dst, to: p.outer.src, sequence: gtp.sequence)) {
                let ms = Float(Double(timestamp - sent) / 1e6)
                for address in [p.outer.src, p.outer.dst] {
                    if let g = gnbIndex[address] { gnbs[g].echoRTT.append(ms) }
                }
            }
            return -1
        case GTPUHeader.errorIndication:
            if let g = gnbIndex[p.outer.src] ?? gnbIndex[p.outer.dst] { gnbs[g].window.errorIndications += 1 }
            return -1
        default:
            return -1
        }
        if gtp.messageType == GTPUHeader.gpdu { totals.gtpGPDUs += 1 }
        let key = TunnelKey(receiver: p.outer.dst, teid: gtp.teid)
        let slot: Dictionary<TunnelKey, TunnelState>.Index
        if let i = tunnels.index(forKey: key) {
            slot = i
        } else {
            tunnels[key] = TunnelState(src: p.outer.src)
            slot = tunnels.index(forKey: key)!
        }
        var t = tunnels.values[slot]
        t.packets += 1
        t.bytes += wireLength
        t.innerBytes += Int(gtp.innerLength)
        t.src = p.outer.src
        t.lastSeen = timestamp
        if gtp.pduType != GTPUHeader.noContainer {
            t.qfiMask |= 1 << UInt64(gtp.qfi & 0x3f)
            let uplink = gtp.pduType == 1
            if t.direction != (uplink ? 1 : 2) {
                t.direction = uplink ? 1 : 2
                t.gnb = gnbSlot(uplink ? p.outer.src : p.outer.dst)
            }
        } else if t.tieGeneration != sessions.generation {
            t.tieGeneration = sessions.generation
            if let tie = sessions.tie(receiver: key.receiver, teid: key.teid) {
                switch tie.direction {
                case .uplink?:
                    t.direction = 1
                    t.gnb = gnbSlot(p.outer.src)
                case .downlink?:
                    t.direction = 2
                    t.gnb = gnbSlot(p.outer.dst)
                case nil:
                    break
                }
            }
        }
        if gtp.hasSequence {
            let s = gtp.sequence
            if !t.hasSequence {
                t.hasSequence = true
                t.lastSequence = s
            } else {
                let diff = s &- t.lastSequence
                if diff == 1 {
                    t.lastSequence = s
                } else if diff != 0 && diff < 0x8000 {
                    t.seqGapEvents += 1
                    t.seqLost += Int(diff) - 1
                    t.lastSequence = s
                } else {
                    t.seqOutOfOrder += 1
                }
            }
        }
        let gnb = t.gnb
        if gnb >= 0 {
            if t.direction == 1 {
                gnbs[gnb].window.packetsUL += 1
                gnbs[gnb].window.bytesUL += wireLength
            } else {
                gnbs[gnb].window.packetsDL += 1
                gnbs[gnb].window.bytesDL += wireLength
            }
            if gtp.hasSequence { gnbs[gnb].window.gtpPacketsWithSequence += 1 }
        }
        tunnels.values[slot] = t
        return gnb
    }

    private func gnbSlot(_ address: IPAddress) -> Int {
        if let g = gnbIndex[address] { return g }
        gnbs.append(GnbState(window: GnbWindow(gnbAddress: address)))
        gnbIndex[address] = gnbs.count - 1
        return gnbs.count - 1
    }

    // MARK: Flows

    private func addFlow(_ p: DecodedPacket, _ layer: IPLayer, gnb: Int, timestamp: Int64) {
        let forward = (layer.src, layer.srcPort) <= (layer.dst, layer.dstPort)
        let key = forward
            ? FlowKey(low: layer.src, high: layer.dst, lowPort: layer.srcPort, highPort: layer.dstPort, proto: layer.proto)
            : FlowKey(low: layer.dst, high: layer.src, lowPort: layer.dstPort, highPort: layer.srcPort, proto: layer.proto)
        let d = forward ? 0 : 1  // 0: low → high
        let slot: Dictionary<FlowKey, FlowState>.Index
        if let i = flows.index(forKey: key), !flows.values[i].reopens(p, direction: d) {
            slot = i
        } else {
            var state = FlowState()
            // The initiator is `a`: the SYN's sender, else the SYN-ACK's receiver, else the
            // higher (ephemeral) port, else whoever spoke first.
            if p.hasTCP && p.tcp.flags & TCPSegment.syn != 0 {
                state.aIsLow = (p.tcp.flags & TCPSegment.ackFlag == 0) == (d == 0)
            } else if layer.srcPort != layer.dstPort {
                state.aIsLow = (key.lowPort > key.highPort)
            } else {
                state.aIsLow = d == 0
            }
            state.tunnelled = p.hasInner
            flows[key] = state
            slot = flows.index(forKey: key)!
        }
        flows.values[slot].lastSeen = timestamp
        if gnb >= 0 { flows.values[slot].gnb = gnb }
        flows.values[slot].packets[d] += 1
        flows.values[slot].bytes[d] += Int(layer.totalLength)
        guard p.hasTCP else { return }
        let tcp = p.tcp
        var f = flows.values[slot]
        let flowGnb = f.gnb
        var rtt: Float = -1
        var retransmission = false
        let segmentLength = tcp.payloadLength
            &+ (tcp.flags & TCPSegment.syn != 0 ? 1 : 0) &+ (tcp.flags & TCPSegment.fin != 0 ? 1 : 0)
        if segmentLength > 0 {
            if tcp.payloadLength > 0 && flowGnb >= 0 { gnbs[flowGnb].window.tcpDataSegments += 1 }
            let end = tcp.seq &+ segmentLength
            if !f.dir[d].seqValid {
                f.dir[d].seqValid = true
                f.dir[d].nextSeq = end
            } else {
                let diff = Int32(bitPattern: tcp.seq &- f.dir[d].nextSeq)
                if diff < 0 {
                    // Keep-alive probes (one byte below the next sequence number) are not data.
                    let keepAlive = tcp.payloadLength <= 1 && diff == -1 && tcp.flags & (TCPSegment.syn | TCPSegment.fin) == 0
                    if !keepAlive {
                        retransmission = true
                        f.retransmissions += 1
                        f.dir[d].probeValid = false  // Karn: no RTT from retransmitted data
                    }
                    if Int32(bitPattern: end &- f.dir[d].nextSeq) > 0 { f.dir[d].nextSeq = end }
                } else {
                    if diff > 0 { f.sequenceGaps += 1 }
                    f.dir[d].nextSeq = end
                }
            }
            if !retransmission && !f.dir[d].probeValid && !tcp.hasTimestamp {
                f.dir[d].probeValid = true
                f.dir[d].probeEnd = end
                f.dir[d].probeTime = timestamp
            }
        }
        if retransmission && flowGnb >= 0 { gnbs[flowGnb].window.tcpRetransmissions += 1 }
        let o = 1 - d
        if tcp.hasTimestamp {
            if tcp.tsVal != f.dir[d].tsVal || !f.dir[d].tsValid {
                f.dir[d].tsVal = tcp.tsVal
                f.dir[d].tsTime = timestamp
                f.dir[d].tsValid = true
                f.dir[d].tsEchoed = false
            }
            if tcp.flags & TCPSegment.ackFlag != 0, f.dir[o].tsValid, !f.dir[o].tsEchoed, tcp.tsEcr == f.dir[o].tsVal {
                f.dir[o].tsEchoed = true
                rtt = Float(Double(timestamp - f.dir[o].tsTime) / 1e6)
            }
        } else if tcp.flags & TCPSegment.ackFlag != 0, f.dir[o].probeValid,
                  Int32(bitPattern: tcp.ack &- f.dir[o].probeEnd) >= 0 {
            f.dir[o].probeValid = false
            rtt = Float(Double(timestamp - f.dir[o].probeTime) / 1e6)
        }
        if tcp.flags & TCPSegment.fin != 0 { f.dir[d].fin = true }
        if tcp.flags & TCPSegment.rst != 0 { f.reset = true }
        if rtt >= 0 {
            let index = Int32(samples.count)
            samples.append(RTTSample(ms: rtt, nextInFlow: f.rttHead, nextInGnb: flowGnb >= 0 ? gnbs[flowGnb].rttHead : -1))
            f.rttHead = index
            f.rttCount += 1
            if flowGnb >= 0 {
                gnbs[flowGnb].rttHead = index
                gnbs[flowGnb].window.rttSamples += 1
            }
        }
        flows.values[slot] = f
    }

    // MARK: Closing a window

    private func closeWindow() -> WindowBatch {
        var batch = WindowBatch(start: windowStart, end: windowStart + windowLength)
        totals.windows += 1
        batch.conversations.reserveCapacity(conversations.count)
        for (key, c) in conversations {
            batch.conversations.append(ConversationRow(src: key.src, dst: key.dst, ipProto: key.proto, packets: c.packets, bytes: c.bytes))
        }
        conversations.removeAll(keepingCapacity: true)

        let idleBefore = batch.end - flowIdle
        var tunnelsPerGnb = [Int](repeating: 0, count: gnbs.count)
        var expiredTunnels: [TunnelKey] = []
        for i in tunnels.indices {
            let (key, t) = tunnels[i]
            if t.packets > 0 {
                var row = TunnelRow(dst: key.receiver, teid: key.teid, src: t.src,
                                    direction: t.direction == 1 ? "ul" : t.direction == 2 ? "dl" : nil,
                                    gnbAddress: t.gnb >= 0 ? gnbs[t.gnb].window.gnbAddress : nil,
                                    packets: t.packets, bytes: t.bytes, innerBytes: t.innerBytes, qfiMask: t.qfiMask,
                                    seqGapEvents: t.seqGapEvents, seqLost: t.seqLost, seqOutOfOrder: t.seqOutOfOrder)
                if let tie = sessions.tie(receiver: key.receiver, teid: key.teid) {
                    let s = sessions.sessions[tie.session]
                    row.seidCP = s.cpSEID
                    row.seidUP = s.upSEID
                    row.ueIP = s.ueIP
                    if row.direction == nil, let d = tie.direction { row.direction = d.rawValue }
                }
                if t.gnb >= 0 {
                    tunnelsPerGnb[t.gnb] += 1
                    gnbs[t.gnb].window.seqGapEvents += t.seqGapEvents
                    gnbs[t.gnb].window.seqLost += t.seqLost
                }
                batch.tunnels.append(row)
                tunnels.values[i].resetCounters()
            } else if t.lastSeen < idleBefore {
                expiredTunnels.append(key)
            }
        }
        for key in expiredTunnels { tunnels.removeValue(forKey: key) }

        var ended: [FlowKey] = []
        for i in flows.indices {
            let (key, f) = flows[i]
            if f.packets[0] + f.packets[1] > 0 {
                let (p50, p95) = percentiles(head: f.rttHead, inFlow: true)
                let a = f.aIsLow ? 0 : 1
                batch.flows.append(FlowRow(
                    proto: key.proto,
                    aIP: f.aIsLow ? key.low : key.high, aPort: f.aIsLow ? key.lowPort : key.highPort,
                    bIP: f.aIsLow ? key.high : key.low, bPort: f.aIsLow ? key.highPort : key.lowPort,
                    packetsAB: f.packets[a], packetsBA: f.packets[1 - a], bytesAB: f.bytes[a], bytesBA: f.bytes[1 - a],
                    retransmissions: f.retransmissions, sequenceGaps: f.sequenceGaps, rttSamples: f.rttCount,
                    rttP50Ms: p50, rttP95Ms: p95,
                    gnbAddress: f.gnb >= 0 ? gnbs[f.gnb].window.gnbAddress : nil, tunnelled: f.tunnelled))
            }
            if f.isClosed || f.lastSeen < idleBefore {
                ended.append(key)
            } else {
                flows.values[i].resetCounters()
            }
        }
        for key in ended { flows.removeValue(forKey: key) }

        for g in gnbs.indices {
            var w = gnbs[g].window
            guard w.packetsUL + w.packetsDL + w.errorIndications > 0 || !gnbs[g].echoRTT.isEmpty else { continue }
            w.tunnels = tunnelsPerGnb[g]
            (w.rttP50Ms, w.rttP95Ms) = percentiles(head: gnbs[g].rttHead, inFlow: false)
            if !gnbs[g].echoRTT.isEmpty {
                let sorted = gnbs[g].echoRTT.sorted()
                w.echoRttMs = Double(sorted[sorted.count / 2])
            }
            batch.gnbs.append(w)
            gnbs[g] = GnbState(window: GnbWindow(gnbAddress: w.gnbAddress))
        }
        samples.removeAll(keepingCapacity: true)
        if echoRequests.count > 4096 { echoRequests.removeAll(keepingCapacity: true) }
        return batch
    }

    /// Exact p50/p95 (nearest rank) of a sample list.
    private func percentiles(head: Int32, inFlow: Bool) -> (Double?, Double?) {
        scratch.removeAll(keepingCapacity: true)
        var i = head
        while i >= 0 {
            let s = samples[Int(i)]
            scratch.append(s.ms)
            i = inFlow ? s.nextInFlow : s.nextInGnb
        }
        guard !scratch.isEmpty else { return (nil, nil) }
        scratch.sort()
        func rank(_ q: Double) -> Double {
            let r = Int((q * Double(scratch.count)).rounded(.up)) - 1
            return Double(scratch[max(0, min(scratch.count - 1, r))])
        }
        return (rank(0.5), rank(0.95))
    }
}

// MARK: - Table entries

struct ConversationKey: Hashable {
    var src: IPAddress
    var dst: IPAddress
    var proto: UInt8
}

struct Counter {
    var packets: Int
    var bytes: Int
}

struct TunnelKey: Hashable {
    var receiver: IPAddress
    var teid: UInt32
}

struct TunnelState {
    var src: IPAddress
    var packets = 0
    var bytes = 0
    var innerBytes = 0
    var qfiMask: UInt64 = 0
    var seqGapEvents = 0
    var seqLost = 0
    var seqOutOfOrder = 0
    var hasSequence = false
    var lastSequence: UInt16 = 0
    /// 0 unknown, 1 uplink, 2 downlink.
    var direction: UInt8 = 0
    var gnb = -1
    var tieGeneration = -1
    var lastSeen: Int64 = 0

    init(src: IPAddress) { self.src = src }

    mutating func resetCounters() {
        packets = 0; bytes = 0; innerBytes = 0; qfiMask = 0
        seqGapEvents = 0; seqLost = 0; seqOutOfOrder = 0
    }
}

struct FlowKey: Hashable {
    var low: IPAddress
    var high: IPAddress
    var lowPort: UInt16
    var highPort: UInt16
    var proto: UInt8
}

struct TCPDirection {
    var seqValid = false
    var nextSeq: UInt32 = 0
    var tsValid = false
    var tsEchoed = false
    var tsVal: UInt32 = 0
    var tsTime: Int64 = 0
    var probeValid = false
    var probeEnd: UInt32 = 0
    var probeTime: Int64 = 0
    var fin = false
}

/// Two-element storage without an array allocation.
struct Pair<T> {
    var first: T
    var second: T
    init(_ value: T) { first = value; second = value }
    subscript(i: Int) -> T {
        get { i == 0 ? first : second }
        set { if i == 0 { first = newValue } else { second = newValue } }
    }
}

struct FlowState {
    var aIsLow = true
    var tunnelled = false
    var packets = Pair(0)
    var bytes = Pair(0)
    var retransmissions = 0
    var sequenceGaps = 0
    var rttHead: Int32 = -1
    var rttCount = 0
    var dir = Pair(TCPDirection())
    var reset = false
    var gnb = -1
    var lastSeen: Int64 = 0

    var isClosed: Bool { reset || (dir[0].fin && dir[1].fin) }

    /// A new SYN on a finished connection's 5-tuple starts a new flow.
    func reopens(_ p: DecodedPacket, direction: Int) -> Bool {
        isClosed && p.hasTCP && p.tcp.flags & TCPSegment.syn != 0 && p.tcp.flags & TCPSegment.ackFlag == 0
    }

    mutating func resetCounters() {
        packets = Pair(0); bytes = Pair(0)
        retransmissions = 0; sequenceGaps = 0; rttHead = -1; rttCount = 0
    }
}

struct RTTSample {
    var ms: Float
    var nextInFlow: Int32
    var nextInGnb: Int32
}

struct GnbState {
    var window: GnbWindow
    var rttHead: Int32 = -1
    var echoRTT: [Float] = []
}

struct EchoKey: Hashable {
    var from: IPAddress
    var to: IPAddress
    var sequence: UInt16
}
