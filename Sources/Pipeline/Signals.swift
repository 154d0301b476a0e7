import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT/SIGTERM ask a running job to stop reading, drain what it has and exit 0.
public enum StopSignal {
    static let requested = Atomic<Bool>(false)

    public static func install() {
        signal(SIGINT) { _ in StopSignal.requested.store(true, ordering: .relaxed) }
        signal(SIGTERM) { _ in StopSignal.requested.store(true, ordering: .relaxed) }
    }

    public static var isRequested: Bool { requested.load(ordering: .relaxed) }
}
