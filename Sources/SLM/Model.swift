import Tensor
import CSLMKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The shape and arithmetic choices of a decoder-only transformer, from the GGUF metadata.
public struct ModelConfig: Sendable, Equatable {
    public var architecture: String
    public var embedding: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var feedForward: Int
    public var vocabulary: Int
    public var contextLength: Int
    public var rmsEpsilon: Float
    public var ropeBase: Float
    public var ropeDim: Int
    /// Rotates the halves of each head (GPT-NeoX, Qwen2) rather than adjacent pairs (Llama:
    /// the converter permuted Q and K so that adjacent pairs are right).
    public var ropeNeox: Bool
    /// Positions are divided by this (linear RoPE scaling).
    public var ropeScale: Float
    /// Attention sees only the last `slidingWindow` positions (Mistral), when set.
    public var slidingWindow: Int?
    /// Granite's multipliers; 1 (and 1/√head_dim for attention) elsewhere.
    public var embeddingScale: Float
    public var residualScale: Float
    public var attentionScale: Float
    public var logitScale: Float

    static let supported = ["llama", "mistral", "qwen2", "granite"]

    init(_ f: GGUFFile) throws(GGUFError) {
        guard let arch = f.architecture else { throw GGUFError(path: f.path, offset: nil, reason: "no general.architecture") }
        guard Self.supported.contains(arch) else {
            throw GGUFError(path: f.path, offset: nil, reason: "architecture \(arch) is not supported (supported: \(Self.supported.joined(separator: ", ")))")
        }
        func int(_ key: String, _ fallback: Int? = nil) throws(GGUFError) -> Int {
            if let v = f["\(arch).\(key)"]?.int ?? f["\(arch).\(key)"]?.array?.first?.int, v > 0 { return v }
            if let fallback { return fallback }
            throw GGUFError(path: f.path, offset: nil, reason: "metadata \(arch).\(key) is missing or not a positive integer")
        }
        func float(_ key: String, _ fallback: Double) -> Float { Float(f["\(arch).\(key)"]?.double ?? fallback) }
        architecture = arch
        embedding = try int("embedding_length")
        layers = try int("block_count")
        heads = try int("attention.head_count")
        kvHeads = try int("attention.head_count_kv", heads)
        feedForward = try int("feed_forward_length")
        headDim = try int("attention.key_length", embedding / heads)
        guard try int("attention.value_length", headDim) == headDim, heads % kvHeads == 0, headDim % 2 == 0,
              embedding <= 1 << 16, layers <= 512, heads <= 1024, feedForward <= 1 << 18 else {
            throw GGUFError(path: f.path, offset: nil, reason: "attention shape \(heads) heads / \(kvHeads) KV heads × \(headDim) is not supported")
        }
        guard let tokens = f["tokenizer.ggml.tokens"]?.array?.count ?? f.tensor("token_embd.weight")?.shape.last else {
            throw GGUFError(path: f.path, offset: nil, reason: "no vocabulary")
        }
        vocabulary = tokens
        contextLength = try int("context_length", 2048)
        rmsEpsilon = float("attention.layer_norm_rms_epsilon", 1e-5)
        ropeBase = float("rope.freq_base", 10000)
        ropeDim = try int("rope.dimension_count", headDim)
        guard ropeDim <= headDim, ropeDim % 2 == 0 else {
            throw GGUFError(path: f.path, offset: nil, reason: "RoPE over \(ropeDim) dimensions of \(headDim)-wide heads")
        }
        ropeNeox = arch == "qwen2"
        let scaling = f["\(arch).rope.scaling.type"]?.string
        ropeScale = scaling == "linear" ? float("rope.scaling.factor", 1) : 1
        if let s = scaling, s != "linear", s != "none" {
            throw GGUFError(path: f.path, offset: nil, reason: "RoPE scaling \(s) is not supported")
        }
        slidingWindow = f["\(arch).attention.sliding_window"]?.int.flatMap { $0 > 0 ? $0 : nil }
        embeddingScale = float("embedding_scale", 1)
        residualScale = float("residual_scale", 1)
        attentionScale = float("attention.scale", 0) == 0 ? 1 / Float(headDim).squareRoot() : float("attention.scale", 0)
        logitScale = float("logit_scale", 1)
    }
}

/// A weight matrix in the mapping: `rows` outputs of `cols` inputs each, in any supported type.
public struct Matrix: @unchecked Sendable {
    public let info: GGUFTensorInfo
    let data: UnsafeRawPointer
    public let rows: Int
    public let cols: Int
    let rowBytes: Int
    /// The format activations take to meet these weights on the quantised path (CSLMKernels).
    let activationType: Int32

    init(_ f: GGUFFile, _ name: String, rows: Int? = nil, cols: Int) throws(GGUFError) {
        guard let t = f.tensor(name) else { throw GGUFError(path: f.path, offset: nil, reason: "tensor \(name) is missing") }
        guard t.shape[0] == cols, rows.map({ $0 == t.rows }) ?? true else {
            throw GGUFError(path: f.path, offset: nil, reason: "tensor \(name) has shape \(t.shape), expected [\(cols), \(rows.map(String.init) ?? "n")]")
        }
        info = t
        data = f.data(t)
        self.rows = t.rows
        self.cols = cols
        rowBytes = cols / t.type.blockElements * t.type.blockBytes
        activationType = slm_activation_type(Int32(t.type.rawValue))
    }

    @inline(__always)
    func row(_ r: Int, into dst: UnsafeMutablePointer<Float>) {
        Kernels.dequantize(info.type, data + r * rowBytes, dst, count: cols)
    }
}

/// How activations meet the weights in the matrix products.
public enum Arithmetic: Sendable {
    /// Activations rounded to 8 bits per block and multiplied in integers with the stored
    /// blocks, as llama.cpp does: the fast path, within llama.cpp's own distance of float32.
    case quantized
    /// Weights dequantised and multiplied in float32: the reference path, equal to a float32
    /// implementation on the file's weights up to summation order.
    case float32
}

/// A loaded model: its configuration, the weight matrices in the mapping, and scratch space
/// sized once so that a forward pass allocates nothing.
public final class LanguageModel: @unchecked Sendable {
    public let file: GGUFFile
    public let config: ModelConfig
    struct Layer {
        var attnNorm: [Float], ffnNorm: [Float]
        var q: Matrix, k: Matrix, v: Matrix, o: Matrix
        var qBias: [Float]?, kBias: [Float]?, vBias: [Float]?
        var gate: Matrix, up: Matrix, down: Matrix
    }
    let embeddings: Matrix
    let layers: [Layer]
    let outputNorm: [Float]
    let output: Matrix
    /// Per rotary pair: the inverse frequency.
    let inverseFrequency: [Float]
    public let arithmetic: Arithmetic
    let pool: WorkerPool
    public var threads: Int { pool.threads }

    public init(file: GGUFFile, threads: Int = 2, arithmetic: Arithmetic = .quantized) throws(GGUFError) {
        self.file = file
        let c = try ModelConfig(file)
        config = c
        self.arithmetic = arithmetic
        pool = WorkerPool(threads: threads)
        func vector(_ name: String, _ n: Int) throws(GGUFError) -> [Float] {
            let m = try Matrix(file, name, rows: 1, cols: n)
            return [Float](unsafeUninitializedCapacity: n) { buffer, count in
                m.row(0, into: buffer.baseAddress!)
                count = n
            }
        }
        func optionalVector(_ name: String, _ n: Int) throws(GGUFError) -> [Float]? {
            file.tensor(name) == nil ? nil : try vector(name, n)
        }
        embeddings = try Matrix(file, "token_embd.weight", rows: c.vocabulary, cols: c.embedding)
        let qWidth = c.heads * c.headDim, kvWidth = c.kvHeads * c.headDim
        var layers: [Layer] = []
        for i in 0..<c.layers {
            let p = "blk.\(i)."
            layers.append(Layer(
                attnNorm: try vector(p + "attn_norm.weight", c.embedding), ffnNorm: try vector(p + "ffn_norm.weight", c.embedding),
                q: try Matrix(file, p + "attn_q.weight", rows: qWidth, cols: c.embedding),
                k: try Matrix(file, p + "attn_k.weight", rows: kvWidth, cols: c.embedding),
                v: try Matrix(file, p + "attn_v.weight", rows: kvWidth, cols: c.embedding),
                o: try Matrix(file, p + "attn_output.weight", rows: c.embedding, cols: qWidth),
                qBias: try optionalVector(p + "attn_q.bias", qWidth), kBias: try optionalVector(p + "attn_k.bias", kvWidth),
                vBias: try optionalVector(p + "attn_v.bias", kvWidth),
                gate: try Matrix(file, p + "ffn_gate.weight", rows: c.feedForward, cols: c.embedding),
                up: try Matrix(file, p + "ffn_up.weight", rows: c.feedForward, cols: c.embedding),
                down: try Matrix(file, p + "ffn_down.weight", rows: c.embedding, cols: c.feedForward)))
        }
        self.layers = layers
        outputNorm = try vector("output_norm.weight", c.embedding)
        output = file.tensor("output.weight") != nil
            ? try Matrix(file, "output.weight", rows: c.vocabulary, cols: c.embedding) : embeddings
        let factors = try optionalVector("rope_freqs.weight", c.ropeDim / 2)
        inverseFrequency = (0..<(c.ropeDim / 2)).map { i in
            Float(1 / pow(Double(c.ropeBase), Double(2 * i) / Double(c.ropeDim))) / (factors?[i] ?? 1)
        }
    }

    /// A context to run tokens in: its KV cache and scratch space. The cache holds `capacity`
    /// positions (by default the model's context, at most 8192).
    public func session(capacity: Int? = nil, batch: Int = 256) -> Session {
        Session(model: self, capacity: max(1, min(capacity ?? 8192, config.contextLength)), batch: batch)
    }

    /// Runs `tokens` at the session's next positions; the session's `logits` then hold the
    /// last token's logits (or every token's with `allLogits`, row-major [tokens, vocabulary]).
    /// Prompts longer than the session's batch go through in batches.
    public func evaluate(_ tokens: [Int32], in s: Session, allLogits: Bool = false) throws(GGUFError) {
        try tokens.withUnsafeBufferPointer { (tokens) throws(GGUFError) in try evaluate(tokens, in: s, allLogits: allLogits) }
    }

    /// One token: the generation step, without an array per token.
    public func evaluate(_ token: Int32, in s: Session) throws(GGUFError) {
        try withUnsafePointer(to: token) { (p) throws(GGUFError) in try evaluate(UnsafeBufferPointer(start: p, count: 1), in: s, allLogits: false) }
    }

    private func evaluate(_ tokens: UnsafeBufferPointer<Int32>, in s: Session, allLogits: Bool) throws(GGUFError) {
        guard !tokens.isEmpty else { return }
        guard s.count + tokens.count <= s.capacity else {
            throw GGUFError(path: file.path, offset: nil, reason: "context full: \(s.count) + \(tokens.count) tokens > \(s.capacity)")
        }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= embeddings.rows }) {
            throw GGUFError(path: file.path, offset: nil, reason: "token id \(bad) is outside the vocabulary of \(embeddings.rows)")
        }
        s.resizeLogits(rows: allLogits ? tokens.count : 1, vocabulary: config.vocabulary)
        var done = 0
        while done < tokens.count {
            let n = min(s.batch, tokens.count - done)
            run(UnsafeBufferPointer(rebasing: tokens[done..<(done + n)]), s, logitsRow: allLogits ? done : (done + n == tokens.count ? 0 : nil))
            done += n
        }
    }

    /// One batch through every layer; writes logits (of every row, or the last) from `logitsRow` on.
    private func run(_ tokens: UnsafeBufferPointer<Int32>, _ s: Session, logitsRow: Int?) {
        let c = config
        let n = tokens.count
        let d = c.embedding, qWidth = c.heads * c.headDim, kvWidth = c.kvHeads * c.headDim
        let x = s.x, h = s.h, q = s.q, k = s.k, v = s.v, att = s.att, g = s.g, u = s.u
        for (t, token) in tokens.enumerated() {
            embeddings.row(Int(token), into: x + t * d)
            if c.embeddingScale != 1 { for i in 0..<d { x[t * d + i] *= c.embeddingScale } }
        }
        let start = s.count
        rotations(s, rows: n, start: start)
        for (li, layer) in layers.enumerated() {
            rmsNorm(x, layer.attnNorm, into: h, rows: n, width: d)
            multiply(h, rows: n, s, (layer.q, q), (layer.k, k), (layer.v, v))
            if let b = layer.qBias { addBias(q, b, rows: n) }
            if let b = layer.kBias { addBias(k, b, rows: n) }
            if let b = layer.vBias { addBias(v, b, rows: n) }
            for t in 0..<n {
                let pos = start + t
                for head in 0..<c.heads { rope(q + t * qWidth + head * c.headDim, s, row: t) }
                for head in 0..<c.kvHeads { rope(k + t * kvWidth + head * c.headDim, s, row: t) }
                s.key(li, pos).update(from: k + t * kvWidth, count: kvWidth)
                s.value(li, pos).update(from: v + t * kvWidth, count: kvWidth)
            }
            attention(layer: li, s, rows: n, start: start)
            multiply(att, rows: n, s, (layer.o, h))
            for i in 0..<(n * d) { x[i] += c.residualScale * h[i] }

            rmsNorm(x, layer.ffnNorm, into: h, rows: n, width: d)
            gatedProducts(h, rows: n, s, gate: layer.gate, up: layer.up, into: g, u)
            multiply(g, rows: n, s, (layer.down, h))
            for i in 0..<(n * d) { x[i] += c.residualScale * h[i] }
        }
        s.count += n
        guard let logitsRow else { return }
        let first = s.logitsRows == 1 ? n - 1 : 0
        let rows = n - first
        rmsNorm(x + first * d, outputNorm, into: h, rows: rows, width: d)
        let out = s.logitsPointer + logitsRow * c.vocabulary
        multiply(h, rows: rows, s, (output, out))
        if c.logitScale != 1 { for i in 0..<(rows * c.vocabulary) { out[i] /= c.logitScale } }
    }

    func rmsNorm(_ x: UnsafePointer<Float>, _ weight: [Float], into out: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        for r in 0..<rows {
            let row = x + r * width
            let mean = Kernels.dot(row, row, width) / Float(width)
            let scale = 1 / (mean + config.rmsEpsilon).squareRoot()
            for i in 0..<width { out[r * width + i] = row[i] * scale * weight[i] }
        }
    }

    func addBias(_ x: UnsafeMutablePointer<Float>, _ bias: [Float], rows: Int) {
        for r in 0..<rows { for i in bias.indices { x[r * bias.count + i] += bias[i] } }
    }

    /// The rotary angles' cosines and sines of each new row's position, computed once for all heads.
    func rotations(_ s: Session, rows: Int, start: Int) {
        let half = config.ropeDim / 2
        for t in 0..<rows {
            let pos = Float(start + t) / config.ropeScale
            for i in 0..<half {
                let angle = pos * inverseFrequency[i]
                s.ropeCos[t * half + i] = cos(angle)
                s.ropeSin[t * half + i] = sin(angle)
            }
        }
    }

    @inline(__always)
    func rope(_ head: UnsafeMutablePointer<Float>, _ s: Session, row: Int) {
        let half = config.ropeDim / 2
        let cosines = s.ropeCos + row * half, sines = s.ropeSin + row * half
        for i in 0..<half {
            let (a, b) = config.ropeNeox ? (i, i + half) : (2 * i, 2 * i + 1)
            let x0 = head[a], x1 = head[b]
            head[a] = x0 * cosines[i] - x1 * sines[i]
            head[b] = x0 * sines[i] + x1 * cosines[i]
        }
    }

    /// Causal attention of each new row over the cache (grouped-query: query heads share KV
    /// heads). The (row, head) pairs are split between the threads.
    func attention(layer: Int, _ s: Session, rows: Int, start: Int) {
        var pass = Pass(kind: .attention, model: self, session: s, x: s.q, rows: rows, layer: layer, start: start)
        pool.run(&pass, Pass.perform)
    }

    private func attentionPart(_ p: Pass, part: Int, parts: Int) {
        let c = config, s = p.session
        let hd = c.headDim, group = c.heads / c.kvHeads, qWidth = c.heads * hd
        let w = s.scores + part * s.capacity
        for pair in WorkerPool.share(p.rows * c.heads, part, parts) {
            let t = pair / c.heads, head = pair % c.heads
            let pos = p.start + t
            let first = c.slidingWindow.map { max(0, pos - $0 + 1) } ?? 0
            let qh = s.q + t * qWidth + head * hd
            let kvOffset = (head / group) * hd
            var maxScore = -Float.infinity
            for i in first...pos {
                let score = Kernels.dot(qh, s.key(p.layer, i) + kvOffset, hd) * c.attentionScale
                w[i] = score
                maxScore = max(maxScore, score)
            }
            var sum: Float = 0
            for i in first...pos {
                let e = exp(w[i] - maxScore)
                w[i] = e
                sum += e
            }
            let o = s.att + t * qWidth + head * hd
            o.update(repeating: 0, count: hd)
            for i in first...pos {
                let weight = w[i] / sum
                let vp = s.value(p.layer, i) + kvOffset
                for k in 0..<hd { o[k] += weight * vp[k] }
            }
        }
    }

    typealias Product = (weights: Matrix, out: UnsafeMutablePointer<Float>)

    /// The arguments of one parallel step, handed to the threads by address: a Swift closure
    /// would cost a heap context per step, hundreds per token.
    struct Pass {
        enum Kind { case products, gated, attention }
        var kind: Kind
        unowned(unsafe) var model: LanguageModel
        unowned(unsafe) var session: Session
        var x: UnsafePointer<Float>
        var rows: Int
        var a: Product? = nil, b: Product? = nil, c: Product? = nil
        var layer = 0, start = 0

        static let perform: @convention(c) (UnsafeMutableRawPointer?, Int32, Int32) -> Void = { context, part, parts in
            let pass = context!.assumingMemoryBound(to: Pass.self).pointee
            switch pass.kind {
            case .products: pass.model.productsPart(pass, part: Int(part), parts: Int(parts))
            case .gated: pass.model.gatedPart(pass, part: Int(part), parts: Int(parts))
            case .attention: pass.model.attentionPart(pass, part: Int(part), parts: Int(parts))
            }
        }
    }

    /// out[r, j] = Σ_i W[j, i] · x[r, i] for `rows` input rows, for up to three matrices that
    /// read the same input (q, k, v) in one pass of the threads. The input is rounded once per
    /// activation format; the threads share the weight bytes (not rows: a Q6_K row costs more
    /// than a Q4_K one).
    func multiply(_ x: UnsafePointer<Float>, rows: Int, _ s: Session, _ a: Product, _ b: Product? = nil, _ c: Product? = nil) {
        round(x, rows: rows, s, a.weights, b?.weights, c?.weights)
        var pass = Pass(kind: .products, model: self, session: s, x: x, rows: rows, a: a, b: b, c: c)
        pool.run(&pass, Pass.perform)
    }

    private func productsPart(_ p: Pass, part: Int, parts: Int) {
        func bytes(_ q: Product?) -> Int { q.map { $0.weights.rows * $0.weights.rowBytes } ?? 0 }
        let total = bytes(p.a) + bytes(p.b) + bytes(p.c)
        var base = 0
        func run(_ q: Product?) {
            guard let (w, out) = q else { return }
            // Row boundaries from byte boundaries, the same formula for both sides of each.
            func boundary(_ k: Int) -> Int { min(max((total * k / parts - base + w.rowBytes / 2) / w.rowBytes, 0), w.rows) }
            let lo = boundary(part), hi = boundary(part + 1)
            base += w.rows * w.rowBytes
            if lo < hi { product(w, lo..<hi, p.x, rows: p.rows, into: out, p.session, part: part) }
        }
        run(p.a)
        run(p.b)
        run(p.c)
    }

    /// The feed-forward's first half: g = SiLU(gate · x) ⊙ (up · x). Each thread takes the same
    /// rows of both matrices and gates them itself, so no second pass over g is needed.
    func gatedProducts(_ x: UnsafePointer<Float>, rows: Int, _ s: Session, gate: Matrix, up: Matrix, into g: UnsafeMutablePointer<Float>, _ u: UnsafeMutablePointer<Float>) {
        round(x, rows: rows, s, gate, up, nil)
        var pass = Pass(kind: .gated, model: self, session: s, x: x, rows: rows, a: (gate, g), b: (up, u))
        pool.run(&pass, Pass.perform)
    }

    private func gatedPart(_ p: Pass, part: Int, parts: Int) {
        guard let (gate, g) = p.a, let (up, u) = p.b else { return }
        let width = gate.rows
        let mine = WorkerPool.share(width, part, parts)
        guard !mine.isEmpty else { return }
        product(gate, mine, p.x, rows: p.rows, into: g, p.session, part: part)
        product(up, mine, p.x, rows: p.rows, into: u, p.session, part: part)
        for t in 0..<p.rows {
            for j in mine {
                let a = g[t * width + j]
                g[t * width + j] = a / (1 + exp(-a)) * u[t * width + j]
            }
        }
    }

    /// Rounds the input rows once for each activation format the matrices need.
    private func round(_ x: UnsafePointer<Float>, rows: Int, _ s: Session, _ a: Matrix, _ b: Matrix?, _ c: Matrix?) {
        guard arithmetic == .quantized else { return }
        let cols = a.cols
        var ready: UInt32 = 0
        func prepare(_ w: Matrix?) {
            guard let w, w.activationType != SLM_F32, ready & (1 << w.activationType) == 0 else { return }
            ready |= 1 << w.activationType
            let buffer = s.activations(w.activationType), stride = slm_activation_row_bytes(w.activationType, Int32(cols))
            for r in 0..<rows { slm_quantize_row(w.activationType, x + r * cols, buffer + r * stride, Int32(cols)) }
        }
        prepare(a)
        prepare(b)
        prepare(c)
    }

    /// Rows `range` of W times every input row, on the calling thread.
    @inline(__always)
    private func product(_ w: Matrix, _ range: Range<Int>, _ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>, _ s: Session, part: Int) {
        let cols = w.cols
        if arithmetic == .quantized {
            let input = w.activationType == SLM_F32 ? UnsafeRawPointer(x) : UnsafeRawPointer(s.activations(w.activationType))
            slm_matmul(Int32(w.info.type.rawValue), w.data, w.rowBytes, Int32(range.lowerBound), Int32(range.upperBound), Int32(cols),
                       input, slm_activation_row_bytes(w.activationType, Int32(cols)), Int32(rows), out, w.rows)
        } else {
            let row = s.rowScratch + part * s.rowScratchStride
            for j in range {
                w.row(j, into: row)
                for r in 0..<rows { out[r * w.rows + j] = Kernels.dot(row, x + r * cols, cols) }
            }
        }
    }
}

/// One context of a model: the keys and values of every layer for the positions seen so far
/// (float32), and every buffer a forward pass needs, allocated once.
public final class Session {
    public let model: LanguageModel
    public let capacity: Int
    /// Tokens evaluated per pass at most.
    public let batch: Int
    /// Positions filled.
    public internal(set) var count = 0
    let width: Int
    let keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>
    let x, h, q, k, v, att, g, u, scores, ropeCos, ropeSin: UnsafeMutablePointer<Float>
    /// Rounded activations, one region per format (Q8_0, Q8_1, Q8_K).
    private let packed: UnsafeMutableRawPointer
    private let packedRegion: Int
    let rowScratch: UnsafeMutablePointer<Float>
    let rowScratchStride: Int
    private(set) var logitsPointer: UnsafeMutablePointer<Float>
    private(set) var logitsRows = 0
    private var logitsCapacity: Int

    init(model: LanguageModel, capacity: Int, batch: Int) {
        let c = model.config
        self.model = model
        self.capacity = capacity
        self.batch = max(1, batch)
        width = c.kvHeads * c.headDim
        keys = .allocate(capacity: c.layers * capacity * width)
        values = .allocate(capacity: c.layers * capacity * width)
        let n = self.batch, qWidth = c.heads * c.headDim
        x = .allocate(capacity: n * c.embedding)
        h = .allocate(capacity: n * max(c.embedding, qWidth))
        q = .allocate(capacity: n * qWidth)
        k = .allocate(capacity: n * width)
        v = .allocate(capacity: n * width)
        att = .allocate(capacity: n * qWidth)
        g = .allocate(capacity: n * c.feedForward)
        u = .allocate(capacity: n * c.feedForward)
        scores = .allocate(capacity: model.threads * capacity)
        ropeCos = .allocate(capacity: n * c.ropeDim / 2)
        ropeSin = .allocate(capacity: n * c.ropeDim / 2)
        let widest = max(c.embedding, c.feedForward, qWidth)
        packedRegion = ([SLM_Q8_0, SLM_Q8_1, SLM_Q8_K].map { slm_activation_row_bytes(Int32($0), Int32(widest)) }.max()! * n + 63) / 64 * 64
        packed = .allocate(byteCount: 3 * packedRegion, alignment: 64)
        rowScratchStride = (max(c.embedding, c.feedForward, qWidth) + 15) / 16 * 16
        rowScratch = .allocate(capacity: model.threads * rowScratchStride)
        logitsCapacity = c.vocabulary
        logitsPointer = .allocate(capacity: logitsCapacity)
    }

    deinit {
        for p in [keys, values, x, h, q, k, v, att, g, u, scores, ropeCos, ropeSin, rowScratch, logitsPointer] { p.deallocate() }
        packed.deallocate()
    }

    @inline(__always)
    func activations(_ format: Int32) -> UnsafeMutableRawPointer {
        packed + packedRegion * (format == SLM_Q8_0 ? 0 : format == SLM_Q8_1 ? 1 : 2)
    }

    @inline(__always)
    func key(_ layer: Int, _ pos: Int) -> UnsafeMutablePointer<Float> { keys + (layer * capacity + pos) * width }
    @inline(__always)
    func value(_ layer: Int, _ pos: Int) -> UnsafeMutablePointer<Float> { values + (layer * capacity + pos) * width }

    func resizeLogits(rows: Int, vocabulary: Int) {
        logitsRows = rows
        if rows * vocabulary > logitsCapacity {
            logitsPointer.deallocate()
            logitsCapacity = rows * vocabulary
            logitsPointer = .allocate(capacity: logitsCapacity)
        }
    }

    /// The logits of the last evaluation: [rows, vocabulary].
    public var logits: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: logitsPointer, count: logitsRows * model.config.vocabulary) }

    /// Forgets positions from `position` on (a new conversation, or a shortened one).
    public func rewind(to position: Int) { count = max(0, min(count, position)) }

    /// Bytes of the KV cache.
    public var cacheBytes: Int { 2 * model.config.layers * capacity * width * 4 }
}
