import Benchmark
import Foundation
import SLM
import Tensor

/// One generation step of the language model (the decode path: every weight read once, 8-bit
/// activations, both threads) on the committed llama Q4_K_M fixture. The malloc count per
/// iteration must be zero: a session owns every buffer a step needs. Only malloc count and wall
/// time are measured: the harness's CPU-time and throughput metrics allocate themselves
/// (16 per iteration with them on; 0 with `--allocation-stacks`, which records this thread's).
let benchmarks: @Sendable () -> Void = {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../fixtures/slm/gguf/llama-Q4_K_M.gguf").standardized.path
    Benchmark("SLM generation step (llama Q4_K_M fixture, 2 threads)",
              configuration: .init(metrics: [.mallocCountTotal, .wallClock], warmupIterations: 5,
                                   scalingFactor: .one, maxDuration: .seconds(5), maxIterations: 2000)) { benchmark in
        let model = try LanguageModel(file: try GGUFFile(path: path), threads: 2)
        let session = model.session(capacity: 64, batch: 16)
        try model.evaluate([1, 400, 401, 402], in: session)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try model.evaluate(403, in: session)
            session.rewind(to: 4)
        }
    }
}
