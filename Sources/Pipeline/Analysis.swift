import Capture
import Decode
import Detect
import Foundation
import Logging
import Sinks
import Telemetry
import Windows

/// One run of the pipeline over capture files or a live interface.
public final class Analysis {
    public struct Options: Sendable {
        public var windowSeconds: Double = 10
        public var filter: String?
        public var gtpPorts: [UInt16] = [2152]
        public var gtpHeuristic = false
        public var rules = RulesConfig()
        public var runID: String = Analysis.newRunID()
        public var sinks: [Job.SinkSpec] = []
        public var progress: Progress.Mode = .off
        /// Live jobs stream findings as they open and resolve.
        public var streamFindings = false
        /// RAN telemetry: vendor and KPI-table mappings, the start of logs without time, cell
        /// configuration the data does not carry.
        public var telemetry = TelemetrySources()
        /// UDP port of srsRAN metrics datagrams inside captures.
        public var metricsPort: UInt16 = 55555
        /// The bottleneck model judging cell windows; nil: the radio rules.
        public var detectorModel: String?

        public init() {}
    }

    public struct Outcome: Sendable {
        public var summary: RunSummary
        /// Inputs that could not be read at all (exit status 1).
        public var unreadable: [String]
    }

    let options: Options
    let logger: Logger

    public init(options: Options, logger: Logger = Logger(label: "nocturne.pipeline")) {
        self.options = options
        self.logger = logger
    }

    public static func newRunID() -> String {
        var t = time(nil)
        var tm = tm()
        gmtime_r(&t, &tm)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "r-\(tm.tm_year + 1900)\(two(tm.tm_mon + 1))\(two(tm.tm_mday))-\(two(tm.tm_hour))\(two(tm.tm_min))\(two(tm.tm_sec))"
    }

    static func wallClock() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// Opens the sinks the options name, creating directories as needed.
    func openSinks(startedAt: Int64, inputs: [String]) throws -> [Sink] {
        var sinks: [Sink] = []
        for spec in options.sinks {
            switch spec {
            case .jsonl(let directory):
                try makeDirectory(directory)
                sinks.append(try JSONLSink(directory: directory, streamFindings: options.streamFindings))
            case .sqlite(let path):
                try makeDirectory((path as NSString).deletingLastPathComponent)
                if FileManager.default.fileExists(atPath: path) { try? FileManager.default.removeItem(atPath: path) }
                sinks.append(try SQLiteSink(path: path, runID: options.runID, startedAt: startedAt, inputs: inputs,
                                            windowSeconds: options.windowSeconds))
            case .report(let path):
                try makeDirectory((path as NSString).deletingLastPathComponent)
                sinks.append(ReportSink(path: path))
            }
        }
        return sinks
    }

    func makeDirectory(_ path: String) throws {
        guard !path.isEmpty else { return }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw SinkError("\(path): cannot create the output directory (\(error.localizedDescription))")
        }
    }

    /// Reads capture files and directories (recursively) or glob patterns as one time-ordered
    /// stream. Inputs that are not captures are reported and left out.
    public func run(paths: [String]) throws -> Outcome {
        let startedAt = Analysis.wallClock()
        let (files, missing) = CaptureInputs.expand(paths)
        var inputs: [InputSummary] = missing.map {
            InputSummary(path: $0, kind: "missing", bytes: 0, packets: 0, linkType: nil, problem: "no such file, directory or match")
        }
        var unreadable = missing
        var captures: [String] = []
        var telemetryFiles: [(String, InputKind)] = []
        let explicit = Set(paths)
        for file in files {
            let kind = CaptureInputs.kind(of: file)
            switch kind {
            case .capture?:
                captures.append(file)
            case nil:
                inputs.append(InputSummary(path: file, kind: "unreadable", bytes: 0, packets: 0, linkType: nil, problem: "cannot open"))
                unreadable.append(file)
            case .empty?:
                inputs.append(InputSummary(path: file, kind: "empty", bytes: 0, packets: 0, linkType: nil, problem: "empty file"))
                if explicit.contains(file) { unreadable.append(file) }
            case let other?:
                telemetryFiles.append((file, other))
            }
        }
        let stream = CaptureStream(paths: captures, filter: options.filter)
        let stages = try Stages(options, sinks: openSinks(startedAt: startedAt, inputs: paths))
        for (file, kind) in telemetryFiles {
            let (summary, fatal) = readTelemetry(file, sniffed: kind, into: stages)
            inputs.append(summary)
            // Named on the command line it is an error; met in a folder it is skipped (and reported).
            if fatal && explicit.contains(file) { unreadable.append(file) }
        }
        let aggregator = stages.aggregator
        let progress = Progress(mode: options.progress, totalBytes: stream.totalBytes)

        // The hot loop: one decoder reused for every packet, tables that keep their capacity.
        var packet = CapturedPacket(timestamp: 0, wireLength: 0, bytes: UnsafeRawBufferPointer(start: nil, count: 0), source: 0)
        var decoded = DecodedPacket()
        var decoder = PacketDecoder(linkType: .ethernet, gtpPorts: options.gtpPorts, gtpHeuristic: options.gtpHeuristic)
        decoder.metricsPort = options.metricsPort
        var currentSource = -1
        var count = 0
        var interrupted = false
        while stream.next(into: &packet) {
            if packet.source != currentSource {
                currentSource = packet.source
                decoder.linkType = stream.sources[currentSource].linkType
            }
            decoder.decode(packet.bytes, wireLength: packet.wireLength, into: &decoded)
            if decoded.metricsLength > 0 { stages.metricsDatagram(decoded, frame: packet.bytes) }
            if let batch = aggregator.add(decoded, frame: packet.bytes, timestamp: packet.timestamp, wireLength: packet.wireLength) {
                try stages.deliver(batch)
            }
            stream.advance()
            count &+= 1
            if count & 0x3fff == 0 {
                if StopSignal.isRequested { interrupted = true; break }
                progress.update(bytes: stream.bytesRead, packets: count)
            }
        }
        if StopSignal.isRequested { interrupted = true }
        try stages.drain()
        progress.finish(bytes: interrupted ? stream.bytesRead : stream.totalBytes, packets: count)

        // Per-input accounting: packets per file and where reading stopped.
        var problems: [String: String] = [:]
        for error in stream.errors {
            problems[error.path] = error.offset.map { "stopped at byte \($0): \(error.reason)" } ?? error.reason
            if error.offset == nil { unreadable.append(error.path) }
        }
        for (index, s) in stream.sources.enumerated() {
            inputs.append(InputSummary(path: s.path, kind: "capture", bytes: s.size, packets: stream.packets(of: index),
                                       linkType: "\(s.linkType)", problem: problems[s.path]))
        }
        for e in stream.errors where !stream.sources.contains(where: { $0.path == e.path }) {
            inputs.append(InputSummary(path: e.path, kind: "capture", bytes: 0, packets: 0, linkType: nil, problem: problems[e.path]))
        }
        for path in stream.emptyFiles {
            inputs.append(InputSummary(path: path, kind: "capture", bytes: 0, packets: 0, linkType: nil, problem: "no packets"))
        }
        return Outcome(summary: try stages.close(startedAt: startedAt, inputs: inputs, interrupted: interrupted),
                       unreadable: unreadable)
    }

    /// Reads one telemetry input into the run; returns its summary and whether nothing could be
    /// read from it at all.
    func readTelemetry(_ file: String, sniffed: InputKind, into stages: Stages) -> (InputSummary, Bool) {
        var st = stat()
        let size = stat(file, &st) == 0 ? Int64(st.st_size) : 0
        guard let read = options.telemetry.read(path: file) else {
            let problem = "not a capture and no telemetry format nocturne reads (looks like \(sniffed); KPI tables need a mapping: --mapping FILE)"
            return (InputSummary(path: file, kind: "\(sniffed)", bytes: size, packets: 0, linkType: nil, problem: problem), true)
        }
        for note in read.notes { logger.info("\(file): \(note)") }
        for issue in read.issues.prefix(20) { logger.warning("\(issue)") }
        if read.issues.count > 20 { logger.warning("\(file): \(read.issues.count - 20) more problems") }
        stages.add(read.samples)
        // The report's one line per input: what stopped it, else what it left out.
        var problems: [String] = []
        if let fatal = read.fatal { problems.append(String(fatal.located.dropFirst())) }
        if let stopped = read.stopped { problems.append("stopped early" + stopped.located) }
        if read.skipped > 0 {
            let first = read.issues.first { $0.line != nil }.map { " (first at line \($0.line!): \($0.field.map { "\($0): " } ?? "")\($0.reason))" } ?? ""
            problems.append("\(read.skipped) of \(read.records) records unreadable and left out\(first)")
        }
        let problem = problems.isEmpty ? nil : problems.joined(separator: "; ")
        return (InputSummary(path: file, kind: read.kind, bytes: size, packets: read.records, linkType: nil, problem: problem),
                read.fatal != nil && read.samples.isEmpty)
    }

    /// Captures from a network interface until SIGINT/SIGTERM; windows close on the clock too,
    /// so a quiet link still produces its rows.
    public func runLive(interface: String, filter: String?, snapLength: Int32, promiscuous: Bool) throws -> Outcome {
        let startedAt = Analysis.wallClock()
        let live = try LiveCapture(interface: interface, filter: filter, snapLength: snapLength, promiscuous: promiscuous)
        StopSignal.watch(live)
        defer { StopSignal.watch(nil) }
        let stages = try Stages(options, sinks: openSinks(startedAt: startedAt, inputs: [interface]))
        let aggregator = stages.aggregator
        var packet = CapturedPacket(timestamp: 0, wireLength: 0, bytes: UnsafeRawBufferPointer(start: nil, count: 0), source: 0)
        var decoded = DecodedPacket()
        var decoder = PacketDecoder(linkType: live.linkType, gtpPorts: options.gtpPorts, gtpHeuristic: options.gtpHeuristic)
        decoder.metricsPort = options.metricsPort
        var packets = 0
        logger.info("capturing on \(interface); stop with Ctrl-C")
        loop: while !StopSignal.isRequested {
            switch live.next(into: &packet) {
            case .packet:
                packets += 1
                decoder.decode(packet.bytes, wireLength: packet.wireLength, into: &decoded)
                if decoded.metricsLength > 0 { stages.metricsDatagram(decoded, frame: packet.bytes) }
                if let batch = aggregator.add(decoded, frame: packet.bytes, timestamp: packet.timestamp, wireLength: packet.wireLength) {
                    try stages.deliver(batch)
                }
            case .timeout:
                if aggregator.windowStart != .min, Analysis.wallClock() >= aggregator.windowEnd + 1_000_000_000,
                   let batch = aggregator.flush() {
                    try stages.deliver(batch)
                }
                // Cell windows from metrics datagrams close a window after the newest report.
                if stages.latestCellSampleEnd != .min {
                    try stages.deliverCells(upTo: stages.latestCellSampleEnd - Int64(options.windowSeconds * 1e9))
                }
            case .end:
                break loop
            }
        }
        try stages.drain()
        StopSignal.watch(nil)
        let drops = live.drops
        let problem = drops.kernel + drops.interface > 0 ? "dropped by the kernel: \(drops.kernel), by the interface: \(drops.interface)" : nil
        live.close()
        let inputs = [InputSummary(path: interface, kind: "interface", bytes: Int64(aggregator.totals.bytes), packets: packets,
                                   linkType: "\(live.linkType)", problem: problem)]
        return Outcome(summary: try stages.close(startedAt: startedAt, inputs: inputs, interrupted: StopSignal.isRequested),
                       unreadable: [])
    }
}

extension Analysis {
    /// Reads a live gNB metrics feed (srsRAN UDP datagrams or WebSocket reports) until
    /// SIGINT/SIGTERM or the feed ends; cell windows close on the clock, findings stream.
    public func runMetrics(feed: MetricsFeed, name: String) throws -> Outcome {
        let startedAt = Analysis.wallClock()
        let stages = try Stages(options, sinks: openSinks(startedAt: startedAt, inputs: [name]))
        let window = Int64(options.windowSeconds * 1e9)
        var reports = 0, unreadable = 0
        var ended: String?
        logger.info("reading gNB metrics from \(name); stop with Ctrl-C")
        var lastReport = Analysis.wallClock()
        loop: while !StopSignal.isRequested {
            let event = feed.next(timeoutMs: 250)
            switch event {
            case .report(let bytes, let source):
                reports += 1
                if !bytes.withUnsafeBytes({ stages.metricsReport($0, source: source) }) {
                    unreadable += 1
                    if unreadable <= 20 { logger.warning("\(name): report \(reports) from \(source) is not srsRAN metrics JSON") }
                }
            case .timeout:
                break
            case .ended(let why):
                ended = why
                break loop
            }
            // Windows close on the data's own clock: once reports are a window past a window's
            // end (reports may arrive a little out of order); when the feed goes quiet for two
            // windows of wall time, everything it sent so far closes.
            let now = Analysis.wallClock()
            if case .report = event { lastReport = now }
            // A report stamped in the future (a gNB clock gone wrong) must not close every
            // window ahead of the others: the data's clock is trusted up to a window past ours.
            let latest = min(stages.latestCellSampleEnd, now + window)
            if latest != .min {
                try stages.deliverCells(upTo: now - lastReport > 2 * window ? latest : latest - window)
            }
        }
        feed.close()
        try stages.drain()
        var problems: [String] = []
        if unreadable > 0 { problems.append("\(unreadable) of \(reports) reports unreadable and left out") }
        if stages.lateCellSamples > 0 { problems.append("\(stages.lateCellSamples) reports arrived after their window closed and were left out") }
        if let ended { problems.append("feed ended: \(ended)") }
        let inputs = [InputSummary(path: name, kind: "metrics-feed", bytes: 0, packets: reports, linkType: nil,
                                   problem: problems.isEmpty ? nil : problems.joined(separator: "; "))]
        return Outcome(summary: try stages.close(startedAt: startedAt, inputs: inputs, interrupted: StopSignal.isRequested),
                       unreadable: [])
    }
}

/// Windows → detector → sinks for one run: what every source loop hands its closed windows to.
final class Stages {
    let aggregator: WindowAggregator
    private var detector: TransportCongestionRule
    private let sinks: [Sink]
    private let options: Analysis.Options
    private var findings: [String: Finding] = [:]
    private var runTotals = RunTotals()
    private var cellBuilder: CellWindowBuilder
    private var radio: any CellDetector
    private var metrics: [String: SrsRANReader] = [:]
    private var cellTotals = CellTotals.Accumulator()

    init(_ options: Analysis.Options, sinks: [Sink]) throws {
        self.options = options
        self.sinks = sinks
        aggregator = WindowAggregator(windowLength: Int64(options.windowSeconds * 1e9))
        detector = TransportCongestionRule(config: options.rules.transport, runID: options.runID)
        cellBuilder = CellWindowBuilder(windowLength: Int64(options.windowSeconds * 1e9), defaultConfig: options.telemetry.cellConfig)
        if let path = options.detectorModel {
            radio = BottleneckDetector(model: try BottleneckModel(path: path), runID: options.runID, episodes: options.rules.bottleneck)
        } else {
            radio = RadioRules(config: options.rules.radio, runID: options.runID)
        }
    }

    func add(_ samples: [CellSample]) {
        for s in samples {
            cellBuilder.add(s)
            latestCellSampleEnd = max(latestCellSampleEnd, s.end)
        }
    }

    /// The newest time telemetry has reached (the data's own clock, not the wall's).
    private(set) var latestCellSampleEnd = Int64.min

    /// A srsRAN metrics datagram seen in the user-plane input: the sender names the gNB.
    func metricsDatagram(_ p: DecodedPacket, frame: UnsafeRawBufferPointer) {
        let payload = UnsafeRawBufferPointer(rebasing: frame[p.metricsOffset..<(p.metricsOffset + p.metricsLength)])
        guard payload.first == UInt8(ascii: "{") else { return }
        metricsReport(payload, source: "\(p.outer.src)")
    }

    /// One srsRAN report from `source` (an address or a server name); false when unreadable.
    @discardableResult
    func metricsReport(_ payload: UnsafeRawBufferPointer, source: String) -> Bool {
        var reader = metrics[source] ?? SrsRANReader(gnb: "gnb-\(source)", config: options.telemetry.cellConfig)
        defer { metrics[source] = reader }
        switch reader.ingest(payload) {
        case .samples(let samples): add(samples); return true
        case .ignored: return true
        case .invalid: return false
        }
    }

    /// Cell windows that end by `watermark`: judged, written, counted.
    func deliverCells(upTo watermark: Int64) throws {
        let windows = cellBuilder.close(upTo: watermark)
        guard !windows.isEmpty else { return }
        var events: [FindingEvent] = []
        for w in windows {
            events += radio.observe(w)
            cellTotals.add(w)
        }
        events = describe(events)
        for s in sinks {
            try s.write(windows)
            try s.write(events)
        }
        record(events)
    }

    var lateCellSamples: Int { cellBuilder.lateSamples }

    /// A closed window: detect, then write the window and the findings it opened or resolved.
    func deliver(_ batch: WindowBatch) throws {
        let events = describe(detector.observe(batch))
        runTotals.add(batch)
        for s in sinks {
            try s.write(batch)
            try s.write(events)
        }
        record(events)
    }

    /// End of input (or a stop signal): the open window and the open findings are closed.
    func drain() throws {
        if let batch = aggregator.flush() { try deliver(batch) }
        let closing = describe(detector.finish())
        for s in sinks { try s.write(closing) }
        record(closing)

        // RAN telemetry: cell windows in time order, judged by the radio rules.
        try deliverCells(upTo: .max)
        let resolved = describe(radio.finish())
        for s in sinks { try s.write(resolved) }
        record(resolved)
    }

    /// Writes the run summary to every sink and returns it.
    func close(startedAt: Int64, inputs: [InputSummary], interrupted: Bool) throws -> RunSummary {
        let totals = aggregator.totals
        var summary = RunSummary(
            runID: options.runID, startedAt: startedAt, finishedAt: Analysis.wallClock(),
            windowSeconds: options.windowSeconds, detector: radio.name == detector.name ? radio.name : "\(radio.name) + \(detector.name)", inputs: inputs, totals: totals,
            firstPacket: totals.packets > 0 ? aggregator.firstTimestamp : nil,
            lastPacket: totals.packets > 0 ? aggregator.lastTimestamp : nil,
            findings: findings.values.sorted { ($0.start, $0.id) < ($1.start, $1.id) }, interrupted: interrupted,
            runTotals: runTotals,
            sessions: aggregator.sessions.sessions.count,
            tunnelsTied: aggregator.sessions.tunnels.count)
        summary.cells = cellTotals.totals
        for s in sinks { try s.close(summary) }
        return summary
    }

    private func describe(_ events: [FindingEvent]) -> [FindingEvent] {
        events.map { e in
            var e = e
            e.finding.summary = FindingText.template(e.finding, format: RFC3339.format)
            return e
        }
    }

    private func record(_ events: [FindingEvent]) {
        for e in events { findings[e.finding.id] = e.finding }
    }
}
