/// An IPv4 or IPv6 address in two words (16 bytes), so that keys built from it hash and
/// compare without touching the heap and pack tightly in the aggregation tables. IPv4 is held
/// in its IPv4-mapped IPv6 form (`::ffff:a.b.c.d`), so both families share one representation.
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    @inlinable
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    @inlinable
    public init(v4: UInt32) {
        self.init(high: 0, low: 0xffff_0000_0000 | UInt64(v4))
    }

    public static let none = IPAddress(high: 0, low: 0)

    @inlinable
    public var isV6: Bool { high != 0 || low >> 32 != 0xffff }

    /// The IPv4 address (meaningful when `!isV6`).
    @inlinable
    public var v4: UInt32 { UInt32(truncatingIfNeeded: low) }

    @inlinable
    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        a.high != b.high ? a.high < b.high : a.low < b.low
    }

    /// Dotted quad for IPv4; RFC 5952 text (longest zero run compressed, lower case) for IPv6.
    public var description: String {
        if !isV6 { return withV4Text { String(decoding: $0, as: UTF8.self) } }
        var groups = [UInt16](repeating: 0, count: 8)
        for i in 0..<4 {
            groups[i] = UInt16(truncatingIfNeeded: high >> UInt64(48 - 16 * i))
            groups[4 + i] = UInt16(truncatingIfNeeded: low >> UInt64(48 - 16 * i))
        }
        // Longest run of at least two zero groups, first one on ties.
        var bestStart = -1, bestLength = 0, i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLength && j - i >= 2 { bestStart = i; bestLength = j - i }
                i = j
            } else {
                i += 1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            range.map { String(groups[$0], radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }

    /// Calls `body` with the dotted-quad text of an IPv4 address, rendered on the stack: rows
    /// of every window print addresses, and a `String` per address would cost more than the row.
    @inlinable
    public func withV4Text<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var buffer: (UInt64, UInt64) = (0, 0)
        let v = v4
        return try withUnsafeMutableBytes(of: &buffer) { out in
            var n = 0
            for shift in stride(from: 24, through: 0, by: -8) {
                let octet = Int((v >> UInt32(shift)) & 0xff)
                if octet >= 100 { out[n] = UInt8(48 + octet / 100); n += 1 }
                if octet >= 10 { out[n] = UInt8(48 + octet / 10 % 10); n += 1 }
                out[n] = UInt8(48 + octet % 10); n += 1
                if shift > 0 { out[n] = UInt8(ascii: "."); n += 1 }
            }
            return try body(UnsafeRawBufferPointer(rebasing: out[0..<n]))
        }
    }

    /// Parses dotted-quad IPv4 or textual IPv6 (with `::` and an embedded IPv4 tail).
    public init?(_ text: String) {
        if !text.contains(":") {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var v: UInt32 = 0
            for p in parts {
                guard !p.isEmpty, p.count <= 3, let b = UInt8(p) else { return nil }
                v = v << 8 | UInt32(b)
            }
            self.init(v4: v)
            return
        }
        var head: [UInt16] = [], tail: [UInt16] = []
        var halves = [text]
        if let r = text.firstRange(of: "::") {
            halves = [String(text[..<r.lowerBound]), String(text[r.upperBound...])]
            guard !halves[1].contains("::") else { return nil }
        }
        func groups(_ s: String) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            let items = s.split(separator: ":", omittingEmptySubsequences: false)
            for (k, item) in items.enumerated() {
                if k == items.count - 1, item.contains("."), let v4 = IPAddress(String(item)) {
                    let v = v4.v4
                    out.append(UInt16(v >> 16)); out.append(UInt16(v & 0xffff))
                } else {
                    guard !item.isEmpty, item.count <= 4, let g = UInt16(item, radix: 16) else { return nil }
                    out.append(g)
                }
            }
            return out
        }
        guard let h = groups(halves[0]) else { return nil }
        head = h
        if halves.count == 2 {
            guard let t = groups(halves[1]) else { return nil }
            tail = t
            guard head.count + tail.count <= 7 else { return nil }
        } else {
            guard head.count == 8 else { return nil }
        }
        let all = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        var hi: UInt64 = 0, lo: UInt64 = 0
        for k in 0..<4 { hi = hi << 16 | UInt64(all[k]) }
        for k in 4..<8 { lo = lo << 16 | UInt64(all[k]) }
        self.init(high: hi, low: lo)
    }
}

extension UnsafeRawBufferPointer {
    @inlinable @inline(__always)
    func ipv4(_ offset: Int) -> IPAddress {
        IPAddress(v4: UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
    }

    @inlinable @inline(__always)
    func ipv6(_ offset: Int) -> IPAddress {
        IPAddress(
            high: UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self)),
            low: UInt64(bigEndian: loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)))
    }
}
