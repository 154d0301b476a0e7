/// Splitting of text into words before byte-level BPE, mirroring llama.cpp's `unicode_regex_split`.
///
/// llama.cpp runs a list of regexes one after the other, each one splitting the pieces the
/// previous one produced. Two regexes (GPT-2's and Llama 3's) have hand-written matchers there;
/// the rest go through `std::regex` on a "collapsed" text in which every non-ASCII code point is
/// replaced by one byte standing for its Unicode category. The two paths differ in one visible
/// way: the hand-written matchers emit an unmatched code point on its own, while `std::regex`
/// iteration keeps all text between two matches as one piece. Both behaviours are kept here.

/// Unicode classes the pre-tokenizer regexes ask about, for one code point.
struct ScalarClass: OptionSet, Sendable {
    let rawValue: UInt8
    static let letter = ScalarClass(rawValue: 1)
    static let number = ScalarClass(rawValue: 2)
    static let whitespace = ScalarClass(rawValue: 4)
    /// \p{P}; only the "default" pre-tokenizer asks for it.
    static let punctuation = ScalarClass(rawValue: 8)

    /// \p{L} = L*, \p{N} = Nd/Nl/No, \s = the White_Space property, as in llama.cpp's tables.
    /// For ASCII this equals what `std::regex` sees in the collapsed text (A-Za-z, 0-9, and
    /// isspace), so one classification serves both matcher styles.
    static func of(_ v: UInt32) -> ScalarClass {
        if v < 128 { return asciiTable[Int(v)] }
        guard let s = Unicode.Scalar(v) else { return [] }
        let p = s.properties
        // Non-ASCII whitespace collapses to \v before categories are looked at.
        if p.isWhitespace { return .whitespace }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return .punctuation
        default:
            return []
        }
    }

    private static let asciiTable: [ScalarClass] = (0..<128).map { v -> ScalarClass in
        switch v {
        case 0x41...0x5A, 0x61...0x7A: return .letter
        case 0x30...0x39: return .number
        case 0x09...0x0D, 0x20: return .whitespace
        default:
            let s = Unicode.Scalar(UInt8(v))
            switch s.properties.generalCategory {
            case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                 .initialPunctuation, .finalPunctuation, .otherPunctuation:
                return .punctuation
            default: return []
            }
        }
    }
}

/// One regex of a pre-tokenizer chain.
enum SplitRule: Sendable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` (hand-written in llama.cpp)
    case gpt2
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+` (hand-written)
    case llama3
    /// The Qwen2 regex: like llama3 with single digits, run through std::regex.
    case qwen2
    /// `\p{N}` through std::regex: every digit alone.
    case singleDigit
    /// `\p{N}+` through std::regex.
    case digitRun
    /// `[0-9][0-9][0-9]` through std::regex.
    case asciiDigitTriple
    /// `[\p{P}\$\+<=>\^~\|]+` through std::regex.
    case punctuationRun
}

struct Pretokenizer: Sendable {
    let rules: [SplitRule]

    /// Splits `text` into words, returned as ranges of UTF-8 byte offsets into `text.utf8`.
    func split(_ bytes: [UInt8]) -> [Range<Int>] {
        // Work on code points; remember where each starts in the byte array.
        var cps: [UInt32] = []
        var starts: [Int] = []
        cps.reserveCapacity(bytes.count)
        starts.reserveCapacity(bytes.count + 1)
        var i = 0
        while i < bytes.count {
            let (cp, n) = decodeScalar(bytes, at: i)
            cps.append(cp)
            starts.append(i)
            i += n
        }
        starts.append(bytes.count)
        let classes = cps.map(ScalarClass.of)
        let text = ClassifiedText(cps: cps, classes: classes)

        var pieces: [Range<Int>] = cps.isEmpty ? [] : [0..<cps.count]
        for rule in rules {
            var next: [Range<Int>] = []
            next.reserveCapacity(pieces.count * 2)
            for piece in pieces { text.split(piece, by: rule, into: &next) }
            pieces = next
        }
        return pieces.map { starts[$0.lowerBound]..<starts[$0.upperBound] }
    }
}

/// Decodes one code point. Input comes from a Swift String, so it is valid UTF-8; the
/// fallback only guards against misuse.
@inline(__always)
func decodeScalar(_ b: [UInt8], at i: Int) -> (UInt32, Int) {
    let b0 = UInt32(b[i])
    if b0 < 0x80 { return (b0, 1) }
    if b0 >= 0xF0, i + 3 < b.count {
        return (((b0 & 0x07) << 18) | (UInt32(b[i + 1] & 0x3F) << 12) | (UInt32(b[i + 2] & 0x3F) << 6) | UInt32(b[i + 3] & 0x3F), 4)
    }
    if b0 >= 0xE0, i + 2 < b.count {
        return (((b0 & 0x0F) << 12) | (UInt32(b[i + 1] & 0x3F) << 6) | UInt32(b[i + 2] & 0x3F), 3)
    }
    if b0 >= 0xC0, i + 1 < b.count {
        return (((b0 & 0x1F) << 6) | UInt32(b[i + 1] & 0x3F), 2)
    }
    return (0xFFFD, 1)
}

private struct ClassifiedText {
    let cps: [UInt32]
    let classes: [ScalarClass]

    func split(_ piece: Range<Int>, by rule: SplitRule, into out: inout [Range<Int>]) {
        switch rule {
        case .gpt2: handWritten(piece, into: &out, next: gpt2Token)
        case .llama3: handWritten(piece, into: &out, next: llama3Token)
        case .qwen2: regexIteration(piece, into: &out, matchAt: qwen2Match)
        case .singleDigit:
            regexIteration(piece, into: &out) { p, _ in classes[p].contains(.number) ? p + 1 : nil }
        case .digitRun:
            regexIteration(piece, into: &out) { p, end in
                var q = p
                while q < end, classes[q].contains(.number) { q += 1 }
                return q > p ? q : nil
            }
        case .asciiDigitTriple:
            regexIteration(piece, into: &out) { p, end in
                guard p + 3 <= end else { return nil }
                for k in p..<p + 3 where !(0x30...0x39).contains(cps[k]) { return nil }
                return p + 3
            }
        case .punctuationRun:
            regexIteration(piece, into: &out) { p, end in
                var q = p
                while q < end, isDefaultPunctuation(q) { q += 1 }
                return q > p ? q : nil
            }
        }
    }

    /// llama.cpp's custom splitters: each step consumes at least one code point and every
    /// step's text becomes a piece.
    private func handWritten(_ piece: Range<Int>, into out: inout [Range<Int>], next: (Int, Int) -> [Int]) {
        var pos = piece.lowerBound
        while pos < piece.upperBound {
            // A step may close several pieces (digit groups), hence a list of ends.
            for end in next(pos, piece.upperBound) where end > pos {
                out.append(pos..<end)
                pos = end
            }
        }
    }

    /// `std::regex_iterator` over one piece: leftmost matches in order, and the text between
    /// two matches kept together as one piece.
    private func regexIteration(_ piece: Range<Int>, into out: inout [Range<Int>], matchAt: (Int, Int) -> Int?) {
        var gapStart = piece.lowerBound
        var p = piece.lowerBound
        while p < piece.upperBound {
            if let q = matchAt(p, piece.upperBound), q > p {
                if p > gapStart { out.append(gapStart..<p) }
                out.append(p..<q)
                p = q
                gapStart = q
            } else {
                p += 1
            }
        }
        if gapStart < piece.upperBound { out.append(gapStart..<piece.upperBound) }
    }

    // MARK: classes with the out-of-piece convention (nothing matches past the end)

    @inline(__always) private func isLetter(_ p: Int, _ end: Int) -> Bool { p < end && classes[p].contains(.letter) }
    @inline(__always) private func isNumber(_ p: Int, _ end: Int) -> Bool { p < end && classes[p].contains(.number) }
    @inline(__always) private func isSpace(_ p: Int, _ end: Int) -> Bool { p < end && classes[p].contains(.whitespace) }
    /// [^\s\p{L}\p{N}] inside the piece.
    @inline(__always) private func isOther(_ p: Int, _ end: Int) -> Bool {
        p < end && classes[p].isDisjoint(with: [.letter, .number, .whitespace])
    }
    @inline(__always) private func isNewline(_ p: Int, _ end: Int) -> Bool { p < end && (cps[p] == 0x0D || cps[p] == 0x0A) }

    private func isDefaultPunctuation(_ p: Int) -> Bool {
        let c = cps[p]
        if c < 128 {
            // The ASCII part of the collapsed \p{P} class plus $+<=>^~| from the regex.
            switch c {
            case 0x21...0x23, 0x25...0x2A, 0x2C...0x2F, 0x3A...0x3B, 0x3F...0x40, 0x5B...0x5D, 0x5F, 0x7B, 0x7D,
                 0x24, 0x2B, 0x3C...0x3E, 0x5E, 0x7E, 0x7C:
                return true
            default: return false
            }
        }
        return classes[p] == .punctuation
    }

    /// Length of a `'s|'t|'re|'ve|'m|'ll|'d` contraction at p (0 if none).
    private func contraction(_ p: Int, _ end: Int, caseInsensitive: Bool) -> Int {
        guard cps[p] == 0x27, p + 1 < end else { return 0 }
        func lower(_ c: UInt32) -> UInt32 { caseInsensitive && (0x41...0x5A).contains(c) ? c + 32 : c }
        let a = lower(cps[p + 1])
        if a == 0x73 || a == 0x74 || a == 0x6D || a == 0x64 { return 2 }   // s t m d
        guard p + 2 < end else { return 0 }
        let b = lower(cps[p + 2])
        if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) { return 3 }  // re ve ll
        return 0
    }

    private func gpt2Token(_ start: Int, _ end: Int) -> [Int] {
        var pos = start
        if case let n = contraction(pos, end, caseInsensitive: false), n > 0 { return [pos + n] }
        // An optional leading space belongs to the letter/number/other run after it.
        let lead = cps[pos] == 0x20 ? pos + 1 : pos
        if isLetter(lead, end) {
            pos = lead
            while isLetter(pos, end) { pos += 1 }
            return [pos]
        }
        if isNumber(lead, end) {
            pos = lead
            while isNumber(pos, end) { pos += 1 }
            return [pos]
        }
        if isOther(lead, end) {
            pos = lead
            while isOther(pos, end) { pos += 1 }
            return [pos]
        }
        return [whitespaceRun(pos, end, newlineRule: false)]
    }

    private func llama3Token(_ start: Int, _ end: Int) -> [Int] {
        var pos = start
        if case let n = contraction(pos, end, caseInsensitive: true), n > 0 { return [pos + n] }
        let c = cps[pos]
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if !(c == 0x0D || c == 0x0A || isNumber(pos, end)), isLetter(pos, end) || isLetter(pos + 1, end) {
            pos += 1
            while isLetter(pos, end) { pos += 1 }
            return [pos]
        }
        // \p{N}{1,3}: a digit run closes a piece every three digits.
        if isNumber(pos, end) {
            var ends: [Int] = []
            var groupStart = pos
            while isNumber(pos, end) {
                pos += 1
                if pos - groupStart >= 3 { ends.append(pos); groupStart = pos }
            }
            if ends.last != pos { ends.append(pos) }
            return ends
        }
        //  ?[^\s\p{L}\p{N}]+[\r\n]*
        let lead = c == 0x20 ? pos + 1 : pos
        // llama.cpp tests the code point after a space, or, past the end, accepts the lone space.
        if isOther(lead, end) || (c == 0x20 && lead >= end) {
            pos = lead
            while isOther(pos, end) { pos += 1 }
            while isNewline(pos, end) { pos += 1 }
            return [pos]
        }
        return [whitespaceRun(pos, end, newlineRule: true)]
    }

    /// `\s*[\r\n]+` (when newlineRule), then `\s+(?!\S)`, then `\s+`, else one code point.
    private func whitespaceRun(_ pos: Int, _ end: Int, newlineRule: Bool) -> Int {
        var n = 0
        var afterLastNewline = 0
        while isSpace(pos + n, end) {
            if isNewline(pos + n, end) { afterLastNewline = pos + n + 1 }
            n += 1
        }
        if newlineRule, afterLastNewline > 0 { return afterLastNewline }
        // Leave the last space to start the next word when something follows.
        if n > 1, pos + n < end { return pos + n - 1 }
        if n > 0 { return pos + n }
        return pos + 1
    }

    /// The Qwen2 regex with ECMAScript (std::regex) semantics: alternatives tried in order.
    private func qwen2Match(_ p: Int, _ end: Int) -> Int? {
        let n = contraction(p, end, caseInsensitive: true)
        if n > 0 { return p + n }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        var q = -1
        if isLetter(p, end) {
            q = p
        } else if !isNewline(p, end), !isNumber(p, end), isLetter(p + 1, end) {
            q = p + 1
        }
        if q >= 0 {
            while isLetter(q, end) { q += 1 }
            return q
        }
        // \p{N}
        if isNumber(p, end) { return p + 1 }
        //  ?[^\s\p{L}\p{N}]+[\r\n]*
        q = cps[p] == 0x20 && isOther(p + 1, end) ? p + 1 : p
        if isOther(q, end) {
            while isOther(q, end) { q += 1 }
            while isNewline(q, end) { q += 1 }
            return q
        }
        // \s*[\r\n]+ | \s+(?!\S) | \s+
        guard isSpace(p, end) else { return nil }
        return whitespaceRun(p, end, newlineRule: true)
    }
}
