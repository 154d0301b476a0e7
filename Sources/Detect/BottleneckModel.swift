#if canImport(Glibc)
import Glibc
#endif
import Tensor

/// The bottleneck model (models/bottleneck): a PatchTST-style encoder over a cell's recent
/// windows. Pairs of windows become patches, a linear map embeds each patch, a learned position
/// is added, pre-norm encoder blocks (multi-head attention, GELU feed-forward) mix them, and two
/// heads read the last patch and the mean of all: class logits (normal and the three radio
/// classes) and an anomaly logit. The weights come from a GGUF file through the Tensor module;
/// one forward pass allocates nothing.
public final class BottleneckModel {
    public static let architecture = "nocturne-bottleneck"
    public static let version = 1
    public static let classes = ["normal", "prb_saturation", "low_spectral_efficiency", "uplink_interference"]

    public let history: Int
    public let patch: Int
    public let dim: Int
    public let heads: Int
    public let feedForward: Int
    public let blocks: Int
    public let baselineWindows: Int
    public let baselineMin: Int
    public let description: String
    let epsilon: Float
    let tokens: Int
    let patchWidth: Int

    struct Linear {
        var weight: [Float]
        var bias: [Float]
        var inputs: Int
        var outputs: Int
    }

    struct Block {
        var ln1w: [Float], ln1b: [Float], ln2w: [Float], ln2b: [Float]
        var q: Linear, k: Linear, v: Linear, o: Linear, up: Linear, down: Linear
    }

    let embed: Linear
    let position: [Float]
    let layers: [Block]
    let normW: [Float], normB: [Float]
    let classify: Linear
    let anomaly: Linear

    // Scratch, sized at load.
    private var x: [Float], h: [Float], q: [Float], k: [Float], v: [Float], a: [Float], f: [Float]
    private var scores: [Float], pooled: [Float], logits: [Float]

    public struct Output: Sendable, Equatable {
        /// Softmax over `classes`.
        public var probabilities: [Float]
        /// Sigmoid of the anomaly head: how unlike the cell's normal the window is, whatever the class.
        public var anomaly: Float
    }

    /// Loads and checks a model file: its architecture, version, feature list and every tensor's
    /// shape must be what this build computes, or the file is refused with the reason.
    public init(path: String) throws(GGUFError) {
        let file = try GGUFFile(path: path)
        func refuse(_ why: String) -> GGUFError { GGUFError(path: path, reason: why) }
        guard file.architecture == Self.architecture else {
            throw refuse("not a bottleneck detector (architecture `\(file.architecture ?? "none")`, expected `\(Self.architecture)`)")
        }
        let arch = Self.architecture
        func int(_ key: String) throws(GGUFError) -> Int {
            guard let v = file["\(arch).\(key)"]?.int, v > 0 else { throw refuse("metadata `\(arch).\(key)` missing or not a positive integer") }
            return v
        }
        let version = try int("version")
        guard version == Self.version else {
            throw refuse("model version \(version); this nocturne reads version \(Self.version) (retrain with models/bottleneck/train.py)")
        }
        let features = file["\(arch).features"]?.array?.compactMap(\.string) ?? []
        guard features == CellFeatures.names else {
            throw refuse("the model's features (\(features.joined(separator: ", "))) are not this build's (\(CellFeatures.names.joined(separator: ", ")))")
        }
        let classes = file["\(arch).classes"]?.array?.compactMap(\.string) ?? []
        guard classes == Self.classes else { throw refuse("the model's classes (\(classes.joined(separator: ", "))) are not \(Self.classes.joined(separator: ", "))") }
        history = try int("history")
        patch = try int("patch")
        dim = try int("embedding_length")
        heads = try int("head_count")
        feedForward = try int("feed_forward_length")
        blocks = try int("block_count")
        baselineWindows = try int("baseline_windows")
        baselineMin = try int("baseline_min")
        epsilon = Float(file["\(arch).layer_norm_epsilon"]?.double ?? 1e-5)
        description = file["general.description"]?.string ?? ""
        guard history % patch == 0, dim % heads == 0, history <= 1024, dim <= 4096, feedForward <= 16384, blocks <= 64 else {
            throw refuse("inconsistent hyperparameters (history \(history), patch \(patch), dim \(dim), heads \(heads))")
        }
        tokens = history / patch
        patchWidth = patch * 2 * CellFeatures.count

        func tensor(_ name: String, _ shape: [Int]) throws(GGUFError) -> [Float] {
            guard let t = file.tensor(name) else { throw refuse("tensor `\(name)` missing") }
            guard t.shape == shape else { throw refuse("tensor `\(name)` has shape \(t.shape), expected \(shape)") }
            var out = [Float](repeating: 0, count: t.elementCount)
            out.withUnsafeMutableBufferPointer { Kernels.dequantize(t.type, file.data(t), $0.baseAddress!, count: t.elementCount) }
            return out
        }
        func linear(_ name: String, _ inputs: Int, _ outputs: Int) throws(GGUFError) -> Linear {
            Linear(weight: try tensor(name + ".weight", [inputs, outputs]), bias: try tensor(name + ".bias", [outputs]), inputs: inputs, outputs: outputs)
        }
        embed = try linear("patch", patchWidth, dim)
        position = try tensor("pos", [dim, tokens])
        var layers: [Block] = []
        for i in 0..<blocks {
            let p = "blk.\(i)."
            layers.append(Block(ln1w: try tensor(p + "ln1.weight", [dim]), ln1b: try tensor(p + "ln1.bias", [dim]),
                                ln2w: try tensor(p + "ln2.weight", [dim]), ln2b: try tensor(p + "ln2.bias", [dim]),
                                q: try linear(p + "q", dim, dim), k: try linear(p + "k", dim, dim), v: try linear(p + "v", dim, dim),
                                o: try linear(p + "o", dim, dim), up: try linear(p + "up", dim, feedForward), down: try linear(p + "down", feedForward, dim)))
        }
        self.layers = layers
        normW = try tensor("norm.weight", [dim])
        normB = try tensor("norm.bias", [dim])
        classify = try linear("cls", 2 * dim, Self.classes.count)
        anomaly = try linear("anomaly", 2 * dim, 1)

        let n = tokens * dim
        x = [Float](repeating: 0, count: n)
        h = x; q = x; k = x; v = x; a = x
        f = [Float](repeating: 0, count: tokens * feedForward)
        scores = [Float](repeating: 0, count: tokens)
        pooled = [Float](repeating: 0, count: 2 * dim)
        logits = [Float](repeating: 0, count: Self.classes.count + 1)
    }

    /// Parameters in the file.
    public var parameterCount: Int {
        func c(_ l: Linear) -> Int { l.weight.count + l.bias.count }
        return c(embed) + position.count + normW.count + normB.count + c(classify) + c(anomaly)
            + layers.reduce(0) { $0 + $1.ln1w.count * 4 + c($1.q) + c($1.k) + c($1.v) + c($1.o) + c($1.up) + c($1.down) }
    }

    /// One judgement: `input` is `history` rows of values then presence flags (CellFeatures),
    /// oldest first. Writes the class probabilities into `probabilities` and returns the anomaly score.
    public func evaluate(_ input: UnsafeBufferPointer<Float>, probabilities: UnsafeMutableBufferPointer<Float>) -> Float {
        precondition(input.count == history * 2 * CellFeatures.count && probabilities.count == Self.classes.count)
        let d = dim, n = tokens
        x.withUnsafeMutableBufferPointer { x in
            // Rows of consecutive windows are contiguous, so a patch is a slice of the input.
            for t in 0..<n {
                Self.apply(embed, input.baseAddress! + t * patchWidth, x.baseAddress! + t * d)
                for i in 0..<d { x[t * d + i] += position[t * d + i] }
            }
            for b in layers { block(b, x) }
            h.withUnsafeMutableBufferPointer { h in
                for t in 0..<n { Self.norm(x.baseAddress! + t * d, normW, normB, epsilon, d, into: h.baseAddress! + t * d) }
                pooled.withUnsafeMutableBufferPointer { z in
                    for i in 0..<d {
                        z[i] = h[(n - 1) * d + i]
                        var s: Float = 0
                        for t in 0..<n { s += h[t * d + i] }
                        z[d + i] = s / Float(n)
                    }
                }
            }
        }
        return pooled.withUnsafeBufferPointer { z in
            logits.withUnsafeMutableBufferPointer { l in
                Self.apply(classify, z.baseAddress!, l.baseAddress!)
                Self.apply(anomaly, z.baseAddress!, l.baseAddress! + classify.outputs)
                var top = l[0]
                for c in 1..<classify.outputs { top = max(top, l[c]) }
                var sum: Float = 0
                for c in 0..<classify.outputs {
                    probabilities[c] = expf(l[c] - top)
                    sum += probabilities[c]
                }
                for c in 0..<classify.outputs { probabilities[c] /= sum }
                return 1 / (1 + expf(-l[classify.outputs]))
            }
        }
    }

    /// Convenience for tests and tools (allocates).
    public func evaluate(_ input: [Float]) -> Output {
        var p = [Float](repeating: 0, count: Self.classes.count)
        let s = input.withUnsafeBufferPointer { i in p.withUnsafeMutableBufferPointer { evaluate(i, probabilities: $0) } }
        return Output(probabilities: p, anomaly: s)
    }

    private func block(_ b: Block, _ x: UnsafeMutableBufferPointer<Float>) {
        let d = dim, n = tokens, hd = dim / heads
        let scale = 1 / Float(hd).squareRoot()
        h.withUnsafeMutableBufferPointer { h in
            q.withUnsafeMutableBufferPointer { q in
                k.withUnsafeMutableBufferPointer { k in
                    v.withUnsafeMutableBufferPointer { v in
                        a.withUnsafeMutableBufferPointer { a in
                            scores.withUnsafeMutableBufferPointer { s in
                                for t in 0..<n {
                                    Self.norm(x.baseAddress! + t * d, b.ln1w, b.ln1b, epsilon, d, into: h.baseAddress! + t * d)
                                    Self.apply(b.q, h.baseAddress! + t * d, q.baseAddress! + t * d)
                                    Self.apply(b.k, h.baseAddress! + t * d, k.baseAddress! + t * d)
                                    Self.apply(b.v, h.baseAddress! + t * d, v.baseAddress! + t * d)
                                }
                                for head in 0..<heads {
                                    let off = head * hd
                                    for t in 0..<n {
                                        var top = -Float.infinity
                                        for u in 0..<n {
                                            s[u] = Kernels.dot(q.baseAddress! + t * d + off, k.baseAddress! + u * d + off, hd) * scale
                                            top = max(top, s[u])
                                        }
                                        var sum: Float = 0
                                        for u in 0..<n { s[u] = expf(s[u] - top); sum += s[u] }
                                        for i in 0..<hd {
                                            var acc: Float = 0
                                            for u in 0..<n { acc += s[u] * v[u * d + off + i] }
                                            a[t * d + off + i] = acc / sum
                                        }
                                    }
                                }
                                for t in 0..<n {
                                    Self.apply(b.o, a.baseAddress! + t * d, h.baseAddress! + t * d)
                                    for i in 0..<d { x[t * d + i] += h[t * d + i] }
                                }
                            }
                        }
                    }
                }
            }
            f.withUnsafeMutableBufferPointer { f in
                let ff = feedForward
                for t in 0..<n {
                    Self.norm(x.baseAddress! + t * d, b.ln2w, b.ln2b, epsilon, d, into: h.baseAddress! + t * d)
                    Self.apply(b.up, h.baseAddress! + t * d, f.baseAddress! + t * ff)
                    // Exact GELU, as torch's default.
                    for i in 0..<ff {
                        let z = f[t * ff + i]
                        f[t * ff + i] = 0.5 * z * (1 + erff(z * 0.70710678118654752))
                    }
                    Self.apply(b.down, f.baseAddress! + t * ff, h.baseAddress! + t * d)
                    for i in 0..<d { x[t * d + i] += h[t * d + i] }
                }
            }
        }
    }

    /// y = W x + b, W stored as `outputs` rows of `inputs`.
    @inline(__always)
    static func apply(_ l: Linear, _ input: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        l.weight.withUnsafeBufferPointer { w in
            for o in 0..<l.outputs { out[o] = l.bias[o] + Kernels.dot(w.baseAddress! + o * l.inputs, input, l.inputs) }
        }
    }

    static func norm(_ x: UnsafePointer<Float>, _ w: [Float], _ b: [Float], _ eps: Float, _ d: Int, into y: UnsafeMutablePointer<Float>) {
        var mean: Float = 0
        for i in 0..<d { mean += x[i] }
        mean /= Float(d)
        var variance: Float = 0
        for i in 0..<d { variance += (x[i] - mean) * (x[i] - mean) }
        let inv = 1 / (variance / Float(d) + eps).squareRoot()
        for i in 0..<d { y[i] = (x[i] - mean) * inv * w[i] + b[i] }
    }
}
