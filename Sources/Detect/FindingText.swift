/// Plain-language summaries built from a finding's evidence: the fallback when no language
/// model is configured, and the grounding the model's text is later checked against.
public enum FindingText {
    public static func template(_ f: Finding, format time: (Int64) -> String) -> String {
        let subject: String
        if let cell = f.scope.cell {
            subject = "Cell \(cell)"
        } else if let gnb = f.scope.gnb ?? f.scope.gnbAddress {
            subject = "gNB \(gnb)"
        } else {
            subject = "The network"
        }
        let when = "from \(time(f.start))" + (f.end.map { " to \(time($0))" } ?? ", still open")
        let facts = f.evidence.map { e -> String in
            let unit = e.unit.isEmpty ? "" : " " + e.unit
            let value = round(e.value) + unit
            if let base = e.baseline { return "\(label(e.kpi)) \(value) against its usual \(round(base))\(unit)" }
            return "\(label(e.kpi)) \(value)"
        }.joined(separator: ", ")
        switch f.findingClass {
        case .transportCongestion:
            var text = "\(subject): the transport path (N3/backhaul) looked congested \(when): \(facts)."
            if !f.missingInputs.isEmpty {
                text += " No radio KPIs of this gNB were in the input, so a radio cause is not ruled out."
            }
            return text
        case .prbSaturation:
            return "\(subject) ran out of radio resources \(when): \(facts)."
        case .lowSpectralEfficiency:
            return "\(subject) carried few bits per PRB \(when): \(facts)."
        case .uplinkInterference:
            return "\(subject) heard raised uplink interference \(when): \(facts)."
        }
    }

    static func label(_ kpi: String) -> String {
        switch kpi {
        case "tcp_rtt_ms_p50": "median TCP round-trip time"
        case "tcp_retrans_pct": "TCP retransmissions"
        case "gtpu_seq_loss_pct": "GTP-U sequence loss"
        case "prb_util_dl_pct": "downlink PRB utilisation"
        case "prb_util_dl_est_pct": "estimated downlink PRB load"
        case "ue_thp_dl_mbps": "downlink throughput per UE"
        case "cell_thp_per_active_ue_mbps": "cell throughput per active UE"
        case "cell_thp_dl_mbps": "downlink cell throughput"
        case "active_ue_dl_mean": "users with downlink data"
        case "pdcch_failures": "PDCCH allocation failures"
        case "dl_sdu_drops": "downlink SDUs dropped for a full buffer"
        case "se_used_dl_bps_hz": "spectral efficiency on used PRBs"
        case "mcs_dl_se_bps_hz": "efficiency of the downlink MCS"
        case "cqi_mean": "mean CQI"
        case "bler_dl_pct": "downlink BLER"
        case "ul_ni_dbm_per_prb": "uplink noise and interference per PRB"
        case "pusch_sinr_db": "PUSCH SINR"
        case "power_headroom_db": "UE power headroom"
        default: kpi
        }
    }

    static func round(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int64(r)) : String(r)
    }
}
