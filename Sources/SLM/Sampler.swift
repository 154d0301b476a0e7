#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How the next token is chosen. Temperature 0 is greedy; otherwise the chain llama.cpp uses by
/// default: repetition penalty, top-k, top-p, min-p, temperature, then a seeded draw.
public struct SamplingOptions: Sendable, Equatable {
    public var temperature: Float = 0
    /// 0 keeps every token.
    public var topK: Int = 40
    public var topP: Float = 0.95
    public var minP: Float = 0.05
    /// 1 is off; above 1 makes tokens seen in the last `repeatLastN` less likely.
    public var repeatPenalty: Float = 1
    public var repeatLastN: Int = 64
    public var seed: UInt64 = 0

    public init() {}
}

/// Picks tokens from logits. Holds its scratch space so that sampling allocates nothing per token.
public struct Sampler {
    public let options: SamplingOptions
    private var state: UInt64
    private var candidates: [(id: Int32, logit: Float)] = []

    public init(_ options: SamplingOptions) {
        self.options = options
        state = options.seed &+ 0x9E37_79B9_7F4A_7C15
    }

    /// A uniform draw in [0, 1) (SplitMix64: the same seed gives the same text everywhere).
    mutating func uniform() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Float((z ^ (z >> 31)) >> 40) / Float(1 << 24)
    }

    public mutating func next(_ logits: UnsafeBufferPointer<Float>, history: ArraySlice<Int32>) -> Int32 {
        let o = options
        let penalised = o.repeatPenalty != 1 ? Set(history.suffix(o.repeatLastN)) : []
        @inline(__always) func value(_ i: Int) -> Float {
            let l = logits[i]
            guard !penalised.isEmpty, penalised.contains(Int32(i)) else { return l }
            return l > 0 ? l / o.repeatPenalty : l * o.repeatPenalty
        }
        if o.temperature <= 0 {
            var best = 0, bestValue = -Float.infinity
            for i in 0..<logits.count where value(i) > bestValue { best = i; bestValue = value(i) }
            return Int32(best)
        }
        candidates.removeAll(keepingCapacity: true)
        for i in 0..<logits.count { candidates.append((Int32(i), value(i))) }
        // top-k: a partial order is enough, then sort the few left.
        if o.topK > 0 && o.topK < candidates.count {
            candidates.sort { $0.logit > $1.logit }
            candidates.removeLast(candidates.count - o.topK)
        } else {
            candidates.sort { $0.logit > $1.logit }
        }
        // Probabilities at temperature 1 for top-p and min-p, as llama.cpp's chain does.
        let maxLogit = candidates[0].logit
        var total: Float = 0
        for c in candidates { total += exp(c.logit - maxLogit) }
        if o.topP < 1 {
            var cumulative: Float = 0, keep = candidates.count
            for (i, c) in candidates.enumerated() {
                cumulative += exp(c.logit - maxLogit) / total
                if cumulative >= o.topP { keep = i + 1; break }
            }
            candidates.removeLast(candidates.count - keep)
        }
        if o.minP > 0 {
            // Relative to the most likely token: logit ≥ max + ln(min_p).
            let floor = maxLogit + log(o.minP)
            let keep = max(1, candidates.prefix { $0.logit >= floor }.count)
            candidates.removeLast(candidates.count - keep)
        }
        var sum: Float = 0
        for i in candidates.indices {
            let p = exp((candidates[i].logit - maxLogit) / o.temperature)
            candidates[i].logit = p
            sum += p
        }
        var r = uniform() * sum
        for c in candidates {
            r -= c.logit
            if r <= 0 { return c.id }
        }
        return candidates[candidates.count - 1].id
    }
}
