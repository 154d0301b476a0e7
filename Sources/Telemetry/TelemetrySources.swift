import Foundation

/// Picks the reader for a telemetry input by its content, never by its name.
public struct TelemetrySources: Sendable {
    public var vendorMapping: VendorMapping = .default
    public var tableMappings: [(path: String, mapping: KpiTableMapping)] = []
    /// Where streams without absolute time (OAI logs) start; else a companion iPerf JSON's start.
    public var start: Int64?
    public var cellConfig = CellConfig()

    public init() {}

    /// Reads one non-capture input; `nil` when the content is no telemetry format we know.
    public func read(path: String) -> TelemetryRead? {
        guard let input = InputBytes.read(path) else {
            var r = TelemetryRead(kind: "unreadable")
            r.fatal = TelemetryIssue(path: path, line: nil, reason: "cannot open")
            return r
        }
        let bytes = input.bytes
        var result: TelemetryRead
        let head = Substring(String(decoding: bytes.prefix(8192), as: UTF8.self))
        let first = bytes.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 && $0 != 0xEF && $0 != 0xBB && $0 != 0xBF }
        if first == UInt8(ascii: "<") {
            result = TelemetryRead(kind: "pm-xml")
            guard head.contains("measCollecFile") || head.contains("measDataFile") else { return nil }
            PMReader(mapping: vendorMapping).read(bytes: bytes, path: path, into: &result)
        } else if first == UInt8(ascii: "{") && SrsRANReader.recognises(head) {
            result = TelemetryRead(kind: "srsran-json")
            SrsRANReader.read(bytes: bytes, path: path, config: cellConfig, into: &result)
        } else if OAILogReader.recognises(head) {
            result = TelemetryRead(kind: "oai-log")
            OAILogReader(start: start ?? Self.companionStart(of: path)).read(bytes: bytes, path: path, into: &result)
        } else if let mapping = tableMapping(for: bytes) {
            result = TelemetryRead(kind: "kpi-table")
            KpiTableReader.read(bytes: bytes, path: path, mapping: mapping, into: &result)
        } else {
            return nil
        }
        if let p = input.problem { result.stopped = result.stopped ?? TelemetryIssue(path: path, line: nil, reason: p) }
        return result
    }

    /// The mapping whose columns all appear in the table's header (CSV) or first row (JSONL);
    /// when several do, the one that names the most columns (the most specific).
    func tableMapping(for bytes: [UInt8]) -> KpiTableMapping? {
        var header = KpiTableReader.header(of: bytes) ?? []
        if bytes.first == UInt8(ascii: "{") {
            var end = 0
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            if let o = try? JSONSerialization.jsonObject(with: Data(bytes[0..<end])) as? [String: Any] { header = Array(o.keys) }
        }
        guard !header.isEmpty else { return nil }
        return tableMappings.filter { $0.mapping.matches(header: header) }
            .max { $0.mapping.requiredColumns.count < $1.mapping.requiredColumns.count }?.mapping
    }

    /// The start of an iPerf3 test in the same folder (`"timesecs"`), for logs without time.
    static func companionStart(of path: String) -> Int64? {
        let dir = (path as NSString).deletingLastPathComponent
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.isEmpty ? "." : dir) else { return nil }
        for name in names.sorted() where name.hasSuffix(".json") {
            let full = dir.isEmpty ? name : dir + "/" + name
            guard let data = FileManager.default.contents(atPath: full), data.count < 16 << 20,
                  let text = String(data: data, encoding: .utf8), let r = text.range(of: "\"timesecs\"") else { continue }
            let rest = text[r.upperBound...].drop { $0 == ":" || $0 == " " }
            if let secs = Int64(rest.prefix { $0.isNumber }), secs < 4_000_000_000 { return secs * 1_000_000_000 }
        }
        return nil
    }
}
