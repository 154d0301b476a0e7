import Foundation
import Windows

/// A seeded generator (SplitMix64): the same scenario and seed give the same run everywhere.
struct Random {
    private var state: UInt64

    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 0x2545_F491_4F6C_DD1D }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }

    mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * uniform() }

    /// Standard normal (Box–Muller).
    mutating func normal() -> Double {
        let u = max(uniform(), 1e-12), v = uniform()
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}

/// Link-level tables the simulation uses (kpi-vocabulary.md §5).
enum LinkTables {
    /// SINR (dB) at which CQI 1…15 becomes usable at ≈10 % BLER (AWGN rule of thumb, §5.3).
    static let cqiThresholds: [Double] = [-6.7, -4.7, -2.3, 0.2, 2.4, 4.3, 5.9, 8.1, 10.3, 11.7, 14.1, 16.3, 18.7, 21.0, 22.7]
    /// CQI table 1 → PDSCH MCS table 1 (srsRAN's mapping), index by CQI.
    static let cqiToMCS: [Int] = [0, 0, 0, 2, 4, 6, 8, 11, 13, 15, 18, 20, 22, 24, 26, 28]
    /// Spectral efficiency of a PDSCH MCS of TS 38.214 Table 5.1.3.1-1 (every index the CQI
    /// mapping gives is in the table).
    static func efficiency(mcs: Int) -> Double { MCSTables.efficiency(table: 1, mcs: mcs) ?? 0 }

    /// Layers a user's channel carries: a second from about 10 dB, a third and fourth as SINR
    /// leaves room to split it (rank-indicator rule of thumb), up to what the cell has.
    static func rank(sinr: Double, layers: Int) -> Int { min(layers, sinr >= 24 ? 4 : sinr >= 17 ? 3 : sinr >= 10 ? 2 : 1) }

    static func cqi(sinr: Double) -> Int { cqiThresholds.lastIndex { sinr >= $0 }.map { $0 + 1 } ?? 0 }

    static func mcs(cqi: Int) -> Int { cqiToMCS[max(0, min(15, cqi))] }
}

/// One cell's state through the run: its users' radio conditions, demand and buffers.
struct CellModel {
    let site: Scenario.Site
    let cell: Scenario.Cell
    let name: String
    /// Slots per second and DL bits one PRB carries per second at 1 bit/s/Hz (12 subcarriers
    /// × 14 symbols per slot, TS 38.306 overhead 0.14, the DL share of symbols).
    let slotsPerSecond: Double
    let dlBitsPerPRBPerSE: Double
    let ulBitsPerPRBPerSE: Double
    /// Per UE: mean SINR (position), shadowing, DL buffer (bits), demand weight.
    var meanSINR: [Double]
    /// Slow drift around the user's usual place (it moves about).
    var drift: [Double]
    var shadow: [Double]
    /// Each user's SINR a second ago: link adaptation follows it with a lag.
    var lastSINR: [Double]
    var buffer: [Double]
    var weight: [Double]
    var traffic: [Scenario.TrafficKind]
    /// The most a user's transfers take per second whatever the cell offers (server pacing,
    /// TCP windows, the device's category), bits.
    var rateCap: [Double]
    /// Video users: whether a session is playing, and the second of the 4 s cycle their
    /// segments arrive in.
    var playing: [Bool]
    var segmentPhase: [Int]
    /// Uplink data waiting in the UEs, bits (the cell's sum).
    var ulBuffer = 0.0
    /// Bits a UE's demand adds at full diurnal load, per second.
    let demandPerUE: Double
    /// UL noise + interference per PRB without interference (thermal + 5 dB noise figure).
    let noiseFloorDbm: Double

    init(site: Scenario.Site, cell: Scenario.Cell, mix: [Scenario.TrafficKind: Double], random: inout Random) {
        self.site = site
        self.cell = cell
        name = "\(site.name)/cell-\(cell.id)"
        slotsPerSecond = 1000 * Double(cell.scsKHz) / 15
        dlBitsPerPRBPerSE = 12 * 14 * slotsPerSecond * (1 - 0.14) * cell.dlShare
        // FDD has a whole uplink carrier; TDD the symbols the downlink leaves.
        ulBitsPerPRBPerSE = 12 * 14 * slotsPerSecond * (1 - 0.08) * (cell.dlShare >= 1 ? 1 : 1 - cell.dlShare)
        // Users spread from the cell edge (about 8 dB) to near the site (30 dB).
        meanSINR = (0..<cell.ues).map { _ in random.uniform(8, 30) }
        drift = Array(repeating: 0, count: cell.ues)
        shadow = Array(repeating: 0, count: cell.ues)
        lastSINR = meanSINR
        buffer = Array(repeating: 0, count: cell.ues)
        weight = (0..<cell.ues).map { _ in random.uniform(0.3, 1.7) }
        traffic = Self.kinds(count: cell.ues, mix: mix)
        // Log-normal around 50 Mbit/s: most flows never fill a mid-band carrier on their own.
        rateCap = (0..<cell.ues).map { _ in min(1e9, max(5e6, 50e6 * exp(0.7 * random.normal()))) }
        playing = (0..<cell.ues).map { _ in random.uniform() < 0.3 }
        segmentPhase = (0..<cell.ues).map { _ in Int(random.next() % 4) }
        // The busy hour offers `busyHourLoad` of what the cell carries at its median SINR.
        let medianSE = LinkTables.efficiency(mcs: LinkTables.mcs(cqi: LinkTables.cqi(sinr: 13))) * Double(LinkTables.rank(sinr: 13, layers: cell.layers))
        let capacity = Double(cell.nRB) * dlBitsPerPRBPerSE * medianSE * 0.9
        demandPerUE = cell.busyHourLoad * capacity / Double(cell.ues)
        noiseFloorDbm = -174 + 10 * log10(12 * Double(cell.scsKHz) * 1e3) + 5
    }

    /// Users' traffic kinds in the mix's shares, interleaved (each user takes the kind furthest
    /// behind its quota), so that any first k users are a fair sample of the mix.
    static func kinds(count: Int, mix: [Scenario.TrafficKind: Double]) -> [Scenario.TrafficKind] {
        var given: [Scenario.TrafficKind: Double] = [:]
        return (0..<count).map { u in
            let kind = Scenario.TrafficKind.allCases.max { a, b in
                (mix[a, default: 0] * Double(u + 1) - given[a, default: 0]) < (mix[b, default: 0] * Double(u + 1) - given[b, default: 0])
            }!
            given[kind, default: 0] += 1
            return kind
        }
    }

    /// DL and UL bits user `u` offers this second. `mean` is its mean DL rate now (bit/s); each
    /// kind delivers that mean on average, in its own rhythm.
    mutating func offer(_ u: Int, mean: Double, second t: Int, random: inout Random) -> (dl: Double, ul: Double) {
        let busyMean = demandPerUE * weight[u]
        guard busyMean > 0, mean > 0 else { return (0, 0) }
        // Sizes of whole objects in seconds of the user's busy-hour mean rate, exponential.
        func objects(every seconds: Double, of size: Double) -> Double {
            let p = mean / (busyMean * seconds)
            if p >= 1 { return mean }
            return random.uniform() < p ? busyMean * size * -log(max(random.uniform(), 1e-12)) : 0
        }
        switch traffic[u] {
        case .bulk:
            return (objects(every: 30, of: 30), mean * 0.02)
        case .web:
            return (objects(every: 6, of: 6), mean * 0.05)
        case .video:
            // Sessions of about 5 min; between them the user is idle long enough that the
            // playing share times the bitrate is the mean.
            let bitrate = busyMean * 1.6
            let share = min(0.95, mean / bitrate)
            if playing[u] {
                if random.uniform() < 1.0 / 300 { playing[u] = false }
            } else if random.uniform() < share / (1 - share) / 300 {
                playing[u] = true
            }
            guard playing[u], (t + segmentPhase[u]) % 4 == 0 else { return (0, 0) }
            return (4 * mean / share, 0.01 * mean)
        case .upload:
            return (mean * 0.1, objects(every: 30, of: 30) * 0.5)
        }
    }
}

/// Diurnal load: low at night, a midday plateau and an evening peak (fraction of the busy hour).
func diurnal(secondOfDay s: Double) -> Double {
    let h = s / 3600
    let evening = exp(-pow((h - 20.5) / 2.2, 2))
    let midday = 0.75 * exp(-pow((h - 13) / 3.0, 2))
    return max(0.08, min(1, 0.08 + max(evening, midday)))
}
