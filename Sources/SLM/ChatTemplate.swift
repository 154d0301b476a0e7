/// One turn of a conversation.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// The chat formats of the supported families, recognised from the Jinja template the GGUF
/// carries (`tokenizer.chat_template`). We render them in Swift rather than run Jinja: the
/// families are few and their formats fixed. BOS is the tokenizer's to add, not the template's.
public enum ChatTemplate: Sendable, Equatable {
    /// `<|im_start|>role\n…<|im_end|>\n` (Qwen2, SmolLM); some templates add a system turn
    /// when the conversation has none.
    case chatML(defaultSystem: String?)
    /// `<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>`.
    case llama3
    /// `<|start_of_role|>role<|end_of_role|>…<|end_of_text|>\n`.
    case granite
    /// `[INST] … [/INST]answer</s>`; a system turn goes before the first user message.
    case mistral(eos: String)
    /// No template: the messages' contents, one after another.
    case plain

    public init(template: String?, eos: String = "</s>") {
        guard let t = template else { self = .plain; return }
        if t.contains("<|im_start|>") {
            self = .chatML(defaultSystem: Self.defaultSystem(in: t))
        } else if t.contains("<|start_header_id|>") {
            self = .llama3
        } else if t.contains("<|start_of_role|>") {
            self = .granite
        } else if t.contains("[INST]") {
            self = .mistral(eos: eos)
        } else {
            self = .plain
        }
    }

    /// The system text a ChatML template inserts when the first message is not a system one.
    static func defaultSystem(in template: String) -> String? {
        guard template.contains("messages[0]['role'] != 'system'") || template.contains("messages[0].role != 'system'"),
              let open = template.firstRange(of: "<|im_start|>system\n") ?? template.firstRange(of: "<|im_start|>system\\n"),
              let close = template[open.upperBound...].firstRange(of: "<|im_end|>") else { return nil }
        return String(template[open.upperBound..<close.lowerBound])
    }

    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var out = ""
        switch self {
        case .chatML(let system):
            if let system, messages.first?.role != "system" { out += "<|im_start|>system\n\(system)<|im_end|>\n" }
            for m in messages { out += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        case .llama3:
            for m in messages { out += "<|start_header_id|>\(m.role)<|end_header_id|>\n\n\(m.content)<|eot_id|>" }
            if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        case .granite:
            for m in messages { out += "<|start_of_role|>\(m.role)<|end_of_role|>\(m.content)<|end_of_text|>\n" }
            if addGenerationPrompt { out += "<|start_of_role|>assistant<|end_of_role|>" }
        case .mistral(let eos):
            var system = messages.first { $0.role == "system" }?.content
            for m in messages where m.role != "system" {
                if m.role == "user" {
                    out += "[INST] " + (system.map { $0 + "\n\n" } ?? "") + m.content + " [/INST]"
                    system = nil
                } else {
                    out += m.content + eos
                }
            }
        case .plain:
            out = messages.map(\.content).joined(separator: "\n")
        }
        return out
    }
}
