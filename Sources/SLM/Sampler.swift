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

/// A small seeded generator: the same seed gives the same text everywhere.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Picks tokens from logits. Holds its scratch space so that sampling allocates nothing per token.
public struct Sampler {
    public let options: SamplingOptions
    private var random: SplitMix64
    private var candidates: [(id: Int32, logit: Float)] = []
    /// Per token id: whether the repetition penalty has been applied this step (cleared after).
    private var penalised: [Bool] = []

    public init(_ options: SamplingOptions) {
        self.options = options
        random = SplitMix64(seed: options.seed &+ 0x9E37_79B9_7F4A_7C15)
    }

    /// A uniform draw in [0, 1).
    mutating func uniform() -> Float { Float(random.next() >> 40) / Float(1 << 24) }

    public mutating func next(_ logits: UnsafeBufferPointer<Float>, history: ArraySlice<Int32>) -> Int32 {
        let o = options
        let penalty = o.repeatPenalty != 1 && !history.isEmpty
        if o.temperature <= 0 && !penalty {
            var best = 0
            for i in logits.indices.dropFirst() where logits[i] > logits[best] { best = i }
            return Int32(best)
        }
        candidates.removeAll(keepingCapacity: true)
        for i in 0..<logits.count { candidates.append((Int32(i), logits[i])) }
        if penalty {
            // Once per distinct token of the recent history, as llama.cpp applies it.
            if penalised.count != logits.count { penalised = [Bool](repeating: false, count: logits.count) }
            let recent = history.suffix(o.repeatLastN)
            for t in recent where t >= 0 && Int(t) < logits.count && !penalised[Int(t)] {
                penalised[Int(t)] = true
                let l = candidates[Int(t)].logit
                candidates[Int(t)].logit = l > 0 ? l / o.repeatPenalty : l * o.repeatPenalty
            }
            for t in recent where t >= 0 && Int(t) < logits.count { penalised[Int(t)] = false }
            if o.temperature <= 0 {
                var best = 0
                for i in candidates.indices.dropFirst() where candidates[i].logit > candidates[best].logit { best = i }
                return Int32(best)
            }
        }
        candidates.sort { $0.logit > $1.logit }
        if o.topK > 0 && o.topK < candidates.count { candidates.removeLast(candidates.count - o.topK) }
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
