/// OpenAirInterface nr-softmodem MAC statistics (`dump_mac_stats`) from a gNB console log or
/// the `nrMAC_stats.log` snapshot: every v2.0 … 2025 line variant, ANSI colours and `\r`
/// tolerated, fields read token by token so that new fields do not break the reader.
///
/// A dump (`Frame.Slot f.s`, every 128 frames = 1.28 s) becomes one sample per cell. The
/// counters are cumulative per UE, so a sample holds the differences to the UE's previous dump;
/// a UE whose counters go backwards was re-created and starts again. The log carries no
/// absolute time: dumps are placed at `start + k × 1.28 s` (`relativeTime`).
public struct OAILogReader {
    public static let dumpPeriod: Int64 = 1_280_000_000

    /// Where the first dump is placed, in ns since the epoch.
    public var start: Int64?

    public init(start: Int64? = nil) {
        self.start = start
    }

    /// True when the text looks like an OAI gNB log or stats file.
    public static func recognises(_ head: Substring) -> Bool {
        head.contains("[NR_MAC]") || head.contains("[GNB_APP]") || head.contains("[NR_PHY]")
            || (head.contains("UE RNTI ") && head.contains("dlsch_rounds"))
    }

    struct UECounters {
        var dlTx = 0.0, dlErr = 0.0, dlNack = 0.0, ulTx = 0.0, ulErr = 0.0, ulNack = 0.0
        var macTx = 0.0, macRx = 0.0, cceFail = 0.0
    }

    struct UELine {
        var rnti = ""
        var counters = UECounters()
        /// Which counter groups this dump printed for the UE.
        var hasDl = false, hasUl = false, hasMac = false
        var mcsDl: Int?, mcsDlTable = 0, mcsUl: Int?
        var blerDl: Double?, blerUl: Double?
        var cqi: Double?, rank: Double?, rsrp: Double?, snr: Double?, ph: Double?
        var goodputDl: Double?, goodputUl: Double?
    }

    public func read(path: String) -> TelemetryRead {
        InputBytes.read(path, kind: "oai-log") { read(bytes: $0, path: path, into: &$1) }
    }

    public func read(bytes: [UInt8], path: String, into result: inout TelemetryRead) {
        var config = CellConfig()
        var tdd = false
        var slotKinds: [Int: String] = [:]
        var nci: String?
        var gnbID: String?
        var dumps: [[UELine]] = []
        // RLC "N SDU rejected, SDU buffer full" warnings, counted into the dump that follows.
        var dropsBefore: [Double] = []
        var drops = 0.0
        var current: [String: UELine]?
        var order: [String] = []
        var lineNumber = 0

        func closeDump() {
            if let c = current { dumps.append(order.compactMap { c[$0] }) }
            current = nil
            order = []
        }

        var lineStart = 0
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != 0x0A { lineEnd += 1 }
            lineNumber += 1
            let (line, prefixed) = Self.clean(bytes[lineStart..<lineEnd])
            lineStart = lineEnd + 1
            guard !line.isEmpty else { continue }

            if line.contains("Frame.Slot") {
                closeDump()
                current = [:]
                // What was logged since the last dump happened in this dump's period.
                dropsBefore.append(drops)
                drops = 0
                continue
            }
            // Statistics lines follow the dump header without a log prefix; "[NR_MAC] UE …"
            // lines are ordinary log messages.
            if !prefixed && line.hasPrefix("UE ") {
                if current == nil { current = [:]; dropsBefore.append(drops); drops = 0 } // the stats-file snapshot has no header
                var rest = line.dropFirst(3)
                if rest.hasPrefix("RNTI ") { rest = rest.dropFirst(5) }
                let rnti = String(rest.prefix { $0.isHexDigit })
                guard rnti.count == 4 else {
                    result.skipped += 1
                    result.issues.append(TelemetryIssue(path: path, line: lineNumber, field: "RNTI", reason: "not a 4-digit hex RNTI"))
                    continue
                }
                result.records += 1
                if current![rnti] == nil { order.append(rnti) }
                var ue = current![rnti] ?? UELine(rnti: rnti)
                if !Self.parse(line, into: &ue) {
                    result.skipped += 1
                    result.issues.append(TelemetryIssue(path: path, line: lineNumber, field: Self.fieldName(line),
                                                        reason: "unreadable MAC statistics line"))
                }
                current![rnti] = ue
                continue
            }
            if line.contains("SDU rejected") {
                let count = line.range(of: " SDU rejected").flatMap { r in
                    Double(line[..<r.lowerBound].reversed().prefix { $0.isNumber }.reversed().map(String.init).joined())
                }
                drops += bounded(count, 1e12) ?? 1
                continue
            }
            // Configuration lines (before the first dump, normally).
            // Configuration lines (before the first dump, normally); values out of their range
            // are ignored, as if the line were absent.
            if let v = Self.integer(after: ["N_RB_DL ", "fp->N_RB_DL=", "DLBW "], in: line, 1...275) { config.nRB = v }
            if let v = Self.integer(after: ["fp->scs="], in: line, 15_000...120_000) { config.scsKHz = v / 1000 }
            if config.scsKHz == nil, let mu = Self.integer(after: ["numerology_index=", "frame parms for mu "], in: line, 0...3) {
                config.scsKHz = 15 << mu
            }
            if let v = Self.integer(after: ["NB_TX ", "Set TX antenna number to "], in: line, 1...64) { config.layersDl = min(4, v) }
            if line.contains("for TDD") { tdd = true }
            if line.contains("TDD period configuration: slot "), let slot = Self.integer(after: ["slot "], in: line, 0...159) {
                if line.contains("is DOWNLINK") { slotKinds[slot] = String(repeating: "D", count: 14) }
                else if line.contains("is UPLINK") { slotKinds[slot] = String(repeating: "U", count: 14) }
                else if let colon = line.range(of: "FLEXIBLE: ") { slotKinds[slot] = String(line[colon.upperBound...].prefix(14)) }
            }
            // NR cell identity: 36 bits.
            if line.contains("F1AP:"), let v = Self.integer(after: ["cellID "], in: line, 0...(1 << 36) - 1) { nci = String(v, radix: 16) }
            if line.contains("F1AP:"), let v = Self.integer(after: ["gNB_DU_id "], in: line, 0...(1 << 36) - 1) { gnbID = String(v) }
        }
        closeDump()
        if drops > 0 {
            result.notes.append("\(Int(min(drops, 1e15))) DL SDU drops logged after the last statistics dump are not in any window")
        }

        if dumps.isEmpty {
            if result.records == 0 {
                result.fatal = TelemetryIssue(path: path, line: nil, reason: "no OAI MAC statistics (no 'Frame.Slot' dump and no 'UE RNTI' lines)")
            }
            return
        }
        // Configuration: TDD share from the slot pattern, else OAI's default 7D/1S/2U for TDD.
        if !slotKinds.isEmpty {
            let symbols = slotKinds.values.joined()
            config.dlShare = Double(symbols.filter { $0 == "D" }.count) / Double(slotKinds.count * 14)
        } else {
            config.dlShare = tdd ? 104.0 / 140.0 : 1.0
        }
        if config.scsKHz == nil, let n = config.nRB { config.scsKHz = CarrierTables.onlySCS(forNRB: n) }
        if let n = config.nRB, let scs = config.scsKHz { config.bwMHz = CarrierTables.bandwidthMHz(nRB: n, scsKHz: scs) }
        let cell = CellID(gnb: gnbID.map { "gnb-\($0)" } ?? "oai-gnb", cell: nci.map { "nci-\($0)" } ?? "nci-unknown",
                          ldn: nci.map { "nci=\($0)" } ?? path)
        let origin = start ?? 0
        if start == nil {
            result.issues.append(TelemetryIssue(path: path, line: nil, reason: "no start time (give --start or keep the iPerf JSON beside the log); dumps placed from 1970-01-01"))
        }

        var previous: [String: UELine] = [:]
        let seconds = Double(Self.dumpPeriod) / 1e9
        for (k, ues) in dumps.enumerated() {
            var s = CellSample(cell: cell, start: origin + Int64(k) * Self.dumpPeriod, end: origin + Int64(k + 1) * Self.dumpPeriod,
                               source: "oai-log", native: false, relativeTime: true)
            s.config = config
            s.values[.ues] = Double(ues.count)
            if dropsBefore[k] > 0 { s.values[.dlSduDrops] = dropsBefore[k] }
            var dlBits = 0.0, ulBits = 0.0, haveDl = false, haveUl = false
            var tbDl = 0.0, errDl = 0.0, tbUl = 0.0, errUl = 0.0, cce = 0.0
            var mcsDl = (sum: 0.0, w: 0.0), mcsUl = (sum: 0.0, w: 0.0)
            var levels: [Kpi: (sum: Double, n: Double)] = [:]
            for ue in ues {
                let before = previous[ue.rnti]
                // Counters a dump did not print for a UE keep their last value, so the next
                // difference spans both periods instead of starting from zero.
                var kept = ue
                if let b = before {
                    if !ue.hasDl { kept.counters.dlTx = b.counters.dlTx; kept.counters.dlNack = b.counters.dlNack; kept.hasDl = b.hasDl }
                    if !ue.hasUl { kept.counters.ulTx = b.counters.ulTx; kept.counters.ulNack = b.counters.ulNack; kept.hasUl = b.hasUl }
                    if !ue.hasMac { kept.counters.macTx = b.counters.macTx; kept.counters.macRx = b.counters.macRx; kept.hasMac = b.hasMac }
                    if !ue.hasDl && !ue.hasUl { kept.counters.cceFail = b.counters.cceFail }
                }
                previous[ue.rnti] = kept
                for (kpi, v) in [(Kpi.cqiMean, ue.cqi), (.rankDl, ue.rank), (.rsrpDbm, ue.rsrp), (.puschSinrDb, ue.snr), (.powerHeadroomDb, ue.ph)] {
                    if let v { levels[kpi, default: (0, 0)].sum += v; levels[kpi, default: (0, 0)].n += 1 }
                }
                if let v = ue.blerDl { levels[.blerDlPct, default: (0, 0)].sum += v * 100; levels[.blerDlPct, default: (0, 0)].n += 1 }
                if let v = ue.blerUl { levels[.blerUlPct, default: (0, 0)].sum += v * 100; levels[.blerUlPct, default: (0, 0)].n += 1 }
                // Without an earlier dump there is no difference to take; a counter that went
                // backwards means the UE context was re-created.
                guard let b = before else { continue }
                let now = ue.counters, was = b.counters
                var dTb = 0.0, dTbUl = 0.0
                if ue.hasDl && b.hasDl && now.dlTx >= was.dlTx {
                    dTb = now.dlTx - was.dlTx
                    tbDl += dTb
                    errDl += max(0, now.dlNack - was.dlNack)
                }
                if ue.hasUl && b.hasUl && now.ulTx >= was.ulTx {
                    dTbUl = now.ulTx - was.ulTx
                    tbUl += dTbUl
                    errUl += max(0, now.ulNack - was.ulNack)
                }
                if (ue.hasDl || ue.hasUl) && now.cceFail >= was.cceFail { cce += now.cceFail - was.cceFail }
                if ue.hasMac && b.hasMac {
                    if now.macTx >= was.macTx { dlBits += (now.macTx - was.macTx) * 8; haveDl = true }
                    if now.macRx >= was.macRx { ulBits += (now.macRx - was.macRx) * 8; haveUl = true }
                } else if !ue.hasMac {
                    if let g = ue.goodputDl { dlBits += g * 1e6 * seconds; haveDl = true }
                    if let g = ue.goodputUl { ulBits += g * 1e6 * seconds; haveUl = true }
                }
                if let m = ue.mcsDl, dTb > 0 {
                    mcsDl.sum += Double(m) * dTb; mcsDl.w += dTb
                    s.addToDistribution(.mcsDl, table: ue.mcsDlTable + 1, index: min(m, 31), count: dTb)
                }
                if let m = ue.mcsUl, dTbUl > 0 { mcsUl.sum += Double(m) * dTbUl; mcsUl.w += dTbUl }
            }
            if haveDl { s.values[.cellThpDlMbps] = dlBits / seconds / 1e6 }
            if haveUl { s.values[.cellThpUlMbps] = ulBits / seconds / 1e6 }
            if k > 0 {
                s.values[.tbDl] = tbDl; s.values[.tbErrDl] = errDl
                s.values[.tbUl] = tbUl; s.values[.tbErrUl] = errUl
                s.values[.pdcchFailures] = cce
            }
            if mcsDl.w > 0 { s.values[.mcsDlMean] = mcsDl.sum / mcsDl.w }
            if mcsUl.w > 0 { s.values[.mcsUlMean] = mcsUl.sum / mcsUl.w }
            for (kpi, a) in levels where a.n > 0 { s.values[kpi] = a.sum / a.n }
            result.samples.append(s)
        }
    }

    /// Reads the fields of one `UE …` line into `ue`; false when the line has none we know.
    static func parse(_ line: Substring, into ue: inout UELine) -> Bool {
        var known = false
        if line.contains("PH ") || line.contains("average RSRP") {
            if let v = number(after: "PH ", in: line) { ue.ph = v; known = true }
            if let v = number(after: "average RSRP ", in: line) { ue.rsrp = v; known = true }
            if line.contains("in-sync") || line.contains("out-of-sync") || line.contains("PCMAX") { known = true }
        }
        if let v = number(after: "CQI ", in: line) { ue.cqi = v; known = true }
        if line.contains("CQI "), let v = number(after: "RI ", in: line) { ue.rank = v }
        if let (tx, nack, errors) = harq("dlsch", in: line) {
            ue.counters.dlTx = tx; ue.counters.dlNack = nack; ue.counters.dlErr = errors; ue.hasDl = true
            ue.blerDl = number(after: "BLER ", in: line)
            (ue.mcsDl, ue.mcsDlTable) = mcs(in: line)
            if ue.mcsDlTable > 2 { ue.mcsDl = nil } // tables are 0 (qam64), 1 (qam256), 2 (low-SE)
            if let v = number(after: "CCE fail ", in: line) { ue.counters.cceFail += v }
            ue.goodputDl = number(after: "goodput ", in: line)
            return true
        }
        if let (tx, nack, errors) = harq("ulsch", in: line) {
            ue.counters.ulTx = tx; ue.counters.ulNack = nack; ue.counters.ulErr = errors; ue.hasUl = true
            ue.blerUl = number(after: "BLER ", in: line)
            ue.mcsUl = mcs(in: line).0
            if let v = number(after: "SNR ", in: line) { ue.snr = v }
            if let v = number(after: "CCE fail ", in: line) { ue.counters.cceFail += v }
            ue.goodputUl = number(after: "goodput ", in: line)
            return true
        }
        if line.contains("dlsch_rounds ") || line.contains("ulsch_rounds ") { return false }
        if line.contains("MAC:") {
            guard let tx = number(after: "TX ", in: line), let rx = number(after: "RX ", in: line) else { return false }
            ue.counters.macTx = tx; ue.counters.macRx = rx; ue.hasMac = true
            return true
        }
        // v2.0.0 byte counters.
        if let v = number(after: "dlsch_total_bytes ", in: line) { ue.counters.macTx = v; ue.hasMac = true; return true }
        if let v = number(after: "ulsch_total_bytes_received ", in: line) { ue.counters.macRx = v; return true }
        if line.contains("LCID ") || line.contains("UL-RI") || line.contains("srs") || line.contains("SRS") { return true }
        return known
    }

    /// `<x>sch_rounds r0/r1/…, <x>sch_errors e`: transmissions, NACKed ones (every
    /// retransmission and every final error) and final errors.
    static func harq(_ channel: String, in line: Substring) -> (Double, Double, Double)? {
        guard line.contains(channel + "_rounds "), let rounds = roundsList(after: channel + "_rounds ", in: line) else { return nil }
        let errors = number(after: channel + "_errors ", in: line) ?? 0
        return (rounds.reduce(0, +), rounds.dropFirst().reduce(0, +) + errors, errors)
    }

    /// `MCS (t) m` or `MCS m`.
    static func mcs(in line: Substring) -> (Int?, Int) {
        guard let r = line.range(of: "MCS ") else { return (nil, 0) }
        var rest = line[r.upperBound...]
        var table = 0
        if rest.first == "(" {
            rest = rest.dropFirst()
            table = Int(rest.prefix { $0.isNumber }.prefix(3)) ?? 0
            rest = rest.drop { $0 != ")" }.dropFirst().drop { $0 == " " }
        }
        return (Int(rest.prefix { $0.isNumber }.prefix(3)), table)
    }

    static func roundsList(after key: String, in line: Substring) -> [Double]? {
        guard let r = line.range(of: key) else { return nil }
        let token = line[r.upperBound...].prefix { $0.isNumber || $0 == "/" }
        let parts = token.split(separator: "/").compactMap { Double($0) }
        return parts.isEmpty ? nil : parts
    }

    /// The first of `keys` followed by a whole number within `range`.
    static func integer(after keys: [String], in line: Substring, _ range: ClosedRange<Int>) -> Int? {
        for key in keys {
            if let v = number(after: key, in: line) {
                guard v.isFinite, v == v.rounded(), v >= Double(range.lowerBound), v <= Double(range.upperBound) else { return nil }
                return Int(v)
            }
        }
        return nil
    }

    /// The number right after `key` (leading spaces skipped), as written: sign, digits, point.
    static func number(after key: String, in line: Substring) -> Double? {
        guard let r = line.range(of: key) else { return nil }
        var rest = line[r.upperBound...].drop { $0 == " " }
        var text = ""
        if rest.first == "-" || rest.first == "+" { text.append(rest.removeFirst()) }
        text += rest.prefix { $0.isNumber || $0 == "." }
        // Counters are below 2^64; anything longer is not a number we can use.
        guard text.count <= 24, let v = Double(text), v.isFinite else { return nil }
        return v
    }

    static func fieldName(_ line: Substring) -> String {
        let afterColon = line.split(separator: ":", maxSplits: 1).last ?? line
        return String(afterColon.drop { $0 == " " }.prefix { !$0.isWhitespace })
    }

    /// A line without ANSI colour sequences, `\r` and the log prefix up to the component tag,
    /// and whether it had such a prefix.
    static func clean(_ raw: ArraySlice<UInt8>) -> (Substring, Bool) {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = raw.startIndex
        while i < raw.endIndex {
            let b = raw[i]
            if b == 0x1B, i + 1 < raw.endIndex, raw[i + 1] == UInt8(ascii: "[") {
                var j = i + 2
                while j < raw.endIndex, (raw[j] >= 0x30 && raw[j] <= 0x39) || raw[j] == UInt8(ascii: ";") { j += 1 }
                i = j < raw.endIndex ? j + 1 : j
                continue
            }
            if b != 0x0D { out.append(b) }
            i += 1
        }
        var s = Substring(String(decoding: out, as: UTF8.self))
        var prefixed = false
        // "[NR_MAC]   Frame.Slot …" / "18626.446953 [NR_MAC] I …": keep what follows the tag.
        if let close = s.range(of: "] "), s.hasPrefix("[") || s.first?.isNumber == true, s[..<close.lowerBound].contains("[") {
            s = s[close.upperBound...]
            prefixed = true
            if s.count > 2, s.first.map({ "EWAIDT".contains($0) }) == true, s.dropFirst().first == " " { s = s.dropFirst(2) }
        }
        return (s.drop { $0 == " " }, prefixed)
    }
}

/// TS 38.104 Table 5.3.2-1/-2: N_RB per channel bandwidth and SCS (kpi-vocabulary §3).
public enum CarrierTables {
    static let fr1: [Int: [Double: Int]] = [
        15: [5: 25, 10: 52, 15: 79, 20: 106, 25: 133, 30: 160, 35: 188, 40: 216, 45: 242, 50: 270],
        30: [5: 11, 10: 24, 15: 38, 20: 51, 25: 65, 30: 78, 35: 92, 40: 106, 45: 119, 50: 133, 60: 162, 70: 189, 80: 217, 90: 245, 100: 273],
        60: [10: 11, 15: 18, 20: 24, 25: 31, 30: 38, 35: 44, 40: 51, 45: 58, 50: 65, 60: 79, 70: 93, 80: 107, 90: 121, 100: 135],
        120: [50: 32, 100: 66, 200: 132, 400: 264],
    ]
    static let fr2_60: [Double: Int] = [50: 66, 100: 132, 200: 264]

    public static func nRB(bandwidthMHz: Double, scsKHz: Int) -> Int? { fr1[scsKHz]?[bandwidthMHz] }

    /// The subcarrier spacing of an FR1 N_RB that only one SCS column of the table has (273 → 30).
    public static func onlySCS(forNRB n: Int) -> Int? {
        let matches = [15, 30, 60].filter { fr1[$0]!.values.contains(n) }
        return matches.count == 1 ? matches[0] : nil
    }

    public static func bandwidthMHz(nRB: Int, scsKHz: Int) -> Double? {
        fr1[scsKHz]?.first { $0.value == nRB }?.key ?? (scsKHz == 60 ? fr2_60.first { $0.value == nRB }?.key : nil)
    }
}
