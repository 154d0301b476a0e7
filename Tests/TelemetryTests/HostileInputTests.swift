import Foundation
import Telemetry
import Testing
import Windows

/// Numbers no network element writes but a damaged or hostile file can: each reader must read
/// around them without trapping (integer conversions of huge, infinite or negative values).
@Suite("Hostile numbers")
struct HostileInputTests {
    @Test("PM: a huge period, a year out of range, an absurd PRB count")
    func pm() {
        let text = """
        <measCollecFile xmlns="http://www.3gpp.org/ftp/specs/archive/32_series/32.435#measCollec">
        <fileHeader fileFormatVersion="32.435 V10.0"><fileSender localDn="ManagedElement=g"/><measCollec beginTime="9999-12-31T00:00:00Z"/></fileHeader>
        <measData><managedElement localDn="ManagedElement=g"/>
        <measInfo><granPeriod duration="PT99999999999999999999S" endTime="2026-11-29T05:15:00Z"/><measTypes>RRU.PrbUsedDl</measTypes>
        <measValue measObjLdn="ManagedElement=g,NRCellDU=1"><measResults>5</measResults></measValue></measInfo>
        <measInfo><granPeriod duration="PT900S" endTime="9999-12-31T00:00:00Z"/><measTypes>RRU.PrbUsedDl</measTypes>
        <measValue measObjLdn="ManagedElement=g,NRCellDU=1"><measResults>5</measResults></measValue></measInfo>
        <measInfo><granPeriod duration="PT900S" endTime="2026-11-29T05:15:00Z"/><measTypes>RRU.PrbUsedDl RRU.PrbAvailDl CARR.WBCQIDist.Bin99999999999999999999.Bin1.Bin1</measTypes>
        <measValue measObjLdn="ManagedElement=g,NRCellDU=1"><measResults>5 1e30 3</measResults></measValue></measInfo>
        </measData></measCollecFile>
        """
        var read = TelemetryRead(kind: "pm-xml")
        PMReader().read(bytes: Array(text.utf8), path: "h.xml", into: &read)
        #expect(read.samples.count == 1)
        #expect(read.skipped == 2 && read.issues.filter { $0.field == "measInfo" }.count == 2)
        var b = CellWindowBuilder(windowLength: 10_000_000_000)
        for s in read.samples { b.add(s) }
        let w = b.finish()
        #expect(w.count == 1 && w[0]["n_rb"] == nil)
    }

    @Test("OAI: configuration and MCS-table numbers out of range are ignored")
    func oai() {
        let text = """
        [GNB_APP]   F1AP: gNB idx 0 gNB_DU_id -5, cellID -1
        [PHY]   Init: N_RB_DL 99999999999999999999
        [PHY]   fp->scs=0
        [NR_MAC]   TDD period configuration: slot 0 is UPLINK
        [NR_MAC]   Frame.Slot 0.0
        UE RNTI 0001 CU-UE-ID 1 in-sync PH 1e999 dB PCMAX 20 dBm
        UE 0001: dlsch_rounds 10/0/0/0, dlsch_errors 0, pucch0_DTX 0, BLER 0.1 MCS (9223372036854775807) 9
        UE 0001: MAC:    TX 99999999999999999999999999999 RX 0 bytes
        [NR_MAC]   Frame.Slot 128.0
        UE RNTI 0001 CU-UE-ID 1 in-sync PH 20 dB PCMAX 20 dBm
        UE 0001: dlsch_rounds 20/0/0/0, dlsch_errors 0, pucch0_DTX 0, BLER 0.1 MCS (1) 9
        UE 0001: MAC:    TX 2000 RX 0 bytes
        """
        var r = TelemetryRead(kind: "oai-log")
        OAILogReader(start: 0).read(bytes: Array(text.utf8), path: "h.log", into: &r)
        #expect(r.samples.count == 2)
        #expect(r.samples[0].config.nRB == nil && r.samples[0].config.scsKHz == nil)
        #expect(r.samples[0].cell.cell == "nci-unknown")
        var b = CellWindowBuilder(windowLength: 1_280_000_000)
        for s in r.samples { b.add(s) }
        #expect(b.finish().allSatisfy { $0.values.values.allSatisfy(\.isFinite) })
    }

    @Test("KPI tables and srsRAN: millisecond and infinite times, infinite values")
    func tablesAndReports() throws {
        let m = try KpiTableMapping.parse("time_column: t\nwindow_s: 60\ncell_constant: a\ncolumns:\n  - {name: v, kpi: prb_util_dl_pct}\n", path: "m")
        var r = TelemetryRead(kind: "kpi-table")
        KpiTableReader.read(bytes: Array("t,v\n1700000000123,5\ninf,6\n1e300,7\n1700000000,inf\n".utf8), path: "h.csv", mapping: m, into: &r)
        // Milliseconds since the epoch read as such; the row's time is its end (time_is default).
        #expect(r.samples.count == 2 && r.samples[0].end == 1_700_000_000_123_000_000)
        #expect(r.samples[1].values[.prbUtilDlPct] == nil && r.issues.contains { $0.field == "v" })
        #expect(r.skipped == 2)
        var reader = SrsRANReader()
        for text in [#"{"timestamp":1713282371123,"ue_list":[]}"#, #"{"timestamp":1e300,"ue_list":[]}"#,
                     #"{"timestamp":1795928401.0,"ue_list":[{"pci":1e300,"cqi":"nan","dl_brate":"inf","dl_nof_ok":1e400}]}"#] {
            let outcome = text.utf8.withContiguousStorageIfAvailable { reader.ingest(UnsafeRawBufferPointer($0)) }!
            if case .samples(let samples) = outcome {
                #expect(samples.allSatisfy { $0.values.values.allSatisfy(\.isFinite) })
            }
        }
    }
}
