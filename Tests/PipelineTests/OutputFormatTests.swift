import Decode
import Foundation
import PropertyBased
import Sinks
import Testing

/// The hand-written JSON and time formatting, checked against Foundation's parser and formatter.
@Suite("Output formats")
struct OutputFormatTests {
    @Test("JSON lines parse back to what was written")
    func json() async throws {
        await propertyCheck(count: 500, input: Gen.int(in: -1_000_000_000...1_000_000_000), Gen.int(in: 0...0x10FFFF)) { n, scalar in
            let text = "a\"b\\c\n\t\u{1}é" + (Unicode.Scalar(UInt32(scalar)).map { String($0) } ?? "")
            let value = Double(n) / 997
            var line = JSONLine()
            line.open()
            line.field("text", text)
            line.field("int", n)
            line.field("double", value)
            line.field("none", nil as Double?)
            line.field("flag", n % 2 == 0)
            line.field("v4", IPAddress("10.45.0.255"))
            line.field("v6", IPAddress("2001:db8::1"))
            line.close()
            let object = try? JSONSerialization.jsonObject(with: Data(line.bytes)) as? [String: Any]
            #expect(object?["text"] as? String == text)
            #expect(object?["int"] as? Int == n)
            #expect(abs((object?["double"] as? Double ?? .nan) - value) <= 1e-6)
            #expect(object?["none"] is NSNull)
            #expect(object?["flag"] as? Bool == (n % 2 == 0))
            #expect(object?["v4"] as? String == "10.45.0.255" && object?["v6"] as? String == "2001:db8::1")
        }
    }

    @Test("RFC 3339 UTC matches Foundation's ISO 8601 formatter")
    func rfc3339() async {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        await propertyCheck(count: 500, input: Gen.int64(in: -2_000_000_000...4_000_000_000)) { seconds in
            let text = RFC3339.format(seconds * 1_000_000_000)
            #expect(text == formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds))))
        }
        #expect(RFC3339.format(1_767_225_600_001_000_000) == "2026-01-01T00:00:00.001Z")
    }

    @Test("IPv6 text follows RFC 5952 and round-trips", arguments: [
        "2001:db8::1", "::", "::1", "fe80::1:2:3:4", "2001:db8:0:1:1:1:1:1", "2001:0:0:1::1", "1::", "10.1.2.3",
    ])
    func addresses(_ text: String) throws {
        let a = try #require(IPAddress(text))
        #expect(a.description == text)
    }
}
