import Foundation
@testable import SLM
import Testing

@Suite("Chat templates, sampling and generation")
struct GeneratorTests {
    @Test("each family's template renders the conversation as the harness's Jinja run did, and tokenizes to llama.cpp's ids",
          arguments: ["qwen2-Q8_0", "granite-Q8_0", "llama3-Q8_0", "mistral-Q8_0", "llama-Q8_0", "smollm2-135m-instruct-q4_1"])
    func chatTemplate(_ name: String) throws {
        guard let json = Reference.roots.map({ "\($0)/refs/\(name).json" }).first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            print("skipped: \(name) reference not found (../shared absent)"); return
        }
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as! [String: Any]
        let chat = (object["prompts"] as! [[String: Any]]).first { $0["id"] as? String == "chat" }!
        let template = ChatTemplate(template: object["chat_template"] as? String)
        let message = ChatMessage(role: "user", content: "Cell 4471 PRB utilisation 93% at 18:05. Why did DL throughput per UE fall to 2.1 Mbit/s?")
        #expect(template.render([message]) == chat["text"] as! String, "\(name): \(template)")
        let gguf = name.hasPrefix("smollm2") ? DefaultModel.path() : Reference.roots.map { "\($0)/gguf/\(name).gguf" }.first { FileManager.default.fileExists(atPath: $0) }
        guard let gguf else { return }
        let generator = try Generator(path: gguf, threads: 1)
        #expect(generator.template == template)
        #expect(generator.chatPrompt([message]) == (chat["llama_ids_special"] as! [Int]).map(Int32.init))
    }

    @Test("greedy generation streams what the model's argmax gives; stop strings and max tokens end it")
    func generation() throws {
        let path = Reference.roots[0] + "/gguf/qwen2-Q8_0.gguf"
        let generator = try Generator(path: path, threads: 1)
        let prompt = generator.tokenizer.encode("Cell 4471 PRB utilisation", parseSpecial: false)
        var o = GenerationOptions()
        o.maxTokens = 24
        var text = ""
        let end = try generator.generate(prompt, options: o) { text += $0 }
        guard case .done(let reason, _, let count) = end else { Issue.record("no end"); return }
        // Independently: argmax step by step, detokenised at the end.
        let session = generator.model.session(capacity: 64)
        try generator.model.evaluate(prompt, in: session)
        var ids: [Int32] = []
        for _ in 0..<count {
            let next = ModelTests.argmax(Array(session.logits)).0
            ids.append(next)
            try generator.model.evaluate([next], in: session)
        }
        #expect(text == String(decoding: ids.flatMap { generator.tokenizer.piece($0, special: false) }, as: UTF8.self))
        #expect(reason == .maxTokens || reason == .endOfText)
        // A stop string cut out of that text ends the generation before it.
        let words = text.split(separator: " ")
        if words.count > 3 {
            o.stop = [String(words[2])]
            var cut = ""
            let stopped = try generator.generate(prompt, options: o) { cut += $0 }
            guard case .done(.stopString, _, _) = stopped else { Issue.record("stop string not seen: \(stopped)"); return }
            #expect(text.hasPrefix(cut) && !cut.contains(words[2]))
        }
    }

    @Test("seeded sampling repeats itself; another seed differs; top-k 1 is greedy")
    func sampling() {
        let logits: [Float] = (0..<500).map { Float(sin(Double($0) * 12.9898) * 4) }
        func draw(_ o: SamplingOptions, _ n: Int = 200) -> [Int32] {
            var s = Sampler(o)
            return logits.withUnsafeBufferPointer { b in (0..<n).map { _ in s.next(b, history: []) } }
        }
        var o = SamplingOptions()
        o.temperature = 0.8
        o.seed = 42
        let a = draw(o), b = draw(o)
        #expect(a == b)
        o.seed = 43
        #expect(draw(o) != a)
        #expect(Set(a).count > 1)
        o.topK = 1
        let greedy = Int32(logits.indices.max { logits[$0] < logits[$1] }!)
        #expect(Set(draw(o)) == [greedy])
        // min-p keeps only tokens within ln(min_p) of the best logit.
        o.topK = 0; o.topP = 1; o.minP = 0.5
        let best = logits.max()!
        #expect(draw(o).allSatisfy { logits[Int($0)] >= best + log(0.5) })
        // The repetition penalty moves greedy off a token just used.
        o.temperature = 0; o.repeatPenalty = 100
        var s = Sampler(o)
        #expect(logits.withUnsafeBufferPointer { s.next($0, history: [greedy]) } != greedy)
    }

    @Test("whole UTF-8 characters only: a character split across tokens waits for its last byte")
    func utf8() {
        let bytes = Array("a€".utf8)
        #expect(Generator.completeUTF8Prefix(Array(bytes.prefix(2))) == 1)
        #expect(Generator.completeUTF8Prefix(Array(bytes.prefix(3))) == 1)
        #expect(Generator.completeUTF8Prefix(bytes) == 4)
        #expect(Generator.overlap("the end of li", "line") == 2)
    }
}
