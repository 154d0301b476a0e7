/// A cell as the data names it (DESIGN.md "Names"): `"<gnb>/<cell>"` plus the source's own
/// object name.
public struct CellID: Hashable, Sendable, Comparable {
    public var gnb: String
    public var cell: String
    /// The source's object name: a PM measObjLdn, an OAI NCI, a srsRAN PCI, a table key.
    public var ldn: String

    public init(gnb: String, cell: String, ldn: String) {
        self.gnb = gnb
        self.cell = cell
        self.ldn = ldn
    }

    public var name: String { "\(gnb)/\(cell)" }

    public static func < (a: CellID, b: CellID) -> Bool { (a.gnb, a.cell) < (b.gnb, b.cell) }

    // Two objects of one cell (NRCellDU=1 and NRCellCU=1) are one cell: the LDN is a label only.
    public static func == (a: CellID, b: CellID) -> Bool { a.gnb == b.gnb && a.cell == b.cell }
    public func hash(into h: inout Hasher) {
        h.combine(gnb)
        h.combine(cell)
    }
}

/// The radio KPIs readers produce, in the vocabulary of `cells.jsonl` (unit in the name).
/// Each says how two samples of the same cell combine into a longer window.
public enum Kpi: String, CaseIterable, Sendable, Comparable {
    // TS 28.552 RRU: PRBs (mean over the period) and total usage in %.
    case prbUsedDl = "prb_used_dl", prbUsedUl = "prb_used_ul"
    case prbAvailDl = "prb_avail_dl", prbAvailUl = "prb_avail_ul"
    case prbTotDlPct = "prb_tot_dl_pct", prbTotUlPct = "prb_tot_ul_pct"
    /// Utilisation as a table reports it, when it has no PRB counts.
    case prbUtilDlPct = "prb_util_dl_pct", prbUtilUlPct = "prb_util_ul_pct"
    // DRB: UE-perceived throughput (Mbit/s) and PDCP SDU volume (Mbit).
    case ueThpDlMbps = "ue_thp_dl_mbps", ueThpUlMbps = "ue_thp_ul_mbps"
    case volumeDlMbit = "volume_dl_mbit", volumeUlMbit = "volume_ul_mbit"
    /// Cell throughput reported directly (srsRAN Σ MAC bit rate, OAI MAC bytes / period).
    case cellThpDlMbps = "cell_thp_dl_mbps", cellThpUlMbps = "cell_thp_ul_mbps"
    case rrcConnMean = "rrc_conn_mean", rrcConnMax = "rrc_conn_max"
    case activeUeDlMean = "active_ue_dl_mean", activeUeUlMean = "active_ue_ul_mean"
    // TB counters: all transmissions and erroneous ones.
    case tbDl = "tb_dl", tbErrDl = "tb_err_dl", tbUl = "tb_ul", tbErrUl = "tb_err_ul"
    /// Mean indices and qualities reported as such (no distribution available).
    case cqiMean = "cqi_mean"
    /// Mean reported DL rank (RI): the layers a UE's channel carries.
    case rankDl = "rank_dl_mean"
    case mcsDlMean = "mcs_dl_mean", mcsUlMean = "mcs_ul_mean"
    /// A scheduler's own filtered BLER estimate (OAI), in %.
    case blerDlPct = "bler_dl_pct", blerUlPct = "bler_ul_pct"
    case ulNiDbmPerPrb = "ul_ni_dbm_per_prb"
    case puschSinrDb = "pusch_sinr_db"
    case rsrpDbm = "rsrp_dbm"
    case powerHeadroomDb = "power_headroom_db"
    case dlBufferBytes = "dl_buffer_bytes", ulBufferBytes = "ul_buffer_bytes"
    case pdcchFailures = "pdcch_failures"
    /// DL SDUs the gNB dropped because its (RLC) buffer was full: demand beyond capacity.
    case dlSduDrops = "dl_sdu_drops"
    case ues = "ues"

    public enum Combine: Sendable { case sum, mean, max }

    public var combine: Combine {
        switch self {
        case .volumeDlMbit, .volumeUlMbit, .tbDl, .tbErrDl, .tbUl, .tbErrUl, .pdcchFailures, .dlSduDrops: .sum
        case .rrcConnMax: .max
        default: .mean
        }
    }

    public static func < (a: Kpi, b: Kpi) -> Bool { a.rawValue < b.rawValue }
}

/// A histogram of CQI or MCS reports. `table` is the CQI/MCS table (1 = 64QAM, 2 = 256QAM).
public struct Distribution: Sendable, Equatable {
    public enum Quantity: String, Sendable { case cqi, mcsDl = "mcs_dl", mcsUl = "mcs_ul" }
    public var quantity: Quantity
    public var table: Int
    /// counts[i] = reports with value i.
    public var counts: [Double]

    public init(quantity: Quantity, table: Int, counts: [Double]) {
        self.quantity = quantity
        self.table = table
        self.counts = counts
    }
}

/// Radio configuration of a cell, from the data or an inventory: what derived KPIs need.
public struct CellConfig: Sendable, Equatable {
    public var nRB: Int?
    public var scsKHz: Int?
    public var bwMHz: Double?
    /// Share of symbols carrying downlink (1 for FDD).
    public var dlShare: Double?
    public var layersDl: Int?

    public init(nRB: Int? = nil, scsKHz: Int? = nil, bwMHz: Double? = nil, dlShare: Double? = nil, layersDl: Int? = nil) {
        self.nRB = nRB
        self.scsKHz = scsKHz
        self.bwMHz = bwMHz
        self.dlShare = dlShare
        self.layersDl = layersDl
    }
}

/// One cell over one period as a reader saw it: the raw material of a cell window.
public struct CellSample: Sendable {
    public var cell: CellID
    /// Half-open period in nanoseconds since the Unix epoch.
    public var start: Int64
    public var end: Int64
    /// `pm-xml`, `srsran`, `oai-log`, `kpi-table`.
    public var source: String
    /// PM files and tables keep their own period; streaming sources are re-cut to `--window`.
    public var native: Bool
    /// True when the time is placed from a start time rather than read from the data.
    public var relativeTime: Bool
    public var values: [Kpi: Double] = [:]
    public var distributions: [Distribution] = []
    /// Vendor counters under their native names; distributions as arrays.
    public var vendor: [String: [Double]] = [:]
    public var config = CellConfig()
    /// 32.435 `suspect`: the period is unreliable (restart, partial period).
    public var suspect = false

    public init(cell: CellID, start: Int64, end: Int64, source: String, native: Bool, relativeTime: Bool = false) {
        self.cell = cell
        self.start = start
        self.end = end
        self.source = source
        self.native = native
        self.relativeTime = relativeTime
    }

    public var seconds: Double { Double(end - start) / 1e9 }
}

/// A problem met while reading telemetry: where, and why. Reading goes on past it.
public struct TelemetryIssue: Error, Sendable, CustomStringConvertible, Equatable {
    public var path: String
    public var line: Int?
    public var field: String?
    public var reason: String

    public init(path: String, line: Int?, field: String? = nil, reason: String) {
        self.path = path
        self.line = line
        self.field = field
        self.reason = reason
    }

    public var description: String { path + located }

    /// The issue without the file name: `:line: field: reason`, or `: reason`.
    public var located: String {
        var s = ""
        if let line { s += ":\(line)" }
        if let field { s += ": \(field)" }
        return s + ": " + reason
    }
}

/// What a reader returns for one input: its samples, and what it could not read.
public struct TelemetryRead: Sendable {
    public var kind: String
    public var samples: [CellSample] = []
    public var issues: [TelemetryIssue] = []
    /// What was deliberately left out (not a problem with the input), e.g. non-cell objects.
    public var notes: [String] = []
    /// Records (values, UE lines, rows) read, and skipped as unreadable.
    public var records = 0
    public var skipped = 0
    /// Set when nothing could be read at all.
    public var fatal: TelemetryIssue?
    /// Set when reading stopped before the end of the input (a cut or damaged file); what
    /// came before is in `samples`.
    public var stopped: TelemetryIssue?

    public init(kind: String) { self.kind = kind }
}
