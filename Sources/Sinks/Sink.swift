import Decode
import Detect
import Windows
#if canImport(Glibc)
import Glibc
#endif

/// Where a run's windows and findings go. Sinks see each window once, as it closes, so
/// that memory stays flat however long the input is.
public protocol Sink: AnyObject {
    func write(_ batch: WindowBatch) throws
    /// Findings as they open and resolve. Batch sinks keep the final state only.
    func write(_ events: [FindingEvent]) throws
    /// Per-cell KPI windows from RAN telemetry.
    func write(_ cells: [CellWindow]) throws
    /// End of the run: flush and record the summary.
    func close(_ summary: RunSummary) throws
}

/// One input as the run saw it.
extension Sink {
    public func write(_ cells: [CellWindow]) throws {}
}

public struct InputSummary: Sendable {
    public var path: String
    public var kind: String
    public var bytes: Int64
    public var packets: Int
    public var linkType: String?
    /// Why reading stopped early or never started; nil when read to the end.
    public var problem: String?

    public init(path: String, kind: String, bytes: Int64, packets: Int, linkType: String?, problem: String?) {
        self.path = path
        self.kind = kind
        self.bytes = bytes
        self.packets = packets
        self.linkType = linkType
        self.problem = problem
    }
}

/// What a run did, for the report, the database and the CLI.
public struct RunSummary: Sendable {
    public var runID: String
    public var startedAt: Int64
    public var finishedAt: Int64
    public var windowSeconds: Double
    public var detector: String
    public var inputs: [InputSummary]
    public var totals: DecodeTotals
    public var firstPacket: Int64?
    public var lastPacket: Int64?
    public var findings: [Finding]
    public var interrupted: Bool
    /// Totals per gNB, tunnel and conversation over the whole run.
    public var runTotals: RunTotals
    public var sessions: Int
    public var tunnelsTied: Int
    /// Per-cell totals of the RAN telemetry read.
    public var cells: [CellTotals] = []

    public init(runID: String, startedAt: Int64, finishedAt: Int64, windowSeconds: Double, detector: String,
                inputs: [InputSummary], totals: DecodeTotals, firstPacket: Int64?, lastPacket: Int64?,
                findings: [Finding], interrupted: Bool, runTotals: RunTotals, sessions: Int, tunnelsTied: Int) {
        self.runID = runID
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.windowSeconds = windowSeconds
        self.detector = detector
        self.inputs = inputs
        self.totals = totals
        self.firstPacket = firstPacket
        self.lastPacket = lastPacket
        self.findings = findings
        self.interrupted = interrupted
        self.runTotals = runTotals
        self.sessions = sessions
        self.tunnelsTied = tunnelsTied
    }
}

public struct SinkError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A buffered append-only file written with stdio.
final class OutputFile {
    let path: String
    private var file: UnsafeMutablePointer<FILE>?

    init(path: String) throws {
        self.path = path
        guard let f = fopen(path, "w") else {
            throw SinkError("\(path): cannot create (\(String(cString: strerror(errno))))")
        }
        setvbuf(f, nil, _IOFBF, 1 << 20)
        file = f
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    func write(_ line: JSONLine) throws {
        try write(line.view)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let file, bytes.count > 0 else { return }
        let n = fwrite(bytes.baseAddress, 1, bytes.count, file)
        if n != bytes.count { throw SinkError("\(path): write failed (\(String(cString: strerror(errno))))") }
    }

    func flush() throws {
        guard let file else { return }
        if fflush(file) != 0 { throw SinkError("\(path): write failed (\(String(cString: strerror(errno))))") }
    }

    func close() throws {
        guard let f = file else { return }
        file = nil
        if fclose(f) != 0 { throw SinkError("\(path): close failed (\(String(cString: strerror(errno))))") }
    }

    deinit { if let file { fclose(file) } }
}

/// A cell over the whole run, for the report.
public struct CellTotals: Sendable {
    public var cell: String
    public var sources: [String]
    public var windows: Int
    public var suspectWindows: Int
    public var first: Int64
    public var last: Int64
    public var relativeTime: Bool
    public var prbUtilDlMaxPct: Double?
    public var cellThpDlMeanMbps: Double?
    public var cqiMean: Double?
    public var mcsDlMean: Double?

    public init(cell: String, sources: [String], windows: Int, suspectWindows: Int, first: Int64, last: Int64, relativeTime: Bool,
                prbUtilDlMaxPct: Double?, cellThpDlMeanMbps: Double?, cqiMean: Double?, mcsDlMean: Double?) {
        self.cell = cell
        self.sources = sources
        self.windows = windows
        self.suspectWindows = suspectWindows
        self.first = first
        self.last = last
        self.relativeTime = relativeTime
        self.prbUtilDlMaxPct = prbUtilDlMaxPct
        self.cellThpDlMeanMbps = cellThpDlMeanMbps
        self.cqiMean = cqiMean
        self.mcsDlMean = mcsDlMean
    }

    /// Per-cell totals built window by window, so a live run keeps no windows.
    public struct Accumulator: Sendable {
        struct Running: Sendable {
            var sources: Set<String> = []
            var windows = 0, suspect = 0
            var first = Int64.max, last = Int64.min
            var relative = false
            var utilMax: Double?
            var sums: [String: (Double, Int)] = [:]
        }

        private var cells: [String: Running] = [:]

        public init() {}

        public mutating func add(_ w: CellWindow) {
            var r = cells[w.cell.name] ?? Running()
            r.sources.insert(w.source)
            r.windows += 1
            if w.suspect { r.suspect += 1 }
            r.first = min(r.first, w.start)
            r.last = max(r.last, w.end)
            r.relative = r.relative || w.relativeTime
            if let u = w["prb_util_dl_pct"] ?? w["prb_util_dl_est_pct"] { r.utilMax = max(r.utilMax ?? u, u) }
            for k in ["cell_thp_dl_mbps", "cqi_mean", "mcs_dl_mean"] {
                if let v = w[k] { r.sums[k, default: (0, 0)].0 += v; r.sums[k, default: (0, 0)].1 += 1 }
            }
            cells[w.cell.name] = r
        }

        public var totals: [CellTotals] {
            cells.keys.sorted().map { name in
                let r = cells[name]!
                func mean(_ k: String) -> Double? { r.sums[k].map { $0.0 / Double($0.1) } }
                return CellTotals(cell: name, sources: r.sources.sorted(), windows: r.windows, suspectWindows: r.suspect,
                                  first: r.first, last: r.last, relativeTime: r.relative, prbUtilDlMaxPct: r.utilMax,
                                  cellThpDlMeanMbps: mean("cell_thp_dl_mbps"), cqiMean: mean("cqi_mean"), mcsDlMean: mean("mcs_dl_mean"))
            }
        }
    }
}
