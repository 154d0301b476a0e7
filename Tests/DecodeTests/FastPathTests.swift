@testable import Decode
import PropertyBased
import Testing

/// The N3 fast path must give exactly what the general decoder gives, whenever it takes a packet.
@Suite("N3 fast path")
struct FastPathTests {
    static func same(_ a: DecodedPacket, _ b: DecodedPacket) -> Bool {
        func ip(_ x: IPLayer, _ y: IPLayer) -> Bool {
            x.src == y.src && x.dst == y.dst && x.proto == y.proto && x.totalLength == y.totalLength
                && x.srcPort == y.srcPort && x.dstPort == y.dstPort && x.isFragment == y.isFragment
                && x.isNonFirstFragment == y.isNonFirstFragment
        }
        guard a.hasIP == b.hasIP, a.hasGTP == b.hasGTP, a.hasInner == b.hasInner, a.hasTCP == b.hasTCP,
              a.vlanTags == b.vlanTags, a.snapCut == b.snapCut, a.issue == b.issue,
              a.pfcpOffset == b.pfcpOffset, a.pfcpLength == b.pfcpLength, a.sctpChunks == b.sctpChunks else { return false }
        if a.hasIP && !ip(a.outer, b.outer) { return false }
        if a.hasInner && !ip(a.inner, b.inner) { return false }
        if a.hasGTP {
            let x = a.gtp, y = b.gtp
            guard x.messageType == y.messageType, x.teid == y.teid, x.hasSequence == y.hasSequence, x.sequence == y.sequence,
                  x.pduType == y.pduType, x.qfi == y.qfi, x.innerLength == y.innerLength, x.nestedDepth == y.nestedDepth
            else { return false }
        }
        if a.hasTCP {
            let x = a.tcp, y = b.tcp
            guard x.flags == y.flags, x.seq == y.seq, x.ack == y.ack, x.payloadLength == y.payloadLength,
                  x.hasTimestamp == y.hasTimestamp, x.tsVal == y.tsVal, x.tsEcr == y.tsEcr else { return false }
        }
        return true
    }

    /// N3 packets of every shape the fast path claims, and some it must refuse.
    static func packet(_ shape: Int, payload: Int) -> [UInt8] {
        let tcpWithTS = Build.tcp(40000, 443, seq: 7, ack: 9, flags: 0x18, timestamps: (5, 6), [UInt8](repeating: 1, count: payload))
        let tcpPlain = Build.tcp(443, 40000, seq: 1, ack: 2, flags: 0x10, [UInt8](repeating: 2, count: payload))
        let udp = Build.udp(5000, 5001, [UInt8](repeating: 3, count: payload))
        let icmp: [UInt8] = [8, 0, 0, 0, 0, 1, 0, 1] + [UInt8](repeating: 4, count: payload)
        let innerL4: [(UInt8, [UInt8])] = [(6, tcpWithTS), (6, tcpPlain), (17, udp), (1, icmp)]
        let (proto, l4) = innerL4[shape % 4]
        let inner = Build.ipv4(src: ue, dst: server, proto: proto, l4)
        let gtp: [UInt8]
        switch (shape / 4) % 4 {
        case 0: gtp = Build.gtpu(teid: 0x51, inner)
        case 1: gtp = Build.gtpu(teid: 0x52, sequence: 9, inner)
        case 2: gtp = Build.gtpu(teid: 0x53, container: (1, 9), inner)
        default: gtp = Build.gtpu(teid: 0x54, sequence: 3, container: (0, 63), inner)
        }
        let outer = Build.ipv4(src: gnb, dst: upf, proto: 17, Build.udp(shape % 3 == 0 ? 2152 : 40001, 2152, gtp))
        return Build.ethernet(outer, vlans: (shape / 16) % 3 == 0 ? [] : (shape / 16) % 3 == 1 ? [10] : [10, 20])
    }

    static func check(_ bytes: [UInt8], wire: Int) -> (taken: Bool, same: Bool) {
        let decoder = PacketDecoder(linkType: .ethernet)
        return bytes.withUnsafeBytes { b in
            var general = DecodedPacket()
            decoder.decodeAnyPacket(b, wireLength: wire, into: &general)
            var fast = DecodedPacket()
            guard wire == b.count, decoder.decodeN3(b, into: &fast) else { return (false, true) }
            return (true, same(fast, general))
        }
    }

    @Test("every shape: the fast path takes the plain ones and agrees with the general decoder")
    func shapes() {
        var taken = 0
        for shape in 0..<48 {
            for payload in [0, 1, 100, 1400] {
                let (t, same) = Self.check(Self.packet(shape, payload: payload), wire: Self.packet(shape, payload: payload).count)
                #expect(same, "shape \(shape), payload \(payload)")
                if t { taken += 1 }
            }
        }
        #expect(taken >= 48)  // the fast path is really used
    }

    @Test("mutated N3 packets: whatever the fast path takes, it decodes as the general decoder does")
    func mutations() async {
        await propertyCheck(count: 20_000, input: Gen.int(in: 0...47), Gen.int(in: 0...200),
                            Gen.int(in: 0...400).array(of: 0...4), Gen.uint8()) { shape, payload, positions, value in
            var bytes = Self.packet(shape, payload: payload)
            for i in positions where i < bytes.count { bytes[i] ^= value | 1 }
            #expect(Self.check(bytes, wire: bytes.count).same)
        }
    }

    @Test("decode() takes the fast path only for whole frames of the default configuration")
    func gate() {
        let bytes = Self.packet(0, payload: 10)
        var p = DecodedPacket()
        bytes.withUnsafeBytes { PacketDecoder(linkType: .ethernet).decode($0, wireLength: bytes.count + 10, into: &p) }
        #expect(p.snapCut && p.hasTCP)  // cut by the snap length: general path, same fields
    }
}
