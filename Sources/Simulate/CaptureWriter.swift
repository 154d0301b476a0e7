import Foundation

/// The user plane of the capture window as a classic pcap (Ethernet, microseconds): for every
/// sampled user a PFCP N4 session (establishment and modification), a TCP download in GTP-U
/// G-PDUs (PDU Session Container, QFI 9, TCP timestamps) whose congestion window reacts to the
/// queueing and losses the simulation gives it, GTP-U echoes per gNB, and one srsRAN-style
/// metrics datagram per cell and second (UDP to port 55555).
struct CaptureWriter {
    let scenario: Scenario
    let capture: Scenario.Capture
    let result: SimulationResult

    struct Flow: Codable {
        var cell: String
        var ueIP: String
        var teidUL: UInt32
        var teidDL: UInt32
        var gnbAddress: String
        var dlPackets = 0, dlBytes = 0, ulPackets = 0, ulBytes = 0
        var retransmissions = 0

        enum CodingKeys: String, CodingKey {
            case cell, retransmissions
            case ueIP = "ue_ip", teidUL = "teid_ul", teidDL = "teid_dl", gnbAddress = "gnb_address"
            case dlPackets = "dl_packets", dlBytes = "dl_bytes", ulPackets = "ul_packets", ulBytes = "ul_bytes"
        }
    }

    static let mss = 1368

    func write(to path: String, log logPath: String) throws {
        var random = Random(seed: scenario.seed ^ 0xCA97)
        var packets: [Packets.Frame] = []
        var flows: [Flow] = []
        let t0 = (scenario.start + Int64(capture.start * 1e9)) / 1000
        let upf = Packets.ipv4(capture.upfAddress)
        let smf = Packets.ipv4("10.20.254.1"), n4 = Packets.ipv4("10.20.254.2"), collector = Packets.ipv4("10.20.253.1")
        var seq: UInt32 = 1
        for site in scenario.sites where capture.sites.contains(site.name) {
            let gnb = Packets.ipv4(site.address)
            for (ci, cell) in site.cells.enumerated() {
                let name = "\(site.name)/cell-\(cell.id)"
                guard let seconds = result.captureSeconds[name] else { continue }
                for u in 0..<capture.uesPerCell {
                    let index = flows.count
                    let ue: [UInt8] = [10, 45, UInt8(index / 250), UInt8(index % 250 + 1)]
                    var flow = Flow(cell: name, ueIP: ue.map(String.init).joined(separator: "."), teidUL: 0x100 + UInt32(index),
                                    teidDL: 0x8000 + UInt32(index), gnbAddress: site.address)
                    // N4: the session before the user plane.
                    let cp = UInt64(0x1000 + index), up = UInt64(0x2000 + index)
                    let start = t0 + Int64(index) * 1000
                    packets.append(Packets.udpPacket(start, smf, n4, 8805, 8805, pfcpEstablishmentRequest(seq: seq, cp: cp, smf: smf, ue: ue, upf: upf, teid: flow.teidUL)))
                    packets.append(Packets.udpPacket(start + 300, n4, smf, 8805, 8805, pfcpEstablishmentResponse(seq: seq, cp: cp, up: up, n4: n4, upf: upf, teid: flow.teidUL)))
                    packets.append(Packets.udpPacket(start + 500, smf, n4, 8805, 8805, pfcpModificationRequest(seq: seq + 1, up: up, gnb: gnb, teid: flow.teidDL)))
                    packets.append(Packets.udpPacket(start + 800, n4, smf, 8805, 8805, pfcpModificationResponse(seq: seq + 1, cp: cp)))
                    seq += 2
                    tcpDownload(&flow, &packets, seconds: seconds, user: u, t0: t0 + 2000, gnb: gnb, upf: upf, ue: ue,
                                server: [93, 184, 216, UInt8(34 + index % 200)], random: &random)
                    flows.append(flow)
                }
                // One metrics report per cell and second, from the gNB.
                for s in seconds {
                    let t = (scenario.start + Int64(Double(s.second + 1) * 1e9)) / 1000 + Int64(ci) * 10
                    packets.append(Packets.udpPacket(t, gnb, collector, 50_000, 55555, Array(Packets.metricsReport(s, cell: cell, epoch: t).utf8)))
                }
            }
            // GTP-U echo every 10 s: RTT is twice the backhaul's one-way delay.
            var t = t0 + 1_000_000
            var echo: UInt16 = 1
            while t < t0 + Int64(capture.duration * 1e6) {
                let delay = Int64(backhaulDelayMs(site: site, at: Double(t - t0) / 1e6 + capture.start, random: &random) * 1000)
                packets.append(Packets.udpPacket(t, gnb, upf, 2152, 2152, [0x32, 1, 0, 4, 0, 0, 0, 0, UInt8(echo >> 8), UInt8(echo & 0xff), 0, 0]))
                packets.append(Packets.udpPacket(t + 2 * delay, upf, gnb, 2152, 2152, [0x32, 2, 0, 6, 0, 0, 0, 0, UInt8(echo >> 8), UInt8(echo & 0xff), 0, 0, 14, 0]))
                echo &+= 1
                t += 10_000_000
            }
        }
        packets.sort { $0.time < $1.time }
        var out: [UInt8] = [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0]
        out.reserveCapacity(packets.count * 140)
        for p in packets {
            let kept = p.bytes.count > 200 && p.bytes[23] == 17 && p.bytes[36] == 0x08 && p.bytes[37] == 0x68 ? min(capture.snaplen, p.bytes.count) : p.bytes.count
            Packets.append32(&out, UInt32(p.time / 1_000_000)); Packets.append32(&out, UInt32(p.time % 1_000_000))
            Packets.append32(&out, UInt32(kept)); Packets.append32(&out, UInt32(p.wire))
            out += p.bytes[..<kept]
        }
        guard FileManager.default.createFile(atPath: path, contents: Data(out)) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard FileManager.default.createFile(atPath: logPath, contents: try encoder.encode(flows)) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: logPath])
        }
    }

    /// One-way gNB ↔ UPF delay: 4 ms, plus queueing while the backhaul is over capacity.
    func backhaulDelayMs(site: Scenario.Site, at t: Double, random: inout Random) -> Double {
        let congested = scenario.events.contains { $0.kind == .backhaulDrop && $0.target == site.name && t >= $0.start && t < $0.start + $0.duration }
        return 4 + random.uniform(0, 0.5) + (congested ? random.uniform(60, 90) : 0)
    }

    /// A Reno-style download paced by what the cell gave the user each second: slow start,
    /// congestion avoidance, halving on loss. RTT = RAN (8 ms) + 2 × backhaul + gNB queueing.
    func tcpDownload(_ flow: inout Flow, _ packets: inout [Packets.Frame], seconds: [CaptureSecond], user u: Int, t0: Int64,
                     gnb: [UInt8], upf: [UInt8], ue: [UInt8], server: [UInt8], random: inout Random) {
        let site = scenario.sites.first { $0.address == flow.gnbAddress }!
        var cwnd = 10.0, ssthresh = 64.0
        var nextSeq: UInt32 = 1_000_000
        // The user sends nothing but ACKs: its sequence number stays where it started.
        let ueSeq: UInt32 = 2_000_000
        var t = t0
        let end = t0 + Int64(capture.duration * 1e6) - 500_000
        var retransmit: [UInt32] = []
        let clientPort = UInt16(40_000 + flow.teidUL % 20_000)
        while t < end {
            let s = seconds[min(seconds.count - 1, max(0, Int((t - t0) / 1_000_000)))]
            let simT = capture.start + Double(t - t0) / 1e6
            let oneWay = backhaulDelayMs(site: site, at: simT, random: &random)
            let queue = s.backlogged > 0 ? min(120, 15 * Double(s.backlogged)) : 0
            let rtt = (8 + 2 * oneWay + queue + random.uniform(0, 2)) / 1000
            // The user's share of the cell this second, capped to keep the capture small.
            let rateBits = min(capture.rateCapMbps * 1e6, max(0.1e6, u < s.servedBits.count ? s.servedBits[u] : 0))
            let budget = max(1, (rateBits * rtt / Double(Self.mss * 8)).rounded(.down))
            let n = Int(min(cwnd, budget))
            // Losses where the backhaul cannot carry the offered load.
            let lossP = s.backhaulExcess > 0 ? min(0.08, 0.02 + s.backhaulExcess * 0.1) : 0.0002
            var lost = false
            let spacing = Int64(rtt * 1e6) / Int64(max(n, 1))
            for i in 0..<n {
                let sendAt = t + Int64(i) * spacing
                let isRetransmission = !retransmit.isEmpty
                let segSeq = isRetransmission ? retransmit.removeFirst() : nextSeq
                if !isRetransmission { nextSeq &+= UInt32(Self.mss) } else { flow.retransmissions += 1 }
                let tsval = UInt32(truncatingIfNeeded: sendAt / 1000)
                let data = Packets.gpdu(sendAt, src: upf, dst: gnb, teid: flow.teidDL, uplink: false,
                                inner: Packets.tcp(server, ue, 443, clientPort, seq: segSeq, ack: ueSeq, flags: 0x18, tsval: tsval, tsecr: tsval &- 5, payload: Self.mss))
                packets.append(data)
                flow.dlPackets += 1
                flow.dlBytes += data.wire
                if random.uniform() < lossP {
                    lost = true
                    retransmit.append(segSeq)
                    continue
                }
                // Delayed ACK every second segment, from the UE, seen at the capture point one RTT later.
                if i % 2 == 1 || i == n - 1 {
                    let ackAt = sendAt + Int64(rtt * 1e6)
                    // Cumulative: up to the first segment still missing.
                    let acked = retransmit.min() ?? (isRetransmission ? nextSeq : segSeq &+ UInt32(Self.mss))
                    let a = Packets.gpdu(ackAt, src: gnb, dst: upf, teid: flow.teidUL, uplink: true,
                                 inner: Packets.tcp(ue, server, clientPort, 443, seq: ueSeq, ack: acked, flags: 0x10,
                                            tsval: UInt32(truncatingIfNeeded: ackAt / 1000), tsecr: tsval, payload: 0))
                    packets.append(a)
                    flow.ulPackets += 1
                    flow.ulBytes += a.wire
                }
            }
            if lost { ssthresh = max(2, cwnd / 2); cwnd = ssthresh } else if cwnd < ssthresh { cwnd *= 2 } else { cwnd += 1 }
            cwnd = min(cwnd, 400)
            t += Int64(rtt * 1e6)
        }
    }

    // MARK: - PFCP (TS 29.244)

    func ie(_ type: Int, _ content: [UInt8]) -> [UInt8] { Packets.be16(type) + Packets.be16(content.count) + content }

    func pfcp(type: UInt8, seid: UInt64, seq: UInt32, _ body: [UInt8]) -> [UInt8] {
        let seidBytes = (0..<8).map { UInt8((seid >> UInt64(56 - 8 * $0)) & 0xff) }
        let rest = seidBytes + [UInt8((seq >> 16) & 0xff), UInt8((seq >> 8) & 0xff), UInt8(seq & 0xff), 0] + body
        return [0x21, type] + Packets.be16(rest.count) + rest
    }

    func fseid(_ seid: UInt64, _ ip: [UInt8]) -> [UInt8] {
        ie(57, [0x02] + (0..<8).map { UInt8((seid >> UInt64(56 - 8 * $0)) & 0xff) } + ip)
    }

    func pfcpEstablishmentRequest(seq: UInt32, cp: UInt64, smf: [UInt8], ue: [UInt8], upf: [UInt8], teid: UInt32) -> [UInt8] {
        let pdi = ie(20, [0]) + ie(21, [0x01] + Packets.be32(teid) + upf) + ie(93, [0x02] + ue)
        let pdr = ie(1, ie(56, Packets.be16(1)) + ie(29, Packets.be32(100)) + ie(2, pdi) + ie(108, Packets.be32(1)))
        let far = ie(3, ie(108, Packets.be32(1)) + ie(44, [0x02]))
        return pfcp(type: 50, seid: 0, seq: seq, ie(60, [0] + smf) + fseid(cp, smf) + pdr + far)
    }

    func pfcpEstablishmentResponse(seq: UInt32, cp: UInt64, up: UInt64, n4: [UInt8], upf: [UInt8], teid: UInt32) -> [UInt8] {
        let created = ie(8, ie(56, Packets.be16(1)) + ie(21, [0x01] + Packets.be32(teid) + upf))
        return pfcp(type: 51, seid: cp, seq: seq, ie(60, [0] + n4) + ie(19, [1]) + fseid(up, n4) + created)
    }

    func pfcpModificationRequest(seq: UInt32, up: UInt64, gnb: [UInt8], teid: UInt32) -> [UInt8] {
        let ohc = ie(84, [0x01, 0x00] + Packets.be32(teid) + gnb)
        let update = ie(10, ie(108, Packets.be32(1)) + ie(11, ie(42, [0]) + ohc))
        return pfcp(type: 52, seid: up, seq: seq, update)
    }

    func pfcpModificationResponse(seq: UInt32, cp: UInt64) -> [UInt8] {
        pfcp(type: 53, seid: cp, seq: seq, ie(19, [1]))
    }

}

/// Packet building shared by the capture and the telemetry stream: Ethernet, IPv4 (with its
/// checksum), UDP, TCP with timestamps, GTP-U with a PDU Session Container.
enum Packets {
    struct Frame {
        var time: Int64 // µs since the epoch
        var bytes: [UInt8]
        var wire: Int
    }


    static func ipv4(_ text: String) -> [UInt8] { text.split(separator: ".").map { UInt8($0) ?? 0 } }

    static func append32(_ out: inout [UInt8], _ v: UInt32) { out += [UInt8(v & 0xff), UInt8((v >> 8) & 0xff), UInt8((v >> 16) & 0xff), UInt8(v >> 24)] }

    static func be16(_ v: Int) -> [UInt8] { [UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }

    static func ipHeader(_ src: [UInt8], _ dst: [UInt8], proto: UInt8, length: Int) -> [UInt8] {
        var h: [UInt8] = [0x45, 0] + be16(length) + [0, 0, 0x40, 0, 64, proto, 0, 0] + src + dst
        var sum: UInt32 = 0
        for k in stride(from: 0, to: 20, by: 2) { sum += UInt32(h[k]) << 8 | UInt32(h[k + 1]) }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        let c = ~UInt16(sum)
        h[10] = UInt8(c >> 8); h[11] = UInt8(c & 0xff)
        return h
    }

    /// Ethernet + IPv4 + UDP (checksum 0, allowed for IPv4) around a payload.
    static func udpPacket(_ time: Int64, _ src: [UInt8], _ dst: [UInt8], _ sport: UInt16, _ dport: UInt16, _ payload: [UInt8]) -> Frame {
        let udp = be16(Int(sport)) + be16(Int(dport)) + be16(8 + payload.count) + [0, 0] + payload
        let bytes: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00] + ipHeader(src, dst, proto: 17, length: 20 + udp.count) + udp
        return Frame(time: time, bytes: bytes, wire: bytes.count)
    }

    /// A TCP segment in an inner IPv4 packet; the payload is zeros (its length counts, its
    /// bytes are cut by the snap length anyway); the checksum covers the zero payload.
    static func tcp(_ src: [UInt8], _ dst: [UInt8], _ sport: UInt16, _ dport: UInt16, seq: UInt32, ack: UInt32, flags: UInt8,
             tsval: UInt32, tsecr: UInt32, payload: Int) -> [UInt8] {
        var t: [UInt8] = be16(Int(sport)) + be16(Int(dport)) + be32(seq) + be32(ack) + [0x80, flags] + be16(65535) + [0, 0, 0, 0]
        t += [1, 1, 8, 10] + be32(tsval) + be32(tsecr)
        let segmentLength = t.count + payload
        var sum: UInt32 = 0
        let pseudo = src + dst + [0, 6] + be16(segmentLength)
        for k in stride(from: 0, to: pseudo.count, by: 2) { sum += UInt32(pseudo[k]) << 8 | UInt32(pseudo[k + 1]) }
        for k in stride(from: 0, to: t.count, by: 2) { sum += UInt32(t[k]) << 8 | UInt32(t[k + 1]) }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        let c = ~UInt16(sum)
        t[16] = UInt8(c >> 8); t[17] = UInt8(c & 0xff)
        return ipHeader(src, dst, proto: 6, length: 20 + segmentLength) + t + [UInt8](repeating: 0, count: payload)
    }

    /// A G-PDU with a PDU Session Container (DL type 0 / UL type 1, QFI 9).
    static func gpdu(_ time: Int64, src: [UInt8], dst: [UInt8], teid: UInt32, uplink: Bool, inner: [UInt8]) -> Frame {
        let gtp: [UInt8] = [0x34, 0xff] + be16(8 + inner.count) + be32(teid) + [0, 0, 0, 0x85, 1, uplink ? 0x10 : 0x00, 9, 0] + inner
        return udpPacket(time, src, dst, 2152, 2152, gtp)
    }


    /// srsRAN 25.04-style report (telemetry-formats.md §2): the cell's PRB use per TDD slot and
    /// the sampled users.
    static func metricsReport(_ s: CaptureSecond, cell: Scenario.Cell, epoch: Int64) -> String {
        let prbs = Int((s.prbUtil * Double(cell.nRB)).rounded())
        let slots = (0..<10).map { $0 < 7 ? String(prbs) : "0" }.joined(separator: ",")
        let ues = s.servedBits.indices.map { u in
            let cqi = u < s.cqi.count ? s.cqi[u] : 0, mcs = u < s.mcs.count ? s.mcs[u] : 0
            return #"{"ue_container":{"pci":\#(cell.id),"rnti":\#(17921 + u),"cqi":\#(cqi),"dl_mcs":\#(mcs),"dl_brate":\#(String(format: "%.1f", s.servedBits[u])),"dl_nof_ok":\#(900),"dl_nof_nok":\#(90),"dl_bs":\#(s.backlogged > 0 ? 500000 : 0),"ul_brate":0.0,"ul_nof_ok":50,"ul_nof_nok":0,"bsr":0}}"#
        }.joined(separator: ",")
        let time = String(format: "%.3f", Double(epoch) / 1e6)
        return #"{"timestamp":\#(time),"cell_metrics":{"pci":\#(cell.id),"error_indication_count":0,"nof_failed_pdcch_allocs":0,"pdsch_prbs_used_per_tdd_slot_idx":[\#(slots)]},"ue_list":[\#(ues)]}"#
    }
}
