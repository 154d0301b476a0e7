import Decode
import Testing

func decode(_ bytes: [UInt8], link: LinkType = .ethernet, wireLength: Int? = nil,
            gtpPorts: [UInt16] = [2152], heuristic: Bool = false) -> DecodedPacket {
    var p = DecodedPacket()
    let decoder = PacketDecoder(linkType: link, gtpPorts: gtpPorts, gtpHeuristic: heuristic)
    bytes.withUnsafeBytes { decoder.decode($0, wireLength: wireLength ?? bytes.count, into: &p) }
    return p
}

let gnb = Build.ip4(10, 10, 0, 1), upf = Build.ip4(10, 20, 0, 1)
let ue = Build.ip4(10, 45, 0, 7), server = Build.ip4(93, 184, 0, 10)

/// An N3 uplink G-PDU: gNB → UPF, TEID 0x1234, QFI 9, inner TCP with timestamps.
func uplinkPacket(vlans: [Int] = [], payload: Int = 100) -> [UInt8] {
    let inner = Build.ipv4(src: ue, dst: server, proto: 6,
                           Build.tcp(40000, 443, seq: 1000, ack: 2000, flags: 0x18, timestamps: (111, 222),
                                     [UInt8](repeating: 0xab, count: payload)))
    let gtp = Build.gtpu(teid: 0x1234, sequence: 77, container: (1, 9), inner)
    return Build.ethernet(Build.ipv4(src: gnb, dst: upf, proto: 17, Build.udp(2152, 2152, gtp)), vlans: vlans)
}

@Suite("Packet decoder")
struct PacketDecoderTests {
    @Test("N3 G-PDU: every layer read in place", arguments: [[], [100], [100, 200]])
    func gpdu(vlans: [Int]) {
        let bytes = uplinkPacket(vlans: vlans)
        let p = decode(bytes)
        #expect(p.issue == nil)
        #expect(Int(p.vlanTags) == vlans.count)
        #expect(p.hasIP && p.outer.src == IPAddress("10.10.0.1") && p.outer.dst == IPAddress("10.20.0.1"))
        #expect(p.outer.proto == 17 && p.outer.srcPort == 2152 && p.outer.dstPort == 2152)
        #expect(p.hasGTP && p.gtp.messageType == 0xff && p.gtp.teid == 0x1234)
        #expect(p.gtp.hasSequence && p.gtp.sequence == 77)
        #expect(p.gtp.pduType == 1 && p.gtp.qfi == 9)
        #expect(p.hasInner && p.inner.src == IPAddress("10.45.0.7") && p.inner.dst == IPAddress("93.184.0.10"))
        #expect(Int(p.inner.totalLength) == 20 + 32 + 100)
        #expect(Int(p.gtp.innerLength) == 20 + 32 + 100)
        #expect(p.inner.srcPort == 40000 && p.inner.dstPort == 443)
        #expect(p.hasTCP && p.tcp.seq == 1000 && p.tcp.ack == 2000 && p.tcp.flags == 0x18)
        #expect(p.tcp.payloadLength == 100)
        #expect(p.tcp.hasTimestamp && p.tcp.tsVal == 111 && p.tcp.tsEcr == 222)
        #expect(p.flowLayer?.src == IPAddress("10.45.0.7"))
    }

    @Test("Linux cooked v1 and v2, raw IP, BSD loopback")
    func linkTypes() {
        let ip = Build.ipv4(src: ue, dst: server, proto: 17, Build.udp(5000, 53, [1, 2, 3]))
        for (bytes, link) in [(Build.sll(ip), LinkType.linuxSLL), (Build.sll2(ip), .linuxSLL2), (ip, .rawIP), (ip, .ipv4),
                              ([2, 0, 0, 0] + ip, .bsdLoopback(networkOrder: false)),
                              ([0, 0, 0, 2] + ip, .bsdLoopback(networkOrder: true))] {
            let p = decode(bytes, link: link)
            #expect(p.hasIP && p.outer.dst == IPAddress("93.184.0.10") && p.outer.dstPort == 53, "\(link)")
            #expect(p.issue == nil)
        }
        let v6 = Build.ipv6(src: Build.v6(1), dst: Build.v6(2), next: 17, Build.udp(1, 2, []))
        let p = decode(v6, link: .rawIP)
        #expect(p.hasIP && p.outer.src == IPAddress("2001:db8::1") && p.outer.dstPort == 2)
    }

    @Test("IPv6 extension headers are walked to the transport header")
    func ipv6Extensions() {
        let udp = Build.udp(2152, 2152, Build.gtpu(teid: 9, Build.ipv4(src: ue, dst: server, proto: 1, [8, 0, 0, 0])))
        // hop-by-hop (8 bytes) → destination options (16 bytes) → fragment (first) → UDP
        let fragment: [UInt8] = [17, 0, 0, 0, 0, 0, 0, 1]
        let destination: [UInt8] = [44, 1] + [UInt8](repeating: 0, count: 14)
        let hopByHop: [UInt8] = [60, 0] + [UInt8](repeating: 0, count: 6)
        let packet = Build.ipv6(src: Build.v6(1), dst: Build.v6(2), next: 0, hopByHop + destination + fragment + udp)
        let p = decode(Build.ethernet(packet, etherType: 0x86dd))
        #expect(p.issue == nil)
        #expect(p.outer.proto == 17 && p.outer.isFragment && !p.outer.isNonFirstFragment)
        #expect(p.hasGTP && p.gtp.teid == 9 && p.hasInner && p.inner.proto == 1)
    }

    @Test("IPv4 fragments are counted, not reassembled: a later fragment has no ports")
    func ipv4Fragments() {
        let first = decode(Build.ethernet(Build.ipv4(src: gnb, dst: upf, proto: 17, Build.udp(2152, 2152, [0x30, 0xff, 0, 100, 0, 0, 0, 1]),
                                                     moreFragments: true)))
        #expect(first.hasIP && first.outer.isFragment && first.hasGTP && first.gtp.teid == 1)
        let later = decode(Build.ethernet(Build.ipv4(src: gnb, dst: upf, proto: 17, [UInt8](repeating: 0, count: 40),
                                                     fragmentOffset: 1480)))
        #expect(later.hasIP && later.outer.isNonFirstFragment && !later.hasGTP && later.flowLayer == nil)
        #expect(later.outer.src == IPAddress("10.10.0.1"))
    }

    @Test("GTP-U echo, end marker, inner IPv6 and GTP-U in GTP-U")
    func gtpCases() {
        let echo = decode(Build.ethernet(Build.ipv4(src: upf, dst: gnb, proto: 17,
                                                    Build.udp(2152, 2152, Build.gtpu(teid: 0, type: 1, sequence: 5, [14, 0])))))
        #expect(echo.hasGTP && echo.gtp.messageType == 1 && echo.gtp.sequence == 5 && !echo.hasInner)
        let marker = decode(Build.ethernet(Build.ipv4(src: upf, dst: gnb, proto: 17, Build.udp(2152, 2152, Build.gtpu(teid: 44, type: 254, [])))))
        #expect(marker.gtp.messageType == 254 && marker.gtp.teid == 44 && marker.issue == nil)
        let inner6 = Build.ipv6(src: Build.v6(7), dst: Build.v6(8), next: 17, Build.udp(5353, 5353, [1]))
        let v6 = decode(Build.ethernet(Build.ipv4(src: upf, dst: gnb, proto: 17, Build.udp(2152, 2152,
                                                  Build.gtpu(teid: 3, container: (0, 5), inner6)))))
        #expect(v6.hasInner && v6.inner.dst == IPAddress("2001:db8::8") && v6.inner.dstPort == 5353 && v6.gtp.pduType == 0)
        // N9 leg carrying an N3 packet: the outer TEID keys the tunnel, the innermost packet the flow.
        let innermost = Build.ipv4(src: ue, dst: server, proto: 6, Build.tcp(1, 2, seq: 9, ack: 0, flags: 0x02))
        let n3 = Build.ipv4(src: gnb, dst: upf, proto: 17, Build.udp(2152, 2152, Build.gtpu(teid: 0xaa, innermost)))
        let nested = decode(Build.ethernet(Build.ipv4(src: upf, dst: Build.ip4(10, 20, 0, 2), proto: 17,
                                                      Build.udp(2152, 2152, Build.gtpu(teid: 0xbb, n3)))))
        #expect(nested.gtp.teid == 0xbb && nested.gtp.nestedDepth == 1)
        #expect(nested.inner.src == IPAddress("10.45.0.7") && nested.hasTCP && nested.tcp.flags == 0x02)
    }

    @Test("GTP-U on another port: by configuration, or by shape with the heuristic")
    func gtpPorts() {
        let gtp = Build.gtpu(teid: 0x99, container: (1, 1), Build.ipv4(src: ue, dst: server, proto: 17, Build.udp(1, 2, [0])))
        let bytes = Build.ethernet(Build.ipv4(src: gnb, dst: upf, proto: 17, Build.udp(3386, 3386, gtp)))
        #expect(!decode(bytes).hasGTP)
        #expect(decode(bytes, gtpPorts: [2152, 3386]).gtp.teid == 0x99)
        #expect(decode(bytes, heuristic: true).gtp.teid == 0x99)
        // The heuristic does not take ordinary UDP for GTP-U.
        let dns = Build.ethernet(Build.ipv4(src: ue, dst: server, proto: 17, Build.udp(5353, 53, [0x30, 0xff, 0, 2, 1, 2])))
        #expect(!decode(dns, heuristic: true).hasGTP)
    }

    @Test("SCTP chunk headers are counted")
    func sctp() {
        let chunk: [UInt8] = [0, 3] + Build.be16(20) + [UInt8](repeating: 1, count: 16)
        let sack: [UInt8] = [3, 0] + Build.be16(16) + [UInt8](repeating: 0, count: 12)
        let sctp: [UInt8] = Build.be16(38412) + Build.be16(38412) + [0, 0, 0, 1, 0, 0, 0, 0] + chunk + sack
        let p = decode(Build.ethernet(Build.ipv4(src: gnb, dst: upf, proto: 132, sctp)))
        #expect(p.sctpChunks == 2 && p.outer.dstPort == 38412 && p.issue == nil)
    }

    @Test("PFCP payloads are located for the session table")
    func pfcp() {
        let message: [UInt8] = [0x20, 1, 0, 12, 0, 0, 1, 0, 0, 96, 0, 4, 0, 0, 0, 1]
        let p = decode(Build.ethernet(Build.ipv4(src: upf, dst: gnb, proto: 17, Build.udp(8805, 8805, message))))
        #expect(p.pfcpLength == message.count && p.pfcpOffset == 14 + 20 + 8)
    }

    @Test("Malformed headers are named, not read past")
    func malformed() {
        var bad = uplinkPacket()
        bad[14 + 20 + 8 + 8 + 4] = 0   // GTP-U extension header length 0
        #expect(decode(bad).issue == .gtpExtensionMalformed)
        var offset = uplinkPacket()
        offset[14 + 20 + 8 + 16 + 20 + 12] = 0x30  // inner TCP data offset 12 bytes
        #expect(decode(offset).issue == .tcpBadOffset)
        var version = uplinkPacket()
        version[14 + 20 + 8] = 0x50  // GTP version 2 on the GTP-U port
        #expect(decode(version).issue == .gtpBadVersion)
        var ihl = uplinkPacket()
        ihl[14] = 0x44  // IHL 16 bytes
        #expect(decode(ihl).issue == .ipv4BadHeader)
    }

    @Test("Every truncation of a valid packet: no crash; cut by snap length is not malformed")
    func truncations() {
        let full = uplinkPacket()
        for n in 0..<full.count {
            let cut = Array(full[..<n])
            let snapped = decode(cut, wireLength: full.count)
            #expect(snapped.issue == nil, "snap length \(n) reported \(String(describing: snapped.issue))")
            #expect(snapped.snapCut)
            let broken = decode(cut)  // the wire length says the frame really ended there
            if n >= 14 + 20 + 8 + 16 + 20 { #expect(broken.hasGTP) }
            #expect(!broken.snapCut)
        }
        // With the snap length past the inner TCP header, every counter field is still there.
        let p = decode(Array(full[..<(14 + 20 + 8 + 16 + 20 + 32)]), wireLength: full.count)
        #expect(p.hasTCP && p.tcp.payloadLength == 100 && Int(p.inner.totalLength) == 152)
    }
}
