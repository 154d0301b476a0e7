import Detect
import Foundation
import Yams

/// A pipeline job (`pipelines/*.yaml`): source → decode → windows → detect → sinks.
public struct Job: Sendable {
    public enum Source: Sendable {
        /// Files, folders and globs: captures and RAN telemetry, recognised by content.
        case files(paths: [String], filter: String?)
        case live(interface: String, filter: String?, snapLength: Int32, promiscuous: Bool)
        /// A live srsRAN metrics feed: UDP datagrams on `udp` (host:port) or the WebSocket at `websocket`.
        case metrics(udp: String?, websocket: String?)
    }

    public enum SinkSpec: Sendable, Equatable {
        case jsonl(directory: String)
        case sqlite(path: String)
        case report(path: String)
    }

    public var name: String
    public var source: Source
    public var windowSeconds: Double = 10
    public var gtpPorts: [UInt16] = [2152]
    public var gtpHeuristic = false
    public var rules = RulesConfig()
    /// `bottleneck` (the bundled model), `rules`, or a model file.
    public var detector = "bottleneck"
    public var sinks: [SinkSpec] = []
    /// Things the job asks for that this version accepts but does not do yet.
    public var warnings: [String] = []

    public init(name: String, source: Source) {
        self.name = name
        self.source = source
    }
}

/// The rules file (`pipelines/rules/default.yaml`).
public struct RulesConfig: Sendable, Equatable {
    public var transport = TransportRuleConfig()
    public var radio = RadioRuleConfig()
    public var bottleneck = BottleneckEpisodes()
    public init() {}
}

/// A job or rules file that cannot be used, with the place to fix it.
public struct JobError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int?
    public var key: String?
    public var message: String

    public var description: String {
        var s = file
        if let line { s += ":\(line)" }
        if let key { s += ": \(key)" }
        return s + ": " + message
    }
}

/// Reads job and rules YAML with line numbers for every complaint.
public enum JobLoader {
    public static func load(path: String) throws(JobError) -> Job {
        let node = try compose(path)
        guard let root = node.mapping else {
            throw JobError(file: path, line: line(node), key: nil, message: "a job is a mapping with name, source, window, detect and sinks")
        }
        try allow(root, ["name", "source", "window", "detect", "explain", "sinks", "decode", "inventory"], path, at: nil)
        let name = root["name"]?.string ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        guard let sourceNode = root["source"] else {
            throw JobError(file: path, line: line(node), key: "source", message: "missing: say where packets come from (pcap: {paths: [...]} or live: {interface: ...})")
        }
        var job = Job(name: name, source: try source(sourceNode, path))
        if let w = root["window"] {
            guard let text = w.string, let seconds = parseDuration(text), seconds > 0 else {
                throw JobError(file: path, line: line(w), key: "window", message: "not a duration; write e.g. 10s, 1m or 500ms")
            }
            job.windowSeconds = seconds
        }
        if let d = root["decode"] {
            guard let m = d.mapping else { throw JobError(file: path, line: line(d), key: "decode", message: "expected a mapping") }
            try allow(m, ["gtp_ports", "gtp_heuristic"], path, at: "decode")
            if let ports = m["gtp_ports"] {
                guard let list = ports.sequence?.compactMap({ $0.int.flatMap { UInt16(exactly: $0) } }),
                      list.count == ports.sequence?.count, !list.isEmpty else {
                    throw JobError(file: path, line: line(ports), key: "decode.gtp_ports", message: "expected a list of UDP port numbers")
                }
                job.gtpPorts = list
            }
            if let h = m["gtp_heuristic"] {
                guard let b = h.bool else { throw JobError(file: path, line: line(h), key: "decode.gtp_heuristic", message: "expected true or false") }
                job.gtpHeuristic = b
            }
        }
        if let d = root["detect"] {
            guard let m = d.mapping else { throw JobError(file: path, line: line(d), key: "detect", message: "expected a mapping") }
            try allow(m, ["detector", "rules"], path, at: "detect")
            if let det = m["detector"] {
                guard let name = det.string, name == "rules" || name == "bottleneck" || name.hasSuffix(".gguf") else {
                    throw JobError(file: path, line: line(det), key: "detect.detector", message: "expected bottleneck (the bundled model), rules, or a model file ending in .gguf")
                }
                job.detector = name
            }
            if let r = m["rules"] {
                guard let rulesPath = r.string else { throw JobError(file: path, line: line(r), key: "detect.rules", message: "expected a path") }
                job.rules = try loadRules(path: rulesPath)
            }
        }
        if root["explain"] != nil { job.warnings.append("explain: summaries use the built-in template in this version") }
        if root["inventory"] != nil { job.warnings.append("inventory: not used yet; gNBs are named by their N3 address") }
        if let s = root["sinks"] {
            guard let list = s.sequence else { throw JobError(file: path, line: line(s), key: "sinks", message: "expected a list") }
            for (i, item) in list.enumerated() {
                let key = "sinks[\(i)]"
                guard let m = item.mapping, m.count == 1, let (kind, value) = m.first.map({ ($0.key.string ?? "", $0.value) }) else {
                    throw JobError(file: path, line: line(item), key: key, message: "each sink is one of jsonl, sqlite, report, webhook")
                }
                let fields = value.mapping
                switch kind {
                case "jsonl":
                    guard let dir = fields?["dir"]?.string else { throw JobError(file: path, line: line(value), key: key + ".jsonl.dir", message: "missing directory") }
                    try allow(fields!, ["dir"], path, at: key + ".jsonl")
                    job.sinks.append(.jsonl(directory: dir))
                case "sqlite", "report":
                    guard let p = fields?["path"]?.string else { throw JobError(file: path, line: line(value), key: key + ".\(kind).path", message: "missing path") }
                    try allow(fields!, ["path"], path, at: key + ".\(kind)")
                    job.sinks.append(kind == "sqlite" ? .sqlite(path: p) : .report(path: p))
                case "webhook":
                    job.warnings.append("\(key).webhook: alert delivery arrives with `nocturne serve`; findings go to the other sinks")
                default:
                    throw JobError(file: path, line: line(item), key: key + ".\(kind)", message: "unknown sink; use jsonl, sqlite, report or webhook")
                }
            }
        }
        if job.sinks.isEmpty {
            throw JobError(file: path, line: line(node), key: "sinks", message: "no sink: add e.g. `- jsonl: {dir: out/}`")
        }
        return job
    }

    public static func loadRules(path: String) throws(JobError) -> RulesConfig {
        let node = try compose(path)
        guard let root = node.mapping else {
            throw JobError(file: path, line: line(node), key: nil, message: "a rules file is a mapping of finding class to thresholds")
        }
        try allow(root, ["transport_congestion", "prb_saturation", "low_spectral_efficiency", "uplink_interference", "radio_episodes",
                              "bottleneck_episodes"],
                  path, at: nil)
        var rules = RulesConfig()
        if let t = root["transport_congestion"] {
            guard let m = t.mapping else { throw JobError(file: path, line: line(t), key: "transport_congestion", message: "expected a mapping") }
            let known = ["rtt_factor", "rtt_min_increase_ms", "retransmission_increase_pct", "retransmission_factor",
                         "seq_loss_increase_pct", "min_rtt_samples", "min_data_segments", "warmup_windows",
                         "baseline_windows", "min_duration_s", "clear_s"]
            try allow(m, known, path, at: "transport_congestion")
            for (k, v) in m {
                guard v.float != nil || v.int != nil, (v.float ?? 0) >= 0 else {
                    throw JobError(file: path, line: line(v), key: "transport_congestion.\(k.string ?? "")", message: "expected a non-negative number")
                }
            }
            do {
                rules.transport = try YAMLDecoder().decode(TransportRuleConfig.self, from: t)
            } catch {
                throw JobError(file: path, line: line(t), key: "transport_congestion", message: "\(error)")
            }
        }
        if let b = root["bottleneck_episodes"] {
            guard let m = b.mapping else { throw JobError(file: path, line: line(b), key: "bottleneck_episodes", message: "expected a mapping") }
            try allow(m, ["open_probability", "hold_probability", "min_duration_s", "clear_s"], path, at: "bottleneck_episodes")
            for (k, v) in m {
                guard let x = v.float ?? v.int.map(Double.init), x >= 0 else {
                    throw JobError(file: path, line: line(v), key: "bottleneck_episodes.\(k.string ?? "")", message: "expected a non-negative number")
                }
            }
            do { rules.bottleneck = try YAMLDecoder().decode(BottleneckEpisodes.self, from: b) } catch {
                throw JobError(file: path, line: line(b), key: "bottleneck_episodes", message: "\(error)")
            }
        }
        // The radio classes: each section names its own thresholds; `radio_episodes` the shared
        // persistence and baseline settings. They decode into one flat configuration.
        let radioKeys: [(String, [String])] = [
            ("prb_saturation", ["prb_util_pct", "prb_util_alone_pct", "prb_util_with_drops_pct", "ue_thp_floor_mbps",
                                "ue_thp_drop_factor", "ue_thp_ul_floor_mbps"]),
            ("low_spectral_efficiency", ["se_used_floor_bps_hz", "mcs_se_floor_bps_hz", "cqi_mean_floor", "bler_dl_pct",
                                         "se_drop_factor", "min_cell_thp_mbps", "min_prb_util_pct"]),
            ("uplink_interference", ["ul_ni_dbm_per_prb_15khz", "ul_ni_rise_db", "pusch_sinr_floor_db", "sinr_drop_db",
                                     "min_power_headroom_db"]),
            ("radio_episodes", ["min_windows", "clear_windows", "warmup_windows", "baseline_windows", "restart_holdoff_windows"]),
        ]
        var flat: [(Node, Node)] = []
        for (section, known) in radioKeys {
            guard let t = root[section] else { continue }
            guard let m = t.mapping else { throw JobError(file: path, line: line(t), key: section, message: "expected a mapping") }
            try allow(m, known, path, at: section)
            for (k, v) in m {
                guard v.float != nil || v.int != nil else {
                    throw JobError(file: path, line: line(v), key: "\(section).\(k.string ?? "")", message: "expected a number")
                }
                flat.append((k, v))
            }
        }
        if !flat.isEmpty {
            do {
                rules.radio = try YAMLDecoder().decode(RadioRuleConfig.self, from: Node.mapping(Node.Mapping(flat)))
            } catch {
                throw JobError(file: path, line: nil, key: "radio rules", message: "\(error)")
            }
        }
        return rules
    }

    static func source(_ node: Node, _ path: String) throws(JobError) -> Job.Source {
        guard let m = node.mapping, m.count == 1, let entry = m.first, let kind = entry.key.string else {
            throw JobError(file: path, line: line(node), key: "source", message: "give exactly one of pcap, pm, files, live or srsran")
        }
        let value = entry.value
        guard let fields = value.mapping else {
            throw JobError(file: path, line: line(value), key: "source.\(kind)", message: "expected a mapping")
        }
        switch kind {
        case "pcap", "pm", "files":
            // One reader for all: every file is recognised by its content.
            try allow(fields, kind == "pcap" ? ["paths", "filter"] : ["paths"], path, at: "source.\(kind)")
            guard let p = fields["paths"] else { throw JobError(file: path, line: line(value), key: "source.\(kind).paths", message: "missing: list files, directories or globs") }
            let paths = p.sequence?.compactMap(\.string) ?? p.string.map { [$0] } ?? []
            guard !paths.isEmpty else { throw JobError(file: path, line: line(p), key: "source.\(kind).paths", message: "expected a list of paths") }
            return .files(paths: paths, filter: fields["filter"]?.string)
        case "srsran":
            try allow(fields, ["udp", "websocket"], path, at: "source.srsran")
            let udp = fields["udp"]?.string, websocket = fields["websocket"]?.string
            guard (udp == nil) != (websocket == nil) else {
                throw JobError(file: path, line: line(value), key: "source.srsran", message: "give udp: host:port (srsRAN up to 25.04) or websocket: ws://host:port (25.10 and later)")
            }
            if let w = websocket, !w.hasPrefix("ws://") {
                throw JobError(file: path, line: line(fields["websocket"]!), key: "source.srsran.websocket", message: "expected ws://host:port[/path]")
            }
            return .metrics(udp: udp, websocket: websocket)
        case "live":
            try allow(fields, ["interface", "filter", "snaplen", "promiscuous"], path, at: "source.live")
            guard let interface = fields["interface"]?.string else {
                throw JobError(file: path, line: line(value), key: "source.live.interface", message: "missing interface name")
            }
            var snap: Int32 = 262_144
            if let s = fields["snaplen"] {
                guard let v = s.int, v > 0, let v32 = Int32(exactly: v) else { throw JobError(file: path, line: line(s), key: "source.live.snaplen", message: "expected a positive number of bytes") }
                snap = v32
            }
            var promiscuous = false
            if let pr = fields["promiscuous"] {
                guard let b = pr.bool else { throw JobError(file: path, line: line(pr), key: "source.live.promiscuous", message: "expected true or false") }
                promiscuous = b
            }
            return .live(interface: interface, filter: fields["filter"]?.string, snapLength: snap, promiscuous: promiscuous)
        default:
            throw JobError(file: path, line: line(node), key: "source.\(kind)", message: "unknown source; use pcap, pm, files, live or srsran")
        }
    }

    static func compose(_ path: String) throws(JobError) -> Node {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw JobError(file: path, line: nil, key: nil, message: FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file")
        }
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw JobError(file: path, line: 1, key: nil, message: "the file is empty")
            }
            return node
        } catch let e as JobError {
            throw e
        } catch let e as YamlError {
            throw JobError(file: path, line: yamlLine(e), key: nil, message: "invalid YAML: \(yamlMessage(e))")
        } catch {
            throw JobError(file: path, line: nil, key: nil, message: "invalid YAML: \(error)")
        }
    }

    static func allow(_ m: Node.Mapping, _ keys: [String], _ path: String, at parent: String?) throws(JobError) {
        for (k, _) in m {
            let name = k.string ?? "?"
            if !keys.contains(name) {
                let full = parent.map { "\($0).\(name)" } ?? name
                throw JobError(file: path, line: line(k), key: full, message: "unknown key; expected one of \(keys.joined(separator: ", "))")
            }
        }
    }

    static func line(_ node: Node) -> Int? { node.mark.map { $0.line } }

    static func yamlLine(_ e: YamlError) -> Int? {
        switch e {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _): return mark.line
        case .composer(_, _, let mark, _): return mark.line
        default: return nil
        }
    }

    static func yamlMessage(_ e: YamlError) -> String {
        switch e {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): return problem
        default: return "\(e)"
        }
    }

    /// `10s`, `500ms`, `1m`, `1h`, or a plain number of seconds.
    public static func parseDuration(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces)
        for (suffix, scale) in [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)] where t.hasSuffix(suffix) {
            if suffix == "s" && t.hasSuffix("ms") { continue }
            return Double(t.dropLast(suffix.count)).map { $0 * scale }
        }
        return Double(t)
    }
}
