#if canImport(Glibc)
import Glibc
#endif
import Yams

/// Meaning for vendor-specific counters (`VS.…`, Ericsson `pm…`, Huawei `L.`/`N.`…): which KPI
/// a counter feeds and how. The built-in default covers the counters found in real files of
/// the data sets we test on; a mapping file (same YAML form, docs/telemetry.md) adds or
/// overrides entries. Vendor counters stay under `vendor` either way.
public struct VendorMapping: Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var counter: String
        /// The KPI it feeds (`cells.jsonl` name), for plain, ratio and binned counters.
        public var kpi: String?
        /// A plain value times `scale` (default 1).
        public var scale: Double?
        /// Divide by this counter first (sum / samples); element-wise for arrays.
        public var divideBy: String?
        /// Per-bin representative values of a histogram counter (the KPI is their weighted mean).
        public var bins: [Double]?
        /// The quotient is a power in this many mW (e.g. 2^-44); the KPI is its mean in dBm.
        public var powerUnitMw: Double?
        /// A histogram of CQI or MCS reports: `{quantity: cqi|mcs_dl|mcs_ul, table: 1|2}`.
        public var distribution: DistributionSpec?

        public struct DistributionSpec: Codable, Sendable, Equatable {
            public var quantity: String
            public var table: Int
        }

        enum CodingKeys: String, CodingKey {
            case counter, kpi, scale, bins, distribution
            case divideBy = "divide_by", powerUnitMw = "power_unit_mw"
        }
    }

    public var entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries
    }

    struct File: Codable { var counters: [Entry] }

    /// Parses a mapping file; errors name the line.
    public static func parse(_ yaml: String, path: String) throws -> VendorMapping {
        do {
            let file = try YAMLDecoder().decode(File.self, from: yaml)
            for e in file.counters {
                if let k = e.kpi, Kpi(rawValue: k) == nil {
                    throw TelemetryIssue(path: path, line: nil, field: e.counter, reason: "unknown kpi '\(k)'")
                }
                if let d = e.distribution, Distribution.Quantity(rawValue: d.quantity) == nil {
                    throw TelemetryIssue(path: path, line: nil, field: e.counter, reason: "unknown distribution quantity '\(d.quantity)' (cqi, mcs_dl, mcs_ul)")
                }
                if e.kpi == nil && e.distribution == nil {
                    throw TelemetryIssue(path: path, line: nil, field: e.counter, reason: "needs a kpi or a distribution")
                }
            }
            return VendorMapping(entries: file.counters)
        } catch let issue as TelemetryIssue {
            throw issue
        } catch let DecodingError.keyNotFound(key, context) {
            throw TelemetryIssue(path: path, line: nil, field: (context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: "."),
                                 reason: "missing")
        } catch let error as YamlError {
            throw TelemetryIssue(path: path, line: nil, reason: "not valid YAML: \(error)")
        } catch {
            throw TelemetryIssue(path: path, line: nil, reason: "\(error)")
        }
    }

    /// A mapping with `other`'s entries taking precedence.
    public func merged(with other: VendorMapping) -> VendorMapping {
        let names = Set(other.entries.map(\.counter))
        return VendorMapping(entries: entries.filter { !names.contains($0.counter) } + other.entries)
    }

    public func apply(to s: inout CellSample) {
        guard !s.vendor.isEmpty else { return }
        var accumulated: [Kpi: (sum: Double, weight: Double)] = [:]
        for e in entries {
            guard let values = s.vendor[e.counter], !values.isEmpty else { continue }
            if let d = e.distribution, let q = Distribution.Quantity(rawValue: d.quantity) {
                // CQI and MCS indices stop at 31.
                for (i, v) in values.prefix(32).enumerated() where v.isFinite && v > 0 { s.addToDistribution(q, table: d.table, index: i, count: v) }
                continue
            }
            guard let kpiName = e.kpi, let kpi = Kpi(rawValue: kpiName) else { continue }
            var quotient = values
            if let d = e.divideBy {
                guard let denominator = s.vendor[d], denominator.count == values.count else { continue }
                quotient = zip(values, denominator).map { $1 > 0 ? $0 / $1 : .nan }
            }
            if let unit = e.powerUnitMw {
                // Mean power over the elements (PRBs) that have samples, in dBm.
                let powers = quotient.filter { !$0.isNaN && $0 > 0 }.map { $0 * unit }
                guard !powers.isEmpty else { continue }
                let mean = powers.reduce(0, +) / Double(powers.count)
                accumulated[kpi, default: (0, 0)].sum += 10 * log10(mean)
                accumulated[kpi, default: (0, 0)].weight += 1
            } else if let bins = e.bins {
                guard bins.count == values.count else { continue }
                let total = values.filter { !$0.isNaN }.reduce(0, +)
                guard total > 0 else { continue }
                var mean = 0.0
                for (v, b) in zip(values, bins) where !v.isNaN { mean += v * b }
                accumulated[kpi, default: (0, 0)].sum += mean / total
                accumulated[kpi, default: (0, 0)].weight += 1
            } else if quotient.count == 1, !quotient[0].isNaN {
                accumulated[kpi, default: (0, 0)].sum += quotient[0] * (e.scale ?? 1)
                accumulated[kpi, default: (0, 0)].weight += 1
            }
        }
        for (kpi, a) in accumulated where s.values[kpi] == nil && a.weight > 0 {
            s.values[kpi] = a.sum / a.weight
        }
    }

    /// The built-in mapping, in the mapping-file form.
    public static let defaultYAML = """
    # Vendor counters nocturne reads by default. Add or override entries with a file of the
    # same form (analyze --vendor-mapping FILE). Sources and confidence: docs/telemetry.md.
    counters:
      # Ericsson NR (RadioNode, e.g. data/pm-xml/oran-sc-nonrtric-ranpm): MCS and CQI histograms.
      - {counter: pmRadioPdschTable1McsDistr, distribution: {quantity: mcs_dl, table: 1}}
      - {counter: pmRadioPdschTable2McsDistr, distribution: {quantity: mcs_dl, table: 2}}
      - {counter: pmRadioPuschTable1McsDistr, distribution: {quantity: mcs_ul, table: 1}}
      - {counter: pmRadioPuschTable2McsDistr, distribution: {quantity: mcs_ul, table: 2}}
      - {counter: pmRadioUeRepCqi64QamRank1Distr, distribution: {quantity: cqi, table: 1}}
      - {counter: pmRadioUeRepCqi64QamRank2Distr, distribution: {quantity: cqi, table: 1}}
      - {counter: pmRadioUeRepCqi64QamRank3Distr, distribution: {quantity: cqi, table: 1}}
      - {counter: pmRadioUeRepCqi64QamRank4Distr, distribution: {quantity: cqi, table: 1}}
      - {counter: pmRadioUeRepCqi256QamRank1Distr, distribution: {quantity: cqi, table: 2}}
      - {counter: pmRadioUeRepCqi256QamRank2Distr, distribution: {quantity: cqi, table: 2}}
      - {counter: pmRadioUeRepCqi256QamRank3Distr, distribution: {quantity: cqi, table: 2}}
      - {counter: pmRadioUeRepCqi256QamRank4Distr, distribution: {quantity: cqi, table: 2}}
      # Ericsson: sampled sums over sample counts.
      - {counter: pmActiveUeDlSum, kpi: active_ue_dl_mean, divide_by: pmActiveUeDlSamp}
      - {counter: pmActiveUeUlSum, kpi: active_ue_ul_mean, divide_by: pmActiveUeUlSamp}
      - {counter: pmRrcConnLevelSumSa, kpi: rrc_conn_mean, divide_by: pmRrcConnLevelSamp}
      # Ericsson UL noise + interference per PRB: accumulated power (mW * 2^-44) over the
      # number of samples, per PRB; the KPI is the mean over PRBs in dBm.
      - {counter: pmRadioRecInterferencePwrSumPrbDistr, kpi: ul_ni_dbm_per_prb,
         divide_by: pmRadioRecInterferenceNoOfEventsPrbDistr, power_unit_mw: 5.684341886080802e-14}
      # Ericsson LTE PUSCH N+I histogram, 16 bins: <= -121, 1 dB bins to -112, 4 dB bins to -92, > -92.
      - {counter: pmRadioRecInterferencePwr, kpi: ul_ni_dbm_per_prb,
         bins: [-121.5, -120.5, -119.5, -118.5, -117.5, -116.5, -115.5, -114.5, -113.5, -112.5, -110, -106, -102, -98, -94, -91]}
      # Plain averages (dBm per PRB) under common vendor names.
      - {counter: VS.UL.NI.Avg, kpi: ul_ni_dbm_per_prb}
      - {counter: VS.ULInterference.Avg, kpi: ul_ni_dbm_per_prb}
      - {counter: L.UL.Interference.Avg, kpi: ul_ni_dbm_per_prb}
      - {counter: N.UL.NI.Avg, kpi: ul_ni_dbm_per_prb}
      - {counter: VS.PUSCH.SINR.Avg, kpi: pusch_sinr_db}
    """

    public static let `default`: VendorMapping = {
        // The built-in text is part of the program; a parse failure is a programming error
        // that the test suite catches.
        (try? parse(defaultYAML, path: "built-in vendor mapping")) ?? VendorMapping(entries: [])
    }()
}

