import Foundation
import PropertyBased
@testable import SLM
@testable import Tensor
import Testing

/// Cut and corrupted GGUF files: an error that names the file and byte offset, never a crash
/// or a read outside the file.
@Suite("GGUF reader on hostile input")
struct GGUFTests {
    static let fixture = Reference.roots[0] + "/gguf/qwen2-Q8_0.gguf"

    static func write(_ bytes: [UInt8]) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gguf-\(UUID().uuidString).gguf").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    @Test("the fixture's header, metadata and tensor table read as the harness recorded them")
    func header() throws {
        let file = try GGUFFile(path: Self.fixture)
        #expect(file.version == 3)
        #expect(file.architecture == "qwen2")
        #expect(file["qwen2.block_count"]?.int == 2)
        let ref = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Reference.roots[0] + "/refs/qwen2-Q8_0.json"))) as! [String: Any]
        let tensors = ref["tensors"] as! [[String: Any]]
        #expect(file.tensors.count == tensors.count)
        for t in tensors {
            let mine = try #require(file.tensor(t["name"] as! String))
            #expect(mine.shape == t["ne"] as! [Int])
            #expect(mine.type.description == t["type"] as! String)
        }
    }

    @Test("every cut of the file is refused with the byte offset, or reads to a usable prefix")
    func truncated() async throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.fixture)))
        await propertyCheck(count: 60, input: Gen.int(in: 0...(bytes.count - 1))) { cut in
            let path = Self.write(Array(bytes[..<cut]))
            defer { try? FileManager.default.removeItem(atPath: path) }
            do {
                let f = try GGUFFile(path: path)
                // Only a cut in trailing padding may still read, with every tensor inside.
                #expect(f.tensors.allSatisfy { f.dataOffset + $0.offset + $0.byteCount <= cut })
            } catch {
                #expect("\(error)".hasPrefix(path + " @"), "\(error)")
            }
        }
    }

    @Test("random byte changes in the header and tensor table never crash loading or running")
    func corrupted() async throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.fixture)))
        let file = try GGUFFile(path: Self.fixture)
        let headerEnd = file.dataOffset
        await propertyCheck(count: 150, input: Gen.int(in: 0...(headerEnd - 1)), Gen.int(in: 0...255), Gen.int(in: 0...(headerEnd - 1)), Gen.int(in: 0...255)) { o1, v1, o2, v2 in
            var b = bytes
            b[o1] = UInt8(v1)
            b[o2] = UInt8(v2)
            let path = Self.write(b)
            defer { try? FileManager.default.removeItem(atPath: path) }
            do {
                let f = try GGUFFile(path: path)
                let model = try LanguageModel(file: f, threads: 1)
                let session = model.session(capacity: 16)
                try model.evaluate([0, 1, 2], in: session)
                _ = try? Tokenizer(gguf: f).encode("Cell 4471 PRB 93%", parseSpecial: true)
            } catch {
                #expect(error is GGUFError, "\(error)")
            }
        }
    }

    @Test("token ids outside the vocabulary and a full context are errors")
    func misuse() throws {
        let model = try LanguageModel(file: try GGUFFile(path: Self.fixture), threads: 1)
        let session = model.session(capacity: 4)
        #expect(throws: GGUFError.self) { try model.evaluate([Int32(model.config.vocabulary)], in: session) }
        #expect(throws: GGUFError.self) { try model.evaluate([-1], in: session) }
        try model.evaluate([1, 2, 3, 4], in: session)
        #expect(throws: GGUFError.self) { try model.evaluate([5], in: session) }
        session.rewind(to: 2)
        try model.evaluate([5, 6], in: session)
        #expect(session.count == 4)
    }

    @Test("a file of another architecture or an unknown tensor type is refused by name")
    func unsupported() throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.fixture)))
        // general.architecture = "qwen2" → "qwen9" (same length).
        let needle = Array("qwen2".utf8)
        let at = (0..<(bytes.count - 5)).first { Array(bytes[$0..<($0 + 5)]) == needle && bytes[$0 - 8] == 5 }!
        bytes[at + 4] = UInt8(ascii: "9")
        let path = Self.write(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect { try LanguageModel(file: try GGUFFile(path: path)) } throws: { error in
            "\(error)".contains("architecture qwen9 is not supported")
        }
    }
}
