import Capture
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT/SIGTERM ask a running job to stop reading, drain what it has and exit 0.
public enum StopSignal {
    static let requested = Atomic<Bool>(false)
    /// The live capture to wake when a signal arrives (0 when none).
    static let liveCapture = Atomic<UInt>(0)

    public static func install() {
        let handler: @convention(c) (Int32) -> Void = { _ in
            StopSignal.requested.store(true, ordering: .relaxed)
            LiveCapture.breakLoop(StopSignal.liveCapture.load(ordering: .relaxed))
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        // A parent may have started us with these signals blocked (they inherit): unblock them.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Registers the live capture a signal must wake, or clears it with nil.
    static func watch(_ live: LiveCapture?) {
        liveCapture.store(live?.handleBits ?? 0, ordering: .relaxed)
    }

    public static var isRequested: Bool { requested.load(ordering: .relaxed) }
}
