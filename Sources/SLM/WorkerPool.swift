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

    /// Calls `body(part, parts)` once on every thread and returns when all calls have.
    func run(_ body: (_ part: Int, _ parts: Int) -> Void) {
        withoutActuallyEscaping(body) { escapable in
            var job = escapable
            withUnsafeMutablePointer(to: &job) { pointer in
                slm_pool_run(pool, { context, part, parts in
                    context!.assumingMemoryBound(to: ((Int, Int) -> Void).self).pointee(Int(part), Int(parts))
                }, pointer)
            }
        }
    }

    /// The share of `0..<count` that `part` of `parts` takes.
    @inline(__always)
    static func share(_ count: Int, _ part: Int, _ parts: Int) -> Range<Int> {
        (count * part / parts)..<(count * (part + 1) / parts)
    }
}
