import Foundation
import Telemetry

/// Event-level scoring of findings against labelled episodes, as DESIGN.md defines it: a finding
/// matches an episode of the same class and scope whose interval (extended by a tolerance after
/// its end) it overlaps; each episode is matched once, earliest finding first, so a second
/// finding on one incident is a false positive.
public enum Evaluation {
    public static let classes = ["prb_saturation", "low_spectral_efficiency", "uplink_interference", "transport_congestion"]

    /// What an episode or a finding is about, in the ids that evaluation compares: the numeric
    /// gNB id (`gnb-0023` = `gNB-23`), the cell's id within it, and the gNB's N3 address.
    public struct Scope: Sendable, Equatable {
        public var gnb: String?
        public var cell: String?
        public var gnbAddress: String?

        public init(gnb: String?, cell: String?, gnbAddress: String?) {
            self.gnb = gnb.map(Self.normalised)
            self.cell = cell.map(Self.normalised)
            self.gnbAddress = gnbAddress
        }

        /// `gnb-0012/cell-3` → `12/3`; names without digits stay as they are, lower-cased.
        static func normalised(_ name: String) -> String {
            name.split(separator: "/", omittingEmptySubsequences: false).map { part -> String in
                let digits = part.reversed().prefix { $0.isNumber }.reversed()
                let prefix = part.dropLast(digits.count)
                // `cell-3`, `gNB-23`, `gnb-0012`: a word and a number; `nci-1a2b` keeps its hex.
                if !digits.isEmpty, prefix.allSatisfy({ $0.isLetter || $0 == "-" || $0 == "_" }), !prefix.lowercased().hasPrefix("nci") {
                    return String(Int(String(digits)) ?? 0)
                }
                return part.lowercased()
            }.joined(separator: "/")
        }

        /// Same cell; for a gNB-scoped episode the same gNB by name or by address.
        func matches(_ o: Scope, findingClass: String) -> Bool {
            if findingClass == "transport_congestion" {
                if let a = gnb, let b = o.gnb, a == b { return true }
                if let a = gnbAddress, let b = o.gnbAddress, a == b { return true }
                return false
            }
            guard let a = cell, let b = o.cell else { return false }
            return a == b
        }
    }

    public struct Event: Sendable {
        public var id: String
        public var findingClass: String
        public var scope: Scope
        public var start: Int64
        /// nil: still open at the end of the input.
        public var end: Int64?

        public init(id: String, findingClass: String, scope: Scope, start: Int64, end: Int64?) {
            self.id = id
            self.findingClass = findingClass
            self.scope = scope
            self.start = start
            self.end = end
        }
    }

    public struct ClassScore: Sendable {
        public var findingClass: String
        public var episodes = 0
        public var findings = 0
        public var matchedEpisodes = 0
        public var matchedFindings = 0
        public var delays: [Double] = []

        public var precision: Double? { findings > 0 ? Double(matchedFindings) / Double(findings) : nil }
        public var recall: Double? { episodes > 0 ? Double(matchedEpisodes) / Double(episodes) : nil }
        public var f1: Double? {
            guard episodes > 0 || findings > 0 else { return nil }
            let p = precision ?? 0, r = recall ?? 0
            return p + r > 0 ? 2 * p * r / (p + r) : 0
        }
    }

    public struct Report: Sendable {
        public var classes: [ClassScore]
        /// Mean F1 over the classes that have episodes or findings.
        public var macroF1: Double?
        public var delayMedianS: Double?
        public var delayP95S: Double?
        public var falseAlarms: Int
        /// Unmatched findings that overlap a benign episode on their scope.
        public var falseAlarmsOnBenign: Int
        /// Unmatched findings on cells that have no non-benign episode at all.
        public var falseAlarmsOnHealthyCells: Int
        public var cells: Int
        public var hours: Double
        public var healthyCells: Int
        public var falseAlarmsPerCellHour: Double? { cells > 0 && hours > 0 ? Double(falseAlarms) / (Double(cells) * hours) : nil }
        public var falseAlarmsPerHealthyCellDay: Double? {
            healthyCells > 0 && hours > 0 ? Double(falseAlarmsOnHealthyCells) / (Double(healthyCells) * hours / 24) : nil
        }
    }

    public struct InputError: Error, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var reason: String
        public var description: String { "\(file):\(line): \(reason)" }
    }

    /// Reads `labels.jsonl` or `findings.jsonl`: one JSON object per line, blank lines skipped.
    public static func read(path: String) throws -> [Event] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw InputError(file: path, line: 0, reason: "cannot read the file")
        }
        var events: [Event] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any] else {
                throw InputError(file: path, line: n + 1, reason: "not a JSON object")
            }
            guard let c = object["class"] as? String else { throw InputError(file: path, line: n + 1, reason: "no `class`") }
            guard c == "benign" || classes.contains(c) else {
                throw InputError(file: path, line: n + 1, reason: "unknown class `\(c)`; expected benign or one of \(classes.joined(separator: ", "))")
            }
            let scope = object["scope"] as? [String: Any] ?? [:]
            let cell = scope["cell"] as? String
            // A cell names its gNB (`gnb/cell`) when the scope does not.
            let gnb = scope["gnb"] as? String ?? cell.flatMap { $0.split(separator: "/").first.map(String.init) }
            func time(_ key: String) throws -> Int64? {
                guard let v = object[key], !(v is NSNull) else { return nil }
                guard let s = v as? String, let t = TelemetryTime.parse(Substring(s)) else {
                    throw InputError(file: path, line: n + 1, reason: "`\(key)` is not an RFC 3339 time")
                }
                return t.ns
            }
            guard let start = try time("start") else { throw InputError(file: path, line: n + 1, reason: "no `start`") }
            events.append(Event(id: object["id"] as? String ?? object["episode"] as? String ?? "line-\(n + 1)", findingClass: c,
                                scope: Scope(gnb: gnb, cell: cell, gnbAddress: scope["gnb_address"] as? String),
                                start: start, end: try time("end")))
        }
        return events
    }

    /// Scores `found` against `truth`. `cellHours` is the cell time the input covered (from its
    /// cell windows); without it, the cells named in either file over the span they cover.
    public static func score(truth: [Event], found: [Event], toleranceS: Double = 60,
                             coverage: (cells: Int, hours: Double)? = nil) -> Report {
        let tolerance = Int64(toleranceS * 1e9)
        let horizon = (truth + found).map { max($0.start, $0.end ?? $0.start) }.max() ?? 0
        let episodes = truth.filter { $0.findingClass != "benign" }
        let benign = truth.filter { $0.findingClass == "benign" }
        var matched = [Bool](repeating: false, count: episodes.count)
        var scores = Dictionary(uniqueKeysWithValues: classes.map { ($0, ClassScore(findingClass: $0)) })
        for e in episodes { scores[e.findingClass]!.episodes += 1 }
        var delays: [Double] = []
        var falseAlarms = 0, onBenign = 0, onHealthy = 0
        let sickCells = Set(episodes.compactMap(\.scope.cell))
        func overlaps(_ f: Event, _ e: Event, tolerance: Int64) -> Bool {
            f.start < (e.end ?? horizon) + tolerance && (f.end ?? horizon) > e.start
        }
        for f in found.sorted(by: { ($0.start, $0.id) < ($1.start, $1.id) }) {
            scores[f.findingClass]?.findings += 1
            let candidates = episodes.indices.filter { i in
                !matched[i] && episodes[i].findingClass == f.findingClass
                    && episodes[i].scope.matches(f.scope, findingClass: f.findingClass) && overlaps(f, episodes[i], tolerance: tolerance)
            }
            if let i = candidates.min(by: { episodes[$0].start < episodes[$1].start }) {
                matched[i] = true
                scores[f.findingClass]?.matchedFindings += 1
                scores[f.findingClass]?.matchedEpisodes += 1
                let delay = max(0, Double(f.start - episodes[i].start) / 1e9)
                scores[f.findingClass]?.delays.append(delay)
                delays.append(delay)
                continue
            }
            falseAlarms += 1
            if benign.contains(where: { b in
                (b.scope.cell != nil ? b.scope.cell == f.scope.cell : b.scope.gnb == f.scope.gnb) && overlaps(f, b, tolerance: tolerance)
            }) { onBenign += 1 }
            if let c = f.scope.cell, !sickCells.contains(c) { onHealthy += 1 }
        }
        let rows = classes.map { scores[$0]! }
        let f1s = rows.compactMap(\.f1)
        let cells = coverage?.cells ?? Set((truth + found).compactMap(\.scope.cell)).count
        let first = (truth + found).map(\.start).min() ?? 0
        let hours = coverage?.hours ?? Double(horizon - first) / 3.6e12
        let healthy = max(0, cells - sickCells.count)
        return Report(classes: rows, macroF1: f1s.isEmpty ? nil : f1s.reduce(0, +) / Double(f1s.count),
                      delayMedianS: quantile(delays, 0.5), delayP95S: quantile(delays, 0.95),
                      falseAlarms: falseAlarms, falseAlarmsOnBenign: onBenign, falseAlarmsOnHealthyCells: onHealthy,
                      cells: cells, hours: hours, healthyCells: healthy)
    }

    /// Cells and hours covered by a `cells.jsonl`: distinct cells, and the span of their windows.
    public static func coverage(cellsJSONL path: String) throws -> (cells: Int, hours: Double) {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw InputError(file: path, line: 0, reason: "cannot read the file")
        }
        var cells = Set<String>()
        var first = Int64.max, last = Int64.min
        for (n, line) in text.split(separator: "\n").enumerated() {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let cell = o["cell"] as? String,
                  let s = (o["window_start"] as? String).flatMap({ TelemetryTime.parse(Substring($0)) }),
                  let e = (o["window_end"] as? String).flatMap({ TelemetryTime.parse(Substring($0)) }) else {
                throw InputError(file: path, line: n + 1, reason: "expected a cells.jsonl row with cell, window_start and window_end")
            }
            cells.insert(cell)
            first = min(first, s.ns)
            last = max(last, e.ns)
        }
        return (cells.count, last > first ? Double(last - first) / 3.6e12 : 0)
    }

    public static func median(_ v: [Double]) -> Double? { quantile(v, 0.5) }

    static func quantile(_ v: [Double], _ p: Double) -> Double? {
        guard !v.isEmpty else { return nil }
        let s = v.sorted()
        return s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
    }
}
