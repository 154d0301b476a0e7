import Decode
import PropertyBased
import Testing

/// Random and mutated packets never crash the decoder, never make it claim bytes it does not
/// have, and keep the layers consistent with each other.
@Suite("Decoder on random and mutated input")
struct DecoderPropertyTests {
    static let links: [LinkType] = [.ethernet, .linuxSLL, .linuxSLL2, .rawIP, .bsdLoopback(networkOrder: false)]

    static func check(_ bytes: [UInt8], _ link: LinkType, wire: Int) {
        let p = decode(bytes, link: link, wireLength: wire)
        #expect(p.pfcpOffset + p.pfcpLength <= bytes.count)
        if p.hasInner { #expect(p.hasGTP) }
        if p.hasGTP { #expect(p.hasIP) }
        if p.hasTCP { #expect(p.hasIP) }
        if p.snapCut { #expect(bytes.count < wire) }
    }

    @Test("random bytes under every link type")
    func randomBytes() async {
        await propertyCheck(count: 3000, input: Gen.uint8().array(of: 0...160), Gen.int(in: 0...4)) { bytes, link in
            Self.check(bytes, Self.links[link], wire: bytes.count)
            Self.check(bytes, Self.links[link], wire: bytes.count + 40)
        }
    }

    @Test("valid N3 packets with bytes flipped and cut")
    func mutatedPackets() async {
        let base = uplinkPacket(vlans: [7])
        await propertyCheck(count: 5000, input: Gen.int(in: 0...(base.count - 1)).array(of: 1...6),
                            Gen.uint8(), Gen.int(in: 0...base.count)) { positions, value, length in
            var bytes = base
            for i in positions { bytes[i] ^= value | 1 }
            let cut = Array(bytes[..<length])
            Self.check(cut, .ethernet, wire: cut.count)
            Self.check(cut, .ethernet, wire: base.count)
        }
    }

    @Test("random GTP-U payloads on port 2152 with and without the heuristic")
    func randomGTP() async {
        await propertyCheck(count: 3000, input: Gen.uint8().array(of: 0...120)) { payload in
            let bytes = Build.ethernet(Build.ipv4(src: gnb, dst: upf, proto: 17, Build.udp(2152, 2152, payload)))
            Self.check(bytes, .ethernet, wire: bytes.count)
            let other = Build.ethernet(Build.ipv4(src: gnb, dst: upf, proto: 17, Build.udp(4000, 4001, payload)))
            let p = decode(other, heuristic: true)
            #expect(p.pfcpOffset + p.pfcpLength <= other.count)
        }
    }

    @Test("random PFCP payloads never crash the session table")
    func randomPFCP() async {
        await propertyCheck(count: 3000, input: Gen.uint8().array(of: 0...200)) { payload in
            var table = PFCPSessionTable()
            var bytes = payload
            if bytes.count > 1 { bytes[0] = 0x21 }  // version 1 with SEID, so parsing goes deep
            bytes.withUnsafeBytes { _ = table.ingest($0, src: IPAddress(v4: 1), dst: IPAddress(v4: 2)) }
            #expect(table.messages + table.malformed <= 200)
        }
    }
}
