import Benchmark
import Decode
import Windows

/// Decode + aggregate on packets already in memory: the per-packet path without libpcap.
/// Each iteration is one window of `packets` N3 G-PDUs over 2,000 TCP flows; the window is
/// closed at the start of the next iteration. Allocations are per window (the rows handed to
/// the sinks), so the malloc count must not grow with the number of packets in a window.
let benchmarks: @Sendable () -> Void = {
    for packets in [20_000, 200_000] {
        Benchmark("decode+windows \(packets / 1000)k packets/window",
                  configuration: .init(metrics: [.cpuTotal, .mallocCountTotal, .throughput], warmupIterations: 3,
                                       scalingFactor: .one, maxDuration: .seconds(10), maxIterations: 30)) { benchmark in
            let frames = N3Traffic.frames(count: packets, flows: 2000)
            let decoder = PacketDecoder(linkType: .ethernet)
            let aggregator = WindowAggregator(windowLength: 10_000_000_000)
            var decoded = DecodedPacket()
            var window: Int64 = 1_800_000_000_000_000_000
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                for (i, frame) in frames.enumerated() {
                    frame.withUnsafeBytes { bytes in
                        decoder.decode(bytes, wireLength: bytes.count, into: &decoded)
                        blackHole(aggregator.add(decoded, frame: bytes, timestamp: window + Int64(i) * 1000, wireLength: bytes.count))
                    }
                }
                window += 10_000_000_000
            }
        }
    }
}

/// Synthetic N3 uplink/downlink G-PDUs with inner TCP carrying timestamps (RFC 7323).
enum N3Traffic {
    static func frames(count: Int, flows: Int) -> [[UInt8]] {
        (0..<count).map { i in
            let flow = i % flows
            let downlink = (i / flows) % 2 == 0
            let ue: [UInt8] = [10, 45, UInt8(flow >> 8), UInt8(flow & 0xff)]
            let server: [UInt8] = [93, 184, 0, UInt8(flow % 200)]
            let round = UInt32(i / flows)
            let tcp = tcpSegment(sport: downlink ? 443 : 40000 + flow % 20000, dport: downlink ? 40000 + flow % 20000 : 443,
                                 seq: round * 1000, payload: downlink ? 1000 : 0, tsVal: round, tsEcr: round)
            let inner = ipv4(src: downlink ? server : ue, dst: downlink ? ue : server, proto: 6, tcp)
            let gnb: [UInt8] = [10, 10, 0, UInt8(1 + flow % 20)], upf: [UInt8] = [10, 20, 0, 1]
            let teid = UInt32(downlink ? 0x10000 + flow : 0x20000 + flow)
            let gtp: [UInt8] = [0x34, 0xff] + be16(8 + inner.count) + be32(teid) + [0, 0, 0, 0x85, 1, downlink ? 0x00 : 0x10, 9, 0] + inner
            let udp = be16(2152) + be16(2152) + be16(8 + gtp.count) + [0, 0] + gtp
            return [UInt8](repeating: 2, count: 12) + [0x08, 0x00] + ipv4(src: downlink ? upf : gnb, dst: downlink ? gnb : upf, proto: 17, udp)
        }
    }

    static func be16(_ v: Int) -> [UInt8] { [UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }

    static func ipv4(src: [UInt8], dst: [UInt8], proto: UInt8, _ payload: [UInt8]) -> [UInt8] {
        [0x45, 0] + be16(20 + payload.count) + [0, 0, 0, 0, 64, proto, 0, 0] + src + dst + payload
    }

    static func tcpSegment(sport: Int, dport: Int, seq: UInt32, payload: Int, tsVal: UInt32, tsEcr: UInt32) -> [UInt8] {
        be16(sport) + be16(dport) + be32(seq) + be32(seq) + [0x80, 0x10] + be16(65535) + [0, 0, 0, 0]
            + [1, 1, 8, 10] + be32(tsVal) + be32(tsEcr) + [UInt8](repeating: 0xab, count: payload)
    }
}
