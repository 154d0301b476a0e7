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
    /// Bits a UE's demand adds at full diurnal load, per second.
    let demandPerUE: Double
    /// UL noise + interference per PRB without interference (thermal + 5 dB noise figure).
    let noiseFloorDbm: Double

    init(site: Scenario.Site, cell: Scenario.Cell, random: inout Random) {
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
        // The busy hour offers `busyHourLoad` of what the cell carries at its median SINR.
        let medianSE = LinkTables.efficiency(mcs: LinkTables.mcs(cqi: LinkTables.cqi(sinr: 13)))
        let capacity = Double(cell.nRB) * dlBitsPerPRBPerSE * medianSE * 0.9
        demandPerUE = cell.busyHourLoad * capacity / Double(cell.ues)
        noiseFloorDbm = -174 + 10 * log10(12 * Double(cell.scsKHz) * 1e3) + 5
    }
}

/// Diurnal load: low at night, a midday plateau and an evening peak (fraction of the busy hour).
func diurnal(secondOfDay s: Double) -> Double {
    let h = s / 3600
    let evening = exp(-pow((h - 20.5) / 2.2, 2))
    let midday = 0.75 * exp(-pow((h - 13) / 3.0, 2))
    return max(0.08, min(1, 0.08 + max(evening, midday)))
}
