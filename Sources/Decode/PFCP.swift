/// The N4 view of the capture: PFCP sessions (TS 29.244) and the GTP-U tunnels they set up,
/// so that user-plane tunnels can be named by session (SEIDs, UE IP) and direction.
///
/// Fed with every PFCP message in capture order. Not on the hot path: a message is parsed
/// into small values and may allocate.
public struct PFCPSessionTable: Sendable {
    /// What the control plane says about one tunnel, keyed by (receiver address, TEID).
    public struct Tie: Sendable, Equatable {
        /// `.uplink`: receiver is the UPF, sender the gNB; `.downlink`: receiver is the gNB.
        /// nil for UPF↔UPF legs (N9) and other interfaces.
        public var direction: Direction?
        public var session: Int
    }

    public enum Direction: String, Sendable {
        case uplink = "ul", downlink = "dl"
    }

    public struct Session: Sendable {
        public var cpSEID: UInt64
        public var upSEID: UInt64?
        public var cpAddress: IPAddress
        public var upAddress: IPAddress?
        public var ueIPv4: IPAddress?
        public var ueIPv6: IPAddress?
        /// The gNB's N3 address, from the downlink Outer Header Creation towards Access.
        public var gnbAddress: IPAddress?
        public var deleted = false
        /// Source interface of each PDR sent with CHOOSE, to place the F-TEID the UPF returns.
        var pendingPDRs: [UInt16: UInt8] = [:]

        public var ueIP: IPAddress? { ueIPv4 ?? ueIPv6 }
    }

    public struct TunnelKey: Hashable, Sendable {
        public var receiver: IPAddress
        public var teid: UInt32
        public init(receiver: IPAddress, teid: UInt32) { self.receiver = receiver; self.teid = teid }
    }

    public private(set) var sessions: [Session] = []
    public private(set) var tunnels: [TunnelKey: Tie] = [:]
    /// Bumped on every change, so that readers can cache lookups.
    public private(set) var generation = 0
    public private(set) var messages = 0
    public private(set) var malformed = 0
    private var byCP: [SessionKey: Int] = [:]
    private var byUP: [SessionKey: Int] = [:]

    private struct SessionKey: Hashable { var address: IPAddress; var seid: UInt64 }

    public init() {}

    public func tie(receiver: IPAddress, teid: UInt32) -> Tie? {
        tunnels[TunnelKey(receiver: receiver, teid: teid)]
    }

    /// Reads one UDP payload (one or more PFCP messages) sent from `src` to `dst`.
    /// Returns false when the payload is malformed; what was read before the fault is kept.
    @discardableResult
    public mutating func ingest(_ payload: UnsafeRawBufferPointer, src: IPAddress, dst: IPAddress) -> Bool {
        var offset = 0
        while offset < payload.count {
            guard let flags = payload.u8(offset), flags >> 5 == 1, let type = payload.u8(offset + 1),
                  let length = payload.u16(offset + 2), payload.has(offset, 4 + Int(length)) else {
                malformed += 1
                return false
            }
            let end = offset + 4 + Int(length)
            let hasSEID = flags & 0x01 != 0
            let headerLength = hasSEID ? 16 : 8
            guard end >= offset + headerLength else { malformed += 1; return false }
            let seid = hasSEID ? payload.u64(offset + 4)! : 0
            messages += 1
            let message = UnsafeRawBufferPointer(rebasing: payload[(offset + headerLength)..<end])
            guard let ies = IE.parseAll(message) else { malformed += 1; return false }
            handle(type: type, seid: seid, ies: ies, src: src, dst: dst)
            // FO (follow-on) says another message follows in the same datagram.
            guard flags & 0x04 != 0 else { break }
            offset = end
        }
        return true
    }

    private mutating func handle(type: UInt8, seid: UInt64, ies: [IE], src: IPAddress, dst: IPAddress) {
        switch type {
        case 50:  // Session Establishment Request (SMF → UPF)
            guard let fseid = ies.first(where: { $0.type == 57 }).flatMap(FSEID.init) else { return }
            let cpAddress = fseid.address ?? src
            let key = SessionKey(address: cpAddress, seid: fseid.seid)
            let index: Int
            if let existing = byCP[key] {
                index = existing
            } else {
                index = sessions.count
                sessions.append(Session(cpSEID: fseid.seid, cpAddress: cpAddress))
                byCP[key] = index
            }
            applyRules(ies, session: index, upf: dst)
        case 51, 53:  // Establishment / Modification Response (UPF → SMF): header SEID is the CP's
            guard let index = byCP[SessionKey(address: dst, seid: seid)] ?? byCPSEIDOnly(seid) else { return }
            if let fseid = ies.first(where: { $0.type == 57 }).flatMap(FSEID.init) {
                sessions[index].upSEID = fseid.seid
                let upAddress = fseid.address ?? src
                sessions[index].upAddress = upAddress
                byUP[SessionKey(address: upAddress, seid: fseid.seid)] = index
            }
            for created in ies where created.type == 8 {
                guard let children = created.children else { continue }
                let pdrID = children.first(where: { $0.type == 56 })?.u16
                guard let fteid = children.first(where: { $0.type == 21 }).flatMap(FTEID.init),
                      let teid = fteid.teid else { continue }
                let source = pdrID.flatMap { sessions[index].pendingPDRs[$0] }
                addTunnel(FTEID(teid: teid, address: fteid.address ?? src), sourceInterface: source, session: index)
            }
        case 52:  // Session Modification Request (SMF → UPF): header SEID is the UP's
            guard let index = byUP[SessionKey(address: dst, seid: seid)] ?? byUPSEIDOnly(seid) else { return }
            applyRules(ies, session: index, upf: dst)
        case 55:  // Session Deletion Response
            if let index = byCP[SessionKey(address: dst, seid: seid)] ?? byCPSEIDOnly(seid) {
                sessions[index].deleted = true
                generation += 1
            }
        default:
            break
        }
    }

    private func byCPSEIDOnly(_ seid: UInt64) -> Int? {
        byCP.first(where: { $0.key.seid == seid })?.value
    }

    private func byUPSEIDOnly(_ seid: UInt64) -> Int? {
        byUP.first(where: { $0.key.seid == seid })?.value
    }

    /// Create/Update PDR (PDI: source interface, local F-TEID, UE IP) and Create/Update FAR
    /// (forwarding parameters: destination interface, outer header creation).
    private mutating func applyRules(_ ies: [IE], session index: Int, upf: IPAddress) {
        for rule in ies where rule.type == 1 || rule.type == 9 {
            guard let children = rule.children else { continue }
            let pdrID = children.first(where: { $0.type == 56 })?.u16
            guard let pdi = children.first(where: { $0.type == 2 })?.children else { continue }
            let source = pdi.first(where: { $0.type == 20 })?.firstByte.map { $0 & 0x0f }
            if let ue = pdi.first(where: { $0.type == 93 }).flatMap(UEIPAddress.init) {
                if let v4 = ue.v4 { sessions[index].ueIPv4 = v4 }
                if let v6 = ue.v6 { sessions[index].ueIPv6 = v6 }
                generation += 1
            }
            if let fteid = pdi.first(where: { $0.type == 21 }).flatMap(FTEID.init) {
                if let teid = fteid.teid {
                    addTunnel(FTEID(teid: teid, address: fteid.address ?? upf), sourceInterface: source, session: index)
                } else if let pdrID, let source {
                    sessions[index].pendingPDRs[pdrID] = source
                }
            }
        }
        for rule in ies where rule.type == 3 || rule.type == 10 {
            guard let children = rule.children else { continue }
            for parameters in children where parameters.type == 4 || parameters.type == 11 {
                guard let fields = parameters.children else { continue }
                let destination = fields.first(where: { $0.type == 42 })?.firstByte.map { $0 & 0x0f }
                guard let ohc = fields.first(where: { $0.type == 84 }).flatMap(OuterHeaderCreation.init),
                      let teid = ohc.teid, let address = ohc.address else { continue }
                if destination == 0 {
                    sessions[index].gnbAddress = address
                }
                let key = TunnelKey(receiver: address, teid: teid)
                tunnels[key] = Tie(direction: destination == 0 ? .downlink : nil, session: index)
                generation += 1
            }
        }
    }

    private mutating func addTunnel(_ fteid: FTEID, sourceInterface: UInt8?, session: Int) {
        guard let teid = fteid.teid, let address = fteid.address else { return }
        tunnels[TunnelKey(receiver: address, teid: teid)] =
            Tie(direction: sourceInterface == 0 ? .uplink : nil, session: session)
        generation += 1
    }
}

/// A PFCP information element: type, value bytes and, for grouped IEs, the parsed children.
struct IE: Sendable {
    var type: UInt16
    var value: [UInt8]

    var firstByte: UInt8? { value.first }
    var u16: UInt16? { value.count >= 2 ? UInt16(value[0]) << 8 | UInt16(value[1]) : nil }

    /// Grouped IEs (Create PDR, PDI, Create FAR, Forwarding Parameters, Created PDR, …).
    var children: [IE]? {
        value.withUnsafeBytes { IE.parseAll($0) }
    }

    static func parseAll(_ b: UnsafeRawBufferPointer) -> [IE]? {
        var out: [IE] = []
        var o = 0
        while o < b.count {
            guard let type = b.u16(o), let length = b.u16(o + 2), b.has(o + 4, Int(length)) else { return nil }
            out.append(IE(type: type, value: Array(b[(o + 4)..<(o + 4 + Int(length))])))
            o += 4 + Int(length)
        }
        return out
    }
}

struct FSEID {
    var seid: UInt64
    var address: IPAddress?
    init?(_ ie: IE) {
        let v = ie.value
        guard v.count >= 9 else { return nil }
        seid = v[1..<9].reduce(0) { $0 << 8 | UInt64($1) }
        var o = 9
        address = nil
        if v[0] & 0x02 != 0 {  // V4
            guard v.count >= o + 4 else { return nil }
            address = IPAddress(v4: v[o..<(o + 4)].reduce(0) { $0 << 8 | UInt32($1) })
            o += 4
        } else if v[0] & 0x01 != 0 {  // V6
            guard v.count >= o + 16 else { return nil }
            address = ipv6(v, o)
        }
    }
}

struct FTEID {
    var teid: UInt32?
    var address: IPAddress?
    init(teid: UInt32, address: IPAddress) { self.teid = teid; self.address = address }
    init?(_ ie: IE) {
        let v = ie.value
        guard let flags = v.first else { return nil }
        if flags & 0x04 != 0 {  // CH: the UPF chooses; nothing else is present
            teid = nil
            address = nil
            return
        }
        guard v.count >= 5 else { return nil }
        teid = v[1..<5].reduce(0) { $0 << 8 | UInt32($1) }
        var o = 5
        address = nil
        if flags & 0x01 != 0 {
            guard v.count >= o + 4 else { return nil }
            address = IPAddress(v4: v[o..<(o + 4)].reduce(0) { $0 << 8 | UInt32($1) })
            o += 4
        }
        if flags & 0x02 != 0, address == nil {
            guard v.count >= o + 16 else { return nil }
            address = ipv6(v, o)
        }
    }
}

struct UEIPAddress {
    var v4: IPAddress?
    var v6: IPAddress?
    init?(_ ie: IE) {
        let v = ie.value
        guard let flags = v.first else { return nil }
        var o = 1
        if flags & 0x02 != 0 {
            guard v.count >= o + 4 else { return nil }
            v4 = IPAddress(v4: v[o..<(o + 4)].reduce(0) { $0 << 8 | UInt32($1) })
            o += 4
        }
        if flags & 0x01 != 0 {
            guard v.count >= o + 16 else { return nil }
            v6 = ipv6(v, o)
        }
    }
}

struct OuterHeaderCreation {
    var teid: UInt32?
    var address: IPAddress?
    init?(_ ie: IE) {
        let v = ie.value
        guard v.count >= 2 else { return nil }
        let description = v[0]
        guard description & 0x03 != 0 else { return nil }  // GTP-U/UDP/IPv4 or IPv6
        guard v.count >= 6 else { return nil }
        teid = v[2..<6].reduce(0) { $0 << 8 | UInt32($1) }
        if description & 0x01 != 0 {
            guard v.count >= 10 else { return nil }
            address = IPAddress(v4: v[6..<10].reduce(0) { $0 << 8 | UInt32($1) })
        } else {
            guard v.count >= 22 else { return nil }
            address = ipv6(v, 6)
        }
    }
}

private func ipv6(_ v: [UInt8], _ o: Int) -> IPAddress {
    IPAddress(high: v[o..<(o + 8)].reduce(0) { $0 << 8 | UInt64($1) },
              low: v[(o + 8)..<(o + 16)].reduce(0) { $0 << 8 | UInt64($1) })
}
