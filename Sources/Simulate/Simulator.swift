import Foundation

/// One cell over one PM granularity period: the counters the PM file, the KPI table and the
/// physics tests share.
public struct CellPeriod: Sendable {
    public var cell: String
    public var gnb: String
    public var cellID: Int
    /// ns since the epoch, half-open.
    public var start: Int64
    public var end: Int64
    public var nRB: Int
    public var prbUsedDl = 0.0, prbUsedUl = 0.0
    /// Σ served bits and Σ seconds with data of UE bursts (TS 28.552 ThpVol / ThpTime).
    public var thpVolDl = 0.0, thpTimeDl = 0.0, thpVolUl = 0.0, thpTimeUl = 0.0
    public var volumeDlBits = 0.0, volumeUlBits = 0.0
    public var cqiCounts = [Double](repeating: 0, count: 16)
    public var mcsCounts = [Double](repeating: 0, count: 29)
    public var tbDl = 0.0, tbErrDl = 0.0
    public var niSum = 0.0, sinrSum = 0.0, ulSamples = 0.0
    public var rrcSum = 0.0, activeSum = 0.0, seconds = 0.0
    public var bufferStartBits = 0.0, bufferEndBits = 0.0
    /// Seconds in which the PRBs ran out before every user got what it had waiting.
    public var exhaustedSeconds = 0.0
    public var suspect = false
    /// The largest DL throughput of any second, bit/s (for the TS 38.306 check).
    public var peakSecondDlBits = 0.0

    public var prbUtilDlPct: Double { seconds > 0 ? 100 * prbUsedDl / seconds / Double(nRB) : 0 }
    public var ueThpDlMbps: Double? { thpTimeDl > 0 ? thpVolDl / thpTimeDl / 1e6 : nil }
    public var cellThpDlMbps: Double { seconds > 0 ? volumeDlBits / seconds / 1e6 : 0 }
}

/// One second of a cell inside the capture window: what its sampled users got and what the
/// transport path did, for the packet-level capture.
public struct CaptureSecond: Sendable {
    public var second: Int
    /// DL bits served to each sampled user this second.
    public var servedBits: [Double]
    public var prbUtil: Double
    /// Users left with data: the gNB queue, which adds delay.
    public var backlogged: Int
    /// Share of the offered traffic the backhaul could not carry (0 when it kept up).
    public var backhaulExcess: Double
    public var cqi: [Int]
    public var mcs: [Int]
}

/// The run's results: per-cell periods in time order, the labelled episodes, and the
/// per-second state of the captured cells.
public struct SimulationResult: Sendable {
    public var periods: [CellPeriod]
    public var labels: [Label]
    public var captureSeconds: [String: [CaptureSecond]] = [:]
}

public struct Label: Sendable, Equatable {
    public var episode: String
    public var findingClass: String
    public var direction: String?
    public var cell: String?
    public var gnb: String
    public var gnbAddress: String?
    public var start: Int64
    public var end: Int64
    public var cause: String
    public var severity: String
}

/// A seeded, deterministic simulation of the scenario's cells, one second at a time: users'
/// SINR (position, shadowing, events) → CQI → MCS and rank → bits per PRB; diurnal demand in a mix of
/// bulk downloads, video, web and uploads,
/// scheduled by water-filling the PRB budget (every user gets what it needs or an equal share
/// of what is left, as a proportional-fair scheduler does on average); buffers grow when demand
/// exceeds capacity.
public struct Simulator {
    public let scenario: Scenario

    public init(scenario: Scenario) { self.scenario = scenario }

    /// Runs the scenario; with `telemetryTo`, streams one srsRAN metrics datagram per cell and
    /// second into that pcap as it goes (a day of many cells does not fit in memory).
    public func run(telemetryTo telemetryPath: String? = nil) throws -> SimulationResult {
        let stream = try telemetryPath.map { try TelemetryStream(path: $0) }
        var random = Random(seed: scenario.seed)
        var models: [CellModel] = []
        for site in scenario.sites { for cell in site.cells { models.append(CellModel(site: site, cell: cell, mix: scenario.trafficMix, random: &random)) } }
        let rop = scenario.granularityS
        var periods: [CellPeriod] = []
        var current: [CellPeriod] = models.map { period($0, index: 0) }
        let seconds = Int(scenario.durationS)
        var captured: [String: [CaptureSecond]] = [:]
        let startOfDay = Double((scenario.start / 1_000_000_000) % 86400)
        for t in 0..<seconds {
            let index = Int(Double(t) / rop)
            if t > 0 && Double(t).truncatingRemainder(dividingBy: rop) == 0 {
                for i in models.indices { current[i].bufferEndBits = models[i].buffer.reduce(0, +) }
                periods += current
                current = models.map { period($0, index: index) }
                for i in models.indices { current[i].bufferStartBits = models[i].buffer.reduce(0, +) }
            }
            let load = diurnal(secondOfDay: (startOfDay + Double(t)).truncatingRemainder(dividingBy: 86400))
            for i in models.indices {
                let record = step(&models[i], &current[i], second: Double(t), load: load, random: &random)
                if let stream, let r = record, let k = scenario.telemetryUEsPerReport {
                    var report = r
                    report.servedBits = Array(r.servedBits.prefix(k))
                    let time = (scenario.start + Int64(t + 1) * 1_000_000_000) / 1000 + Int64(i) * 10
                    try stream.add(Packets.udpPacket(time, Packets.ipv4(models[i].site.address), [10, 20, 253, 1], 50_000, 55555,
                                                     Array(Packets.metricsReport(report, cell: models[i].cell, epoch: time).utf8)))
                }
                if let c = scenario.capture, c.sites.contains(models[i].site.name),
                   Double(t) >= c.start, Double(t) < c.start + c.duration, var r = record {
                    r.second = t
                    r.servedBits = Array(r.servedBits.prefix(c.uesPerCell))
                    captured[models[i].name, default: []].append(r)
                }
            }
        }
        for i in models.indices { current[i].bufferEndBits = models[i].buffer.reduce(0, +) }
        try stream?.close()
        periods += current
        periods.sort { ($0.start, $0.cell) < ($1.start, $1.cell) }
        return SimulationResult(periods: periods, labels: labels(periods), captureSeconds: captured)
    }

    func period(_ m: CellModel, index: Int) -> CellPeriod {
        let start = scenario.start + Int64(Double(index) * scenario.granularityS * 1e9)
        return CellPeriod(cell: m.name, gnb: m.site.name, cellID: m.cell.id, start: start,
                          end: start + Int64(scenario.granularityS * 1e9), nRB: m.cell.nRB)
    }

    /// The events acting on a cell at second `t`.
    struct Effects {
        var demand = 1.0, sinr = 0.0, ulRise = 0.0, extraUEs = 0.0
        var down = false, heavyUser = false
        var backhaulMbps: Double?
    }

    func effects(_ m: CellModel, at t: Double) -> Effects {
        var e = Effects()
        for ev in scenario.events where t >= ev.start && t < ev.start + ev.duration {
            guard ev.target == m.name || ev.target == m.site.name else { continue }
            switch ev.kind {
            case .demandSpike: e.demand *= ev.magnitude
            case .neighbourOutage: e.demand *= ev.magnitude; e.extraUEs += Double(m.cell.ues) * (ev.magnitude - 1)
            case .coverageHole, .tiltFault, .shortDip: e.sinr -= ev.magnitude
            case .interferer: e.ulRise += ev.magnitude
            case .backhaulDrop: e.backhaulMbps = ev.magnitude
            case .busyHealthy: e.heavyUser = true
            case .cellRestart: e.down = true
            }
        }
        return e
    }

    @discardableResult
    func step(_ m: inout CellModel, _ p: inout CellPeriod, second t: Double, load: Double, random: inout Random) -> CaptureSecond? {
        let e = effects(m, at: t)
        p.seconds += 1
        if e.down {
            // The cell is off: no users, no traffic; the period is marked suspect.
            p.suspect = true
            for u in m.buffer.indices { m.buffer[u] = 0 }
            m.ulBuffer = 0
            return nil
        }
        let n = m.cell.ues
        let nRB = Double(m.cell.nRB)
        var need = [Double](repeating: 0, count: n)
        var perPRB = [Double](repeating: 0, count: n)
        var offered = [Double](repeating: 0, count: n)
        var cqis = [Int](repeating: 0, count: n)
        var mcss = [Int](repeating: 0, count: n)
        // Link adaptation aims at 10 % BLER; it lags a SINR that falls within the second, and
        // users at the cell edge (CQI 3 or less) miss more.
        var bler = [Double](repeating: 0.1, count: n)
        // The backhaul share of this cell caps what can reach the gNB at all.
        let cellsOnSite = Double(m.site.cells.count)
        let backhaulBits = (e.backhaulMbps ?? m.site.backhaulMbps) * 1e6 / cellsOnSite
        var offeredTotal = 0.0, ulOffered = 0.0
        for u in 0..<n {
            // Users move about their usual place (drift: τ ≈ 10 min, σ = 2 dB) and fade
            // (shadowing: τ ≈ 50 s, σ = 3 dB).
            m.drift[u] = 0.99833 * m.drift[u] + 0.0578 * 2 * random.normal()
            m.shadow[u] = 0.98 * m.shadow[u] + 0.199 * 3 * random.normal()
            var sinr = m.meanSINR[u] + m.drift[u] + m.shadow[u] + e.sinr
            if e.heavyUser && u == 0 { sinr = max(sinr, 22) }
            cqis[u] = LinkTables.cqi(sinr: sinr)
            mcss[u] = LinkTables.mcs(cqi: cqis[u])
            bler[u] = min(0.3, 0.1 + 0.02 * max(0, m.lastSINR[u] - sinr) + (cqis[u] <= 3 ? 0.05 : 0) + (e.sinr < 0 ? 0.08 : 0))
            m.lastSINR[u] = sinr
            perPRB[u] = m.dlBitsPerPRBPerSE * LinkTables.efficiency(mcs: mcss[u]) * Double(LinkTables.rank(sinr: sinr, layers: m.cell.layers)) * (1 - bler[u])
            let demand = m.offer(u, mean: m.demandPerUE * m.weight[u] * load * e.demand, second: Int(t), random: &random)
            offered[u] = demand.dl
            ulOffered += demand.ul
            if e.heavyUser && u == 0 { offered[u] = 0.95 * nRB * perPRB[u] }
            offeredTotal += offered[u]
        }
        var backhaulExcess = 0.0
        if offeredTotal > backhaulBits {
            let scale = backhaulBits / offeredTotal
            backhaulExcess = 1 - scale
            for u in 0..<n { offered[u] *= scale }
        }
        for u in 0..<n {
            let cap = e.heavyUser && u == 0 ? Double.infinity : m.rateCap[u]
            need[u] = min(m.buffer[u] + offered[u], cap) / max(perPRB[u], 1)
        }
        // Water-filling: smallest needs first, each gets its need or an equal share of the rest.
        var alloc = [Double](repeating: 0, count: n)
        var left = nRB
        let order = (0..<n).filter { need[$0] > 0 }.sorted { need[$0] < need[$1] }
        for (k, u) in order.enumerated() {
            let share = left / Double(order.count - k)
            alloc[u] = min(need[u], share)
            left -= alloc[u]
        }
        var used = 0.0, served = 0.0, active = 0.0, secondBits = 0.0
        var servedPerUE = [Double](repeating: 0, count: n)
        // Users still backlogged after this second; a proportional-fair scheduler gives a user
        // with a fresh burst about an equal turn with them in time.
        let backlogged = Double((0..<n).filter { need[$0] > 0 && alloc[$0] < need[$0] - 1e-9 }.count)
        let dlSlots = m.slotsPerSecond * m.cell.dlShare
        for u in 0..<n where need[u] > 0 {
            let bits = alloc[u] * perPRB[u]
            let pending = m.buffer[u] + offered[u]
            let drained = bits >= pending - 1e-6
            m.buffer[u] = max(0, pending - bits)
            // Users abandon what waits beyond 250 MB (a few bulk files).
            m.buffer[u] = min(m.buffer[u], 2e9)
            used += alloc[u]
            servedPerUE[u] = min(bits, pending)
            served += min(bits, pending)
            secondBits += min(bits, pending)
            active += 1
            // ThpTime: the share of the second the UE had data. A UE that drained its buffer did
            // so at the rate of the PRBs the others left free; one that did not had data all along.
            p.thpVolDl += min(bits, pending)
            p.thpTimeDl += drained ? min(1, max(0.001, need[u] * (1 + backlogged) / nRB)) : 1
            // One wideband CQI report every 20 ms; a TB in every DL slot the UE is scheduled in.
            p.cqiCounts[cqis[u]] += 50
            let tbs = (dlSlots * min(1, alloc[u] / max(1, nRB / Double(order.count)))).rounded()
            p.mcsCounts[mcss[u]] += tbs
            p.tbDl += tbs
            p.tbErrDl += (tbs * bler[u]).rounded()
        }
        p.prbUsedDl += used
        if backlogged > 0 { p.exhaustedSeconds += 1 }
        p.volumeDlBits += served
        p.peakSecondDlBits = max(p.peakSecondDlBits, secondBits)
        p.activeSum += active
        p.rrcSum += Double(n) + e.extraUEs
        // Uplink: the users' uploads and requests plus TCP ACKs (about 2 % of the DL bytes), at
        // 1.5 bit/s/Hz; what does not fit waits. The noise floor rises with the cell's own UL
        // load by up to 1 dB and by what an interferer adds.
        let ulBitsPerPRB = max(1, m.ulBitsPerPRBPerSE * 1.5)
        m.ulBuffer = min(m.ulBuffer + ulOffered + served * 0.02, 80e6)
        let ulUsed = min(nRB, m.ulBuffer / ulBitsPerPRB)
        m.ulBuffer = max(0, m.ulBuffer - ulUsed * ulBitsPerPRB)
        p.prbUsedUl += ulUsed
        p.volumeUlBits += ulUsed * ulBitsPerPRB
        if ulUsed > 0 { p.thpVolUl += ulUsed * ulBitsPerPRB; p.thpTimeUl += max(1, Double(active)) }
        let ni = m.noiseFloorDbm + 10 * log10(1 + 0.26 * ulUsed / nRB) + e.ulRise + 0.3 * random.normal()
        let meanSINR = m.meanSINR.reduce(0, +) / Double(n) - 3
        p.niSum += ni
        p.sinrSum += meanSINR - (ni - m.noiseFloorDbm)
        p.ulSamples += 1
        return CaptureSecond(second: Int(t), servedBits: servedPerUE, prbUtil: used / nRB, backlogged: Int(backlogged),
                             backhaulExcess: backhaulExcess, cqi: cqis, mcs: mcss)
    }

    /// One label per event, in the DESIGN.md schema. Labels say what happened, not only what
    /// was injected: extra demand that the cell carried without users queueing (no period of
    /// the event in which the PRBs ran out for at least half its seconds) is labelled benign,
    /// `<cause>_absorbed`.
    func labels(_ periods: [CellPeriod]) -> [Label] {
        scenario.events.enumerated().map { i, ev in
            let site = scenario.sites.first { ev.target == $0.name || ev.target.hasPrefix($0.name + "/") }!
            let isCell = ev.target != site.name
            let start = scenario.start + Int64(ev.start * 1e9), end = start + Int64(ev.duration * 1e9)
            var findingClass = ev.kind.findingClass, cause = ev.kind.rawValue
            if findingClass == "prb_saturation" {
                let during = periods.filter { $0.cell == ev.target && $0.start < end && $0.end > start }
                if !during.contains(where: { $0.exhaustedSeconds >= 0.5 * $0.seconds }) { findingClass = nil; cause += "_absorbed" }
            }
            return Label(episode: String(format: "e-%03d", i + 1), findingClass: findingClass ?? "benign",
                         direction: findingClass == nil ? nil : ev.kind.direction, cell: isCell ? ev.target : nil, gnb: site.name,
                         gnbAddress: ev.kind == .backhaulDrop ? site.address : nil,
                         start: start, end: end, cause: cause, severity: findingClass == nil ? "none" : ev.severity)
        }
    }
}
