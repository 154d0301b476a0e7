import Decode
import Windows

/// Thresholds of the `transport_congestion` rule, as read from the rules YAML.
public struct TransportRuleConfig: Codable, Sendable, Equatable {
    /// A window is congested when the gNB's TCP RTT median reaches this multiple of its
    /// baseline and exceeds the baseline by at least `rttMinIncreaseMs`.
    public var rttFactor: Double = 2.0
    public var rttMinIncreaseMs: Double = 10
    /// … or when TCP retransmissions (% of data segments) exceed the baseline by this many
    /// percentage points and reach `retransmissionFactor` times the baseline.
    public var retransmissionIncreasePct: Double = 2.0
    public var retransmissionFactor: Double = 3.0
    /// … or when GTP-U sequence-number loss exceeds the baseline by this many points.
    public var seqLossIncreasePct: Double = 1.0
    /// Evidence needed in a window before it is judged at all.
    public var minRttSamples: Int = 5
    public var minDataSegments: Int = 50
    /// Windows of history before the baseline is trusted, and how many it keeps.
    public var warmupWindows: Int = 6
    public var baselineWindows: Int = 60
    /// An episode needs this long above threshold to open, and this long below to close.
    public var minDurationSeconds: Double = 30
    public var clearSeconds: Double = 30

    public init() {}

    enum CodingKeys: String, CodingKey {
        case rttFactor = "rtt_factor", rttMinIncreaseMs = "rtt_min_increase_ms"
        case retransmissionIncreasePct = "retransmission_increase_pct", retransmissionFactor = "retransmission_factor"
        case seqLossIncreasePct = "seq_loss_increase_pct"
        case minRttSamples = "min_rtt_samples", minDataSegments = "min_data_segments"
        case warmupWindows = "warmup_windows", baselineWindows = "baseline_windows"
        case minDurationSeconds = "min_duration_s", clearSeconds = "clear_s"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TransportRuleConfig()
        rttFactor = try c.decodeIfPresent(Double.self, forKey: .rttFactor) ?? d.rttFactor
        rttMinIncreaseMs = try c.decodeIfPresent(Double.self, forKey: .rttMinIncreaseMs) ?? d.rttMinIncreaseMs
        retransmissionIncreasePct = try c.decodeIfPresent(Double.self, forKey: .retransmissionIncreasePct) ?? d.retransmissionIncreasePct
        retransmissionFactor = try c.decodeIfPresent(Double.self, forKey: .retransmissionFactor) ?? d.retransmissionFactor
        seqLossIncreasePct = try c.decodeIfPresent(Double.self, forKey: .seqLossIncreasePct) ?? d.seqLossIncreasePct
        minRttSamples = try c.decodeIfPresent(Int.self, forKey: .minRttSamples) ?? d.minRttSamples
        minDataSegments = try c.decodeIfPresent(Int.self, forKey: .minDataSegments) ?? d.minDataSegments
        warmupWindows = try c.decodeIfPresent(Int.self, forKey: .warmupWindows) ?? d.warmupWindows
        baselineWindows = try c.decodeIfPresent(Int.self, forKey: .baselineWindows) ?? d.baselineWindows
        minDurationSeconds = try c.decodeIfPresent(Double.self, forKey: .minDurationSeconds) ?? d.minDurationSeconds
        clearSeconds = try c.decodeIfPresent(Double.self, forKey: .clearSeconds) ?? d.clearSeconds
    }
}

/// `transport_congestion` from the user plane alone: a gNB's TCP RTT, retransmissions or GTP-U
/// sequence loss well above that gNB's own recent normal, for long enough to matter.
///
/// The baseline is the median of the gNB's recent windows that were not themselves congested,
/// so an incident does not raise its own bar. Short spikes (below `minDurationSeconds`) and
/// windows with too little traffic to judge are not findings.
public struct TransportCongestionRule: Detector {
    public let name = "rules@1"
    public var config: TransportRuleConfig
    public var runID: String

    private var states: [IPAddress: GnbHistory] = [:]
    private var lastEnd: Int64 = 0

    public init(config: TransportRuleConfig = TransportRuleConfig(), runID: String) {
        self.config = config
        self.runID = runID
    }

    struct GnbHistory {
        var rtt: [Double] = []
        var retransmission: [Double] = []
        var seqLoss: [Double] = []
        var judged = 0
        /// Consecutive congested / clear windows and the current candidate or open episode.
        var candidateStart: Int64?
        var congestedSeconds = 0.0
        var clearSeconds = 0.0
        var lastCongestedEnd: Int64 = 0
        var open: Finding?
        var peak: Peak = Peak()
    }

    struct Peak {
        var rtt: Double?
        var rttBaseline: Double?
        var retransmission: Double?
        var retransmissionBaseline: Double?
        var seqLoss: Double?
        var seqLossBaseline: Double?
        var excess = 0.0
    }

    public mutating func observe(_ batch: WindowBatch) -> [FindingEvent] {
        lastEnd = max(lastEnd, batch.end)
        var events: [FindingEvent] = []
        for w in batch.gnbs {
            var h = states[w.gnbAddress] ?? GnbHistory()
            let rtt = w.rttSamples >= config.minRttSamples ? w.rttP50Ms : nil
            let retransmission = w.tcpDataSegments >= config.minDataSegments ? w.retransmissionPct : nil
            let seqLoss = w.gtpPacketsWithSequence >= config.minDataSegments ? w.seqLossPct : nil
            guard rtt != nil || retransmission != nil || seqLoss != nil else { states[w.gnbAddress] = h; continue }
            h.judged += 1
            var excess = 0.0
            var peak = Peak()
            if h.judged > config.warmupWindows {
                if let rtt, let base = median(h.rtt), rtt >= base * config.rttFactor, rtt - base >= config.rttMinIncreaseMs {
                    excess = max(excess, rtt / max(base, 0.001))
                    peak.rtt = rtt
                    peak.rttBaseline = base
                }
                if let retransmission, let base = median(h.retransmission),
                   retransmission >= base + config.retransmissionIncreasePct,
                   retransmission >= base * config.retransmissionFactor {
                    excess = max(excess, 1 + (retransmission - base) / config.retransmissionIncreasePct)
                    peak.retransmission = retransmission
                    peak.retransmissionBaseline = base
                }
                if let seqLoss, let base = median(h.seqLoss), seqLoss >= base + config.seqLossIncreasePct {
                    excess = max(excess, 1 + (seqLoss - base) / config.seqLossIncreasePct)
                    peak.seqLoss = seqLoss
                    peak.seqLossBaseline = base
                }
            }
            let seconds = batch.seconds
            if excess > 0 {
                if h.candidateStart == nil {
                    h.candidateStart = batch.start
                    h.congestedSeconds = 0
                    h.peak = Peak()
                }
                h.congestedSeconds += seconds
                h.clearSeconds = 0
                h.lastCongestedEnd = batch.end
                if excess > h.peak.excess { peak.excess = excess; h.peak = peak }
                if h.open == nil, h.congestedSeconds >= config.minDurationSeconds, let start = h.candidateStart {
                    let finding = makeFinding(w.gnbAddress, start: start, peak: h.peak)
                    h.open = finding
                    events.append(FindingEvent(.opened, finding))
                } else if var open = h.open {
                    open.evidence = evidence(h.peak)
                    open.severity = severity(h.peak.excess)
                    open.score = score(h.peak.excess)
                    h.open = open
                }
            } else {
                // Only normal windows feed the baseline.
                append(&h.rtt, rtt)
                append(&h.retransmission, retransmission)
                append(&h.seqLoss, seqLoss)
                if h.candidateStart != nil {
                    h.clearSeconds += seconds
                    if h.clearSeconds >= config.clearSeconds || h.open == nil {
                        if var open = h.open {
                            open.end = h.lastCongestedEnd
                            events.append(FindingEvent(.resolved, open))
                        }
                        h.open = nil
                        h.candidateStart = nil
                    }
                }
            }
            states[w.gnbAddress] = h
        }
        return events
    }

    public mutating func finish() -> [FindingEvent] {
        var events: [FindingEvent] = []
        for (address, var h) in states {
            if var open = h.open {
                open.end = h.lastCongestedEnd
                events.append(FindingEvent(.resolved, open))
                h.open = nil
                h.candidateStart = nil
                states[address] = h
            }
        }
        return events.sorted { $0.finding.start < $1.finding.start }
    }

    private func append(_ history: inout [Double], _ value: Double?) {
        guard let value else { return }
        history.append(value)
        if history.count > config.baselineWindows { history.removeFirst(history.count - config.baselineWindows) }
    }

    private func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let s = values.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    private func severity(_ excess: Double) -> Finding.Severity {
        excess >= 5 ? .critical : excess >= 3 ? .major : excess >= 2 ? .minor : .warning
    }

    private func score(_ excess: Double) -> Double {
        min(1, max(0, 1 - 1 / max(excess, 1)))
    }

    private func evidence(_ peak: Peak) -> [Finding.Evidence] {
        var out: [Finding.Evidence] = []
        if let v = peak.rtt { out.append(.init(kpi: "tcp_rtt_ms_p50", value: v, baseline: peak.rttBaseline, unit: "ms")) }
        if let v = peak.retransmission {
            out.append(.init(kpi: "tcp_retrans_pct", value: v, baseline: peak.retransmissionBaseline, unit: "%"))
        }
        if let v = peak.seqLoss {
            out.append(.init(kpi: "gtpu_seq_loss_pct", value: v, baseline: peak.seqLossBaseline, unit: "%"))
        }
        return out
    }

    private func makeFinding(_ gnb: IPAddress, start: Int64, peak: Peak) -> Finding {
        let scope = Finding.Scope(gnbAddress: gnb.description)
        return Finding(
            id: Finding.makeID(.transportCongestion, scope, start: start), runID: runID,
            findingClass: .transportCongestion, direction: "both", scope: scope, start: start, end: nil,
            severity: severity(peak.excess), score: score(peak.excess), detector: name,
            evidence: evidence(peak),
            // Radio KPIs would rule out a radio cause; from packets alone they are not known.
            missingInputs: ["prb_util_dl_pct", "cqi_mean", "bler_dl_pct"],
            summary: "", explanation: nil)
    }
}
