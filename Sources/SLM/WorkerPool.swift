import CSLMKernels

/// The model's threads: the caller and `threads − 1` workers that stay up for the model's life
/// (see `slm_pool` in CSLMKernels for why they spin).
final class WorkerPool: @unchecked Sendable {
    private let pool: OpaquePointer
    let threads: Int

    init(threads: Int) {
        guard let pool = slm_pool_create(Int32(max(1, threads))) else { fatalError("out of memory for a thread pool") }
        self.pool = pool
        self.threads = Int(slm_pool_threads(pool))
    }

    deinit { slm_pool_destroy(pool) }

    /// Calls `body(&context, part, parts)` once on every thread and returns when all calls
    /// have. The context stays where the caller keeps it; nothing is allocated.
    func run<Context>(_ context: inout Context, _ body: @convention(c) (UnsafeMutableRawPointer?, Int32, Int32) -> Void) {
        withUnsafeMutablePointer(to: &context) { slm_pool_run(pool, body, $0) }
    }

    /// The share of `0..<count` that `part` of `parts` takes.
    @inline(__always)
    static func share(_ count: Int, _ part: Int, _ parts: Int) -> Range<Int> {
        (count * part / parts)..<(count * (part + 1) / parts)
    }
}
