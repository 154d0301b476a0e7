import Decode
import Detect
import GRDB
import GRDBSQLite
import Windows

/// `nocturne.sqlite`: runs, per-window gNB and conversation rows, one row per GTP-U tunnel with
/// its run totals and PFCP session, findings and input problems, queryable with any SQLite
/// client. Windows are written in one transaction each as they close. Per-window tunnel and
/// flow rows (the bulk of a busy capture) stay in `tunnels.jsonl` and `flows.jsonl`.
public final class SQLiteSink: Sink {
    public let path: String
    private let db: DatabaseQueue
    private let runID: String

    public init(path: String, runID: String, startedAt: Int64, inputs: [String], windowSeconds: Double) throws {
        self.path = path
        self.runID = runID
        do {
            var configuration = Configuration()
            configuration.prepareDatabase { db in
                // An output file written once per run: a crash loses the run either way, so skip
                // the per-commit sync and keep the rollback journal in memory.
                try db.execute(sql: "PRAGMA synchronous = OFF; PRAGMA journal_mode = MEMORY")
            }
            db = try DatabaseQueue(path: path, configuration: configuration)
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
                CREATE TABLE tunnels (
                    run_id TEXT NOT NULL REFERENCES runs(id), dst TEXT NOT NULL, teid INTEGER NOT NULL, src TEXT,
                    direction TEXT, gnb_address TEXT, first_window TEXT NOT NULL, last_window TEXT NOT NULL,
                    windows INTEGER, packets INTEGER, bytes INTEGER, inner_bytes INTEGER, qfis TEXT,
                    seq_gap_events INTEGER, seq_lost INTEGER, seid_cp TEXT, seid_up TEXT, ue_ip TEXT,
                    PRIMARY KEY (run_id, dst, teid));
                CREATE TABLE findings (
                    id TEXT NOT NULL, run_id TEXT NOT NULL REFERENCES runs(id), class TEXT NOT NULL, direction TEXT,
                    cell TEXT, gnb TEXT, gnb_address TEXT, teid INTEGER, start TEXT NOT NULL, "end" TEXT,
                    state TEXT NOT NULL, severity TEXT NOT NULL, score REAL NOT NULL, detector TEXT NOT NULL,
                    evidence TEXT NOT NULL, missing_inputs TEXT NOT NULL, summary TEXT, explanation TEXT,
                    PRIMARY KEY (run_id, id));
                """)
        }
        m.registerMigration("v2") { db in
            // Per-cell KPI windows from RAN telemetry: the common KPIs as columns, every KPI
            // (and vendor counter) in `kpis` as a JSON object.
            try db.execute(sql: """
                CREATE TABLE cell_windows (
                    run_id TEXT NOT NULL REFERENCES runs(id), window_start TEXT NOT NULL, window_end TEXT NOT NULL,
                    window_s REAL NOT NULL, cell TEXT NOT NULL, gnb TEXT NOT NULL, ldn TEXT, source TEXT NOT NULL,
                    time_basis TEXT NOT NULL, suspect INTEGER NOT NULL, prb_util_dl_pct REAL, prb_util_ul_pct REAL,
                    cell_thp_dl_mbps REAL, ue_thp_dl_mbps REAL, se_dl_bps_hz REAL, cqi_mean REAL, mcs_dl_mean REAL,
                    bler_dl_pct REAL, ul_ni_dbm_per_prb REAL, pusch_sinr_db REAL, kpis TEXT NOT NULL);
                """)
        }
        return m
    }

    public func write(_ windows: [CellWindow]) throws {
        let run = runID
        try db.write { db in
            let r = try Rows(db, "INSERT INTO cell_windows VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
            var json = JSONLine()
            for w in windows {
                r.text(run); r.text(RFC3339.format(w.start)); r.text(RFC3339.format(w.end)); r.double(w.seconds)
                r.text(w.cell.name); r.text(w.cell.gnb); r.text(w.cell.ldn); r.text(w.source)
                r.text(w.relativeTime ? "relative" : "absolute"); r.int(w.suspect ? 1 : 0)
                for k in ["prb_util_dl_pct", "prb_util_ul_pct", "cell_thp_dl_mbps", "ue_thp_dl_mbps", "se_dl_bps_hz", "cqi_mean",
                          "mcs_dl_mean", "bler_dl_pct", "ul_ni_dbm_per_prb", "pusch_sinr_db"] {
                    r.double(w[k])
                }
                json.reset()
                json.open()
                for (k, v) in w.orderedValues { json.field(k, v) }
                for (k, v) in w.vendor.sorted(by: { $0.key < $1.key }) { json.field(k, doubles: v) }
                json.close()
                r.text(String(decoding: json.bytes, as: UTF8.self))
                try r.step()
            }
        }
    }

    public func write(_ batch: WindowBatch) throws {
        let start = RFC3339.format(batch.start), end = RFC3339.format(batch.end)
        let run = runID
        // Window rows are many: bound straight through the SQLite C API on prepared statements.
        try db.write { db in
            let g = try Rows(db, "INSERT INTO gnb_windows VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
            for w in batch.gnbs {
                g.text(run); g.text(start); g.text(end); g.address(w.gnbAddress)
                g.int(w.packetsUL); g.int(w.packetsDL); g.int(w.bytesUL); g.int(w.bytesDL); g.int(w.tunnels)
                g.int(w.tcpDataSegments); g.int(w.tcpRetransmissions); g.int(w.rttSamples)
                g.double(w.rttP50Ms); g.double(w.rttP95Ms); g.int(w.seqGapEvents); g.int(w.seqLost)
                g.double(w.echoRttMs); g.int(w.errorIndications)
                try g.step()
            }
            let c = try Rows(db, "INSERT INTO conversation_windows VALUES (?,?,?,?,?,?,?,?)")
            for r in batch.conversations {
                c.text(run); c.text(start); c.text(end); c.address(r.src); c.address(r.dst)
                c.int(Int(r.ipProto)); c.int(r.packets); c.int(r.bytes)
                try c.step()
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
            // Indexes are built once at the end: cheaper than maintaining them row by row.
            try db.execute(sql: """
                CREATE INDEX IF NOT EXISTS gnb_windows_by_gnb ON gnb_windows (gnb_address, window_start);
                CREATE INDEX IF NOT EXISTS cell_windows_by_cell ON cell_windows (cell, window_start);
                """)
            for f in s.findings { try insert(f, db) }
            let t = try Rows(db, "INSERT INTO tunnels VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
            for (id, r) in s.runTotals.tunnels {
                t.text(runID); t.address(id.dst); t.int(Int(id.teid)); t.address(r.src); t.text(r.direction)
                t.address(r.gnbAddress); t.text(RFC3339.format(r.firstWindow)); t.text(RFC3339.format(r.lastWindow))
                t.int(r.windows); t.int(r.packets); t.int(r.bytes); t.int(r.innerBytes)
                t.text(qfiList(r.qfiMask).map(String.init).joined(separator: ","))
                t.int(r.seqGapEvents); t.int(r.seqLost)
                t.text(r.seidCP.map { String($0, radix: 16) }); t.text(r.seidUP.map { String($0, radix: 16) })
                t.address(r.ueIP)
                try t.step()
            }
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

/// A prepared INSERT whose parameters are bound in order, one row per `step()`.
private final class Rows {
    private let statement: OpaquePointer
    private let path: String
    private var index: Int32 = 1

    init(_ db: Database, _ sql: String) throws {
        statement = try db.cachedStatement(sql: sql).sqliteStatement
        path = db.description
    }

    func int(_ v: Int) {
        sqlite3_bind_int64(statement, index, Int64(v))
        index += 1
    }

    func double(_ v: Double?) {
        if let v { sqlite3_bind_double(statement, index, v) } else { sqlite3_bind_null(statement, index) }
        index += 1
    }

    /// An address as text, rendered on the stack for IPv4.
    func address(_ a: IPAddress?) {
        guard let a, !a.isV6 else { return text(a?.description) }
        a.withV4Text { b in
            // SQLITE_TRANSIENT: SQLite copies the text before the buffer goes away.
            _ = sqlite3_bind_text(statement, index, b.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(b.count),
                                  unsafeBitCast(-1, to: sqlite3_destructor_type.self))
        }
        index += 1
    }

    func text(_ v: String?) {
        if var v {
            _ = v.withUTF8 { b in
                // SQLITE_TRANSIENT: SQLite copies the text before the buffer goes away.
                sqlite3_bind_text(statement, index, UnsafeRawPointer(b.baseAddress)?.assumingMemoryBound(to: CChar.self),
                                  Int32(b.count), unsafeBitCast(-1, to: sqlite3_destructor_type.self))
            }
        } else {
            sqlite3_bind_null(statement, index)
        }
        index += 1
    }

    func step() throws {
        let rc = sqlite3_step(statement)
        sqlite3_reset(statement)
        index = 1
        guard rc == SQLITE_DONE else {
            throw SinkError("SQLite insert failed: \(String(cString: sqlite3_errstr(rc)))")
        }
    }
}
