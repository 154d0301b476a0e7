import Foundation
import PropertyBased
import Telemetry
import Testing

/// TS 32.435 / 28.532 PM files: hand-written files with known values in both layouts, the real
/// files in fixtures/ checked against xmllint, and damaged files.
@Suite("PM XML reader")
struct PMReaderTests {
    static let ns435 = "http://www.3gpp.org/ftp/specs/archive/32_series/32.435#measCollec"

    /// The reference sheet's example, with a second measInfo in the measTypes/measResults form.
    static let example = """
    <?xml version="1.0" encoding="UTF-8"?>
    <?xml-stylesheet type="text/xsl" href="MeasDataCollection.xsl"?>
    <measCollecFile xmlns="\(ns435)">
      <fileHeader fileFormatVersion="32.435 V10.0" vendorName="ExampleVendor" dnPrefix="SubNetwork=North">
        <fileSender localDn="ManagedElement=gnb-0042" elementType="gNB"/>
        <measCollec beginTime="2026-11-29T05:00:00+00:00"/>
      </fileHeader>
      <measData>
        <managedElement localDn="ManagedElement=gnb-0042" swVersion="R24.1"/>
        <measInfo measInfoId="NRCellDU-PRB">
          <job jobId="nocturne-15min"/>
          <granPeriod duration="PT900S" endTime="2026-11-29T05:15:00+00:00"/>
          <repPeriod duration="PT900S"/>
          <measType p="1">RRU.PrbUsedDl</measType>
          <measType p="2">RRU.PrbAvailDl</measType>
          <measType p="3">RRU.PrbTotDl</measType>
          <measType p="4">DRB.UEThpDl</measType>
          <measValue measObjLdn="ManagedElement=gnb-0042,GNBDUFunction=1,NRCellDU=1">
            <r p="1">201</r><r p="2">273</r><r p="3">77</r><r p="4">18450</r>
          </measValue>
          <measValue measObjLdn="ManagedElement=gnb-0042,GNBDUFunction=1,NRCellDU=2">
            <r p="1">12</r><r p="2">273</r><r p="3">6</r><r p="4">NIL</r>
            <suspect>true</suspect>
          </measValue>
        </measInfo>
        <measInfo measInfoId="NRCellCU-volume">
          <granPeriod duration="PT15M" endTime="2026-11-29T05:15:00Z"/>
          <measTypes>DRB.PdcpSduVolumeDL_Filter.1 DRB.PdcpSduVolumeDL_Filter.2 RRC.ConnMean CARR.WBCQIDist.Bin10.Bin1.Bin1 CARR.WBCQIDist.Bin12.Bin1.Bin1 pmVendorThing</measTypes>
          <measValue measObjLdn="ManagedElement=gnb-0042,GNBCUCPFunction=1,NRCellCU=1">
            <measResults>1200 300 17.5 30 10 1,2,NIL</measResults>
          </measValue>
          <measValue measObjLdn="ManagedElement=gnb-0042,Equipment=1">
            <measResults>1 2 3 4 5 6</measResults>
          </measValue>
        </measInfo>
      </measData>
      <fileFooter><measCollec endTime="2026-11-29T05:15:00+00:00"/></fileFooter>
    </measCollecFile>
    """

    /// xmllint, like any strict parser, rejects a processing instruction before the XML
    /// declaration (the Keysight file has one): give it a copy without what precedes `<?xml`.
    static func forXmllint(_ path: String) throws -> String {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let decl = text.range(of: "<?xml "), decl.lowerBound != text.startIndex else { return path }
        return Paths.temporaryFile("strict.xml", String(text[decl.lowerBound...]))
    }

    @Test("both layouts, NIL, suspect, sub-counters, CQI bins and vendor arrays")
    func example() throws {
        let path = Paths.temporaryFile("A20261129.0500+0000-0515+0000_gnb-0042.xml", Self.example)
        let read = PMReader().read(path: path)
        #expect(read.fatal == nil)
        #expect(read.samples.count == 2)
        let c1 = try #require(read.sample("gnb-0042/cell-1"))
        #expect(c1.start == ns("2026-11-29T05:00:00Z") && c1.end == ns("2026-11-29T05:15:00Z"))
        #expect(c1.values[.prbUsedDl] == 201 && c1.values[.prbAvailDl] == 273 && c1.values[.prbTotDlPct] == 77)
        #expect(c1.values[.ueThpDlMbps] == 18.45)
        // The NRCellCU of the same id is the same cell: its counters join the DU's.
        #expect(c1.values[.volumeDlMbit] == 1500)
        #expect(c1.values[.rrcConnMean] == 17.5)
        let cqi = try #require(c1.distributions.first { $0.quantity == .cqi })
        #expect(cqi.table == 1 && cqi.counts[10] == 30 && cqi.counts[12] == 10)
        #expect(c1.vendor["pmVendorThing"]?.count == 3)
        #expect(c1.vendor["pmVendorThing"]?[2].isNaN == true)
        #expect(!c1.suspect)
        let c2 = try #require(read.sample("gnb-0042/cell-2"))
        #expect(c2.suspect)
        #expect(c2.values[.ueThpDlMbps] == nil) // NIL is missing, never 0
        #expect(read.records == 8 + 12)
        #expect(read.notes.contains { $0.contains("1 measured objects are not cells") })
        #expect(read.issues.isEmpty)
    }

    @Test("other generators' forms: histograms as arrays or with fewer bins, `.X` TB sub-counters")
    func otherForms() throws {
        let text = """
        <measCollecFile xmlns="\(Self.ns435)"><fileHeader fileFormatVersion="32.435 V10.0"><fileSender localDn="ManagedElement=g1"/>
        <measCollec beginTime="2026-11-29T05:00:00Z"/></fileHeader><measData><managedElement localDn="ManagedElement=g1"/>
        <measInfo><granPeriod duration="PT60S" endTime="2026-11-29T05:01:00Z"/>
        <measTypes>CARR.WBCQIDist CARR.PDSCHMCSDist.Bin20 TB.TotNbrDl.1 TB.TotNbrDl.2 TB.ErrTotalNbrDl.1 DRB.UEThpDl.QOS5</measTypes>
        <measValue measObjLdn="ManagedElement=g1,GNBDUFunction=1,NRCellDU=4"><measResults>0,0,0,0,0,0,0,0,10,20,10,0,0,0,0,0 7 400 600 50 3000</measResults></measValue>
        </measInfo></measData></measCollecFile>
        """
        var read = TelemetryRead(kind: "pm-xml")
        PMReader().read(bytes: Array(text.utf8), path: "other.xml", into: &read)
        let s = try #require(read.sample("g1/cell-4"))
        #expect(s.distributions.first { $0.quantity == .cqi }?.counts[9] == 20)
        #expect(s.distributions.first { $0.quantity == .mcsDl }.map { ($0.table, $0.counts[20]) }! == (1, 7))
        #expect(s.values[.tbDl] == 1000 && s.values[.tbErrDl] == 50)
        #expect(s.values[.ueThpDlMbps] == nil) // a per-QoS mean is not the cell's mean
    }

    @Test("28.532 measDataFile with the stylesheet before the declaration (Keysight)")
    func keysight() throws {
        let file = try #require(try FileManager.default.contentsOfDirectory(atPath: Paths.telemetry + "/pm").first { $0.hasPrefix("D2024") })
        let path = Paths.telemetry + "/pm/" + file
        let read = PMReader().read(path: path)
        #expect(read.fatal == nil)
        let cell = try #require(read.sample("GNB-1/cell-1"))
        #expect(cell.end - cell.start == 60_000_000_000)
        #expect(cell.values[.prbAvailDl] != nil)
        // Independent check: xmllint reads the same value for RRU.PrbAvailDl of NRCellDU=1.
        if let xmllint = Tool.which("xmllint") {
            let path = try Self.forXmllint(path)
            let p = try Tool.run(xmllint, ["--xpath",
                "string(//*[local-name()='measInfo'][*[local-name()='measType'][.='RRU.PrbAvailDl']]/*[local-name()='measType'][.='RRU.PrbAvailDl']/@p)", path]).trimmingCharacters(in: .whitespacesAndNewlines)
            let v = try Tool.run(xmllint, ["--xpath",
                "string(//*[local-name()='measInfo'][*[local-name()='measType'][.='RRU.PrbAvailDl']]/*[local-name()='measValue'][contains(@measObjLdn,'NRCellDU=1')]/*[local-name()='r'][@p='\(p)'])", path])
            #expect(Double(v.trimmingCharacters(in: .whitespacesAndNewlines)) == cell.values[.prbAvailDl])
        }
    }

    @Test("every value of the real files is read: counts agree with xmllint")
    func countsAgreeWithXmllint() throws {
        guard let xmllint = Tool.which("xmllint") else {
            Issue.record("xmllint missing: make test installs libxml2-utils")
            return
        }
        var files = try FileManager.default.contentsOfDirectory(atPath: Paths.telemetry + "/pm")
            .filter { $0.hasSuffix(".xml") }.map { Paths.telemetry + "/pm/" + $0 }
        if let shared = Paths.sharedData {
            files += try FileManager.default.subpathsOfDirectory(atPath: shared + "/pm-xml")
                .filter { $0.hasSuffix(".xml") && !$0.contains("no_") }.map { shared + "/pm-xml/" + $0 }
        }
        for path in files {
            let read = PMReader().read(path: path)
            #expect(read.fatal == nil, "\(path): \(read.fatal?.description ?? "")")
            let path = try Self.forXmllint(path)
            // <r> elements plus the tokens of every <measResults>.
            let rCount = try Tool.run(xmllint, ["--xpath", "count(//*[local-name()='measValue']/*[local-name()='r'])", path])
            let results = try Tool.run(xmllint, ["--xpath", "//*[local-name()='measResults']/text()", path])
            let tokens = results.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).count
            let expected = (Int(Double(rCount.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1)) + tokens
            #expect(read.records + read.skipped == expected, "\(path)")
        }
    }

    @Test("a gzip file reads as its plain twin")
    func gzip() throws {
        let plain = PMReader().read(path: Paths.telemetry + "/pm/C20190329.0000-0015.xml")
        let zipped = PMReader().read(path: Paths.telemetry + "/pm/C20190329.0000-0015.xml.gz")
        #expect(zipped.fatal == nil && plain.fatal == nil)
        #expect(zipped.records == plain.records && zipped.records > 0)
        #expect(zipped.samples.map(\.cell.name) == plain.samples.map(\.cell.name))
        #expect(zipped.samples.map(\.vendor) == plain.samples.map(\.vendor))
    }

    @Test("the Ericsson RadioNode file: NR and LTE cells, vendor counters kept")
    func ericsson() throws {
        let read = PMReader().read(path: Paths.telemetry + "/pm/A20220418.1900-1915_seliitdus00487.xml")
        #expect(read.fatal == nil)
        let names = Set(read.samples.map(\.cell.name))
        #expect(names.isSuperset(of: ["seliitdus00487/cell-1", "seliitdus00487/cell-2", "seliitdus00487/cell-31",
                                      "seliitdus00487/eutran-1"]))
        let c1 = try #require(read.sample("seliitdus00487/cell-1"))
        #expect(c1.vendor["pmRadioRecInterferencePowerDistr"] != nil)
        // Distributions named in the default mapping become CQI/MCS histograms.
        #expect(c1.distributions.isEmpty || c1.distributions.allSatisfy { $0.counts.allSatisfy { $0 >= 0 } })
        #expect(c1.end == ns("2022-04-18T19:15:00Z"))
    }

    @Test("a vendor mapping gives counters meaning: ratios, bins and per-PRB power")
    func vendorMapping() throws {
        let yaml = """
        counters:
          - {counter: VS.Sum, kpi: active_ue_dl_mean, divide_by: VS.Samp}
          - {counter: VS.Ni, kpi: ul_ni_dbm_per_prb, bins: [-120, -110, -100]}
          - {counter: VS.Pwr, kpi: pusch_sinr_db, divide_by: VS.PwrN, power_unit_mw: 1.0e-12}
        """
        let mapping = try VendorMapping.parse(yaml, path: "test.yaml")
        var s = CellSample(cell: CellID(gnb: "g", cell: "cell-1", ldn: "x"), start: 0, end: 900_000_000_000, source: "pm-xml", native: true)
        s.vendor = ["VS.Sum": [90], "VS.Samp": [30], "VS.Ni": [1, 2, 1], "VS.Pwr": [4, 0, 8], "VS.PwrN": [2, 0, 4]]
        mapping.apply(to: &s)
        #expect(s.values[.activeUeDlMean] == 3)
        #expect(s.values[.ulNiDbmPerPrb] == -110)
        // Per element 4/2 = 2 and 8/4 = 2 (× 1e-12 mW) → 2e-12 mW = −117 dBm.
        #expect(abs(s.values[.puschSinrDb]! - 10 * log10(2e-12)) < 1e-9)
        #expect(throws: TelemetryIssue.self) { try VendorMapping.parse("counters:\n  - {counter: X, kpi: no_such_kpi}\n", path: "bad.yaml") }
        #expect(VendorMapping.default.entries.count > 10)
    }

    @Test("cut and garbled files: no crash, what precedes the damage is kept, issues name file and line")
    func damaged() async throws {
        let bytes = Array(Self.example.utf8)
        await propertyCheck(count: 400, input: Gen.int(in: 0...(bytes.count - 1)), Gen.int(in: 0...255), Gen.int(in: 0...1)) { cut, byte, mode in
            var damaged = bytes
            if mode == 0 { damaged = Array(bytes[..<cut]) } else { damaged[cut] = UInt8(byte) }
            var read = TelemetryRead(kind: "pm-xml")
            PMReader().read(bytes: damaged, path: "damaged.xml", into: &read)
            for issue in read.issues + [read.fatal, read.stopped].compactMap({ $0 }) {
                #expect(issue.description.hasPrefix("damaged.xml") || issue.path.isEmpty)
            }
            if let fatal = read.fatal { #expect(!fatal.reason.isEmpty) }
            #expect(read.records <= 20)
        }
        // A file cut inside the second measInfo keeps the first measInfo's cells.
        let cut = Array(bytes[..<(Self.example.range(of: "RRC.ConnMean")!.lowerBound.utf16Offset(in: Self.example))])
        var read = TelemetryRead(kind: "pm-xml")
        PMReader().read(bytes: cut, path: "cut.xml", into: &read)
        #expect(read.fatal == nil)
        #expect(read.sample("gnb-0042/cell-1")?.values[.prbUsedDl] == 201)
        #expect(read.stopped?.line != nil && read.stopped?.reason.contains("read up to there") == true)
        // A value that is not a number names its line and counter.
        let bad = Self.example.replacingOccurrences(of: "<r p=\"3\">77</r>", with: "<r p=\"3\">7x7</r>")
        var badRead = TelemetryRead(kind: "pm-xml")
        PMReader().read(bytes: Array(bad.utf8), path: "bad.xml", into: &badRead)
        let issue = try #require(badRead.issues.first { $0.field == "RRU.PrbTotDl" })
        #expect(issue.line == 19)
        #expect(badRead.skipped == 1)
    }

    @Test("not a PM file and a cut gzip file")
    func notPM() throws {
        var read = TelemetryRead(kind: "pm-xml")
        PMReader().read(bytes: Array("<html><body/></html>".utf8), path: "page.html", into: &read)
        #expect(read.fatal?.reason.contains("not a TS 32.435") == true)
        let gz = try Data(contentsOf: URL(fileURLWithPath: Paths.telemetry + "/pm/C20190329.0000-0015.xml.gz"))
        let cutPath = Paths.temporaryFile("cut.xml.gz", bytes: Array(gz.prefix(gz.count / 2)))
        let cutRead = PMReader().read(path: cutPath)
        #expect(cutRead.stopped != nil || cutRead.fatal != nil)
    }

    @Test("xs:dateTime and xs:duration forms")
    func times() {
        #expect(TelemetryTime.parse("2000-03-01T14:14:30+02:00")?.ns == ns("2000-03-01T12:14:30Z"))
        #expect(TelemetryTime.parse("2000-03-01T14:14:30+0200")?.ns == ns("2000-03-01T12:14:30Z"))
        #expect(TelemetryTime.parse("2026-11-29T05:00:01.250")?.hadOffset == false)
        #expect(TelemetryTime.parse("2026-11-29T05:00:01.250Z")?.ns == ns("2026-11-29T05:00:01Z") + 250_000_000)
        #expect(TelemetryTime.parse("2026-13-29T05:00:00Z") == nil)
        #expect(TelemetryTime.duration("PT900S") == 900)
        #expect(TelemetryTime.duration("PT15M") == 900)
        #expect(TelemetryTime.duration("P1DT1H") == 90000)
        #expect(TelemetryTime.duration("900") == nil)
        // Against Foundation's ISO 8601 parser.
        let f = ISO8601DateFormatter()
        for text in ["2024-12-11T09:34:23+00:00", "1999-12-31T23:59:59-05:30", "2030-02-28T00:00:00Z"] {
            #expect(TelemetryTime.parse(Substring(text))!.ns == Int64(f.date(from: text)!.timeIntervalSince1970) * 1_000_000_000)
        }
    }
}
