/// TS 32.435 `measCollecFile` and TS 28.532 `measDataFile` PM XML, plain or gzip.
///
/// Every measured object whose LDN names a cell (NRCellDU, NRCellCU, EUtranCellFDD/TDD,
/// UtranCell, GsmCell) becomes a sample per granularity period; the measInfo blocks of one cell
/// and period merge. Other objects (equipment, transport, node functions) are counted and left
/// out. `NIL` and empty values are missing, never zero; a value that is not a number is an
/// issue naming the line and the counter, and the rest of the file is still read.
public struct PMReader {
    public var mapping: VendorMapping

    public init(mapping: VendorMapping = .default) {
        self.mapping = mapping
    }

    public func read(path: String) -> TelemetryRead {
        InputBytes.read(path, kind: "pm-xml") { read(bytes: $0, path: path, into: &$1) }
    }

    public func read(bytes: [UInt8], path: String, into result: inout TelemetryRead) {
        var scanner = XMLScanner(bytes)
        var state = ParseState()
        var stack: [String] = []
        var text = ""
        do {
            while let event = try scanner.next() {
                switch event {
                case let .start(name, attributes, selfClosing):
                    if stack.isEmpty {
                        guard name == "measCollecFile" || name == "measDataFile" else {
                            result.fatal = TelemetryIssue(path: path, line: scanner.line(at: scanner.offset), field: name,
                                                          reason: "not a TS 32.435/28.532 PM file (root element <\(name)>)")
                            return
                        }
                    }
                    text = ""
                    state.start(name, attributes, parent: stack.last, line: { scanner.line(at: scanner.offset) },
                                path: path, result: &result)
                    if !selfClosing { stack.append(name) } else {
                        state.end(name, text: "", parent: stack.last, line: scanner.line(at: scanner.offset), path: path,
                                  reader: self, result: &result)
                    }
                case let .text(t):
                    text += t
                case let .end(name):
                    guard stack.last == name else {
                        throw XMLScanner.Failure(offset: scanner.offset, reason: "</\(name)> closes <\(stack.last ?? "nothing")>")
                    }
                    stack.removeLast()
                    state.end(name, text: text, parent: stack.last, line: scanner.line(at: scanner.offset), path: path,
                              reader: self, result: &result)
                    text = ""
                }
            }
            if stack.isEmpty && state.roots == 0 {
                result.fatal = TelemetryIssue(path: path, line: nil, reason: "no XML elements")
            } else if !stack.isEmpty {
                result.stopped = TelemetryIssue(path: path, line: scanner.line(at: bytes.count), field: stack.last,
                                                reason: "file ends inside <\(stack.last!)>; read up to there")
            }
        } catch let error as XMLScanner.Failure {
            let line = scanner.line(at: error.offset)
            let issue = TelemetryIssue(path: path, line: line, field: stack.last, reason: error.reason + "; read up to there")
            if state.roots == 0 { result.fatal = issue } else { result.stopped = issue }
        } catch {
            result.fatal = TelemetryIssue(path: path, line: nil, reason: "\(error)")
        }
        state.finish(into: &result, mapping: mapping)
    }

    /// The cell an LDN names, or nil for objects that are not cells.
    static func cell(ldn: String, elementName: String) -> CellID? {
        var gnb: String?
        var cell: String?
        for rdn in ldn.split(separator: ",") {
            guard let eq = rdn.firstIndex(of: "=") else { continue }
            let key = rdn[..<eq].trimmedSpaces
            let value = rdn[rdn.index(after: eq)...].trimmingSpaces
            switch key {
            case "ManagedElement": gnb = value
            case "MeContext": gnb = gnb ?? value
            case "NRCellDU", "NRCellCU", "NRCell": cell = "cell-\(value)"
            case "EUtranCellFDD", "EUtranCellTDD", "EUtranCell": cell = "eutran-\(value)"
            case "UtranCell": cell = "utran-\(value)"
            case "GsmCell", "GeranCell": cell = "geran-\(value)"
            default: break
            }
        }
        guard let cell else { return nil }
        return CellID(gnb: gnb ?? elementName, cell: cell, ldn: ldn)
    }

    fileprivate struct ParseState {
        var roots = 0
        var vendorName = ""
        var dnPrefix = ""
        var sender = ""
        var element = ""
        var fileBegin: Int64?
        // The measInfo being read.
        var end: Int64?
        var duration: Double?
        var types: [Int: String] = [:]
        var positional: [String] = []
        var infoLine = 0
        var periodProblemSaid = false
        // The measValue being read.
        var object: String?
        /// `<r p=…>` values in document order: (p, text, line).
        var results: [(p: Int, text: Substring, line: Int)] = []
        var positionalResults: [Substring] = []
        var suspect = false
        var valueLine = 0
        var rIndex: Int?
        var typeIndex: Int?
        var skippedObjects = 0
        var warnedOffset = false
        var cellCache: [String: CellID?] = [:]
        var samples: [SampleKey: CellSample] = [:]
        /// Sums of sub-counters of additive counters, per sample, for totals the file lacks.
        var subTotals: [SampleKey: [Kpi: Double]] = [:]
        var order: [SampleKey] = []

        struct SampleKey: Hashable {
            var cell: CellID
            var end: Int64
            var duration: Double
        }

        mutating func start(_ name: String, _ a: XMLScanner.Attributes, parent: String?, line: () -> Int, path: String,
                            result: inout TelemetryRead) {
            switch name {
            case "measCollecFile", "measDataFile": roots += 1
            case "fileHeader":
                vendorName = a["vendorName"] ?? ""
                dnPrefix = a["dnPrefix"] ?? ""
            case "fileSender": sender = a["localDn"] ?? a["senderName"] ?? ""
            case "measCollec", "measData":
                if parent == "fileHeader", let t = a["beginTime"] { fileBegin = TelemetryTime.parse(Substring(t))?.ns }
            case "managedElement", "measEntity": element = a["localDn"] ?? a["userLabel"] ?? ""
            case "measInfo":
                end = nil; duration = nil; types = [:]; positional = []; periodProblemSaid = false
                infoLine = line()
            case "granPeriod":
                duration = a["duration"].flatMap { TelemetryTime.duration(Substring($0)) }
                let parsed = a["endTime"].flatMap { TelemetryTime.parse(Substring($0)) }
                end = parsed?.ns
                if let parsed, !parsed.hadOffset, !warnedOffset {
                    warnedOffset = true
                    result.issues.append(TelemetryIssue(path: path, line: line(), field: "granPeriod endTime",
                                                        reason: "time without a UTC offset; read as UTC"))
                }

            case "measType": typeIndex = a["p"].flatMap { Int($0) }
            case "measValue":
                object = a["measObjLdn"] ?? ""
                results.removeAll(keepingCapacity: true); positionalResults = []; suspect = false
                valueLine = line()
            case "r": rIndex = a["p"].flatMap { Int($0) }
            default: break
            }
        }

        mutating func end(_ name: String, text: String, parent: String?, line: Int, path: String, reader: PMReader,
                          result: inout TelemetryRead) {
            switch name {
            case "measType":
                if let p = typeIndex { types[p] = text.trimmingSpaces } else { positional.append(text.trimmingSpaces) }
                typeIndex = nil
            case "measTypes":
                positional = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).map(String.init)
            case "r":
                results.append((rIndex ?? (results.count + 1), Substring(text), line))
                rIndex = nil
            case "measResults":
                positionalResults = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" })
            case "suspect":
                suspect = text.trimmingSpaces.lowercased() == "true" || text.trimmingSpaces == "1"
            case "measValue":
                closeValue(line: line, path: path, result: &result)
            default: break
            }
        }

        mutating func closeValue(line: Int, path: String, result: inout TelemetryRead) {
            guard let end, let duration, let ldn = object else {
                // Values without a period cannot be placed in time: counted and said, once per measInfo.
                let n = positionalResults.isEmpty ? results.count : positionalResults.count
                result.records += n
                result.skipped += n
                if !periodProblemSaid {
                    periodProblemSaid = true
                    result.issues.append(TelemetryIssue(path: path, line: infoLine, field: "measInfo",
                                                        reason: "no readable granPeriod; its \(n == 1 ? "value is" : "values are") left out"))
                }
                return
            }
            let elementName = Self.elementName(element.isEmpty ? sender : element, dnPrefix: dnPrefix)
            // Counter names by position: `p` attributes, else document order.
            var named: [(String, Substring, Int)] = []
            if !positionalResults.isEmpty {
                let names = positional.isEmpty ? types.keys.sorted().map { types[$0]! } : positional
                if names.count != positionalResults.count {
                    result.issues.append(TelemetryIssue(path: path, line: valueLine, field: "measResults",
                                                        reason: "\(positionalResults.count) results for \(names.count) measTypes; matched by position as far as both go"))
                }
                for (n, v) in zip(names, positionalResults) { named.append((n, v, valueLine)) }
            } else {
                named.reserveCapacity(results.count)
                for (p, v, rline) in results {
                    let name = types[p] ?? (p - 1 < positional.count && p >= 1 ? positional[p - 1] : nil)
                    guard let name else {
                        result.issues.append(TelemetryIssue(path: path, line: rline, field: "r p=\"\(p)\"",
                                                            reason: "no measType with this p"))
                        result.skipped += 1
                        continue
                    }
                    named.append((name, v, rline))
                }
            }
            // One file names the same few objects in every measInfo: parse each LDN once.
            let cached = cellCache[ldn]
            let cellOrNil = cached ?? PMReader.cell(ldn: ldn, elementName: elementName)
            if cached == nil { cellCache[ldn] = .some(cellOrNil) }
            guard let cell = cellOrNil else {
                skippedObjects += 1
                result.records += named.count
                return
            }
            let key = SampleKey(cell: cell, end: end, duration: duration)
            var sample = samples[key] ?? {
                order.append(key)
                return CellSample(cell: cell, start: end - Int64(duration * 1e9), end: end, source: "pm-xml", native: true)
            }()
            sample.suspect = sample.suspect || suspect
            for (name, raw, rline) in named {
                result.records += 1
                let text = raw.trimmedSpaces
                if text.isEmpty || text == "NIL" || text == "nil" { continue }
                var values: [Double] = []
                var bad = false
                if let v = Double(text) {
                    // The common case: one plain number.
                    if v.isFinite { values = [v] } else { bad = true }
                } else {
                    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
                        let t = part.trimmedSpaces
                        if t.isEmpty || t == "NIL" { values.append(.nan); continue }
                        guard let v = Double(t), v.isFinite else { bad = true; break }
                        values.append(v)
                    }
                }
                if bad {
                    result.skipped += 1
                    result.issues.append(TelemetryIssue(path: path, line: rline, field: name, reason: "value '\(text.prefix(40))' is not a number"))
                    continue
                }
                StandardCounters.apply(name: name, values: values, to: &sample, subTotals: &subTotals[key, default: [:]])
            }
            samples[key] = sample
        }

        /// The gNB name: the ManagedElement value of the element DN, else its last RDN value.
        static func elementName(_ dn: String, dnPrefix: String) -> String {
            for rdn in dn.split(separator: ",") where rdn.hasPrefix("ManagedElement=") {
                return String(rdn.dropFirst("ManagedElement=".count))
            }
            if let last = dn.split(separator: ",").last, let eq = last.firstIndex(of: "=") {
                return String(last[last.index(after: eq)...])
            }
            return dn.isEmpty ? (dnPrefix.isEmpty ? "unknown" : dnPrefix) : dn
        }

        mutating func finish(into result: inout TelemetryRead, mapping: VendorMapping) {
            for key in order {
                var s = samples[key]!
                for (kpi, total) in subTotals[key] ?? [:] where s.values[kpi] == nil { s.values[kpi] = total }
                mapping.apply(to: &s)
                result.samples.append(s)
            }
            if skippedObjects > 0 {
                result.notes.append("\(skippedObjects) measured objects are not cells (node, equipment, transport) and were left out")
            }
        }
    }
}

extension StringProtocol {
    var trimmingSpaces: String { String(trimmedSpaces) }

    /// The text without leading and trailing ASCII whitespace, without copying.
    var trimmedSpaces: Substring {
        let u = Substring(self).utf8
        func space(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x09 || b == 0x0D }
        guard let first = u.firstIndex(where: { !space($0) }) else { return Substring(self)[Substring(self).endIndex...] }
        let last = u.lastIndex(where: { !space($0) })!
        return Substring(Substring(self).utf8[first...last])
    }
}

/// TS 28.552 counter names → KPIs. Sub-counters (`.QoS`, `.SNSSAI`, `_Filter` instances,
/// `.PLMN`) are summed into a volume when the file has no total; other sub-counters are kept
/// under `vendor` only when they are not standard. Names of other vendors go to `vendor` as is.
enum StandardCounters {
    static let base: [String: (Kpi, Double)] = [
        "RRU.PrbUsedDl": (.prbUsedDl, 1), "RRU.PrbUsedUl": (.prbUsedUl, 1),
        "RRU.PrbAvailDl": (.prbAvailDl, 1), "RRU.PrbAvailUl": (.prbAvailUl, 1),
        "RRU.PrbTotDl": (.prbTotDlPct, 1), "RRU.PrbTotUl": (.prbTotUlPct, 1),
        "DRB.UEThpDl": (.ueThpDlMbps, 0.001), "DRB.UEThpUl": (.ueThpUlMbps, 0.001),
        "DRB.PdcpSduVolumeDL": (.volumeDlMbit, 1), "DRB.PdcpSduVolumeUL": (.volumeUlMbit, 1),
        "DRB.PdcpSduVolumeDL_Filter": (.volumeDlMbit, 1), "DRB.PdcpSduVolumeUL_Filter": (.volumeUlMbit, 1),
        "RRC.ConnMean": (.rrcConnMean, 1), "RRC.ConnMax": (.rrcConnMax, 1),
        "DRB.MeanActiveUeDl": (.activeUeDlMean, 1), "DRB.MeanActiveUeUl": (.activeUeUlMean, 1),
        "DRB.MeanActiveUeDl_Filter": (.activeUeDlMean, 1), "DRB.MeanActiveUeUl_Filter": (.activeUeUlMean, 1),
        "TB.TotNbrDl": (.tbDl, 1), "TB.TotNbrUl": (.tbUl, 1),
        // The 3GPP name list spells it "Toltal"; many implementations "Total". Both are read.
        "TB.ErrToltalNbrDl": (.tbErrDl, 1), "TB.ErrTotalNbrDl": (.tbErrDl, 1),
        "TB.ErrToltalNbrUl": (.tbErrUl, 1), "TB.ErrTotalNbrUl": (.tbErrUl, 1),
        "L1M.SS-RSRP": (.rsrpDbm, 1),
    ]

    static let standardFamilies = ["RRU.", "DRB.", "RRC.", "TB.", "L1M.", "MR.", "QosFlow.", "CARR.", "GTP.", "SM.", "MM.", "PEE.", "RACH."]

    static func apply(name: String, values: [Double], to s: inout CellSample, subTotals: inout [Kpi: Double]) {
        guard let first = values.first else { return }
        // Vendor counters (most of a vendor file) go straight to `vendor`.
        if name.hasPrefix("pm") || name.hasPrefix("VS.") || !name.contains(".") {
            s.vendor[name] = values
            return
        }
        if values.count == 1, let (kpi, scale) = base[name] {
            if !first.isNaN { s.values[kpi] = first * scale }
            return
        }
        // Distributions: CARR.WBCQIDist.BinX.BinY.BinZ (X = CQI, Y = rank, Z = CQI table),
        // CARR.PDSCHMCSDist.BinX.BinY.BinZ / PUSCH (X = rank, Y = MCS table, Z = MCS). Generators
        // that drop the rank and table bins, or write the whole histogram as one array, are read
        // too (table 1 when none is named).
        for (prefix, quantity) in [("CARR.WBCQIDist", Distribution.Quantity.cqi), ("CARR.PDSCHMCSDist", .mcsDl), ("CARR.PUSCHMCSDist", .mcsUl)]
        where name == prefix || name.hasPrefix(prefix + ".") {
            if name == prefix {
                for (i, v) in values.enumerated() where !v.isNaN && v > 0 && i < 32 { s.addToDistribution(quantity, table: 1, index: i, count: v) }
                return
            }
            let bins = name.dropFirst(prefix.count + 1).split(separator: ".").map { p in Int(p.hasPrefix("Bin") ? p.dropFirst(3) : p) }
            guard !bins.isEmpty, bins.count <= 3, bins.allSatisfy({ $0 != nil }), !first.isNaN else { s.vendor[name] = values; return }
            let b = bins.map { $0! }
            let index = quantity == .cqi ? b[0] : b[b.count - 1]
            let table = b.count == 3 ? (quantity == .cqi ? b[2] : b[1]) : 1
            guard (0...31).contains(index) else { return }
            s.addToDistribution(quantity, table: table, index: index, count: first)
            return
        }
        // Sub-counters of additive counters (per filter, QoS, S-NSSAI, `.1`) add up to the total,
        // used when the file has no total.
        if let dot = name.lastIndex(of: "."), !first.isNaN {
            var stem = String(name[..<dot])
            while base[stem] == nil, let d = stem.lastIndex(of: ".") { stem = String(stem[..<d]) }
            if let (kpi, scale) = base[stem], kpi.combine == .sum {
                subTotals[kpi, default: 0] += first * scale
                return
            }
        }
        if standardFamilies.contains(where: { name.hasPrefix($0) }) {
            // Standard counters we do not turn into KPIs (delays, handovers, energy) and
            // per-QoS/S-NSSAI sub-counters are not vendor counters; they are not kept.
            return
        }
        s.vendor[name] = values
    }
}

extension CellSample {
    public mutating func addToDistribution(_ q: Distribution.Quantity, table: Int, index: Int, count: Double) {
        if let i = distributions.firstIndex(where: { $0.quantity == q && $0.table == table }) {
            if distributions[i].counts.count <= index { distributions[i].counts += Array(repeating: 0, count: index + 1 - distributions[i].counts.count) }
            distributions[i].counts[index] += count
        } else {
            var counts = Array(repeating: 0.0, count: max(index + 1, q == .cqi ? 16 : 32))
            counts[index] = count
            distributions.append(Distribution(quantity: q, table: table, counts: counts))
        }
    }
}
