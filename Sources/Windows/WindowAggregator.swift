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

    private let conversations = FlatTable<ConversationKey, Counter>(capacity: 1024)
    private let tunnels = FlatTable<TunnelKey, TunnelState>(capacity: 4096)
    /// Flows seen in the open or the previous window: the table every packet probes.
    private let flows = FlatTable<FlowKey, FlowState>(capacity: 8192)
    /// Flows idle for a whole window, kept (with their TCP state) until `flowIdle` has passed,
    /// so that the busy table stays small enough to live in cache.
    private var idleFlows: [FlowKey: FlowState] = [:]
    /// The earliest `lastSeen` among the idle flows: nothing expires before it.
    private var oldestIdle: Int64 = .max
    private var gnbIndex: [IPAddress: Int] = [:]
    private let gnbs = Slab<GnbWindow>()
    /// Echo round trips per gNB in the open window (few: one per echo response).
    private var echoRTT: [Int: [Float]] = [:]
    /// RTT samples of the open window, tagged with their flow's slot in `groupedSamples`.
    private var samples: [RTTSample] = []
    /// The RAN-side ones again, tagged with their gNB.
    private var ranSamples: [RTTSample] = []
    private var flowsWithSamples = 0
    private var sampleOffsets: [Int] = []
    private var groupedSamples: [Float] = []
    private var gnbSampleOffsets: [Int] = []
    private var gnbGroupedSamples: [Float] = []
    private var echoRequests: [EchoKey: Int64] = [:]

    /// - Parameters:
    ///   - windowLength: nanoseconds.
    ///   - flowIdle: nanoseconds without packets after which a flow ends (DESIGN: 120 s).
    public init(windowLength: Int64, flowIdle: Int64 = 120_000_000_000) {
        precondition(windowLength > 0)
        self.windowLength = windowLength
        self.flowIdle = flowIdle
        samples.reserveCapacity(1 << 16)
    }

    public var windowEnd: Int64 { windowStart == .min ? .min : windowStart + windowLength }

    @inline(__always)
    func align(_ t: Int64) -> Int64 {
        let r = t % windowLength
        return r >= 0 ? t - r : t - r - windowLength
    }

    /// Adds one packet. When the packet belongs to a later window, the open window is closed
    /// first and returned.
    public func add(_ p: borrowing DecodedPacket, frame: UnsafeRawBufferPointer, timestamp: Int64,
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

        // Start the cache misses of all three table entries before touching any of them.
        let conversation = ConversationKey(src: p.outer.src, dst: p.outer.dst, proto: p.outer.proto)
        let conversationHash = conversations.prefetch(conversation)
        let tunnelKey = TunnelKey(receiver: p.outer.dst, teid: p.gtp.teid)
        let tunnelHash = p.hasGTP ? tunnels.prefetch(tunnelKey) : 0
        let flowLayer = p.flowLayer
        var flow: (key: FlowKey, direction: Int, hash: UInt64)? = nil
        if let layer = flowLayer, !layer.isNonFirstFragment {
            let forward = (layer.src, layer.srcPort) <= (layer.dst, layer.dstPort)
            let key = forward
                ? FlowKey(low: layer.src, high: layer.dst, lowPort: layer.srcPort, highPort: layer.dstPort, proto: layer.proto)
                : FlowKey(low: layer.dst, high: layer.src, lowPort: layer.dstPort, highPort: layer.srcPort, proto: layer.proto)
            flow = (key, forward ? 0 : 1, flows.prefetch(key))
        }

        let counter = conversations.findOrInsert(conversation, hash: conversationHash) { Counter(packets: 0, bytes: 0) }
        counter.pointee.packets += 1
        counter.pointee.bytes += wireLength

        if p.pfcpLength > 0 {
            totals.pfcpMessages += 1
            let payload = UnsafeRawBufferPointer(rebasing: frame[p.pfcpOffset..<(p.pfcpOffset + p.pfcpLength)])
            if !sessions.ingest(payload, src: p.outer.src, dst: p.outer.dst) {
                totals.issues[DecodeIssue.pfcpMalformed.rawValue] += 1
            }
        }

        var gnb = -1, uplink = false
        if p.hasGTP {
            totals.gtpPackets += 1
            (gnb, uplink) = addGTP(p, key: tunnelKey, hash: tunnelHash, timestamp: timestamp, wireLength: wireLength)
        }
        if let layer = flowLayer, let flow {
            addFlow(p, layer, key: flow.key, direction: flow.direction, hash: flow.hash, gnb: gnb, uplink: uplink,
                    timestamp: timestamp)
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

    /// Returns the tunnel's gNB (-1 when unknown) and whether the packet goes uplink.
    private func addGTP(_ p: DecodedPacket, key: TunnelKey, hash: UInt64, timestamp: Int64,
                        wireLength: Int) -> (gnb: Int, uplink: Bool) {
        let gtp = p.gtp
        switch gtp.messageType {
        case GTPUHeader.gpdu, GTPUHeader.endMarker:
            break
        case GTPUHeader.echoRequest:
            totals.gtpEcho += 1
            if gtp.hasSequence {
                echoRequests[EchoKey(from: p.outer.src, to: p.outer.dst, sequence: gtp.sequence)] = timestamp
            }
            return (-1, false)
        case GTPUHeader.echoResponse:
            totals.gtpEcho += 1
            if let sent = echoRequests.removeValue(forKey: EchoKey(from: p.outer.dst, to: p.outer.src, sequence: gtp.sequence)) {
                let ms = Float(Double(timestamp - sent) / 1e6)
                for address in [p.outer.src, p.outer.dst] {
                    if let g = gnbIndex[address] { echoRTT[g, default: []].append(ms) }
                }
            }
            return (-1, false)
        case GTPUHeader.errorIndication:
            let src = p.outer.src, dst = p.outer.dst
            if let g = gnbIndex[src] ?? gnbIndex[dst] { gnbs[g].errorIndications += 1 }
            return (-1, false)
        default:
            return (-1, false)
        }
        if gtp.messageType == GTPUHeader.gpdu { totals.gtpGPDUs += 1 }
        let t = tunnels.findOrInsert(key, hash: hash) { TunnelState(src: p.outer.src) }
        t.pointee.packets += 1
        t.pointee.bytes += wireLength
        t.pointee.innerBytes += Int(gtp.innerLength)
        t.pointee.src = p.outer.src
        t.pointee.lastSeen = timestamp
        if gtp.pduType != GTPUHeader.noContainer {
            t.pointee.qfiMask |= 1 << UInt64(gtp.qfi & 0x3f)
            let uplink = gtp.pduType == 1
            if t.pointee.direction != (uplink ? 1 : 2) {
                t.pointee.direction = uplink ? 1 : 2
                t.pointee.gnb = gnbSlot(uplink ? p.outer.src : p.outer.dst)
            }
        } else if t.pointee.tieGeneration != sessions.generation {
            t.pointee.tieGeneration = sessions.generation
            if let tie = sessions.tie(receiver: key.receiver, teid: key.teid) {
                switch tie.direction {
                case .uplink?:
                    t.pointee.direction = 1
                    t.pointee.gnb = gnbSlot(p.outer.src)
                case .downlink?:
                    t.pointee.direction = 2
                    t.pointee.gnb = gnbSlot(p.outer.dst)
                case nil:
                    break
                }
            }
        }
        if gtp.hasSequence {
            let s = gtp.sequence
            if !t.pointee.hasSequence {
                t.pointee.hasSequence = true
                t.pointee.lastSequence = s
            } else {
                let diff = s &- t.pointee.lastSequence
                if diff == 1 {
                    t.pointee.lastSequence = s
                } else if diff != 0 && diff < 0x8000 {
                    t.pointee.seqGapEvents += 1
                    t.pointee.seqLost += Int(diff) - 1
                    t.pointee.lastSequence = s
                } else {
                    t.pointee.seqOutOfOrder += 1
                }
            }
        }
        let gnb = t.pointee.gnb
        if gnb >= 0 {
            if t.pointee.direction == 1 {
                gnbs[gnb].packetsUL += 1
                gnbs[gnb].bytesUL += wireLength
            } else {
                gnbs[gnb].packetsDL += 1
                gnbs[gnb].bytesDL += wireLength
            }
            if gtp.hasSequence { gnbs[gnb].gtpPacketsWithSequence += 1 }
        }
        return (gnb, t.pointee.direction == 1)
    }

    private func gnbSlot(_ address: IPAddress) -> Int {
        if let g = gnbIndex[address] { return g }
        let g = gnbs.append(GnbWindow(gnbAddress: address))
        gnbIndex[address] = g
        return g
    }

    // MARK: Flows

    /// `direction` 0: the packet goes from the key's low end to its high end.
    /// An RTT sample counts for the gNB only when an uplink packet closes it: then it spans
    /// capture point → gNB → UE → back, the path a transport problem on the RAN side stretches;
    /// downlink echoes measure the core and Internet side instead.
    private func addFlow(_ p: DecodedPacket, _ layer: IPLayer, key: FlowKey, direction d: Int, hash: UInt64, gnb: Int,
                         uplink: Bool, timestamp: Int64) {
        var slot = flows.find(key, hash: hash)
        if slot == nil, let resumed = idleFlows.removeValue(forKey: key) {
            slot = flows.findOrInsert(key, hash: hash) { resumed }
        }
        if let existing = slot, existing.pointee.reopens(p, direction: d) {
            flows.remove(key)
            slot = nil
        }
        if slot == nil {
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
            slot = flows.findOrInsert(key, hash: hash) { state }
        }
        let f = slot!
        f.pointee.lastSeen = timestamp
        if gnb >= 0 { f.pointee.gnb = Int32(gnb) }
        f.pointee.packets[d] += 1
        f.pointee.bytes[d] += Int(layer.totalLength)
        guard p.hasTCP else { return }
        let tcp = p.tcp
        // The two directions' TCP state, addressed in place (no accessor coroutine per field).
        let directions = UnsafeMutableRawPointer(f).advanced(by: FlowState.directionsOffset)
            .assumingMemoryBound(to: TCPDirection.self)
        let sender = directions + d, receiver = directions + (1 - d)
        let flowGnb = Int(f.pointee.gnb)
        var rtt: Float = -1
        var retransmission = false
        let segmentLength = tcp.payloadLength
            &+ (tcp.flags & TCPSegment.syn != 0 ? 1 : 0) &+ (tcp.flags & TCPSegment.fin != 0 ? 1 : 0)
        if segmentLength > 0 {
            if tcp.payloadLength > 0 && flowGnb >= 0 { gnbs[flowGnb].tcpDataSegments += 1 }
            let end = tcp.seq &+ segmentLength
            if !sender.pointee.seqValid {
                sender.pointee.seqValid = true
                sender.pointee.nextSeq = end
            } else {
                let diff = Int32(bitPattern: tcp.seq &- sender.pointee.nextSeq)
                if diff < 0 {
                    // Keep-alive probes (one byte below the next sequence number) are not data.
                    let keepAlive = tcp.payloadLength <= 1 && diff == -1 && tcp.flags & (TCPSegment.syn | TCPSegment.fin) == 0
                    if !keepAlive {
                        retransmission = true
                        f.pointee.retransmissions += 1
                        sender.pointee.probeValid = false  // Karn: no RTT from retransmitted data
                    }
                    if Int32(bitPattern: end &- sender.pointee.nextSeq) > 0 { sender.pointee.nextSeq = end }
                } else {
                    if diff > 0 { f.pointee.sequenceGaps += 1 }
                    sender.pointee.nextSeq = end
                }
            }
            if !retransmission && !sender.pointee.probeValid && !tcp.hasTimestamp {
                sender.pointee.probeValid = true
                sender.pointee.probeEnd = end
                sender.pointee.probeTime = timestamp
            }
        }
        if retransmission && flowGnb >= 0 { gnbs[flowGnb].tcpRetransmissions += 1 }
        if tcp.hasTimestamp {
            if tcp.tsVal != sender.pointee.tsVal || !sender.pointee.tsValid {
                sender.pointee.tsVal = tcp.tsVal
                sender.pointee.tsTime = timestamp
                sender.pointee.tsValid = true
                sender.pointee.tsEchoed = false
            }
            if tcp.flags & TCPSegment.ackFlag != 0, receiver.pointee.tsValid, !receiver.pointee.tsEchoed, tcp.tsEcr == receiver.pointee.tsVal {
                receiver.pointee.tsEchoed = true
                rtt = Float(Double(timestamp - receiver.pointee.tsTime) / 1e6)
            }
        } else if tcp.flags & TCPSegment.ackFlag != 0, receiver.pointee.probeValid,
                  Int32(bitPattern: tcp.ack &- receiver.pointee.probeEnd) >= 0 {
            receiver.pointee.probeValid = false
            rtt = Float(Double(timestamp - receiver.pointee.probeTime) / 1e6)
        }
        if tcp.flags & TCPSegment.fin != 0 { sender.pointee.fin = true }
        if tcp.flags & TCPSegment.rst != 0 { f.pointee.reset = true }
        if rtt >= 0 {
            if f.pointee.windowSlot < 0 {
                f.pointee.windowSlot = Int32(flowsWithSamples)
                flowsWithSamples += 1
            }
            samples.append(RTTSample(ms: rtt, group: f.pointee.windowSlot))
            f.pointee.rttCount += 1
            if flowGnb >= 0 && uplink {
                ranSamples.append(RTTSample(ms: rtt, group: Int32(flowGnb)))
                gnbs[flowGnb].rttSamples += 1
            }
        }
    }

    // MARK: Closing a window

    private func closeWindow() -> WindowBatch {
        var batch = WindowBatch(start: windowStart, end: windowStart + windowLength)
        totals.windows += 1
        batch.conversations.reserveCapacity(conversations.count)
        conversations.forEach { key, c in
            batch.conversations.append(ConversationRow(src: key.src, dst: key.dst, ipProto: key.proto,
                                                       packets: c.pointee.packets, bytes: c.pointee.bytes))
        }
        conversations.removeAll()

        let idleBefore = batch.end - flowIdle
        var tunnelsPerGnb = [Int](repeating: 0, count: gnbs.count)
        batch.tunnels.reserveCapacity(tunnels.count)
        tunnels.forEach { key, slot in
            let t = slot.pointee
            if t.packets > 0 {
                var row = TunnelRow(dst: key.receiver, teid: key.teid, src: t.src,
                                    direction: t.direction == 1 ? "ul" : t.direction == 2 ? "dl" : nil,
                                    gnbAddress: t.gnb >= 0 ? gnbs[t.gnb].gnbAddress : nil,
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
                    gnbs[t.gnb].seqGapEvents += t.seqGapEvents
                    gnbs[t.gnb].seqLost += t.seqLost
                }
                batch.tunnels.append(row)
                slot.pointee.resetCounters()
            }
        }
        tunnels.removeAll { _, t in t.lastSeen < idleBefore }

        groupSamples()
        batch.flows.reserveCapacity(flows.count)
        flows.forEach { key, slot in
            let f = slot.pointee
            if f.packets[0] + f.packets[1] > 0 {
                let (p50, p95) = flowPercentiles(f.windowSlot)
                let a = f.aIsLow ? 0 : 1
                batch.flows.append(FlowRow(
                    proto: key.proto,
                    aIP: f.aIsLow ? key.low : key.high, aPort: f.aIsLow ? key.lowPort : key.highPort,
                    bIP: f.aIsLow ? key.high : key.low, bPort: f.aIsLow ? key.highPort : key.lowPort,
                    packetsAB: Int(f.packets[a]), packetsBA: Int(f.packets[1 - a]), bytesAB: f.bytes[a], bytesBA: f.bytes[1 - a],
                    retransmissions: Int(f.retransmissions), sequenceGaps: Int(f.sequenceGaps), rttSamples: Int(f.rttCount),
                    rttP50Ms: p50, rttP95Ms: p95,
                    gnbAddress: f.gnb >= 0 ? gnbs[Int(f.gnb)].gnbAddress : nil, tunnelled: f.tunnelled))
            }
            slot.pointee.resetCounters()
        }
        flows.removeAll { key, f in
            if f.isClosed || f.lastSeen < idleBefore { return true }
            if f.lastSeen < batch.start {
                idleFlows[key] = f
                oldestIdle = min(oldestIdle, f.lastSeen)
                return true
            }
            return false
        }
        if oldestIdle < idleBefore {
            idleFlows = idleFlows.filter { $0.value.lastSeen >= idleBefore }
            oldestIdle = idleFlows.values.reduce(.max) { min($0, $1.lastSeen) }
        }

        for g in gnbs.indices {
            var w = gnbs[g]
            guard w.packetsUL + w.packetsDL + w.errorIndications > 0 || echoRTT[g] != nil else { continue }
            w.tunnels = tunnelsPerGnb[g]
            (w.rttP50Ms, w.rttP95Ms) = gnbPercentiles(g)
            if var echoes = echoRTT[g] { w.echoRttMs = percentiles(&echoes).p50 }
            batch.gnbs.append(w)
            gnbs[g] = GnbWindow(gnbAddress: w.gnbAddress)
        }
        samples.removeAll(keepingCapacity: true)
        ranSamples.removeAll(keepingCapacity: true)
        flowsWithSamples = 0
        echoRTT.removeAll()
        if echoRequests.count > 4096 { echoRequests.removeAll(keepingCapacity: true) }
        return batch
    }

    /// Groups the window's RTT samples by flow and by gNB with a counting sort (sequential
    /// passes), so that each flow's and gNB's percentiles are computed on a contiguous run.
    private func groupSamples() {
        Self.group(samples, groups: flowsWithSamples, offsets: &sampleOffsets, into: &groupedSamples)
        Self.group(ranSamples, groups: gnbs.count, offsets: &gnbSampleOffsets, into: &gnbGroupedSamples)
    }

    private static func group(_ samples: [RTTSample], groups: Int, offsets: inout [Int], into out: inout [Float]) {
        offsets.removeAll(keepingCapacity: true)
        offsets.append(contentsOf: repeatElement(0, count: groups + 1))
        out.removeAll(keepingCapacity: true)
        out.append(contentsOf: repeatElement(0, count: samples.count))
        for s in samples { offsets[Int(s.group) + 1] += 1 }
        for i in 0..<groups { offsets[i + 1] += offsets[i] }
        var next = offsets
        for s in samples {
            out[next[Int(s.group)]] = s.ms
            next[Int(s.group)] += 1
        }
    }

    /// Exact p50/p95 of one flow's samples in the open window.
    private func flowPercentiles(_ slot: Int32) -> (Double?, Double?) {
        guard slot >= 0 else { return (nil, nil) }
        let range = sampleOffsets[Int(slot)]..<sampleOffsets[Int(slot) + 1]
        return groupedSamples.withUnsafeMutableBufferPointer { all in
            percentiles(UnsafeMutableBufferPointer(rebasing: all[range]))
        }
    }

    /// Exact p50/p95 of one gNB's samples (all its flows) in the open window.
    private func gnbPercentiles(_ g: Int) -> (Double?, Double?) {
        let range = gnbSampleOffsets[g]..<gnbSampleOffsets[g + 1]
        return gnbGroupedSamples.withUnsafeMutableBufferPointer { all in
            percentiles(UnsafeMutableBufferPointer(rebasing: all[range]))
        }
    }
}

/// Exact p50 and p95 (nearest rank) of `values`, which are reordered.
func percentiles(_ values: inout [Float]) -> (p50: Double?, p95: Double?) {
    values.withUnsafeMutableBufferPointer { percentiles($0) }
}

/// Exact p50 and p95 (nearest rank) of `values`, which are reordered.
func percentiles(_ b: UnsafeMutableBufferPointer<Float>) -> (p50: Double?, p95: Double?) {
    let n = b.count
    guard n > 0 else { return (nil, nil) }
    func rank(_ q: Double) -> Int { max(0, min(n - 1, Int((q * Double(n)).rounded(.up)) - 1)) }
    let r50 = rank(0.5), r95 = rank(0.95)
    if n <= 32 {
        // Most flows have a handful of samples per window: an insertion sort is cheapest.
        for i in 1..<max(n, 1) {
            let v = b[i]
            var j = i - 1
            while j >= 0 && b[j] > v { b[j + 1] = b[j]; j -= 1 }
            b[j + 1] = v
        }
    } else {
        // Selection instead of a full sort: after placing p50, p95 lies in the upper part.
        select(b, r50, from: 0, to: n - 1)
        select(b, r95, from: r50, to: n - 1)
    }
    // Samples are Float: keep the microseconds, not the float noise below them.
    return ((Double(b[r50]) * 1000).rounded() / 1000, (Double(b[r95]) * 1000).rounded() / 1000)
}

/// Puts the k-th smallest element of `b[lo...hi]` at index k, smaller ones before it and larger
/// ones after (Hoare's quickselect with a median-of-three pivot).
func select(_ b: UnsafeMutableBufferPointer<Float>, _ k: Int, from lo: Int, to hi: Int) {
    var lo = lo, hi = hi
    while lo < hi {
        let mid = lo + (hi - lo) / 2
        if b[mid] < b[lo] { b.swapAt(mid, lo) }
        if b[hi] < b[lo] { b.swapAt(hi, lo) }
        if b[hi] < b[mid] { b.swapAt(hi, mid) }
        let pivot = b[mid]
        var i = lo, j = hi
        while i <= j {
            while b[i] < pivot { i += 1 }
            while pivot < b[j] { j -= 1 }
            if i <= j { b.swapAt(i, j); i += 1; j -= 1 }
        }
        if k <= j { hi = j } else if k >= i { lo = i } else { return }
    }
}

// MARK: - Table entries

struct ConversationKey: FlatKey {
    var src: IPAddress
    var dst: IPAddress
    var proto: UInt8

    @inline(__always)
    func hash(_ seed: UInt64) -> UInt64 {
        HashMix.mix(HashMix.mix(HashMix.mix(HashMix.mix(seed, src.low), src.high), dst.low),
                    dst.high ^ UInt64(proto) << 56)
    }
}

struct Counter {
    var packets: Int
    var bytes: Int
}

struct TunnelKey: FlatKey {
    var receiver: IPAddress
    var teid: UInt32

    @inline(__always)
    func hash(_ seed: UInt64) -> UInt64 {
        HashMix.mix(HashMix.mix(seed, receiver.low ^ UInt64(teid) << 32), receiver.high)
    }
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

struct FlowKey: FlatKey, Hashable {
    var low: IPAddress
    var high: IPAddress
    var lowPort: UInt16
    var highPort: UInt16
    var proto: UInt8

    @inline(__always)
    func hash(_ seed: UInt64) -> UInt64 {
        let ports = UInt64(lowPort) << 32 | UInt64(highPort) << 16 | UInt64(proto)
        return HashMix.mix(HashMix.mix(HashMix.mix(HashMix.mix(HashMix.mix(seed, low.low), low.high), high.low), high.high), ports)
    }
}

/// TCP tracking for one direction of a flow; fields ordered largest first so that the flow
/// entry packs into as few cache lines as possible.
struct TCPDirection {
    var tsTime: Int64 = 0
    var probeTime: Int64 = 0
    var nextSeq: UInt32 = 0
    var tsVal: UInt32 = 0
    var probeEnd: UInt32 = 0
    var seqValid = false
    var tsValid = false
    var tsEchoed = false
    var probeValid = false
    var fin = false
}

/// Two-element storage without an array allocation.
struct Pair<T> {
    var first: T
    var second: T
    init(_ value: T) { first = value; second = value }
    subscript(i: Int) -> T {
        get { i == 0 ? first : second }
        _modify {
            // In place: a get/set pair would copy the element out and back on every update.
            if i == 0 { yield &first } else { yield &second }
        }
    }
}

struct FlowState {
    var lastSeen: Int64 = 0
    var bytes = Pair(0)
    var dir = Pair(TCPDirection())
    var packets = Pair(UInt32(0))
    var retransmissions: UInt32 = 0
    var sequenceGaps: UInt32 = 0
    var rttCount: UInt32 = 0
    /// Index of the flow's RTT samples in the open window's grouping, -1 when it has none.
    var windowSlot: Int32 = -1
    var gnb: Int32 = -1
    var aIsLow = true
    var tunnelled = false
    var reset = false

    /// Byte offset of the two `TCPDirection`s, which `Pair` stores side by side.
    static let directionsOffset: Int = {
        precondition(MemoryLayout<Pair<TCPDirection>>.offset(of: \.second) == MemoryLayout<TCPDirection>.stride)
        return MemoryLayout<FlowState>.offset(of: \FlowState.dir)!
    }()

    var isClosed: Bool { reset || (dir.first.fin && dir.second.fin) }

    /// A new SYN on a finished connection's 5-tuple starts a new flow.
    func reopens(_ p: DecodedPacket, direction: Int) -> Bool {
        isClosed && p.hasTCP && p.tcp.flags & TCPSegment.syn != 0 && p.tcp.flags & TCPSegment.ackFlag == 0
    }

    mutating func resetCounters() {
        packets = Pair(0); bytes = Pair(0)
        retransmissions = 0; sequenceGaps = 0; windowSlot = -1; rttCount = 0
    }
}

/// An RTT sample and the flow slot or gNB it belongs to.
struct RTTSample {
    var ms: Float
    var group: Int32
}

struct EchoKey: Hashable {
    var from: IPAddress
    var to: IPAddress
    var sequence: UInt16
}
