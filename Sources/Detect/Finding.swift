import Decode

/// A detected incident, in the schema of `findings.jsonl` (DESIGN.md).
public struct Finding: Sendable, Equatable {
    public enum Class: String, Sendable, CaseIterable, Codable {
        case prbSaturation = "prb_saturation"
        case lowSpectralEfficiency = "low_spectral_efficiency"
        case uplinkInterference = "uplink_interference"
        case transportCongestion = "transport_congestion"
    }

    public enum Severity: String, Sendable, CaseIterable, Codable, Comparable {
        case warning, minor, major, critical

        private var rank: Int { Severity.allCases.firstIndex(of: self)! }
        public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
    }

    public struct Scope: Sendable, Equatable {
        public var cell: String?
        public var gnb: String?
        public var gnbAddress: String?
        public var teid: UInt32?
        /// The source's own name for the cell (PM measObjLdn, NCI, PCI).
        public var ldn: String?

        public init(cell: String? = nil, gnb: String? = nil, gnbAddress: String? = nil, teid: UInt32? = nil, ldn: String? = nil) {
            self.cell = cell
            self.ldn = ldn
            self.gnb = gnb
            self.gnbAddress = gnbAddress
            self.teid = teid
        }
    }

    public struct Evidence: Sendable, Equatable {
        public var kpi: String
        public var value: Double
        public var baseline: Double?
        public var unit: String

        public init(kpi: String, value: Double, baseline: Double?, unit: String) {
            self.kpi = kpi
            self.value = value
            self.baseline = baseline
            self.unit = unit
        }
    }

    public var id: String
    public var runID: String
    public var findingClass: Class
    public var direction: String?
    public var scope: Scope
    /// Nanoseconds since the Unix epoch.
    public var start: Int64
    /// nil while the finding is open.
    public var end: Int64?
    public var severity: Severity
    public var score: Double
    public var detector: String
    public var evidence: [Evidence]
    public var missingInputs: [String]
    public var summary: String
    public var explanation: String?

    public var state: String { end == nil ? "open" : "resolved" }

    /// A stable id from what the finding is about and when it started, so a live job can emit
    /// the same finding again when it resolves.
    public static func makeID(_ c: Class, _ scope: Scope, start: Int64, direction: String? = nil) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        var text = "\(c.rawValue)|\(scope.cell ?? "")|\(scope.gnb ?? "")|\(scope.gnbAddress ?? "")|\(scope.teid.map(String.init) ?? "")|\(start)"
        // Both directions of one class on one cell may start together; uplink ids differ.
        if direction == "ul" { text += "|ul" }
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        let short = UInt32(truncatingIfNeeded: hash ^ (hash >> 32))
        let hex = String(short, radix: 16)
        return "f-" + String(repeating: "0", count: 8 - hex.count) + hex
    }
}
