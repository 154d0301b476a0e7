/// A small pull scanner for the XML that PM files use: elements, attributes, text, comments,
/// processing instructions (anywhere, also before the declaration), CDATA and the predefined
/// and numeric entities. Names are returned without their namespace prefix; PM files are read
/// by element names under one namespace, so prefixes carry nothing we need. No DTDs, no
/// external entities: nothing in the input can make the scanner read anything else.
struct XMLScanner {
    /// An element's attributes in document order: few per element, so a list beats a table.
    struct Attributes: Equatable {
        var pairs: [(name: String, value: String)] = []

        subscript(_ name: String) -> String? { pairs.first { $0.name == name }?.value }

        static func == (a: Attributes, b: Attributes) -> Bool {
            a.pairs.map(\.name) == b.pairs.map(\.name) && a.pairs.map(\.value) == b.pairs.map(\.value)
        }
    }

    enum Event: Equatable {
        case start(name: String, attributes: Attributes, selfClosing: Bool)
        case end(name: String)
        case text(String)
    }

    struct Failure: Error {
        var offset: Int
        var reason: String
    }

    let bytes: [UInt8]
    private(set) var offset = 0
    private var lineCursor = (offset: 0, line: 1)

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// 1-based line of a byte offset; scans forward from the last answer, so asking in
    /// reading order costs one pass over the file.
    mutating func line(at target: Int) -> Int {
        if target < lineCursor.offset { lineCursor = (0, 1) }
        var line = lineCursor.line
        var i = lineCursor.offset
        let stop = min(target, bytes.count)
        while i < stop {
            if bytes[i] == 0x0A { line += 1 }
            i += 1
        }
        lineCursor = (stop, line)
        return line
    }

    /// The next event, or nil at the end of the input.
    mutating func next() throws(Failure) -> Event? {
        while offset < bytes.count {
            if bytes[offset] != UInt8(ascii: "<") {
                let start = offset
                while offset < bytes.count && bytes[offset] != UInt8(ascii: "<") { offset += 1 }
                // Whitespace between elements is not text; checked on bytes, before any String.
                var blank = true
                for i in start..<offset where !(bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09) {
                    blank = false
                    break
                }
                if blank { continue }
                return .text(try decode(start, offset))
            }
            let open = offset
            guard offset + 1 < bytes.count else { throw Failure(offset: open, reason: "input ends inside a tag") }
            switch bytes[offset + 1] {
            case UInt8(ascii: "?"):
                try skip(past: "?>", from: open, what: "processing instruction")
            case UInt8(ascii: "!"):
                if hasPrefix("<!--", at: offset) {
                    try skip(past: "-->", from: open, what: "comment")
                } else if hasPrefix("<![CDATA[", at: offset) {
                    let start = offset + 9
                    try skip(past: "]]>", from: open, what: "CDATA section")
                    return .text(String(decoding: bytes[start..<(offset - 3)], as: UTF8.self))
                } else {
                    try skip(past: ">", from: open, what: "declaration")
                }
            case UInt8(ascii: "/"):
                offset += 2
                let name = try readName(tagStart: open)
                skipSpace()
                guard offset < bytes.count, bytes[offset] == UInt8(ascii: ">") else {
                    throw Failure(offset: open, reason: "end tag </\(name)> is not closed")
                }
                offset += 1
                return .end(name: name)
            default:
                offset += 1
                let name = try readName(tagStart: open)
                var attributes = Attributes()
                while true {
                    skipSpace()
                    guard offset < bytes.count else { throw Failure(offset: open, reason: "input ends inside <\(name)>") }
                    if bytes[offset] == UInt8(ascii: ">") {
                        offset += 1
                        return .start(name: name, attributes: attributes, selfClosing: false)
                    }
                    if bytes[offset] == UInt8(ascii: "/") {
                        guard offset + 1 < bytes.count, bytes[offset + 1] == UInt8(ascii: ">") else {
                            throw Failure(offset: offset, reason: "stray '/' in <\(name)>")
                        }
                        offset += 2
                        return .start(name: name, attributes: attributes, selfClosing: true)
                    }
                    let key = try readName(tagStart: open)
                    skipSpace()
                    guard offset < bytes.count, bytes[offset] == UInt8(ascii: "=") else {
                        throw Failure(offset: offset, reason: "attribute \(key) of <\(name)> has no value")
                    }
                    offset += 1
                    skipSpace()
                    guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") || bytes[offset] == UInt8(ascii: "'") else {
                        throw Failure(offset: offset, reason: "attribute \(key) of <\(name)> is not quoted")
                    }
                    let quote = bytes[offset]
                    offset += 1
                    let start = offset
                    while offset < bytes.count && bytes[offset] != quote { offset += 1 }
                    guard offset < bytes.count else { throw Failure(offset: start, reason: "attribute \(key) of <\(name)> is not closed") }
                    attributes.pairs.append((key, try decode(start, offset)))
                    offset += 1
                }
            }
        }
        return nil
    }

    private func hasPrefix(_ s: StaticString, at i: Int) -> Bool {
        let n = s.utf8CodeUnitCount
        guard i + n <= bytes.count else { return false }
        let p = s.utf8Start
        for k in 0..<n where bytes[i + k] != p[k] { return false }
        return true
    }

    private mutating func skip(past terminator: StaticString, from open: Int, what: String) throws(Failure) {
        var i = offset + 2
        while i < bytes.count {
            if hasPrefix(terminator, at: i) {
                offset = i + terminator.utf8CodeUnitCount
                return
            }
            i += 1
        }
        throw Failure(offset: open, reason: "\(what) is not closed")
    }

    private mutating func skipSpace() {
        while offset < bytes.count, bytes[offset] == 0x20 || bytes[offset] == 0x0A || bytes[offset] == 0x0D || bytes[offset] == 0x09 {
            offset += 1
        }
    }

    /// A name up to whitespace, '=', '/', '>'; the namespace prefix is dropped.
    private mutating func readName(tagStart: Int) throws(Failure) -> String {
        let start = offset
        var colon = -1
        while offset < bytes.count {
            let b = bytes[offset]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 || b == UInt8(ascii: "=") || b == UInt8(ascii: "/")
                || b == UInt8(ascii: ">") || b == UInt8(ascii: "<") { break }
            if b == UInt8(ascii: ":") { colon = offset }
            offset += 1
        }
        guard offset > start else { throw Failure(offset: tagStart, reason: "a tag without a name") }
        let from = colon >= 0 && bytes[start..<colon] != [0x78, 0x6D, 0x6C, 0x6E, 0x73][...] ? colon + 1 : start
        return String(decoding: bytes[from..<offset], as: UTF8.self)
    }

    /// Text with the five predefined entities and numeric character references resolved.
    private func decode(_ start: Int, _ end: Int) throws(Failure) -> String {
        guard bytes[start..<end].contains(UInt8(ascii: "&")) else {
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }
        var out: [UInt8] = []
        out.reserveCapacity(end - start)
        var i = start
        while i < end {
            guard bytes[i] == UInt8(ascii: "&") else { out.append(bytes[i]); i += 1; continue }
            var j = i + 1
            while j < end && bytes[j] != UInt8(ascii: ";") && j - i < 12 { j += 1 }
            guard j < end, bytes[j] == UInt8(ascii: ";") else { throw Failure(offset: i, reason: "an '&' that starts no entity") }
            let name = String(decoding: bytes[(i + 1)..<j], as: UTF8.self)
            switch name {
            case "lt": out.append(UInt8(ascii: "<"))
            case "gt": out.append(UInt8(ascii: ">"))
            case "amp": out.append(UInt8(ascii: "&"))
            case "quot": out.append(UInt8(ascii: "\""))
            case "apos": out.append(UInt8(ascii: "'"))
            default:
                var value: UInt32?
                if name.hasPrefix("#x") || name.hasPrefix("#X") { value = UInt32(name.dropFirst(2), radix: 16) }
                else if name.hasPrefix("#") { value = UInt32(name.dropFirst()) }
                guard let v = value, let scalar = Unicode.Scalar(v) else {
                    throw Failure(offset: i, reason: "unknown entity &\(name);")
                }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            }
            i = j + 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
