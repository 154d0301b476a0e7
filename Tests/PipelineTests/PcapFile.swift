import Foundation

/// A classic pcap file read and written by hand (independently of libpcap), for tests that
/// split, cut or forge captures.
struct PcapFile {
    struct Record {
        var seconds: UInt32
        var fraction: UInt32
        var wireLength: UInt32
        var data: [UInt8]
    }

    var header: [UInt8]
    var records: [Record]

    init(header: [UInt8], records: [Record]) {
        self.header = header
        self.records = records
    }

    /// Reads a little-endian classic pcap (the fixtures' format).
    init(path: String) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        precondition(bytes.count >= 24 && bytes[0] == 0xd4 && bytes[1] == 0xc3, "not a little-endian classic pcap: \(path)")
        header = Array(bytes[0..<24])
        records = []
        var o = 24
        func u32(_ i: Int) -> UInt32 { UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24 }
        while o + 16 <= bytes.count {
            let caplen = Int(u32(o + 8))
            records.append(Record(seconds: u32(o), fraction: u32(o + 4), wireLength: u32(o + 12),
                                  data: Array(bytes[(o + 16)..<(o + 16 + caplen)])))
            o += 16 + caplen
        }
    }

    var bytes: [UInt8] {
        var out = header
        func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xff), UInt8((v >> 8) & 0xff), UInt8((v >> 16) & 0xff), UInt8(v >> 24)] }
        for r in records {
            out += le32(r.seconds) + le32(r.fraction) + le32(UInt32(r.data.count)) + le32(r.wireLength) + r.data
        }
        return out
    }

    func write(_ path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// A header with another link type (for the unsupported-link-type check).
    static func header(linkType: UInt32) -> [UInt8] {
        [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0,
         UInt8(linkType & 0xff), UInt8(linkType >> 8), 0, 0]
    }
}
