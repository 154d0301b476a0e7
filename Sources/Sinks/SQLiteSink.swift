import Decode
import Detect
import GRDB
import Windows

/// `nocturne.sqlite`: runs, per-window rows and findings, queryable with any SQLite client.
/// Each window is written in one transaction as it closes.
public final class SQLiteSink: Sink {
    public let path: String
    private let db: DatabaseQueue
    private let runID: String

    public init(path: String, runID: String, startedAt: Int64, inputs: [String], windowSeconds: Double) throws {
        self.path = path
        self.runID = runID
        do {
            db = try DatabaseQueue(path: path)
            try SQLiteSink.migrator.migrate(db)
            try db.write { db in
                try db.execute(
                    sql: "INSERT OR REPLACE INTO runs (id, started_at, inputs, window_s, status) VALUES (?, ?, ?, ?, 'running')",
                    arguments: [runID, RFC3339.format(startedAt), inputs.joined(separator: "\n"), windowSeconds])
            }
        } catch {
            throw SinkError("\(path): cannot open the database: \(error)")
        }
    }

    /// Versioned schema; later versions append migrations, never edit these.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE runs (
                    id TEXT PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, inputs TEXT NOT NULL,
                    window_s REAL NOT NULL, status TEXT NOT NULL, packets INTEGER, bytes INTEGER,
                    malformed INTEGER, windows INTEGER, findings INTEGER, first_packet TEXT, last_packet TEXT);
                CREATE TABLE input_problems (
                    run_id TEXT NOT NULL REFERENCES runs(id), path TEXT NOT NULL, problem TEXT NOT NULL);
                CREATE TABLE gnb_windows (
                    run_id TEXT NOT NULL REFERENCES runs(id), window_start TEXT NOT NULL, window_end TEXT NOT NULL,
                    gnb_address TEXT NOT NULL, packets_ul INTEGER, packets_dl INTEGER, bytes_ul INTEGER,
                    bytes_dl INTEGER, tunnels INTEGER, tcp_data_segments INTEGER, tcp_retransmissions INTEGER,
                    rtt_samples INTEGER, rtt_ms_p50 REAL, rtt_ms_p95 REAL, seq_gap_events INTEGER, seq_lost INTEGER,
                    echo_rtt_ms REAL, error_indications INTEGER);
                CREATE TABLE conversation_windows (
                    run_id TEXT NOT NULL REFERENCES runs(id), window_start TEXT NOT NULL, window_end TEXT NOT NULL,
                    src TEXT NOT NULL, dst TEXT NOT NULL, ip_proto INTEGER, packets INTEGER, bytes INTEGER);
                CREATE TABLE tunnel_windows (
                    run_id TEXT NOT NULL REFERENCES runs(id), window_start TEXT NOT NULL, window_end TEXT NOT NULL,
                    dst TEXT NOT NULL, teid INTEGER NOT NULL, src TEXT, direction TEXT, gnb_address TEXT,
                    packets INTEGER, bytes INTEGER, inner_bytes INTEGER, qfis TEXT, seq_gap_events INTEGER,
                    seq_lost INTEGER, seid_cp TEXT, seid_up TEXT, ue_ip TEXT);
                CREATE TABLE flow_windows (
                    run_id TEXT NOT NULL REFERENCES runs(id), window_start TEXT NOT NULL, window_end TEXT NOT NULL,
                    proto INTEGER, a_ip TEXT, a_port INTEGER, b_ip TEXT, b_port INTEGER, packets_ab INTEGER,
                    packets_ba INTEGER, bytes_ab INTEGER, bytes_ba INTEGER, retransmissions INTEGER,
                    rtt_ms_p50 REAL, rtt_ms_p95 REAL, gnb_address TEXT);
                CREATE TABLE findings (
                    id TEXT NOT NULL, run_id TEXT NOT NULL REFERENCES runs(id), class TEXT NOT NULL, direction TEXT,
                    cell TEXT, gnb TEXT, gnb_address TEXT, teid INTEGER, start TEXT NOT NULL, "end" TEXT,
                    state TEXT NOT NULL, severity TEXT NOT NULL, score REAL NOT NULL, detector TEXT NOT NULL,
                    evidence TEXT NOT NULL, missing_inputs TEXT NOT NULL, summary TEXT, explanation TEXT,
                    PRIMARY KEY (run_id, id));
                CREATE INDEX gnb_windows_by_gnb ON gnb_windows (gnb_address, window_start);
                CREATE INDEX tunnel_windows_by_teid ON tunnel_windows (dst, teid);
                """)
        }
        return m
    }

    public func write(_ batch: WindowBatch) throws {
        let start = RFC3339.format(batch.start), end = RFC3339.format(batch.end)
        let run = runID
        try db.write { db in
            let g = try db.cachedStatement(sql: "INSERT INTO gnb_windows VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
            for w in batch.gnbs {
                try g.execute(arguments: [run, start, end, w.gnbAddress.description, w.packetsUL, w.packetsDL, w.bytesUL,
                                          w.bytesDL, w.tunnels, w.tcpDataSegments, w.tcpRetransmissions, w.rttSamples,
                                          w.rttP50Ms, w.rttP95Ms, w.seqGapEvents, w.seqLost, w.echoRttMs, w.errorIndications])
            }
            let c = try db.cachedStatement(sql: "INSERT INTO conversation_windows VALUES (?,?,?,?,?,?,?,?)")
            for r in batch.conversations {
                try c.execute(arguments: [run, start, end, r.src.description, r.dst.description, Int(r.ipProto), r.packets, r.bytes])
            }
            let t = try db.cachedStatement(sql: "INSERT INTO tunnel_windows VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
            for r in batch.tunnels {
                try t.execute(arguments: [run, start, end, r.dst.description, Int(r.teid), r.src.description, r.direction,
                                          r.gnbAddress?.description, r.packets, r.bytes, r.innerBytes,
                                          r.qfis.map(String.init).joined(separator: ","), r.seqGapEvents, r.seqLost,
                                          r.seidCP.map { String($0, radix: 16) }, r.seidUP.map { String($0, radix: 16) },
                                          r.ueIP?.description])
            }
            let f = try db.cachedStatement(sql: "INSERT INTO flow_windows VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
            for r in batch.flows {
                try f.execute(arguments: [run, start, end, Int(r.proto), r.aIP.description, Int(r.aPort), r.bIP.description,
                                          Int(r.bPort), r.packetsAB, r.packetsBA, r.bytesAB, r.bytesBA, r.retransmissions,
                                          r.rttP50Ms, r.rttP95Ms, r.gnbAddress?.description])
            }
        }
    }

    public func write(_ events: [FindingEvent]) throws {
        guard !events.isEmpty else { return }
        try db.write { db in
            for e in events { try insert(e.finding, db) }
        }
    }

    private func insert(_ f: Finding, _ db: Database) throws {
        var evidence = JSONLine()
        evidence.appendRaw("[")
        for (i, e) in f.evidence.enumerated() {
            if i > 0 { evidence.appendRaw(",") }
            evidence.open()
            evidence.field("kpi", e.kpi); evidence.field("value", e.value)
            evidence.field("baseline", e.baseline); evidence.field("unit", e.unit)
            evidence.close()
        }
        evidence.appendRaw("]")
        var missing = JSONLine()
        missing.appendRaw("[")
        for (i, m) in f.missingInputs.enumerated() {
            if i > 0 { missing.appendRaw(",") }
            missing.string(m)
        }
        missing.appendRaw("]")
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO findings VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                """,
            arguments: [f.id, f.runID, f.findingClass.rawValue, f.direction, f.scope.cell, f.scope.gnb,
                        f.scope.gnbAddress, f.scope.teid.map { Int($0) }, RFC3339.format(f.start),
                        f.end.map(RFC3339.format), f.state, f.severity.rawValue, f.score, f.detector,
                        String(decoding: evidence.bytes, as: UTF8.self), String(decoding: missing.bytes, as: UTF8.self),
                        f.summary, f.explanation])
    }

    public func close(_ s: RunSummary) throws {
        try db.write { db in
            for f in s.findings { try insert(f, db) }
            for i in s.inputs {
                if let p = i.problem {
                    try db.execute(sql: "INSERT INTO input_problems VALUES (?,?,?)", arguments: [runID, i.path, p])
                }
            }
            try db.execute(
                sql: """
                    UPDATE runs SET finished_at = ?, status = ?, packets = ?, bytes = ?, malformed = ?, windows = ?,
                    findings = ?, first_packet = ?, last_packet = ? WHERE id = ?
                    """,
                arguments: [RFC3339.format(s.finishedAt), s.interrupted ? "interrupted" : "complete", s.totals.packets,
                            s.totals.bytes, s.totals.malformed, s.totals.windows, s.findings.count,
                            s.firstPacket.map(RFC3339.format), s.lastPacket.map(RFC3339.format), runID])
        }
    }
}
