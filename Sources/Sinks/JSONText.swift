import Decode

/// Builds one JSON object per line into a byte buffer, field by field. Written by hand rather
/// than through `Codable` because rows are many and their shape is fixed.
public struct JSONLine {
    private let buffer = ByteBuffer()
    private var first = true

    public init() {}

    /// A copy of the text so far.
    public var bytes: [UInt8] { Array(buffer.view) }

    /// The text so far, valid until the next change.
    var view: UnsafeRawBufferPointer { buffer.view }

    public mutating func reset() {
        buffer.count = 0
        first = true
    }

    public mutating func open() { buffer.append(UInt8(ascii: "{")); first = true }
    /// Ends an object; in a parent object the next field needs a comma even after an empty one.
    public mutating func close() { buffer.append(UInt8(ascii: "}")); first = false }
    public mutating func newline() { buffer.append(0x0a) }

    @inline(__always)
    private mutating func key(_ name: StaticString) {
        if !first { buffer.append(UInt8(ascii: ",")) }
        first = false
        buffer.append(UInt8(ascii: "\""))
        buffer.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        buffer.append(UInt8(ascii: "\""))
        buffer.append(UInt8(ascii: ":"))
    }

    /// A key known only at run time (KPI and vendor counter names), escaped like any string.
    private mutating func key(_ name: String) {
        if !first { buffer.append(UInt8(ascii: ",")) }
        first = false
        string(name)
        buffer.append(UInt8(ascii: ":"))
    }

    public mutating func field(_ name: String, _ value: Double?) {
        key(name)
        guard let value, value.isFinite else { return null() }
        number(value)
    }

    /// An array of numbers; NaN (a missing element) is written as null.
    public mutating func field(_ name: String, doubles: [Double]) {
        key(name)
        buffer.append(UInt8(ascii: "["))
        for (i, v) in doubles.enumerated() {
            if i > 0 { buffer.append(UInt8(ascii: ",")) }
            if v.isFinite { number(v) } else { null() }
        }
        buffer.append(UInt8(ascii: "]"))
    }

    /// Appends fields rendered once for many rows (e.g. a window's bounds), without braces.
    public mutating func fields(_ rendered: [UInt8]) {
        if !first { buffer.append(UInt8(ascii: ",")) }
        first = false
        buffer.append(contentsOf: rendered)
    }

    public mutating func field(_ name: StaticString, _ value: String?) {
        key(name)
        guard let value else { return null() }
        string(value)
    }

    public mutating func field(_ name: StaticString, _ value: Int) {
        key(name)
        integer(value)
    }

    /// Decimal digits straight into the buffer (no intermediate String).
    public mutating func integer(_ value: Int) {
        if value < 0 { buffer.append(UInt8(ascii: "-")) }
        var v = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[n] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                n += 1
            } while v > 0
            for i in stride(from: n - 1, through: 0, by: -1) { buffer.append(d[i]) }
        }
    }

    public mutating func field(_ name: StaticString, _ value: Double?) {
        key(name)
        guard let value, value.isFinite else { return null() }
        number(value)
    }

    public mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        if value { literal("true") } else { literal("false") }
    }

    public mutating func field(_ name: StaticString, _ value: IPAddress?) {
        guard let value, !value.isV6 else { return field(name, value?.description) }
        key(name)
        buffer.append(UInt8(ascii: "\""))
        value.withV4Text { buffer.append($0) }
        buffer.append(UInt8(ascii: "\""))
    }

    public mutating func field(_ name: StaticString, time: Int64?) {
        field(name, time.map(RFC3339.format))
    }

    public mutating func field(_ name: StaticString, ints: [Int]) {
        key(name)
        buffer.append(UInt8(ascii: "["))
        for (i, v) in ints.enumerated() {
            if i > 0 { buffer.append(UInt8(ascii: ",")) }
            integer(v)
        }
        buffer.append(UInt8(ascii: "]"))
    }

    public mutating func field(_ name: StaticString, strings: [String]) {
        key(name)
        buffer.append(UInt8(ascii: "["))
        for (i, v) in strings.enumerated() {
            if i > 0 { buffer.append(UInt8(ascii: ",")) }
            string(v)
        }
        buffer.append(UInt8(ascii: "]"))
    }

    /// A nested object or array written by `body`.
    public mutating func field(_ name: StaticString, object body: (inout JSONLine) -> Void) {
        key(name)
        // The body writes in place: its `open()` starts the nested object's own fields.
        body(&self)
    }

    private mutating func null() { literal("null") }

    /// Appends text as it is (for brackets around nested arrays).
    public mutating func appendRaw(_ s: String) {
        var s = s
        s.withUTF8 { buffer.append(UnsafeRawBufferPointer($0)) }
    }

    private mutating func literal(_ s: StaticString) {
        buffer.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Decimal text with at most six decimals (trailing zeros dropped), written digit by digit:
    /// `String(Double)` costs more than the rest of a row.
    private mutating func number(_ v: Double) {
        guard abs(v) < 9e12 else { appendRaw(String(v)); return }
        let scaled = Int64((v * 1e6).rounded())
        if scaled < 0 { buffer.append(UInt8(ascii: "-")) }
        let magnitude = scaled.magnitude
        integer(Int(magnitude / 1_000_000))
        var fraction = magnitude % 1_000_000
        guard fraction != 0 else { return }
        buffer.append(UInt8(ascii: "."))
        var divisor: UInt64 = 100_000
        while fraction != 0 {
            buffer.append(UInt8(ascii: "0") + UInt8(fraction / divisor))
            fraction %= divisor
            divisor /= 10
        }
    }

    public mutating func string(_ s: String) {
        buffer.append(UInt8(ascii: "\""))
        var plain = true
        for b in s.utf8 where b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { plain = false; break }
        if plain {
            appendRaw(s)
            buffer.append(UInt8(ascii: "\""))
            return
        }
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): buffer.append(UInt8(ascii: "\\")); buffer.append(b)
            case UInt8(ascii: "\\"): buffer.append(UInt8(ascii: "\\")); buffer.append(b)
            case 0x0a: buffer.append(UInt8(ascii: "\\")); buffer.append(UInt8(ascii: "n"))
            case 0x0d: buffer.append(UInt8(ascii: "\\")); buffer.append(UInt8(ascii: "r"))
            case 0x09: buffer.append(UInt8(ascii: "\\")); buffer.append(UInt8(ascii: "t"))
            case 0..<0x20:
                let hex = String(b, radix: 16)
                appendRaw("\\u00" + (hex.count == 1 ? "0" + hex : hex))
            default: buffer.append(b)
            }
        }
        buffer.append(UInt8(ascii: "\""))
    }
}

/// RFC 3339 UTC text for nanosecond timestamps, without Foundation's formatters.
public enum RFC3339 {
    public static func format(_ ns: Int64) -> String {
        var seconds = ns / 1_000_000_000
        var fraction = ns % 1_000_000_000
        if fraction < 0 { fraction += 1_000_000_000; seconds -= 1 }
        var days = seconds / 86_400
        var rest = seconds % 86_400
        if rest < 0 { rest += 86_400; days -= 1 }
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        var text = "\(year)-\(two(month))-\(two(day))T\(two(rest / 3600)):\(two(rest / 60 % 60)):\(two(rest % 60))"
        if fraction != 0 {
            var digits = String(fraction)
            digits = String(repeating: "0", count: 9 - digits.count) + digits
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
        }
        return text + "Z"
    }
}

/// A growable byte buffer written without Array's per-append uniqueness and bounds work:
/// JSON rows are the bulk of a run's output.
final class ByteBuffer {
    var count = 0
    private var capacity = 4096
    private var base = UnsafeMutablePointer<UInt8>.allocate(capacity: 4096)

    deinit { base.deallocate() }

    var view: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    @inline(__always)
    func append(_ byte: UInt8) {
        if count == capacity { grow(count + 1) }
        base[count] = byte
        count += 1
    }

    @inline(__always)
    func append(_ bytes: UnsafeRawBufferPointer) {
        if count + bytes.count > capacity { grow(count + bytes.count) }
        if let source = bytes.baseAddress { (base + count).update(from: source.assumingMemoryBound(to: UInt8.self), count: bytes.count) }
        count += bytes.count
    }

    @inline(__always)
    func append(contentsOf bytes: UnsafeBufferPointer<UInt8>) {
        append(UnsafeRawBufferPointer(bytes))
    }

    func append(contentsOf bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    private func grow(_ needed: Int) {
        var c = capacity * 2
        while c < needed { c *= 2 }
        let new = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        new.update(from: base, count: count)
        base.deallocate()
        base = new
        capacity = c
    }
}
