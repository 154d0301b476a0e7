import Foundation
import Yams

/// How to read an external KPI table (CSV or JSON Lines, one row per cell × period): which
/// columns hold the time, the cell and which KPI, in which unit. The file form is documented in
/// docs/telemetry.md; shipped mappings for the public data sets live in pipelines/mappings/.
public struct KpiTableMapping: Codable, Sendable, Equatable {
    public struct Column: Codable, Sendable, Equatable {
        public var name: String
        public var kpi: String
        /// Multiplies into the KPI's unit (e.g. 0.001 for kbit/s → Mbit/s).
        public var scale: Double?
    }

    public struct RowFilter: Codable, Sendable, Equatable {
        public var column: String
        public var values: [String]
    }

    public var name: String?
    public var timeColumn: String?
    public var timeColumns: [String]?
    /// strftime subset: %Y %y %m %d %H %M %S; absent = RFC 3339 / ISO 8601 or epoch seconds.
    public var timeFormat: String?
    /// `start` or `end` (default) of the period.
    public var timeIs: String?
    /// `UTC`, `+01:00` or an IANA name; applies when the time carries no offset.
    public var timezone: String?
    public var windowS: Double
    public var cellColumns: [String]?
    public var cellConstant: String?
    public var cellPrefix: String?
    public var gnbColumn: String?
    public var gnbConstant: String?
    public var gnbPrefix: String?
    public var naValues: [String]?
    public var keepRows: RowFilter?
    /// Columns that must be present for this mapping to apply, without being read (to tell
    /// apart tables that share their KPI columns).
    public var matchColumns: [String]?
    public var columns: [Column]

    enum CodingKeys: String, CodingKey {
        case name, columns, timezone
        case timeColumn = "time_column", timeColumns = "time_columns", timeFormat = "time_format", timeIs = "time_is"
        case windowS = "window_s", cellColumns = "cell_columns", cellConstant = "cell_constant", cellPrefix = "cell_prefix"
        case gnbColumn = "gnb_column", gnbConstant = "gnb_constant", gnbPrefix = "gnb_prefix"
        case naValues = "na_values", keepRows = "keep_rows", matchColumns = "match_columns"
    }

    public static func load(path: String) throws -> KpiTableMapping {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw TelemetryIssue(path: path, line: nil, reason: "cannot read the mapping file")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws -> KpiTableMapping {
        let m: KpiTableMapping
        do {
            m = try YAMLDecoder().decode(KpiTableMapping.self, from: text)
        } catch let DecodingError.keyNotFound(key, _) {
            throw TelemetryIssue(path: path, line: nil, field: key.stringValue, reason: "missing")
        } catch let DecodingError.typeMismatch(_, context) {
            throw TelemetryIssue(path: path, line: nil, field: context.codingPath.map(\.stringValue).joined(separator: "."),
                                 reason: "wrong type: \(context.debugDescription)")
        } catch {
            throw TelemetryIssue(path: path, line: nil, reason: "not a valid mapping: \(error)")
        }
        for c in m.columns where Kpi(rawValue: c.kpi) == nil {
            throw TelemetryIssue(path: path, line: nil, field: c.name, reason: "unknown kpi '\(c.kpi)'")
        }
        if m.timeColumn == nil && (m.timeColumns ?? []).isEmpty {
            throw TelemetryIssue(path: path, line: nil, field: "time_column", reason: "missing (or give time_columns)")
        }
        if (m.cellColumns ?? []).isEmpty && m.cellConstant == nil {
            throw TelemetryIssue(path: path, line: nil, field: "cell_columns", reason: "missing (or give cell_constant)")
        }
        if !(m.windowS > 0 && m.windowS <= 366 * 86400) {
            throw TelemetryIssue(path: path, line: nil, field: "window_s", reason: "must be a positive number of seconds, at most a year")
        }
        if let t = m.timeIs, t != "start" && t != "end" {
            throw TelemetryIssue(path: path, line: nil, field: "time_is", reason: "must be start or end")
        }
        if let tz = m.timezone, Zone(tz) == nil {
            throw TelemetryIssue(path: path, line: nil, field: "timezone", reason: "unknown time zone '\(tz)'")
        }
        return m
    }

    /// Every `*.yaml` mapping in a folder (the shipped ones live in pipelines/mappings/).
    public static func loadAll(in directory: String) throws -> [(path: String, mapping: KpiTableMapping)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return try names.filter { $0.hasSuffix(".yaml") }.sorted().map { name in
            let path = directory + "/" + name
            return (path, try load(path: path))
        }
    }

    /// Every column the mapping reads, for matching a table's header.
    var requiredColumns: [String] {
        var c = columns.map(\.name) + (cellColumns ?? []) + (timeColumns ?? []) + (matchColumns ?? [])
        if let t = timeColumn { c.append(t) }
        if let g = gnbColumn { c.append(g) }
        return c
    }

    public func matches(header: [String]) -> Bool {
        let set = Set(header)
        return requiredColumns.allSatisfy { set.contains($0) }
    }

    /// A time zone resolved once: a fixed offset, or an IANA zone whose offset depends on the date.
    struct Zone {
        let fixed: Int?
        let zone: TimeZone?

        init?(_ tz: String) {
            if tz == "UTC" || tz == "Z" {
                fixed = 0; zone = nil
            } else if let t = TelemetryTime.parse(Substring("1970-01-01T00:00" + tz)) {
                fixed = Int(-t.ns / 1_000_000_000); zone = nil
            } else if let z = TimeZone(identifier: tz) {
                fixed = nil; zone = z
            } else {
                return nil
            }
        }

        func offset(at ns: Int64) -> Int {
            fixed ?? zone!.secondsFromGMT(for: Date(timeIntervalSince1970: Double(ns) / 1e9))
        }

        /// UTC of a local time: the offset is looked up at the local time, then again at the
        /// result, which settles on the right side of a summer-time change.
        func utc(fromLocal naive: Int64) -> Int64 {
            let first = naive - Int64(offset(at: naive)) * 1_000_000_000
            return naive - Int64(offset(at: first)) * 1_000_000_000
        }
    }
}

/// Reads CSV (RFC 4180 quoting) or JSON Lines KPI tables through a mapping. Missing values
/// (`na_values`, empty) stay missing; a cell that is not a number is an issue naming the line
/// and the column; unmapped columns are listed once.
public enum KpiTableReader {
    /// The header of a CSV file, or nil when the file does not look like one.
    public static func header(of bytes: [UInt8]) -> [String]? {
        var end = 0
        while end < bytes.count && bytes[end] != 0x0A { end += 1 }
        let fields = csvFields(bytes[0..<end])
        return fields.count >= 2 ? fields.map(String.init) : nil
    }

    public static func read(path: String, mapping: KpiTableMapping) -> TelemetryRead {
        InputBytes.read(path, kind: "kpi-table") { read(bytes: $0, path: path, mapping: mapping, into: &$1) }
    }

    public static func read(bytes: [UInt8], path: String, mapping m: KpiTableMapping, into result: inout TelemetryRead) {
        let first = bytes.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0xEF && $0 != 0xBB && $0 != 0xBF }
        let isJSON = first == UInt8(ascii: "{")
        var header: [String] = []
        var lineNumber = 0
        var start = 0
        // Skip a UTF-8 byte-order mark.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        let na = Set(m.naValues ?? ["", "-", "NA", "NaN", "null"])
        let zone = m.timezone.flatMap { KpiTableMapping.Zone($0) }
        var warnedOffset = false
        let window = Int64(m.windowS * 1e9)
        let kpis = m.columns.map { Kpi(rawValue: $0.kpi)! }
        // Column positions, resolved from the header once (CSV) or per row (JSON Lines).
        var index: [String: Int] = [:]
        var fields: [Substring] = []
        func column(_ name: String) -> Substring? {
            guard let i = index[name], i < fields.count else { return nil }
            return fields[i]
        }
        while start < bytes.count {
            var end = start
            var newlines = 0
            if isJSON {
                while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            } else {
                let record = Self.csvRecord(bytes, from: start)
                end = record.end
                newlines = record.newlines
                if record.unterminated {
                    result.issues.append(TelemetryIssue(path: path, line: lineNumber + 1, field: nil,
                                                        reason: "a quoted field is not closed; the record ends at its line"))
                }
            }
            let recordLine = lineNumber + 1
            lineNumber += 1 + newlines
            let slice = bytes[start..<end]
            start = end + 1
            if slice.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
            if isJSON {
                guard let object = try? JSONSerialization.jsonObject(with: Data(slice)) as? [String: Any] else {
                    result.skipped += 1
                    result.issues.append(TelemetryIssue(path: path, line: recordLine, reason: "not a JSON object"))
                    continue
                }
                index = [:]
                fields = []
                for (k, v) in object where !(v is NSNull) {
                    index[k] = fields.count
                    fields.append(Substring((v as? String) ?? (v as? NSNumber)?.stringValue ?? "\(v)"))
                }
                if header.isEmpty {
                    header = Array(object.keys)
                    reportUnmapped(header, m, path, &result)
                }
            } else {
                fields = csvFields(slice)
                if header.isEmpty {
                    header = fields.map(String.init)
                    let missing = m.requiredColumns.filter { !header.contains($0) }
                    if !missing.isEmpty {
                        result.fatal = TelemetryIssue(path: path, line: recordLine, field: missing.joined(separator: ", "),
                                                      reason: "column missing from the header the mapping \(m.name ?? "") expects")
                        return
                    }
                    for (i, h) in header.enumerated() where index[h] == nil { index[h] = i }
                    reportUnmapped(header, m, path, &result)
                    continue
                }
                if fields.count != header.count {
                    result.issues.append(TelemetryIssue(path: path, line: recordLine, field: nil,
                                                        reason: "\(fields.count) fields for \(header.count) columns; read by position as far as both go"))
                }
            }
            result.records += 1
            if let f = m.keepRows, !f.values.contains(String(column(f.column) ?? "")) { continue }
            // Time.
            let timeText: Substring = m.timeColumn.map { column($0) ?? "" }
                ?? Substring((m.timeColumns ?? []).map { String(column($0) ?? "") }.joined(separator: " "))
            guard let (t, hadOffset) = parseTime(timeText, mapping: m, zone: zone) else {
                result.skipped += 1
                result.issues.append(TelemetryIssue(path: path, line: recordLine, field: m.timeColumn ?? m.timeColumns?.joined(separator: "+"),
                                                    reason: "time '\(timeText.prefix(40))' does not match \(m.timeFormat ?? "RFC 3339")"))
                continue
            }
            if !hadOffset && m.timezone == nil && !warnedOffset {
                warnedOffset = true
                result.issues.append(TelemetryIssue(path: path, line: recordLine, field: m.timeColumn, reason: "times carry no offset and the mapping names no timezone; read as UTC"))
            }
            let (s0, s1) = m.timeIs == "start" ? (t, t + window) : (t - window, t)
            // Cell.
            let cellKey = m.cellConstant ?? (m.cellColumns ?? []).map { String(column($0) ?? "") }.joined(separator: "-")
            let gnbKey = m.gnbConstant ?? m.gnbColumn.map { String(column($0) ?? "") } ?? (m.name ?? "table")
            if cellKey.isEmpty || na.contains(cellKey) {
                result.skipped += 1
                result.issues.append(TelemetryIssue(path: path, line: recordLine, field: m.cellColumns?.joined(separator: "+"), reason: "no cell"))
                continue
            }
            let cell = CellID(gnb: (m.gnbPrefix ?? "") + gnbKey, cell: (m.cellPrefix ?? "") + cellKey, ldn: cellKey)
            var s = CellSample(cell: cell, start: s0, end: s1, source: "kpi-table", native: m.windowS >= 60)
            for (c, kpi) in zip(m.columns, kpis) {
                guard let raw = column(c.name) else { continue }
                let text = raw.trimmingSpaces
                if na.contains(text) { continue }
                guard let v = Double(text), v.isFinite else {
                    result.issues.append(TelemetryIssue(path: path, line: recordLine, field: c.name, reason: "'\(text.prefix(30))' is not a number"))
                    continue
                }
                s.values[kpi] = v * (c.scale ?? 1)
            }
            result.samples.append(s)
        }
    }

    static func reportUnmapped(_ header: [String], _ m: KpiTableMapping, _ path: String, _ result: inout TelemetryRead) {
        let used = Set(m.requiredColumns + (m.keepRows.map { [$0.column] } ?? []))
        let unmapped = header.filter { !used.contains($0) }
        if !unmapped.isEmpty {
            result.issues.append(TelemetryIssue(path: path, line: 1, field: nil,
                                                reason: "columns not in the mapping, ignored: \(unmapped.joined(separator: ", "))"))
        }
    }

    static func parseTime(_ text: Substring, mapping m: KpiTableMapping, zone: KpiTableMapping.Zone?) -> (Int64, Bool)? {
        let trimmed = text.trimmingSpaces
        if let format = m.timeFormat {
            guard let naive = strptime(trimmed, format) else { return nil }
            return (zone?.utc(fromLocal: naive) ?? naive, zone != nil)
        }
        if let t = TelemetryTime.parse(Substring(trimmed), assumeOffset: 0) {
            return t.hadOffset ? (t.ns, true) : (zone?.utc(fromLocal: t.ns) ?? t.ns, zone != nil)
        }
        // Epoch seconds, or milliseconds (13 digits); both from 1973 to 2096. Whole numbers in
        // integer arithmetic: a Double holds nanoseconds since 1970 only to about 256 ns.
        if let whole = Int64(trimmed) {
            if whole > 100_000_000 && whole < 4_000_000_000 { return (whole * 1_000_000_000, true) }
            if whole > 100_000_000_000 && whole < 4_000_000_000_000 { return (whole * 1_000_000, true) }
            return nil
        }
        if let epoch = Double(trimmed), epoch.isFinite {
            if epoch > 1e8 && epoch < 4e9 { return (Int64(epoch * 1e9), true) }
            if epoch > 1e11 && epoch < 4e12 { return (Int64(epoch * 1e6), true) }
        }
        return nil
    }

    /// A strftime subset (%Y %y %m %d %H %M %S, other characters literal) → naive ns.
    static func strptime(_ text: String, _ format: String) -> Int64? {
        let t = Array(text.utf8), f = Array(format.utf8)
        var i = 0, j = 0
        var y = 1970, mo = 1, d = 1, h = 0, mi = 0, s = 0
        func digits(_ n: Int) -> Int? {
            var v = 0, k = 0
            while k < n, i < t.count, t[i] >= 0x30, t[i] <= 0x39 { v = v * 10 + Int(t[i] - 0x30); i += 1; k += 1 }
            return k == 0 ? nil : v
        }
        while j < f.count {
            if f[j] == UInt8(ascii: "%"), j + 1 < f.count {
                let spec = f[j + 1]
                j += 2
                switch spec {
                case UInt8(ascii: "Y"): guard let v = digits(4) else { return nil }; y = v
                case UInt8(ascii: "y"): guard let v = digits(2) else { return nil }; y = 2000 + v
                case UInt8(ascii: "m"): guard let v = digits(2) else { return nil }; mo = v
                case UInt8(ascii: "d"): guard let v = digits(2) else { return nil }; d = v
                case UInt8(ascii: "H"): guard let v = digits(2) else { return nil }; h = v
                case UInt8(ascii: "M"): guard let v = digits(2) else { return nil }; mi = v
                case UInt8(ascii: "S"): guard let v = digits(2) else { return nil }; s = v
                default: return nil
                }
            } else {
                guard i < t.count, t[i] == f[j] else { return nil }
                i += 1; j += 1
            }
        }
        guard i == t.count, (1900...2199).contains(y), (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61 else { return nil }
        let days = TelemetryTime.daysFromCivil(y, mo, d)
        return (Int64(days) * 86400 + Int64(h * 3600 + mi * 60 + s)) * 1_000_000_000
    }

    /// Where a CSV record that starts at `start` ends (its newline, or the end of the input).
    /// A quote opens a quoted field only at the start of a field, and a quoted field may hold
    /// newlines — but not more than 100 of them: a quote that never closes ends the record at
    /// its first line instead of swallowing the rest of the file.
    static func csvRecord(_ bytes: [UInt8], from start: Int) -> (end: Int, newlines: Int, unterminated: Bool) {
        var i = start, newlines = 0
        var fieldStart = true, inQuotes = false
        var firstNewline: Int?
        while i < bytes.count {
            let b = bytes[i]
            if inQuotes {
                if b == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "\"") { i += 1 } else { inQuotes = false }
                } else if b == 0x0A {
                    newlines += 1
                    firstNewline = firstNewline ?? i
                    if newlines > 100 { return (firstNewline!, 0, true) }
                }
            } else if b == 0x0A {
                return (i, newlines, false)
            } else if b == UInt8(ascii: "\"") && fieldStart {
                inQuotes = true
            }
            fieldStart = !inQuotes && b == UInt8(ascii: ",")
            i += 1
        }
        if inQuotes, let first = firstNewline { return (first, 0, true) }
        return (i, newlines, inQuotes)
    }

    /// Fields of one CSV record, RFC 4180 quoting (a quote opens a field only at its start).
    static func csvFields(_ line: ArraySlice<UInt8>) -> [Substring] {
        var fields: [Substring] = []
        var field: [UInt8] = []
        var inQuotes = false
        var fieldStart = true
        var i = line.startIndex
        while i < line.endIndex {
            let b = line[i]
            if inQuotes {
                if b == UInt8(ascii: "\"") {
                    if i + 1 < line.endIndex, line[i + 1] == UInt8(ascii: "\"") { field.append(b); i += 1 } else { inQuotes = false }
                } else { field.append(b) }
            } else if b == UInt8(ascii: "\"") && fieldStart {
                inQuotes = true
            } else if b == UInt8(ascii: ",") {
                fields.append(Substring(String(decoding: field, as: UTF8.self))); field.removeAll(keepingCapacity: true)
                fieldStart = true
                i += 1
                continue
            } else if b != 0x0D {
                field.append(b)
            }
            fieldStart = false
            i += 1
        }
        fields.append(Substring(String(decoding: field, as: UTF8.self)))
        return fields
    }
}
