import CZlib
#if canImport(Glibc)
import Glibc
#endif

/// Whole-file reads for telemetry inputs (PM files are small; logs are read line by line from
/// the same buffer). gzip is inflated through zlib; a cut-off gzip file yields what inflated
/// before the cut, with the reason.
enum InputBytes {
    struct Result {
        var bytes: [UInt8]
        /// Set when the file could be opened but not read to its end.
        var problem: String?
    }

    static func read(_ path: String) -> Result? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var head = [UInt8](repeating: 0, count: 2)
        let n = fread(&head, 1, 2, f)
        if n == 2 && head[0] == 0x1f && head[1] == 0x8b { return inflate(path) }
        rewind(f)
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let got = fread(&chunk, 1, chunk.count, f)
            if got > 0 { out.append(contentsOf: chunk[..<got]) }
            if got < chunk.count { break }
        }
        if ferror(f) != 0 { return Result(bytes: out, problem: "read error after byte \(out.count)") }
        return Result(bytes: out)
    }

    /// Reads a file (inflating gzip) and hands its bytes to a reader; a file that cannot be
    /// opened is fatal, one that cannot be read to its end has stopped early.
    static func read(_ path: String, kind: String, _ body: ([UInt8], inout TelemetryRead) -> Void) -> TelemetryRead {
        var result = TelemetryRead(kind: kind)
        guard let input = read(path) else {
            result.fatal = TelemetryIssue(path: path, line: nil, reason: "cannot open")
            return result
        }
        body(input.bytes, &result)
        if let p = input.problem { result.stopped = result.stopped ?? TelemetryIssue(path: path, line: nil, reason: p) }
        return result
    }

    static func inflate(_ path: String) -> Result? {
        guard let gz = gzopen(path, "rb") else { return nil }
        defer { gzclose(gz) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let got = gzread(gz, &chunk, UInt32(chunk.count))
            if got > 0 { out.append(contentsOf: chunk[..<Int(got)]) }
            if got < 0 {
                var code: Int32 = 0
                let message = gzerror(gz, &code).map { String(cString: $0) } ?? "inflate failed"
                return Result(bytes: out, problem: "gzip stream damaged after \(out.count) inflated bytes (\(message))")
            }
            if got == 0 {
                // zlib reports a cut-off stream as a clean end; gzeof without a trailer says so.
                var code: Int32 = 0
                _ = gzerror(gz, &code)
                if code != Z_OK && code != Z_STREAM_END {
                    return Result(bytes: out, problem: "gzip stream cut off after \(out.count) inflated bytes")
                }
                return Result(bytes: out)
            }
        }
    }
}

/// A finite value within ±limit, else nil: guards every conversion of input numbers to integers.
func bounded(_ v: Double?, _ limit: Double) -> Double? {
    guard let v, v.isFinite, abs(v) <= limit else { return nil }
    return v
}

/// Times as telemetry writes them: xs:dateTime / RFC 3339 (`Z`, `+hh:mm`, `+hhmm`, no offset),
/// xs:duration, and nanoseconds since the Unix epoch throughout.
public enum TelemetryTime {
    /// Parses `YYYY-MM-DD[T ]hh:mm[:ss[.fff]][Z|±hh:mm|±hhmm]`. `assumeOffset` (seconds east of
    /// UTC) applies when the text has none; `hadOffset` says whether it had one.
    public static func parse(_ text: Substring, assumeOffset: Int = 0) -> (ns: Int64, hadOffset: Bool)? {
        let b = Array(text.utf8)
        var i = 0
        func number(_ digits: Int) -> Int? {
            guard i + digits <= b.count else { return nil }
            var v = 0
            for k in 0..<digits {
                let c = b[i + k]
                guard c >= 0x30 && c <= 0x39 else { return nil }
                v = v * 10 + Int(c - 0x30)
            }
            i += digits
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect(UInt8(ascii: "-")), let month = number(2), expect(UInt8(ascii: "-")),
              let day = number(2) else { return nil }
        guard i < b.count, b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: " ") else { return nil }
        i += 1
        guard let hour = number(2), expect(UInt8(ascii: ":")), let minute = number(2) else { return nil }
        var second = 0
        var nanos: Int64 = 0
        if expect(UInt8(ascii: ":")) {
            guard let s = number(2) else { return nil }
            second = s
            if expect(UInt8(ascii: ".")) || expect(UInt8(ascii: ",")) {
                var scale: Int64 = 100_000_000
                while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                    nanos += Int64(b[i] - 0x30) * scale
                    scale /= 10
                    i += 1
                }
            }
        }
        // Years outside 1900–2199 are no telemetry time (and would overflow nanoseconds).
        guard (1900...2199).contains(year), (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var offset = assumeOffset
        var hadOffset = false
        if i < b.count {
            if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
                offset = 0
                hadOffset = true
                i += 1
            } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
                i += 1
                guard let oh = number(2) else { return nil }
                _ = expect(UInt8(ascii: ":"))
                let om = number(2) ?? 0
                offset = sign * (oh * 3600 + om * 60)
                hadOffset = true
            }
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(year, month, day)
        let seconds = Int64(days) * 86400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offset)
        return (seconds * 1_000_000_000 + nanos, hadOffset)
    }

    /// xs:duration with day/time parts only (`PT900S`, `PT15M`, `PT1H`, `P1D`), in seconds.
    public static func duration(_ text: Substring) -> Double? {
        var rest = text.drop { $0 == " " }
        guard rest.first == "P" else { return nil }
        rest = rest.dropFirst()
        var total = 0.0
        var inTime = false
        var number = ""
        var any = false
        for c in rest {
            if c == "T" { inTime = true; continue }
            if c.isNumber || c == "." { number.append(c); continue }
            guard let v = Double(number) else { return nil }
            number = ""
            any = true
            switch (c, inTime) {
            case ("D", false): total += v * 86400
            case ("H", true): total += v * 3600
            case ("M", true): total += v * 60
            case ("S", true): total += v
            default: return nil
            }
        }
        // A period longer than a year is no granularity period (and would overflow nanoseconds).
        return any && number.isEmpty && total.isFinite && total <= 366 * 86400 ? total : nil
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }
}
