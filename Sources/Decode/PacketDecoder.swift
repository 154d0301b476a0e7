/// Decodes one captured frame in place: link layer, outer IP, UDP/TCP/SCTP, GTP-U with its
/// extension headers, and the tunnelled IP packet with its own TCP/UDP.
///
/// Reads never go past the captured bytes: each layer checks its length before reading and a
/// short or inconsistent header stops decoding with a `DecodeIssue`. Lengths that feed the
/// counters (IP total length, TCP payload) come from the headers, so a capture cut at a snap
/// length still counts what was on the wire.
public struct PacketDecoder: Sendable {
    public var linkType: LinkType
    /// UDP ports that carry GTP-U. 2152 is the standard; add others for captures that move it.
    public var gtpPorts: [UInt16]
    /// UDP port of PFCP (N4).
    public var pfcpPort: UInt16 = 8805
    /// UDP port of srsRAN gNB metrics datagrams (its default); 0 turns the check off.
    public var metricsPort: UInt16 = 55555
    /// Recognise GTP-U G-PDUs on other ports by shape (version 1, type 255, exact length, and an
    /// IP packet inside whose length matches). Off by default: tshark does not do it either.
    public var gtpHeuristic: Bool = false

    public static let maxTunnelDepth = 3

    public init(linkType: LinkType, gtpPorts: [UInt16] = [2152], gtpHeuristic: Bool = false) {
        self.linkType = linkType
        self.gtpPorts = gtpPorts
        self.gtpHeuristic = gtpHeuristic
    }

    /// Decodes `frame` (the captured bytes) of a packet that was `wireLength` bytes on the wire.
    public func decode(_ frame: UnsafeRawBufferPointer, wireLength: Int, into p: inout DecodedPacket) {
        if standardPortsOnly, case .ethernet = linkType, frame.count == wireLength, decodeN3(frame, into: &p) { return }
        decodeAnyPacket(frame, wireLength: wireLength, into: &p)
    }

    /// Only the standard GTP-U port, no heuristic: the precondition of the N3 fast path.
    private var standardPortsOnly: Bool { !gtpHeuristic && gtpPorts.count == 1 && gtpPorts[0] == 2152 }

    /// The fast path for what an N3/N9 capture is mostly made of: a whole Ethernet frame (at
    /// most one 802.1Q tag) with IPv4/UDP/GTP-U G-PDU (no extension header, or one PDU Session
    /// Container) carrying IPv4 TCP (no options, or NOP NOP timestamps) or UDP, every length
    /// consistent. It fills `p` exactly as `decodeAnyPacket` would (a property test holds them
    /// equal) and returns false, having written nothing that matters, for anything else.
    @inline(__always)
    func decodeN3(_ b: UnsafeRawBufferPointer, into p: inout DecodedPacket) -> Bool {
        let n = b.count
        guard n >= 14 + 20 + 8 + 8 + 20 + 8, let base = b.baseAddress else { return false }
        func u8(_ o: Int) -> UInt8 { base.load(fromByteOffset: o, as: UInt8.self) }
        func u16(_ o: Int) -> UInt16 { UInt16(bigEndian: base.loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
        func u32(_ o: Int) -> UInt32 { UInt32(bigEndian: base.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
        var ip = 14
        var tags: UInt8 = 0
        var etherType = u16(12)
        if etherType == 0x8100 {
            etherType = u16(16)
            ip = 18
            tags = 1
        }
        // Outer IPv4, no options, not a fragment, UDP, filling the frame exactly.
        guard etherType == 0x0800, u8(ip) == 0x45, Int(u16(ip + 2)) == n - ip, u16(ip + 6) & 0x3fff == 0,
              u8(ip + 9) == 17 else { return false }
        let udp = ip + 20
        let sport = u16(udp), dport = u16(udp + 2)
        guard sport == 2152 || dport == 2152, Int(u16(udp + 4)) == n - udp else { return false }
        // GTP-U v1 G-PDU whose length fills the datagram.
        let g = udp + 8
        let flags = u8(g)
        guard flags & 0xf0 == 0x30, u8(g + 1) == GTPUHeader.gpdu, g + 8 + Int(u16(g + 2)) == n else { return false }
        var gtp = GTPUHeader()
        gtp.messageType = GTPUHeader.gpdu
        gtp.teid = u32(g + 4)
        var inner = g + 8
        if flags & 0x07 != 0 {
            gtp.hasSequence = flags & 0x02 != 0
            gtp.sequence = u16(g + 8)
            inner = g + 12
            switch u8(g + 11) {
            case 0:
                break
            case 0x85:
                // One PDU Session Container of one 4-octet unit, ending the chain.
                guard inner + 4 + 20 <= n, u8(inner) == 1, u8(inner + 3) == 0 else { return false }
                gtp.pduType = u8(inner + 1) >> 4
                gtp.qfi = u8(inner + 2) & 0x3f
                inner += 4
            default:
                return false
            }
        }
        gtp.innerLength = UInt32(n - inner)
        // Inner IPv4, no options, not a fragment, filling the G-PDU exactly.
        guard inner + 20 + 8 <= n, u8(inner) == 0x45, Int(u16(inner + 2)) == n - inner,
              u16(inner + 6) & 0x3fff == 0 else { return false }
        var layer = IPLayer()
        layer.proto = u8(inner + 9)
        layer.totalLength = UInt32(n - inner)
        layer.src = IPAddress(v4: u32(inner + 12))
        layer.dst = IPAddress(v4: u32(inner + 16))
        let l4 = inner + 20
        layer.srcPort = u16(l4)
        layer.dstPort = u16(l4 + 2)
        var tcp = TCPSegment()
        switch layer.proto {
        case 17:
            // Not GTP-U in GTP-U (the general path follows that).
            guard Int(u16(l4 + 4)) == n - l4, layer.srcPort != 2152, layer.dstPort != 2152 else { return false }
        case 6:
            guard l4 + 20 <= n else { return false }
            let dataOffset = Int(u8(l4 + 12) >> 4) * 4
            guard l4 + dataOffset <= n else { return false }
            if dataOffset == 32 {
                guard u32(l4 + 20) == 0x0101_080a else { return false }
                tcp.hasTimestamp = true
                tcp.tsVal = u32(l4 + 24)
                tcp.tsEcr = u32(l4 + 28)
            } else if dataOffset != 20 {
                return false
            }
            tcp.seq = u32(l4 + 4)
            tcp.ack = u32(l4 + 8)
            tcp.flags = u8(l4 + 13)
            tcp.payloadLength = UInt32(n - l4 - dataOffset)
        default:
            return false
        }
        var outer = IPLayer()
        outer.proto = 17
        outer.totalLength = UInt32(n - ip)
        outer.src = IPAddress(v4: u32(ip + 12))
        outer.dst = IPAddress(v4: u32(ip + 16))
        outer.srcPort = sport
        outer.dstPort = dport
        p.reset()
        p.vlanTags = tags
        p.hasIP = true
        p.outer = outer
        p.hasGTP = true
        p.gtp = gtp
        p.hasInner = true
        p.inner = layer
        if layer.proto == 6 {
            p.hasTCP = true
            p.tcp = tcp
        }
        return true
    }

    /// Decodes any frame of the link type, layer by layer.
    func decodeAnyPacket(_ frame: UnsafeRawBufferPointer, wireLength: Int, into p: inout DecodedPacket) {
        p.reset()
        p.snapCut = frame.count < wireLength
        var offset = 0
        var etherType: UInt16 = 0
        switch linkType {
        case .ethernet:
            guard let type = frame.u16(12) else { return fail(&p, .linkTruncated) }
            etherType = type
            offset = 14
            var tags: UInt8 = 0
            while etherType == 0x8100 || etherType == 0x88a8 || etherType == 0x9100 {
                guard tags < 8, let inner = frame.u16(offset + 2) else { return fail(&p, .vlanTruncated) }
                etherType = inner
                offset += 4
                tags += 1
            }
            p.vlanTags = tags
        case .linuxSLL:
            guard let type = frame.u16(14) else { return fail(&p, .linkTruncated) }
            etherType = type
            offset = 16
        case .linuxSLL2:
            guard let type = frame.u16(0), frame.has(0, 20) else { return fail(&p, .linkTruncated) }
            etherType = type
            offset = 20
        case .rawIP:
            guard let first = frame.u8(0) else { return fail(&p, .linkTruncated) }
            etherType = first >> 4 == 6 ? 0x86dd : first >> 4 == 4 ? 0x0800 : 0
        case .ipv4:
            etherType = 0x0800
        case .ipv6:
            etherType = 0x86dd
        case .bsdLoopback(let networkOrder):
            guard let raw = frame.u32(0) else { return fail(&p, .linkTruncated) }
            let family = networkOrder ? raw : raw.byteSwapped
            etherType = family == 2 ? 0x0800 : (family == 24 || family == 28 || family == 30) ? 0x86dd : 0
            offset = 4
        }
        // MPLS label stack: skip to the bottom label, then guess IPv4/IPv6 from the version.
        if etherType == 0x8847 || etherType == 0x8848 {
            var labels = 0
            while true {
                guard labels < 16, let label = frame.u32(offset) else { return fail(&p, .linkTruncated) }
                offset += 4
                labels += 1
                if label & 0x100 != 0 { break }
            }
            guard let first = frame.u8(offset) else { return fail(&p, .linkTruncated) }
            etherType = first >> 4 == 6 ? 0x86dd : first >> 4 == 4 ? 0x0800 : 0
        }
        guard etherType == 0x0800 || etherType == 0x86dd else { return }
        var outer = IPLayer()
        let span = readIP(frame, at: offset, isV6: etherType == 0x86dd, into: &outer, packet: &p)
        // A later fragment has addresses but no transport header: it still counts per conversation.
        guard let l4 = span else {
            if outer.isNonFirstFragment {
                p.hasIP = true
                p.outer = outer
            }
            return
        }
        p.hasIP = true
        readTransport(frame, l4, layer: &outer, packet: &p, depth: 0)
        p.outer = outer
    }

    /// Offsets of a transport header: where it starts, where the IP packet ends per its header
    /// (`declaredEnd`) and where the captured bytes of it end (`end`).
    @usableFromInline
    struct L4Span {
        var start: Int
        var end: Int
        var declaredEnd: Int
    }

    @inline(__always)
    private func fail(_ p: inout DecodedPacket, _ issue: DecodeIssue) {
        // A header cut by the snap length is not malformed: the capture chose to stop there.
        if p.issue == nil && !p.snapCut { p.issue = issue }
    }

    /// Reads an IPv4 or IPv6 header at `offset`; returns the transport span, or nil when the
    /// header is unusable (the issue is recorded) or a later fragment carries no transport.
    private func readIP(_ b: UnsafeRawBufferPointer, at offset: Int, isV6: Bool, into ip: inout IPLayer,
                        packet p: inout DecodedPacket) -> L4Span? {
        if !isV6 {
            guard b.has(offset, 20) else { fail(&p, .ipv4Truncated); return nil }
            let versionIHL = b[offset]
            let headerLength = Int(versionIHL & 0x0f) * 4
            guard versionIHL >> 4 == 4, headerLength >= 20 else { fail(&p, .ipv4BadHeader); return nil }
            let totalLength = Int(b.u16(offset + 2)!)
            guard totalLength >= headerLength else { fail(&p, .ipv4BadLength); return nil }
            ip.totalLength = UInt32(totalLength)
            ip.proto = b[offset + 9]
            ip.src = b.ipv4(offset + 12)
            ip.dst = b.ipv4(offset + 16)
            let fragment = b.u16(offset + 6)!
            let fragmentOffset = fragment & 0x1fff
            ip.isFragment = fragmentOffset != 0 || fragment & 0x2000 != 0
            let declaredEnd = offset + totalLength
            if declaredEnd > b.count && !p.snapCut { fail(&p, .ipv4BadLength) }
            guard fragmentOffset == 0 else { ip.isNonFirstFragment = true; return nil }
            guard b.has(offset, headerLength) else { fail(&p, .ipv4Truncated); return nil }
            return L4Span(start: offset + headerLength, end: min(declaredEnd, b.count), declaredEnd: declaredEnd)
        }
        guard b.has(offset, 40) else { fail(&p, .ipv6Truncated); return nil }
        guard b[offset] >> 4 == 6 else { fail(&p, .ipv6Truncated); return nil }
        let payloadLength = Int(b.u16(offset + 4)!)
        ip.totalLength = UInt32(40 + payloadLength)
        ip.src = b.ipv6(offset + 8)
        ip.dst = b.ipv6(offset + 24)
        let declaredEnd = offset + 40 + payloadLength
        if declaredEnd > b.count && !p.snapCut { fail(&p, .ipv6BadLength) }
        var next = b[offset + 6]
        var cursor = offset + 40
        var headers = 0
        while headers < 16 {
            switch next {
            case 0, 43, 60, 135, 139, 140:  // hop-by-hop, routing, destination, mobility, HIP, shim6
                guard let length = b.u8(cursor + 1) else { fail(&p, .ipv6ExtensionTruncated); return nil }
                next = b[cursor]
                cursor += (Int(length) + 1) * 8
            case 44:  // fragment
                guard b.has(cursor, 8) else { fail(&p, .ipv6ExtensionTruncated); return nil }
                let field = b.u16(cursor + 2)!
                ip.isFragment = true
                next = b[cursor]
                cursor += 8
                if field >> 3 != 0 { ip.proto = next; ip.isNonFirstFragment = true; return nil }
            case 51:  // authentication header, length in 4-octet units minus 2
                guard let length = b.u8(cursor + 1) else { fail(&p, .ipv6ExtensionTruncated); return nil }
                next = b[cursor]
                cursor += (Int(length) + 2) * 4
            default:
                ip.proto = next
                guard cursor <= min(declaredEnd, b.count) || p.snapCut else {
                    fail(&p, .ipv6ExtensionTruncated); return nil
                }
                return L4Span(start: cursor, end: min(declaredEnd, b.count), declaredEnd: declaredEnd)
            }
            headers += 1
        }
        fail(&p, .ipv6ExtensionTruncated)
        return nil
    }

    /// Reads TCP/UDP/SCTP at the span; UDP payloads on GTP-U or PFCP ports go further.
    private func readTransport(_ b: UnsafeRawBufferPointer, _ span: L4Span, layer ip: inout IPLayer,
                               packet p: inout DecodedPacket, depth: Int) {
        let l4 = span.start
        switch ip.proto {
        case 17:
            guard b.has(l4, 8), l4 + 8 <= span.end || p.snapCut else { return fail(&p, .udpTruncated) }
            ip.srcPort = b.u16(l4)!
            ip.dstPort = b.u16(l4 + 2)!
            let udpLength = Int(b.u16(l4 + 4)!)
            // Length 0 is legal for IPv6 jumbograms; otherwise it must cover the header and fit.
            if udpLength != 0 && (udpLength < 8 || l4 + udpLength > span.declaredEnd) {
                return fail(&p, .udpBadLength)
            }
            let payloadEnd = udpLength == 0 ? span.declaredEnd : l4 + udpLength
            let payload = l4 + 8
            if isGTPPort(ip.srcPort, ip.dstPort) || (gtpHeuristic && looksLikeGPDU(b, payload, payloadEnd)) {
                readGTP(b, at: payload, end: payloadEnd, packet: &p, depth: depth)
            } else if depth == 0 && (ip.srcPort == pfcpPort || ip.dstPort == pfcpPort) {
                p.pfcpOffset = payload
                p.pfcpLength = max(0, min(payloadEnd, b.count) - payload)
            } else if depth == 0 && ip.dstPort == metricsPort && metricsPort != 0 {
                p.metricsOffset = payload
                p.metricsLength = max(0, min(payloadEnd, b.count) - payload)
            }
        case 6:
            guard b.has(l4, 20) else { return fail(&p, .tcpTruncated) }
            ip.srcPort = b.u16(l4)!
            ip.dstPort = b.u16(l4 + 2)!
            let dataOffset = Int(b[l4 + 12] >> 4) * 4
            guard dataOffset >= 20, l4 + dataOffset <= span.declaredEnd else { return fail(&p, .tcpBadOffset) }
            var tcp = TCPSegment()
            tcp.seq = b.u32(l4 + 4)!
            tcp.ack = b.u32(l4 + 8)!
            tcp.flags = b[l4 + 13]
            tcp.payloadLength = UInt32(span.declaredEnd - l4 - dataOffset)
            let optionsEnd = l4 + dataOffset
            if optionsEnd <= b.count {
                var o = l4 + 20
                while o < optionsEnd {
                    let kind = b[o]
                    if kind == 0 { break }
                    if kind == 1 { o += 1; continue }
                    guard o + 1 < optionsEnd else { fail(&p, .tcpOptionMalformed); break }
                    let length = Int(b[o + 1])
                    guard length >= 2, o + length <= optionsEnd else { fail(&p, .tcpOptionMalformed); break }
                    if kind == 8 && length == 10 {
                        tcp.hasTimestamp = true
                        tcp.tsVal = b.u32(o + 2)!
                        tcp.tsEcr = b.u32(o + 6)!
                    }
                    o += length
                }
            }
            p.tcp = tcp
            p.hasTCP = true
        case 132:
            guard b.has(l4, 12) else { return fail(&p, .sctpTruncated) }
            ip.srcPort = b.u16(l4)!
            ip.dstPort = b.u16(l4 + 2)!
            var chunk = l4 + 12
            var chunks: UInt16 = 0
            while chunk + 4 <= span.end && chunks < 256 {
                let length = Int(b.u16(chunk + 2)!)
                guard length >= 4, chunk + length <= span.declaredEnd else { fail(&p, .sctpChunkMalformed); break }
                chunks += 1
                chunk += (length + 3) & ~3
            }
            p.sctpChunks = chunks
        default:
            break
        }
    }

    @inline(__always)
    private func isGTPPort(_ a: UInt16, _ b: UInt16) -> Bool {
        for port in gtpPorts where a == port || b == port { return true }
        return false
    }

    /// A G-PDU by shape: version 1 GTP, type 255, length matching the datagram exactly, and a
    /// tunnelled IPv4/IPv6 header whose own length fills the rest.
    private func looksLikeGPDU(_ b: UnsafeRawBufferPointer, _ at: Int, _ end: Int) -> Bool {
        guard let flags = b.u8(at), flags & 0xf0 == 0x30, b.u8(at + 1) == 0xff,
              let length = b.u16(at + 2), at + 8 + Int(length) == end else { return false }
        var hdr = at + 8
        if flags & 0x07 != 0 {
            guard var next = b.u8(at + 11) else { return false }
            hdr = at + 12
            var hops = 0
            while next != 0 {
                guard hops < 8, let units = b.u8(hdr), units > 0, b.has(hdr, Int(units) * 4) else { return false }
                next = b[hdr + Int(units) * 4 - 1]
                hdr += Int(units) * 4
                hops += 1
            }
        }
        guard let first = b.u8(hdr) else { return false }
        if first >> 4 == 4, let total = b.u16(hdr + 2) { return hdr + Int(total) == end }
        if first >> 4 == 6, let payload = b.u16(hdr + 4) { return hdr + 40 + Int(payload) == end }
        return false
    }

    private func readGTP(_ b: UnsafeRawBufferPointer, at offset: Int, end: Int, packet p: inout DecodedPacket,
                         depth: Int) {
        let outermost = depth == 0
        guard b.has(offset, 8) else { return fail(&p, .gtpTruncated) }
        let flags = b[offset]
        guard flags >> 5 == 1, flags & 0x10 != 0 else { return fail(&p, .gtpBadVersion) }
        var gtp = GTPUHeader()
        gtp.messageType = b[offset + 1]
        let length = Int(b.u16(offset + 2)!)
        gtp.teid = b.u32(offset + 4)!
        var messageEnd = offset + 8 + length
        var header = offset + 8
        var issue: DecodeIssue? = nil
        if messageEnd > end {
            // Counted, then read up to the datagram's end as tshark does: some stacks (UERANSIM)
            // put the whole message length, mandatory header included, in the field.
            fail(&p, .gtpBadLength)
            messageEnd = end
        }
        if flags & 0x07 != 0 {
            if b.has(offset + 8, 4) && header + 4 <= messageEnd {
                gtp.hasSequence = flags & 0x02 != 0
                gtp.sequence = b.u16(offset + 8)!
                var next = b[offset + 11]
                header = offset + 12
                var hops = 0
                while next != 0 {
                    guard hops < 16, let units = b.u8(header), units > 0 else {
                        issue = b.has(header, 1) ? .gtpExtensionMalformed : .gtpTruncated
                        break
                    }
                    let extLength = Int(units) * 4
                    guard header + extLength <= messageEnd else { issue = .gtpExtensionMalformed; break }
                    guard b.has(header, extLength) else { issue = .gtpTruncated; break }
                    if next == 0x85 {
                        gtp.pduType = b[header + 1] >> 4
                        gtp.qfi = b[header + 2] & 0x3f
                    }
                    next = b[header + extLength - 1]
                    header += extLength
                    hops += 1
                }
            } else {
                issue = .gtpTruncated
            }
        }
        if gtp.messageType == GTPUHeader.gpdu && messageEnd > header { gtp.innerLength = UInt32(messageEnd - header) }
        if outermost {
            p.gtp = gtp
            p.hasGTP = true
        } else {
            p.gtp.nestedDepth = UInt8(depth)
        }
        if let issue { return fail(&p, issue) }
        guard gtp.messageType == GTPUHeader.gpdu, header < messageEnd else { return }
        // The tunnelled packet.
        guard let first = b.u8(header) else { return fail(&p, .gtpTruncated) }
        let version = first >> 4
        guard version == 4 || version == 6 else { return fail(&p, .innerIPMalformed) }
        var inner = IPLayer()
        let before = p.issue
        guard let span = readIP(b, at: header, isV6: version == 6, into: &inner, packet: &p) else {
            // Keep addresses of a later fragment; mark malformed inner headers as such.
            if p.issue != before, p.issue != nil { p.issue = .innerIPMalformed }
            if inner.isNonFirstFragment { p.inner = inner; p.hasInner = true }
            return
        }
        p.inner = inner
        p.hasInner = true
        if depth + 1 < PacketDecoder.maxTunnelDepth, inner.proto == 17, let sp = b.u16(span.start),
           let dp = b.u16(span.start + 2), isGTPPort(sp, dp) {
            // GTP-U in GTP-U: the innermost packet is the flow.
            readTransport(b, span, layer: &inner, packet: &p, depth: depth + 1)
            if p.gtp.nestedDepth == 0 { p.inner = inner }
            return
        }
        p.hasTCP = false
        readTransport(b, span, layer: &inner, packet: &p, depth: depth + 1)
        p.inner = inner
    }
}
