import Decode

/// Builds one JSON object per line into a byte buffer, field by field. Written by hand rather
/// than through `Codable` because rows are many and their shape is fixed.
public struct JSONLine {
    public private(set) var bytes: [UInt8] = []
    private var first = true

    public init() { bytes.reserveCapacity(512) }

    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        first = true
    }

    public mutating func open() { bytes.append(UInt8(ascii: "{")); first = true }
    public mutating func close() { bytes.append(UInt8(ascii: "}")) }
    public mutating func newline() { bytes.append(0x0a) }

    private mutating func key(_ name: StaticString) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func field(_ name: StaticString, _ value: String?) {
        key(name)
        guard let value else { return null() }
        string(value)
    }

    public mutating func field(_ name: StaticString, _ value: Int) {
        key(name)
        ascii(String(value))
    }

    public mutating func field(_ name: StaticString, _ value: Double?) {
        key(name)
        guard let value, value.isFinite else { return null() }
        number(value)
    }

    public mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        ascii(value ? "true" : "false")
    }

    public mutating func field(_ name: StaticString, _ value: IPAddress?) {
        field(name, value?.description)
    }

    public mutating func field(_ name: StaticString, time: Int64?) {
        field(name, time.map(RFC3339.format))
    }

    public mutating func field(_ name: StaticString, ints: [Int]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (i, v) in ints.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            ascii(String(v))
        }
        bytes.append(UInt8(ascii: "]"))
    }

    public mutating func field(_ name: StaticString, strings: [String]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (i, v) in strings.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            string(v)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// A nested object or array written by `body`.
    public mutating func field(_ name: StaticString, object body: (inout JSONLine) -> Void) {
        key(name)
        var inner = JSONLine()
        body(&inner)
        bytes.append(contentsOf: inner.bytes)
    }

    public mutating func raw(_ name: StaticString, _ json: [UInt8]) {
        key(name)
        bytes.append(contentsOf: json)
    }

    private mutating func null() { ascii("null") }

    /// Appends text as it is (for brackets around nested arrays).
    public mutating func appendRaw(_ s: String) { bytes.append(contentsOf: s.utf8) }

    private mutating func ascii(_ s: String) { bytes.append(contentsOf: s.utf8) }

    /// Shortest round-trip text for doubles, with whole numbers written without a fraction.
    private mutating func number(_ v: Double) {
        if v == v.rounded(), abs(v) < 1e15 { ascii(String(Int64(v))); return }
        ascii(String((v * 1e6).rounded() / 1e6))
    }

    public mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\\")); bytes.append(b)
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\")); bytes.append(b)
            case 0x0a: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "n"))
            case 0x0d: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "t"))
            case 0..<0x20:
                let hex = String(b, radix: 16)
                ascii("\\u00" + (hex.count == 1 ? "0" + hex : hex))
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
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
