import Benchmark
import Detect
import Foundation
import Telemetry
import Windows

/// One cell window through the bottleneck detector on one core: the features (baselines
/// included) and the model's forward pass, as `nocturne analyze` runs them. Windows of 1,000
/// cells come round-robin, each cell's in time order. A window's cost sets how many cells one
/// core keeps up with: 10 s / cost at 10 s windows (the target is 10,000, i.e. under 1 ms).
/// The malloc count per window must be zero.
let benchmarks: @Sendable () -> Void = {
    // The harness calls the closure once per iteration: the cells are made once, here.
    let cells = Cells()
    Benchmark("bottleneck detector, one cell window (1,000 cells)",
              configuration: .init(metrics: [.mallocCountTotal, .wallClock], warmupIterations: 1000,
                                   scalingFactor: .one, maxDuration: .seconds(5), maxIterations: 100_000)) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(cells.next()) }
    }
}

/// The detector and 48 windows of each of 1,000 cells; only the benchmark's thread touches it.
final class Cells: @unchecked Sendable {
    static let count = 1000, steps = 48
    var detector: BottleneckDetector
    var windows: [CellWindow] = []
    var position: Int

    init() {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../models/bottleneck/bottleneck.gguf").standardized.path
        detector = BottleneckDetector(model: try! BottleneckModel(path: path), runID: "r-bench")
        var generator = SystemRandomNumberGenerator()
        for t in 0..<Self.steps {
            for c in 0..<Self.count {
                let start = Int64(1_800_000_000 + t * 10) * 1_000_000_000
                var w = CellWindow(cell: CellID(gnb: "gnb-\(c / 3)", cell: "cell-\(c % 3 + 1)", ldn: ""), start: start,
                                   end: start + 10_000_000_000, source: "bench", relativeTime: false, suspect: false)
                let load = Double.random(in: 20...90, using: &generator)
                w.values = ["prb_util_dl_pct": load, "prb_util_ul_pct": load / 3, "ue_thp_dl_mbps": 120 - load,
                            "bw_mhz": 100, "scs_khz": 30, "se_used_dl_bps_hz": Double.random(in: 2...4, using: &generator),
                            "cqi_mean": Double.random(in: 9...12, using: &generator), "mcs_dl_se_bps_hz": 3.2, "bler_dl_pct": 10,
                            "ul_ni_dbm_per_prb": -113, "pusch_sinr_db": 14, "active_ue_dl_mean": 5, "cell_thp_dl_mbps": load,
                            "ue_thp_ul_mbps": 2]
                windows.append(w)
            }
        }
        // Every cell has its state, its baseline and a full history before measuring.
        position = Self.count * 24
        for w in windows.prefix(position) { _ = detector.observe(w) }
    }

    func next() -> Int {
        let events = detector.observe(windows[position]).count
        position += 1
        if position == windows.count { position = Self.count * 24 }
        return events
    }
}
