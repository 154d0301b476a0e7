/// Builds wire-format packets layer by layer for the decoder tests, from the protocol
/// definitions (RFC 791/8200/768/793, TS 29.281, TS 38.415), independently of the decoder.
enum Build {
    static func be16(_ v: Int) -> [UInt8] { [UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }
    static func ip4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> [UInt8] { [a, b, c, d] }

    static func ethernet(_ payload: [UInt8], etherType: Int = 0x0800, vlans: [Int] = []) -> [UInt8] {
        var out: [UInt8] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
        for (i, vid) in vlans.enumerated() {
            out += be16(i == 0 && vlans.count > 1 ? 0x88a8 : 0x8100)
            out += be16(vid)
        }
        out += be16(etherType)
        return out + payload
    }

    /// Linux cooked capture v1 (16 bytes, protocol at offset 14).
    static func sll(_ payload: [UInt8], protocolType: Int = 0x0800) -> [UInt8] {
        [0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0] + be16(protocolType) + payload
    }

    /// Linux cooked capture v2 (20 bytes, protocol first).
    static func sll2(_ payload: [UInt8], protocolType: Int = 0x0800) -> [UInt8] {
        be16(protocolType) + [0, 0] + be32(2) + [0, 1, 0, 6] + [1, 2, 3, 4, 5, 6, 0, 0] + payload
    }

    static func ipv4(src: [UInt8], dst: [UInt8], proto: UInt8, _ payload: [UInt8], fragmentOffset: Int = 0,
                     moreFragments: Bool = false, options: [UInt8] = []) -> [UInt8] {
        let headerLength = 20 + options.count
        var h: [UInt8] = [UInt8(0x40 | (headerLength / 4)), 0]
        h += be16(headerLength + payload.count)
        h += [0x12, 0x34]
        h += be16((moreFragments ? 0x2000 : 0) | (fragmentOffset / 8))
        h += [64, proto, 0, 0]
        h += src + dst + options
        // Header checksum (RFC 1071).
        var sum = 0
        for i in stride(from: 0, to: h.count, by: 2) { sum += Int(h[i]) << 8 | Int(h[i + 1]) }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        let c = ~sum & 0xffff
        h[10] = UInt8(c >> 8); h[11] = UInt8(c & 0xff)
        return h + payload
    }

    static func ipv6(src: [UInt8], dst: [UInt8], next: UInt8, _ payload: [UInt8]) -> [UInt8] {
        [0x60, 0, 0, 0] + be16(payload.count) + [next, 64] + src + dst + payload
    }

    static func v6(_ last: UInt8, prefix: [UInt8] = [0x20, 0x01, 0x0d, 0xb8]) -> [UInt8] {
        prefix + [UInt8](repeating: 0, count: 11) + [last]
    }

    static func udp(_ sport: Int, _ dport: Int, _ payload: [UInt8]) -> [UInt8] {
        be16(sport) + be16(dport) + be16(8 + payload.count) + [0, 0] + payload
    }

    static func tcp(_ sport: Int, _ dport: Int, seq: UInt32, ack: UInt32, flags: UInt8, timestamps: (UInt32, UInt32)? = nil,
                    _ payload: [UInt8] = []) -> [UInt8] {
        var options: [UInt8] = []
        if let (val, ecr) = timestamps { options = [1, 1, 8, 10] + be32(val) + be32(ecr) }
        let headerLength = 20 + options.count
        return be16(sport) + be16(dport) + be32(seq) + be32(ack) + [UInt8(headerLength / 4) << 4, flags]
            + be16(65535) + [0, 0, 0, 0] + options + payload
    }

    /// GTP-U v1; with `container` a PDU Session Container (type 0x85) carrying (PDU type, QFI).
    static func gtpu(teid: UInt32, type: UInt8 = 0xff, sequence: Int? = nil, container: (pduType: UInt8, qfi: UInt8)? = nil,
                     _ payload: [UInt8]) -> [UInt8] {
        var flags: UInt8 = 0x30
        var optional: [UInt8] = []
        if sequence != nil || container != nil {
            if sequence != nil { flags |= 0x02 }
            if container != nil { flags |= 0x04 }
            optional = be16(sequence ?? 0) + [0, container == nil ? 0 : 0x85]
            if let c = container { optional += [1, c.pduType << 4, c.qfi & 0x3f, 0] }
        }
        return [flags, type] + be16(optional.count + payload.count) + be32(teid) + optional + payload
    }
}
