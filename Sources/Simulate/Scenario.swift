import Foundation
import Telemetry
import Yams

/// A simulation scenario (`pipelines/scenarios/*.yaml`): sites with cells, their users and
/// traffic, and the events that make the labelled episodes.
public struct Scenario: Sendable, Equatable {
    public struct Cell: Sendable, Equatable {
        public var id: Int
        public var bandwidthMHz: Double
        public var scsKHz: Int
        public var nRB: Int
        /// Share of symbols carrying downlink: 1 for FDD.
        public var dlShare: Double
        public var ues: Int
        /// DL MIMO layers the cell can give one user (its antennas and the UEs' receivers).
        public var layers: Int
        /// Busy-hour offered DL load as a share of the cell's capacity at its users' median SINR.
        public var busyHourLoad: Double
    }

    public struct Site: Sendable, Equatable {
        public var name: String
        public var address: String
        public var backhaulMbps: Double
        public var cells: [Cell]
    }

    public enum EventKind: String, Sendable, CaseIterable {
        case demandSpike = "demand_spike", neighbourOutage = "neighbour_outage"
        case coverageHole = "coverage_hole", tiltFault = "tilt_fault"
        case interferer
        case backhaulDrop = "backhaul_drop"
        case busyHealthy = "busy_healthy", cellRestart = "cell_restart", shortDip = "short_dip"

        /// The finding class the event causes, or nil for benign ones.
        public var findingClass: String? {
            switch self {
            case .demandSpike, .neighbourOutage: "prb_saturation"
            case .coverageHole, .tiltFault: "low_spectral_efficiency"
            case .interferer: "uplink_interference"
            case .backhaulDrop: "transport_congestion"
            case .busyHealthy, .cellRestart, .shortDip: nil
            }
        }

        public var direction: String? {
            switch self {
            case .demandSpike, .neighbourOutage, .coverageHole, .tiltFault: "dl"
            case .interferer: "ul"
            default: nil
            }
        }
    }

    public struct Event: Sendable, Equatable {
        public var kind: EventKind
        /// `site/cell-N`, or the site name for backhaul events.
        public var target: String
        /// Seconds from the scenario start.
        public var start: Double
        public var duration: Double
        /// Demand factor, dB of SINR drop or interference rise, or backhaul Mbit/s, by kind.
        public var magnitude: Double
        public var severity: String
    }

    /// What a user does with its share of the demand. Every kind offers the same mean load; they
    /// differ in how it arrives: whole files, paced segments, short pages, or uploads.
    public enum TrafficKind: String, Sendable, CaseIterable {
        /// TCP downloads of files worth minutes of the user's mean rate, fetched as fast as
        /// the cell allows.
        case bulk
        /// Adaptive streaming: a segment every 4 s while a session of minutes plays.
        case video
        /// Page loads worth seconds of the mean rate, separated by reading time.
        case web
        /// Uploads: the uplink carries the user's load; the downlink only a tenth of it.
        case upload
    }

    /// The user-plane capture: a window of the run, a sample of users, their TCP downloads.
    public struct Capture: Sendable, Equatable {
        /// Seconds from the scenario start.
        public var start: Double
        public var duration: Double
        public var sites: [String]
        public var uesPerCell: Int
        /// The sampled users' downloads are paced to at most this (keeps captures small).
        public var rateCapMbps: Double
        public var upfAddress: String
        /// Bytes kept of each G-PDU (headers through inner TCP options); other packets whole.
        public var snaplen: Int
    }

    public var name: String
    public var seed: UInt64
    /// ns since the epoch.
    public var start: Int64
    public var durationS: Double
    public var granularityS: Double
    public var sites: [Site]
    public var events: [Event]
    public var capture: Capture?
    /// Share of each cell's users by traffic kind (sums to 1; the YAML gives weights or percentages).
    public var trafficMix: [TrafficKind: Double]
    /// Users per srsRAN metrics report in `telemetry.pcap` (one report per cell and second for
    /// the whole run); nil writes no telemetry stream.
    public var telemetryUEsPerReport: Int?
}

/// A scenario that cannot be used, with the line and key to fix.
public struct ScenarioError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int?
    public var key: String
    public var message: String

    public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(key): \(message)" }
}

extension Scenario {
    /// Reads a scenario file; every complaint names its line and key.
    public static func load(path: String) throws(ScenarioError) -> Scenario {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ScenarioError(file: path, line: nil, key: "", message: "cannot read the file")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws(ScenarioError) -> Scenario {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw ScenarioError(file: path, line: 1, key: "", message: "empty") }
            root = node
        } catch let e as ScenarioError {
            throw e
        } catch {
            throw ScenarioError(file: path, line: nil, key: "", message: "invalid YAML: \(error)")
        }
        let r = Reader(path: path)
        let top = try r.mapping(root, "", keys: ["name", "seed", "start", "duration", "pm_granularity", "traffic_mix", "sites", "events", "capture", "telemetry"])
        let name = try r.string(top["name"], "name") ?? "scenario"
        let seed = UInt64(try r.number(top["seed"], "seed", in: 0...Double(UInt32.max)) ?? 1)
        guard let startText = try r.string(top["start"], "start") ?? Optional("2026-11-29T00:00:00Z"),
              let start = TelemetryTime.parse(Substring(startText)), start.hadOffset else {
            throw ScenarioError(file: path, line: r.line(top["start"]), key: "start", message: "expected an RFC 3339 time with an offset, e.g. 2026-11-29T00:00:00Z")
        }
        let duration = try r.duration(top["duration"], "duration", default: 3600, in: 60...(7 * 86400))
        let granularity = try r.duration(top["pm_granularity"], "pm_granularity", default: 900, in: 60...3600)
        guard [60.0, 300, 900, 1800, 3600].contains(granularity) else {
            throw ScenarioError(file: path, line: r.line(top["pm_granularity"]), key: "pm_granularity", message: "TS 32.432 periods: 1m, 5m, 15m, 30m or 1h")
        }
        // Mobile traffic is mostly video, then web; bulk downloads and uploads are fewer
        // users but heavy ones (operators' traffic reports put video at 70 % of volume).
        var mix: [TrafficKind: Double] = [.video: 0.45, .web: 0.3, .bulk: 0.15, .upload: 0.1]
        if let node = top["traffic_mix"] {
            let m = try r.mapping(node, "traffic_mix", keys: TrafficKind.allCases.map(\.rawValue))
            mix = [:]
            for kind in TrafficKind.allCases { mix[kind] = try r.number(m[kind.rawValue], "traffic_mix." + kind.rawValue, in: 0...100) ?? 0 }
            let total = mix.values.reduce(0, +)
            guard total > 0 else {
                throw ScenarioError(file: path, line: r.line(node), key: "traffic_mix", message: "give at least one kind a share above 0")
            }
            for kind in TrafficKind.allCases { mix[kind]! /= total }
        }
        guard let sitesNode = top["sites"], let siteList = sitesNode.sequence, !siteList.isEmpty else {
            throw ScenarioError(file: path, line: r.line(top["sites"] ?? root), key: "sites", message: "expected a list of sites")
        }
        var sites: [Site] = []
        for (i, s) in siteList.enumerated() {
            let key = "sites[\(i)]"
            let m = try r.mapping(s, key, keys: ["name", "address", "backhaul_mbps", "cells"])
            let siteName = try r.string(m["name"], key + ".name") ?? String(format: "gnb-%04d", i + 1)
            let address = try r.string(m["address"], key + ".address") ?? "10.20.0.\(i + 1)"
            let backhaul = try r.number(m["backhaul_mbps"], key + ".backhaul_mbps", in: 1...1e6) ?? 10_000
            guard let cellList = m["cells"]?.sequence, !cellList.isEmpty else {
                throw ScenarioError(file: path, line: r.line(m["cells"] ?? s), key: key + ".cells", message: "expected a list of cells")
            }
            var cells: [Cell] = []
            for (j, c) in cellList.enumerated() {
                let ck = "\(key).cells[\(j)]"
                let cm = try r.mapping(c, ck, keys: ["id", "bandwidth_mhz", "scs_khz", "duplex", "dl_share", "ues", "mimo_layers", "busy_hour_load"])
                let id = Int(try r.number(cm["id"], ck + ".id", in: 0...16383) ?? Double(j + 1))
                let bw = try r.number(cm["bandwidth_mhz"], ck + ".bandwidth_mhz", in: 1...400) ?? 100
                let scs = Int(try r.number(cm["scs_khz"], ck + ".scs_khz", in: 15...120) ?? 30)
                guard let nRB = CarrierTables.nRB(bandwidthMHz: bw, scsKHz: scs) else {
                    throw ScenarioError(file: path, line: r.line(cm["bandwidth_mhz"] ?? c), key: ck + ".bandwidth_mhz",
                                        message: "\(bw) MHz at \(scs) kHz is not a TS 38.104 channel bandwidth")
                }
                let duplex = try r.string(cm["duplex"], ck + ".duplex") ?? "tdd"
                guard duplex == "tdd" || duplex == "fdd" else {
                    throw ScenarioError(file: path, line: r.line(cm["duplex"]), key: ck + ".duplex", message: "tdd or fdd")
                }
                // DDDSU with S = 10D:2G:2U carries 52 of 70 symbols downlink.
                let share = try r.number(cm["dl_share"], ck + ".dl_share", in: 0.1...1) ?? (duplex == "fdd" ? 1 : 52.0 / 70)
                let ues = Int(try r.number(cm["ues"], ck + ".ues", in: 1...2000) ?? 20)
                // Mid-band TDD sites are mostly 4T4R or massive MIMO, low-band FDD 2T2R; phones take 4 layers.
                let layers = Int(try r.number(cm["mimo_layers"], ck + ".mimo_layers", in: 1...4) ?? (duplex == "fdd" ? 2 : 4))
                let load = try r.number(cm["busy_hour_load"], ck + ".busy_hour_load", in: 0.01...0.95) ?? 0.6
                cells.append(Cell(id: id, bandwidthMHz: bw, scsKHz: scs, nRB: nRB, dlShare: share, ues: ues, layers: layers, busyHourLoad: load))
            }
            sites.append(Site(name: siteName, address: address, backhaulMbps: backhaul, cells: cells))
        }
        let targets = Set(sites.flatMap { site in [site.name] + site.cells.map { "\(site.name)/cell-\($0.id)" } })
        var events: [Event] = []
        for (i, e) in (top["events"]?.sequence ?? []).enumerated() {
            let key = "events[\(i)]"
            let m = try r.mapping(e, key, keys: ["type", "target", "start", "duration", "magnitude", "severity"])
            guard let typeText = try r.string(m["type"], key + ".type"), let kind = EventKind(rawValue: typeText) else {
                throw ScenarioError(file: path, line: r.line(m["type"] ?? e), key: key + ".type",
                                    message: "one of \(EventKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let target = try r.string(m["target"], key + ".target"), targets.contains(target) else {
                throw ScenarioError(file: path, line: r.line(m["target"] ?? e), key: key + ".target", message: "name a site or a site/cell-N of this scenario")
            }
            let eventStart = try r.duration(m["start"], key + ".start", default: -1, in: 0...duration)
            guard eventStart >= 0 else { throw ScenarioError(file: path, line: r.line(e), key: key + ".start", message: "missing (offset from the scenario start, e.g. 2h30m)") }
            let eventDuration = try r.duration(m["duration"], key + ".duration", default: kind == .cellRestart ? 300 : 900, in: 1...duration)
            guard eventStart + eventDuration <= duration else {
                throw ScenarioError(file: path, line: r.line(m["duration"] ?? e), key: key + ".duration", message: "the event ends after the scenario")
            }
            let defaults: [EventKind: Double] = [.demandSpike: 3, .neighbourOutage: 2, .coverageHole: 12, .tiltFault: 8, .interferer: 12,
                                                 .backhaulDrop: 50, .busyHealthy: 1, .cellRestart: 0, .shortDip: 12]
            let magnitude = try r.number(m["magnitude"], key + ".magnitude", in: 0...1e6) ?? defaults[kind]!
            let severity = try r.string(m["severity"], key + ".severity") ?? "major"
            events.append(Event(kind: kind, target: target, start: eventStart, duration: eventDuration, magnitude: magnitude, severity: severity))
        }
        var capture: Capture?
        if let c = top["capture"] {
            let m = try r.mapping(c, "capture", keys: ["start", "duration", "sites", "ues_per_cell", "rate_cap_mbps", "upf_address", "snaplen"])
            let cs = try r.duration(m["start"], "capture.start", default: 0, in: 0...duration)
            let cd = try r.duration(m["duration"], "capture.duration", default: 300, in: 10...min(duration, 7200))
            guard cs + cd <= duration else {
                throw ScenarioError(file: path, line: r.line(m["duration"] ?? c), key: "capture.duration", message: "the capture ends after the scenario")
            }
            let names = m["sites"]?.sequence?.compactMap(\.string) ?? sites.map(\.name)
            if let bad = names.first(where: { n in !sites.contains { $0.name == n } }) {
                throw ScenarioError(file: path, line: r.line(m["sites"]), key: "capture.sites", message: "\(bad) is not a site of this scenario")
            }
            capture = Capture(start: cs, duration: cd, sites: names,
                              uesPerCell: Int(try r.number(m["ues_per_cell"], "capture.ues_per_cell", in: 1...16) ?? 1),
                              rateCapMbps: try r.number(m["rate_cap_mbps"], "capture.rate_cap_mbps", in: 0.05...1000) ?? 1,
                              upfAddress: try r.string(m["upf_address"], "capture.upf_address") ?? "10.20.255.1",
                              snaplen: Int(try r.number(m["snaplen"], "capture.snaplen", in: 112...65535) ?? 112))
        }
        var telemetryUEs: Int?
        if let t = top["telemetry"] {
            let m = try r.mapping(t, "telemetry", keys: ["datagrams", "ues_per_report"])
            if m["datagrams"]?.bool != false {
                telemetryUEs = Int(try r.number(m["ues_per_report"], "telemetry.ues_per_report", in: 0...64) ?? 2)
            }
        }
        return Scenario(name: name, seed: seed, start: start.ns, durationS: duration, granularityS: granularity, sites: sites,
                        events: events, capture: capture, trafficMix: mix, telemetryUEsPerReport: telemetryUEs)
    }

    /// Typed access to YAML nodes with the line of each complaint.
    struct Reader {
        let path: String

        func line(_ n: Node?) -> Int? { n?.mark.map { $0.line } }

        func mapping(_ n: Node, _ key: String, keys: [String]) throws(ScenarioError) -> Node.Mapping {
            guard let m = n.mapping else { throw ScenarioError(file: path, line: line(n), key: key.isEmpty ? "(top)" : key, message: "expected a mapping") }
            for (k, _) in m where !keys.contains(k.string ?? "") {
                throw ScenarioError(file: path, line: line(k), key: (key.isEmpty ? "" : key + ".") + (k.string ?? "?"),
                                    message: "unknown key; expected one of \(keys.joined(separator: ", "))")
            }
            return m
        }

        func string(_ n: Node?, _ key: String) throws(ScenarioError) -> String? {
            guard let n else { return nil }
            guard let s = n.string else { throw ScenarioError(file: path, line: line(n), key: key, message: "expected text") }
            return s
        }

        func number(_ n: Node?, _ key: String, in range: ClosedRange<Double>) throws(ScenarioError) -> Double? {
            guard let n else { return nil }
            guard let v = n.float ?? n.int.map(Double.init), range.contains(v) else {
                throw ScenarioError(file: path, line: line(n), key: key, message: "expected a number from \(range.lowerBound) to \(range.upperBound)")
            }
            return v
        }

        /// `90s`, `15m`, `2h`, `1d`, `2h30m` or seconds.
        func duration(_ n: Node?, _ key: String, default value: Double, in range: ClosedRange<Double>) throws(ScenarioError) -> Double {
            guard let n else { return value }
            let text = n.string ?? ""
            var total = 0.0, digits = ""
            var ok = !text.isEmpty
            for c in text {
                if c.isNumber || c == "." { digits.append(c); continue }
                let unit: Double? = ["s": 1, "m": 60, "h": 3600, "d": 86400][String(c)]
                guard let u = unit, let v = Double(digits) else { ok = false; break }
                total += v * u
                digits = ""
            }
            if ok, !digits.isEmpty { if let v = Double(digits), total == 0 { total = v } else { ok = false } }
            guard ok, range.contains(total) else {
                throw ScenarioError(file: path, line: line(n), key: key, message: "expected a duration from \(Int(range.lowerBound)) s to \(Int(range.upperBound)) s, e.g. 15m or 2h30m")
            }
            return total
        }
    }
}
