/// The last `keep` normal values of each KPI, in arrival order and sorted, so the median
/// is a lookup. Shared by the rules and the learned detector's features.
struct KpiBaseline {
    var recent: [String: [Double]] = [:]
    var sorted: [String: [Double]] = [:]

    /// How many values of `k` the baseline holds.
    func count(_ k: String) -> Int { recent[k]?.count ?? 0 }

    func median(_ k: String) -> Double? {
        guard let s = sorted[k], !s.isEmpty else { return nil }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    mutating func add(_ k: String, _ v: Double?, keep: Int) {
        guard let v, v.isFinite else { return }
        recent[k, default: []].append(v)
        sorted[k, default: []].insert(v, at: Self.position(of: v, in: sorted[k] ?? []))
        if recent[k]!.count > keep {
            let old = recent[k]!.removeFirst()
            sorted[k]!.remove(at: Self.position(of: old, in: sorted[k]!))
        }
    }

    /// First index whose value is not below `v`.
    static func position(of v: Double, in a: [Double]) -> Int {
        var lo = 0, hi = a.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if a[mid] < v { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
