import Windows

/// Turns closed windows into findings. A detector sees each window once, in time order, and
/// keeps whatever per-cell or per-gNB state it needs (baselines, open episodes).
public protocol Detector {
    /// The `detector` field of its findings, e.g. `rules@1`.
    var name: String { get }
    /// Consumes one window; returns findings that opened or resolved in it.
    mutating func observe(_ batch: WindowBatch) -> [FindingEvent]
    /// End of input: resolves what is still open at the last window's end.
    mutating func finish() -> [FindingEvent]
}

public struct FindingEvent: Sendable {
    public enum Kind: Sendable { case opened, resolved }
    public var kind: Kind
    public var finding: Finding

    public init(_ kind: Kind, _ finding: Finding) {
        self.kind = kind
        self.finding = finding
    }
}
