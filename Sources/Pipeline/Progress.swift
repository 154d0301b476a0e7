#if canImport(Glibc)
import Glibc
#endif

/// Progress on stderr: a redrawn bar with bytes, packets/s and ETA on a terminal, a plain line
/// every few seconds otherwise, nothing with `--quiet`.
public final class Progress {
    public enum Mode: Sendable { case off, bar, lines }

    let mode: Mode
    let totalBytes: Int64
    let started = Progress.now()
    var lastDraw = 0.0

    public init(mode: Mode, totalBytes: Int64) {
        self.mode = mode
        self.totalBytes = totalBytes
    }

    public static func automatic(quiet: Bool) -> Mode {
        quiet ? .off : isatty(2) != 0 ? .bar : .lines
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    public func update(bytes: Int64, packets: Int) {
        guard mode != .off else { return }
        let t = Progress.now()
        let interval = mode == .bar ? 0.25 : 5.0
        guard t - lastDraw >= interval else { return }
        lastDraw = t
        draw(bytes: bytes, packets: packets, elapsed: t - started, final: false)
    }

    public func finish(bytes: Int64, packets: Int) {
        guard mode != .off else { return }
        draw(bytes: bytes, packets: packets, elapsed: Progress.now() - started, final: true)
    }

    private func draw(bytes: Int64, packets: Int, elapsed: Double, final: Bool) {
        let rate = elapsed > 0 ? Double(packets) / elapsed : 0
        let fraction = totalBytes > 0 ? min(1, Double(bytes) / Double(totalBytes)) : 1
        let eta = fraction > 0 && !final ? elapsed * (1 - fraction) / fraction : 0
        let amount = "\(Progress.size(bytes)) of \(Progress.size(totalBytes))"
        let speed = "\(Progress.count(rate)) pkt/s"
        var text: String
        switch mode {
        case .bar:
            let width = 24
            let filled = Int(fraction * Double(width))
            text = "\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            text += "\(Int(fraction * 100))%  \(amount)  \(speed)  " + (final ? "done in \(Int(elapsed.rounded())) s" : "ETA \(Int(eta.rounded())) s")
            text += "   " + (final ? "\n" : "")
        case .lines:
            text = "progress: \(Int(fraction * 100))% \(amount), \(packets) packets, \(speed)"
            text += final ? ", done in \(Int(elapsed.rounded())) s\n" : ", ETA \(Int(eta.rounded())) s\n"
        case .off:
            return
        }
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    static func size(_ b: Int64) -> String {
        let v = Double(b)
        if v >= 1_073_741_824 { return "\(Double(Int(v / 1_073_741_824 * 10)) / 10) GiB" }
        if v >= 1_048_576 { return "\(Double(Int(v / 1_048_576 * 10)) / 10) MiB" }
        if v >= 1024 { return "\(Int(v / 1024)) KiB" }
        return "\(b) B"
    }

    static func count(_ v: Double) -> String {
        if v >= 1e6 { return "\(Double(Int(v / 1e5)) / 10) M" }
        if v >= 1e3 { return "\(Double(Int(v / 1e2)) / 10) k" }
        return "\(Int(v))"
    }
}
