import Tensor
/// What to generate and when to stop.
public struct GenerationOptions: Sendable, Equatable {
    public var maxTokens = 256
    public var sampling = SamplingOptions()
    /// Generation ends before any of these texts (they are not emitted).
    public var stop: [String] = []

    public init() {}
}

/// Why a generation ended.
public enum StopReason: String, Sendable {
    /// The model emitted an end-of-generation token.
    case endOfText = "end_of_text"
    case stopString = "stop_string"
    case maxTokens = "max_tokens"
    /// The context (KV cache) is full.
    case contextFull = "context_full"
}

/// Text as it is generated, then the reason it ended.
public enum GenerationEvent: Sendable, Equatable {
    case text(String)
    case done(StopReason, promptTokens: Int, generatedTokens: Int)
}

/// Runs a model and its tokenizer: prompt in, text out, token by token.
public final class Generator: Sendable {
    public let model: LanguageModel
    public let tokenizer: Tokenizer
    public let template: ChatTemplate

    public init(model: LanguageModel, tokenizer: Tokenizer) {
        self.model = model
        self.tokenizer = tokenizer
        let eos = tokenizer.eos.map { String(decoding: tokenizer.piece($0), as: UTF8.self) } ?? "</s>"
        template = ChatTemplate(template: model.file["tokenizer.chat_template"]?.string, eos: eos)
    }

    public convenience init(path: String, threads: Int = 2) throws(GGUFError) {
        let file = try GGUFFile(path: path)
        self.init(model: try LanguageModel(file: file, threads: threads), tokenizer: try Tokenizer(gguf: file))
    }

    /// The chat messages in the model's own format, tokenized with its special tokens.
    public func chatPrompt(_ messages: [ChatMessage]) -> [Int32] {
        tokenizer.encode(template.render(messages), parseSpecial: true)
    }

    /// Generates from `prompt` (token ids), calling `emit` with each piece of text as soon as it
    /// is whole UTF-8 and cannot be the start of a stop string. Returns why it stopped.
    @discardableResult
    public func generate(_ prompt: [Int32], options: GenerationOptions, session: Session? = nil,
                         emit: (String) -> Void) throws(GGUFError) -> GenerationEvent {
        let s = session ?? model.session(capacity: min(model.config.contextLength, prompt.count + options.maxTokens))
        var sampler = Sampler(options.sampling)
        var history = prompt
        try model.evaluate(prompt, in: s)
        var pending: [UInt8] = []
        var held = ""
        var generated = 0
        func finish(_ reason: StopReason) -> GenerationEvent {
            if reason != .stopString {
                held += String(decoding: pending, as: UTF8.self)
                if !held.isEmpty { emit(held) }
            }
            return .done(reason, promptTokens: prompt.count, generatedTokens: generated)
        }
        while true {
            guard generated < options.maxTokens else { return finish(.maxTokens) }
            let token = sampler.next(s.logits, history: history[...])
            if tokenizer.isEndOfGeneration(token) { return finish(.endOfText) }
            generated += 1
            history.append(token)
            pending += tokenizer.piece(token, special: false)
            // Emit only whole characters: a multi-byte character may span tokens.
            let whole = Self.completeUTF8Prefix(pending)
            if whole > 0 {
                held += String(decoding: pending[..<whole], as: UTF8.self)
                pending.removeFirst(whole)
            }
            if let stop = options.stop.first(where: { !$0.isEmpty && held.contains($0) }) {
                let cut = held.firstRange(of: stop)!.lowerBound
                let before = String(held[..<cut])
                if !before.isEmpty { emit(before) }
                return finish(.stopString)
            }
            // Keep back a tail that may still grow into a stop string.
            let keep = options.stop.map { stop in Self.overlap(held, stop) }.max() ?? 0
            if held.count > keep {
                let cut = held.index(held.endIndex, offsetBy: -keep)
                emit(String(held[..<cut]))
                held = String(held[cut...])
            }
            guard s.count < s.capacity else { return finish(.contextFull) }
            try model.evaluate(token, in: s)
        }
    }

    /// The same as a stream of events, generated on a background task.
    public func stream(_ prompt: [Int32], options: GenerationOptions) -> AsyncThrowingStream<GenerationEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task.detached { [self] in
                do {
                    let end = try self.generate(prompt, options: options) { text in continuation.yield(.text(text)) }
                    continuation.yield(end)
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Bytes at the start of `bytes` that form whole UTF-8 characters (invalid bytes count as
    /// whole: they decode to U+FFFD rather than wait forever).
    static func completeUTF8Prefix(_ bytes: [UInt8]) -> Int {
        var i = bytes.count
        // Look back at most 3 bytes for a lead byte whose sequence is not finished.
        var back = 0
        while i > 0 && back < 4 {
            let b = bytes[i - 1]
            if b & 0xC0 == 0x80 { i -= 1; back += 1; continue }
            let need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
            return need > back + 1 ? i - 1 : bytes.count
        }
        return bytes.count
    }

    /// The longest suffix of `text` that is a proper prefix of `stop`.
    static func overlap(_ text: String, _ stop: String) -> Int {
        var n = min(text.count, stop.count - 1)
        while n > 0 {
            if text.hasSuffix(stop.prefix(n)) { return n }
            n -= 1
        }
        return 0
    }
}
