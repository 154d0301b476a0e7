import Tensor
/// Text ⇄ token ids for GGUF models, matching llama.cpp's tokenizer (src/llama-vocab.cpp):
/// SentencePiece BPE ("llama") and byte-level BPE ("gpt2") with llama.cpp's pre-tokenizers.
public struct Tokenizer: Sendable {
    public enum Model: String, Sendable {
        /// SentencePiece BPE with scores and byte fallback.
        case spm
        /// Byte-level BPE with merges (GPT-2 style).
        case bpe
    }

    public let model: Model
    /// tokenizer.ggml.pre as read (nil for SentencePiece models without one).
    public let pre: String?
    public var vocabularySize: Int { vocab.texts.count }
    public let bos: Int32?
    public let eos: Int32?
    public let eot: Int32?
    public let eom: Int32?
    public let unk: Int32?
    /// Whether encoding adds BOS when the caller does not say (tokenizer.ggml.add_bos_token,
    /// else llama.cpp's default for the tokenizer type and pre-tokenizer).
    public var addBOS: Bool
    /// tokenizer.ggml.add_eos_token (default false); EOS is appended when special tokens are added.
    public var addEOS: Bool
    public let addSpacePrefix: Bool

    let vocab: TokenizerVocabulary
    let pretokenizer: Pretokenizer?
    /// Ids of every token that ends generation (llama.cpp's special_eog_ids).
    let endOfGeneration: Set<Int32>

    public init(gguf: GGUFFile) throws(GGUFError) {
        func fail(_ reason: String) -> GGUFError { GGUFError(path: gguf.path, offset: nil, reason: reason) }
        let md = gguf.metadata

        guard let modelName = md["tokenizer.ggml.model"]?.string else { throw fail("tokenizer.ggml.model is missing") }
        var pre = md["tokenizer.ggml.pre"]?.string
        var addBOS: Bool
        var ignoreMerges = false
        var defaultBOS: Int32?, defaultEOS: Int32?, defaultUNK: Int32?
        let rules: [SplitRule]?
        switch modelName {
        case "llama":
            model = .spm
            addBOS = true
            defaultBOS = 1; defaultEOS = 2; defaultUNK = 0
            rules = nil
        case "gpt2":
            model = .bpe
            addBOS = false
            defaultBOS = 11; defaultEOS = 11
            let p = pre ?? "default"
            pre = p
            switch p {
            case "default":
                rules = [.punctuationRun, .gpt2, .digitRun, .asciiDigitTriple]
            case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
                 "mpt", "olmo", "jais", "exaone4", "trillion", "granite-docling":
                rules = [.gpt2]
            case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2":
                rules = [.llama3]
                ignoreMerges = true
                addBOS = true
            case "dbrx", "smaug-bpe":
                rules = [.llama3]
            case "qwen2", "deepseek-r1-qwen", "megrez", "stablelm2":
                rules = [.qwen2]
            case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b":
                // A first pass cuts every digit out on its own, then the GPT-2 regex runs on
                // the rest (llama.cpp's LLAMA_VOCAB_PRE_TYPE_SMOLLM and friends).
                rules = [.singleDigit, .gpt2]
            default:
                throw fail("tokenizer.ggml.pre \"\(p)\" is not supported (supported: default, gpt-2, llama-bpe/llama3, qwen2, smollm and their llama.cpp aliases)")
            }
        default:
            throw fail("tokenizer.ggml.model \"\(modelName)\" is not supported (supported: llama, gpt2)")
        }
        self.pre = pre
        pretokenizer = rules.map(Pretokenizer.init(rules:))

        guard let tokenValues = md["tokenizer.ggml.tokens"]?.array else { throw fail("tokenizer.ggml.tokens is missing") }
        let n = tokenValues.count
        guard n > 0 else { throw fail("tokenizer.ggml.tokens is empty") }
        var texts: [[UInt8]] = []
        texts.reserveCapacity(n)
        for (i, v) in tokenValues.enumerated() {
            guard let s = v.string else { throw fail("tokenizer.ggml.tokens[\(i)] is not a string") }
            texts.append(s.isEmpty ? Array("[EMPTY_\(i)]".utf8) : Array(s.utf8))
        }

        var scores = [Float](repeating: 0, count: n)
        if let values = md["tokenizer.ggml.scores"]?.array {
            guard values.count >= n else { throw fail("tokenizer.ggml.scores has \(values.count) entries for \(n) tokens") }
            for i in 0..<n { scores[i] = Float(values[i].double ?? 0) }
        }

        var attrs = [TokenAttr](repeating: .normal, count: n)
        if let values = md["tokenizer.ggml.token_type"]?.array {
            guard values.count >= n else { throw fail("tokenizer.ggml.token_type has \(values.count) entries for \(n) tokens") }
            for i in 0..<n { attrs[i] = TokenAttr(ggufType: values[i].int ?? 0) }
        }

        var merges: [[UInt8]: Int32] = [:]
        if model == .bpe {
            guard let values = md["tokenizer.ggml.merges"]?.array else { throw fail("tokenizer.ggml.merges is missing") }
            merges.reserveCapacity(values.count)
            for (rank, v) in values.enumerated() {
                guard let s = v.string else { throw fail("tokenizer.ggml.merges[\(rank)] is not a string") }
                let bytes = Array(s.utf8)
                // Split at the first space after the first byte, as llama.cpp does; a line
                // without one becomes the empty pair, which can never match.
                var key: [UInt8] = [0xFF]
                if bytes.count > 1, let space = bytes[1...].firstIndex(of: 0x20) {
                    key = TokenizerVocabulary.mergeKey(bytes[..<space], bytes[(space + 1)...])
                }
                if merges[key] == nil { merges[key] = Int32(rank) }
            }
        }

        func specialID(_ key: String, default value: Int32?) -> Int32? {
            var id = value.flatMap { $0 >= 0 && Int($0) < n ? $0 : nil }
            if let v = md[key]?.int, v >= 0, v < n { id = Int32(v) }
            return id
        }
        bos = specialID("tokenizer.ggml.bos_token_id", default: defaultBOS)
        eos = specialID("tokenizer.ggml.eos_token_id", default: defaultEOS)
        unk = specialID("tokenizer.ggml.unknown_token_id", default: defaultUNK)
        var eot = specialID("tokenizer.ggml.eot_token_id", default: nil)
        var eom = specialID("tokenizer.ggml.eom_token_id", default: nil)
        var fim: [String: Int32] = [:]
        for name in ["pre", "suf", "mid", "pad", "rep", "sep"] {
            fim[name] = specialID("tokenizer.ggml.fim_\(name)_token_id", default: nil)
        }

        // Known end-of-turn and FIM tokens found by text; llama.cpp also forces them to be
        // control tokens, which matters for splitting special-token text out of prompts.
        var byText: [[UInt8]: Int32] = [:]
        for (i, t) in texts.enumerated() where byText[t] == nil { byText[t] = Int32(i) }
        func find(_ candidates: [String]) -> Int32? {
            for c in candidates { if let id = byText[Array(c.utf8)] { return id } }
            return nil
        }
        func markControl(_ id: Int32?) { if let id { attrs[Int(id)].insert(.control) } }
        if eot == nil {
            eot = find(["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
                        "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"])
            markControl(eot)
        }
        if eom == nil {
            eom = find(["<|eom_id|>"])
            markControl(eom)
        }
        let fimCandidates: [(String, [String])] = [
            ("pre", ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"]),
            ("suf", ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"]),
            ("mid", ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"]),
            ("pad", ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]),
            ("rep", ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]),
            ("sep", ["<|file_sep|>"]),
        ]
        for (name, candidates) in fimCandidates where fim[name] == nil {
            fim[name] = find(candidates)
            markControl(fim[name])
        }
        for i in 0..<n where attrs[i].contains(.control) {
            if texts[i].count >= 6, String(decoding: texts[i], as: UTF8.self).contains("unused") { attrs[i].insert(.unused) }
        }

        var eog = Set<Int32>([fim["pad"], fim["rep"], fim["sep"]].compactMap { $0 })
        let eogTexts = ["<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
                        "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
                        "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
                        "<｜end▁of▁sentence｜>", "[e~["]
        for t in eogTexts {
            if let id = byText[Array(t.utf8)] {
                eog.insert(id)
                attrs[Int(id)].insert(.control)
            }
        }
        // gpt-oss renders these as text.
        for t in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let id = byText[Array(t.utf8)] { attrs[Int(id)] = .userDefined }
        }
        for id in [eos, eot, eom].compactMap({ $0 }) { eog.insert(id) }
        // Harmony / solar-open: "<|end|>" ends a message, not the generation.
        func eogHas(_ t: String) -> Bool { byText[Array(t.utf8)].map { eog.contains($0) } ?? false }
        if let end = byText[Array("<|end|>".utf8)], eog.contains(end),
           (eogHas("<|return|>") && eogHas("<|call|>")) || ((eogHas("<|call|>") || eogHas("<|calls|>")) && eogHas("<|flush|>")) {
            eog.remove(end)
            attrs[Int(end)] = .userDefined
        }
        if eogHas("<|tool_response>"), let s = byText[Array("</s>".utf8)], eog.contains(s) {
            eog.remove(s)
            attrs[Int(s)] = .normal
        }
        self.eot = eot
        self.eom = eom
        endOfGeneration = eog

        if let v = md["tokenizer.ggml.add_bos_token"]?.bool { addBOS = v }
        self.addBOS = addBOS
        addEOS = md["tokenizer.ggml.add_eos_token"]?.bool ?? false
        addSpacePrefix = md["tokenizer.ggml.add_space_prefix"]?.bool ?? (model == .spm)
        if addBOS && bos == nil { throw fail("tokenizer.ggml.add_bos_token is true, but there is no BOS token") }

        vocab = TokenizerVocabulary(model: model, texts: texts, scores: scores, attrs: attrs, merges: merges,
                                    ignoreMerges: ignoreMerges, unk: unk)
    }

    // MARK: encoding

    /// Token ids of `text`. `addBOS` nil means the model's default; when special tokens are
    /// added (addBOS is not false) and the model asks for it, EOS is appended too.
    /// `parseSpecial` splits control/unknown-token text (e.g. "<|im_start|>") out as single
    /// tokens; user-defined tokens are split out either way, as in llama.cpp.
    public func encode(_ text: String, addBOS: Bool? = nil, parseSpecial: Bool) -> [Int32] {
        let bytes = Array(text.utf8)
        let fragments = bytes.isEmpty ? [] : vocab.partition(bytes, parseSpecial: parseSpecial)
        var output: [Int32] = []
        output.reserveCapacity(bytes.count / 2 + 2)
        if addBOS ?? self.addBOS, let bos { output.append(bos) }

        switch model {
        case .spm:
            // A space is put before the first text, and before text that follows a special
            // token (llama.cpp's is_prev_special), then spaces become "▁".
            var previousWasSpecial = true
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    output.append(id)
                    previousWasSpecial = true
                case .text(let range):
                    var escaped: [UInt8] = []
                    escaped.reserveCapacity(range.count * 3 + 3)
                    if addSpacePrefix && previousWasSpecial { escaped.append(contentsOf: Self.spaceMark) }
                    for b in bytes[range] {
                        if b == 0x20 { escaped.append(contentsOf: Self.spaceMark) } else { escaped.append(b) }
                    }
                    vocab.spmTokenize(escaped, into: &output)
                    previousWasSpecial = false
                }
            }
        case .bpe:
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    output.append(id)
                case .text(let range):
                    let piece = Array(bytes[range])
                    for word in pretokenizer!.split(piece) {
                        vocab.bpeTokenize(word: piece[word], into: &output)
                    }
                }
            }
        }

        if addBOS != false, addEOS, let eos { output.append(eos) }
        return output
    }

    /// "▁" (U+2581), SentencePiece's visible space.
    static let spaceMark: [UInt8] = [0xE2, 0x96, 0x81]

    // MARK: decoding

    /// The bytes one token stands for. Byte tokens give their byte, GPT-2 byte-level text is
    /// mapped back to bytes, "▁" becomes a space. Control and unknown tokens give their text
    /// when `special` is true (llama.cpp's `special` flag) and nothing otherwise. A piece may be
    /// part of a UTF-8 character: join pieces before decoding.
    public func piece(_ id: Int32, special: Bool = true) -> [UInt8] {
        guard id >= 0, Int(id) < vocab.pieces.count else { return [] }
        if !special, vocab.attrs[Int(id)].intersects([.control, .unknown]) { return [] }
        return vocab.pieces[Int(id)]
    }

    /// Text of `ids`. A leading BOS is dropped, and so is the space the SentencePiece encoder
    /// puts in front of the text and after each special token, so `decode(encode(s))` gives
    /// `s` back. Unlike llama.cpp's detokenizer, no "clean up tokenization spaces" pass is run
    /// (it would change the text). Invalid UTF-8 (a character cut between pieces) becomes U+FFFD.
    public func decode(_ ids: [Int32], special: Bool = true) -> String {
        var bytes: [UInt8] = []
        var rest = ids[...]
        if let first = rest.first, first == bos, addBOS { rest = rest.dropFirst() }
        let spacePrefixed = model == .spm && addSpacePrefix
        var stripSpace = spacePrefixed
        for id in rest {
            let isSpecial = id >= 0 && Int(id) < vocab.attrs.count && vocab.attrs[Int(id)].intersects([.control, .userDefined, .unknown])
            var p = piece(id, special: special)[...]
            if isSpecial {
                stripSpace = spacePrefixed
            } else if stripSpace, !p.isEmpty {
                if p.first == 0x20 { p = p.dropFirst() }
                stripSpace = false
            }
            bytes.append(contentsOf: p)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// True for EOS, EOT, EOM and the other tokens llama.cpp treats as end of generation.
    public func isEndOfGeneration(_ id: Int32) -> Bool { endOfGeneration.contains(id) }

    /// The token's text as stored in the vocabulary (not decoded).
    public func tokenText(_ id: Int32) -> String? {
        guard id >= 0, Int(id) < vocab.texts.count else { return nil }
        return String(decoding: vocab.texts[Int(id)], as: UTF8.self)
    }
}

/// llama.cpp's token attributes (from tokenizer.ggml.token_type).
struct TokenAttr: OptionSet, Sendable {
    let rawValue: UInt16
    static let undefined = TokenAttr([])
    static let unknown = TokenAttr(rawValue: 1 << 0)
    static let unused = TokenAttr(rawValue: 1 << 1)
    static let normal = TokenAttr(rawValue: 1 << 2)
    static let control = TokenAttr(rawValue: 1 << 3)
    static let userDefined = TokenAttr(rawValue: 1 << 4)
    static let byte = TokenAttr(rawValue: 1 << 5)

    init(rawValue: UInt16) { self.rawValue = rawValue }

    /// GGUF token types: 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte.
    init(ggufType: Int) {
        switch ggufType {
        case 1: self = .normal
        case 2: self = .unknown
        case 3: self = .control
        case 4: self = .userDefined
        case 5: self = .unused
        case 6: self = .byte
        default: self = .undefined
        }
    }

    func intersects(_ other: TokenAttr) -> Bool { !isDisjoint(with: other) }
}

enum Fragment {
    case token(Int32)
    case text(Range<Int>)
}

/// The vocabulary and lookup tables, shared by all copies of a Tokenizer.
final class TokenizerVocabulary: Sendable {
    let model: Tokenizer.Model
    /// Token texts as UTF-8 bytes. Byte arrays, not Strings, are the keys: String equality
    /// treats canonically equivalent texts (e.g. precomposed and decomposed "é") as equal.
    let texts: [[UInt8]]
    let scores: [Float]
    let attrs: [TokenAttr]
    let ids: [[UInt8]: Int32]
    /// Key: left bytes, 0xFF, right bytes (0xFF never occurs in UTF-8).
    let merges: [[UInt8]: Int32]
    let ignoreMerges: Bool
    let unk: Int32?
    /// Special tokens split out of the text before tokenizing, longest first.
    let specialTokens: [Int32]
    /// Decoded bytes of every token (llama.cpp's token-to-piece with special = true).
    let pieces: [[UInt8]]
    /// SentencePiece byte-fallback tokens.
    let byteTokens: [Int32?]

    init(model: Tokenizer.Model, texts: [[UInt8]], scores: [Float], attrs: [TokenAttr], merges: [[UInt8]: Int32],
         ignoreMerges: Bool, unk: Int32?) {
        self.model = model
        self.texts = texts
        self.scores = scores
        self.attrs = attrs
        self.merges = merges
        self.ignoreMerges = ignoreMerges
        self.unk = unk
        var ids: [[UInt8]: Int32] = [:]
        ids.reserveCapacity(texts.count)
        for (i, t) in texts.enumerated() where ids[t] == nil { ids[t] = Int32(i) }
        self.ids = ids

        // Stable order for equal lengths (llama.cpp's std::sort leaves it unspecified).
        specialTokens = texts.indices
            .filter { attrs[$0].intersects([.control, .userDefined, .unknown]) }
            .sorted { texts[$0].count != texts[$1].count ? texts[$0].count > texts[$1].count : $0 < $1 }
            .map { Int32($0) }

        let hex = Array("0123456789ABCDEF".utf8)
        byteTokens = (0..<256).map { b -> Int32? in
            if let id = ids[Array("<0x".utf8) + [hex[b >> 4], hex[b & 15], UInt8(ascii: ">")]] { return id }
            return ids[[UInt8(b)]]
        }

        pieces = texts.indices.map { i in
            Self.piece(text: texts[i], attr: attrs[i], model: model)
        }
    }

    private static func piece(text: [UInt8], attr: TokenAttr, model: Tokenizer.Model) -> [UInt8] {
        if attr.intersects([.unknown, .control, .userDefined]) { return text }
        if attr.contains(.normal) {
            switch model {
            case .spm:
                var out: [UInt8] = []
                out.reserveCapacity(text.count)
                var i = 0
                while i < text.count {
                    if i + 2 < text.count, text[i] == 0xE2, text[i + 1] == 0x96, text[i + 2] == 0x81 {
                        out.append(0x20)
                        i += 3
                    } else {
                        out.append(text[i])
                        i += 1
                    }
                }
                return out
            case .bpe:
                var out: [UInt8] = []
                for s in String(decoding: text, as: UTF8.self).unicodeScalars {
                    if let b = ByteLevel.decode[s.value] {
                        out.append(b)
                    } else {
                        // Not a byte-level character: keep it as it is.
                        out.append(contentsOf: String(s).utf8)
                    }
                }
                return out
            }
        }
        if attr.contains(.byte), let b = parseByteToken(text) { return [b] }
        return []
    }

    /// "<0xAB>" → 0xAB.
    private static func parseByteToken(_ t: [UInt8]) -> UInt8? {
        guard t.count == 6, t[0] == UInt8(ascii: "<"), t[1] == UInt8(ascii: "0"), t[2] == UInt8(ascii: "x"),
              t[5] == UInt8(ascii: ">") else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x41...0x46: c - 0x41 + 10
            case 0x61...0x66: c - 0x61 + 10
            default: nil
            }
        }
        guard let hi = nibble(t[3]), let lo = nibble(t[4]) else { return nil }
        return hi << 4 | lo
    }

    @inline(__always) func tokenID(_ bytes: ArraySlice<UInt8>) -> Int32? { ids[Array(bytes)] }

    /// Byte-fallback token for SentencePiece; llama.cpp would throw where there is none, here
    /// the unknown token stands in.
    func byteToken(_ b: UInt8) -> Int32? { byteTokens[Int(b)] ?? unk }

    static func mergeKey(_ left: ArraySlice<UInt8>, _ right: ArraySlice<UInt8>) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(left.count + right.count + 1)
        key.append(contentsOf: left)
        key.append(0xFF)
        key.append(contentsOf: right)
        return key
    }

    @inline(__always) func mergeRank(_ left: ArraySlice<UInt8>, _ right: ArraySlice<UInt8>) -> Int32? {
        merges[Self.mergeKey(left, right)]
    }

    /// llama.cpp's tokenizer_st_partition: for each special token, longest first, cut every
    /// occurrence out of the text fragments still unprocessed. With parseSpecial false only
    /// user-defined tokens are cut out.
    func partition(_ text: [UInt8], parseSpecial: Bool) -> [Fragment] {
        var fragments: [Fragment] = [.text(0..<text.count)]
        for id in specialTokens {
            if !parseSpecial, attrs[Int(id)].intersects([.control, .unknown]) { continue }
            let needle = texts[Int(id)]
            guard !needle.isEmpty else { continue }
            var next: [Fragment] = []
            next.reserveCapacity(fragments.count)
            var changed = false
            for fragment in fragments {
                guard case .text(let range) = fragment else { next.append(fragment); continue }
                var start = range.lowerBound
                while let match = Self.find(needle, in: text, from: start, to: range.upperBound) {
                    if match > start { next.append(.text(start..<match)) }
                    next.append(.token(id))
                    start = match + needle.count
                    changed = true
                }
                if start < range.upperBound { next.append(.text(start..<range.upperBound)) }
            }
            if changed { fragments = next }
        }
        return fragments
    }

    private static func find(_ needle: [UInt8], in hay: [UInt8], from: Int, to end: Int) -> Int? {
        let n = needle.count
        guard end - from >= n else { return nil }
        let first = needle[0]
        var i = from
        while i <= end - n {
            if hay[i] == first {
                var k = 1
                while k < n, hay[i + k] == needle[k] { k += 1 }
                if k == n { return i }
            }
            i += 1
        }
        return nil
    }
}
