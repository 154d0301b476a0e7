/// The two merge algorithms (SentencePiece BPE with scores, byte-level BPE with ranks) and the
/// small pieces they share. Both mirror llama.cpp's llm_tokenizer_spm / llm_tokenizer_bpe,
/// including their tie-breaking, so the ids are the same as llama.cpp's.

/// A binary heap; `before(a, b)` is true when a must come out before b.
struct Heap<Element> {
    private var items: [Element] = []
    private let before: (Element, Element) -> Bool

    init(before: @escaping (Element, Element) -> Bool) { self.before = before }

    var isEmpty: Bool { items.isEmpty }

    mutating func push(_ e: Element) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard before(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var best = i
            if l < items.count, before(items[l], items[best]) { best = l }
            if r < items.count, before(items[r], items[best]) { best = r }
            if best == i { break }
            items.swapAt(i, best)
            i = best
        }
        return top
    }
}

/// A run of bytes in a doubly linked list of symbols; merging moves the right symbol's bytes
/// into the left one and unlinks the right one (its length becomes 0).
struct Symbol {
    var start: Int
    var count: Int
    var prev: Int
    var next: Int
}

/// Splits bytes into one symbol per UTF-8 character, the way llama.cpp does (by lead byte).
func utf8Symbols(_ bytes: [UInt8]) -> [Symbol] {
    var symbols: [Symbol] = []
    symbols.reserveCapacity(bytes.count)
    var offset = 0
    while offset < bytes.count {
        let b = bytes[offset]
        let len = b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4
        let n = min(len, bytes.count - offset)
        let index = symbols.count
        symbols.append(Symbol(start: offset, count: n, prev: index - 1, next: offset + n == bytes.count ? -1 : index + 1))
        offset += n
    }
    return symbols
}

/// Merges adjacent symbols, cheapest pair first (leftmost on ties), until no adjacent pair has
/// a cost. Both tokenizers are this loop: SentencePiece costs a pair by its merged piece's
/// negated score, byte-level BPE by the merge's rank.
func mergeSymbols(_ symbols: inout [Symbol], cost: (Symbol, Symbol) -> Float?) {
    struct Bigram { var left: Int; var right: Int; var cost: Float; var size: Int }
    var queue = Heap<Bigram> { a, b in a.cost < b.cost || (a.cost == b.cost && a.left < b.left) }

    func tryAdd(_ left: Int, _ right: Int) {
        guard left >= 0, right >= 0 else { return }
        let l = symbols[left], r = symbols[right]
        guard let c = cost(l, r) else { return }
        queue.push(Bigram(left: left, right: right, cost: c, size: l.count + r.count))
    }

    for i in symbols.indices.dropFirst() { tryAdd(i - 1, i) }
    while let bigram = queue.pop() {
        let l = symbols[bigram.left], r = symbols[bigram.right]
        // Symbols only grow to the right, so a pair queued before either side changed has a
        // different total size now, or an emptied side, or a left side no longer linked to it.
        if l.count == 0 || r.count == 0 || l.count + r.count != bigram.size || l.next != bigram.right { continue }
        symbols[bigram.left].count += r.count
        symbols[bigram.right].count = 0
        symbols[bigram.left].next = r.next
        if r.next >= 0 { symbols[r.next].prev = bigram.left }
        tryAdd(symbols[bigram.left].prev, bigram.left)
        tryAdd(bigram.left, symbols[bigram.left].next)
    }
}

extension TokenizerVocabulary {
    /// SentencePiece BPE on escaped text ("▁" for spaces): merge the adjacent pair whose
    /// merged text is the vocabulary entry with the highest score, leftmost on ties, until no
    /// pair is in the vocabulary. Symbols that are not tokens fall back to byte tokens.
    func spmTokenize(_ text: [UInt8], into output: inout [Int32]) {
        var symbols = utf8Symbols(text)
        mergeSymbols(&symbols) { l, r in tokenID(text[l.start..<l.start + l.count + r.count]).map { -scores[Int($0)] } }

        var i = symbols.isEmpty ? -1 : 0
        while i != -1 {
            let s = symbols[i]
            let piece = text[s.start..<s.start + s.count]
            if let id = tokenID(piece) {
                output.append(id)
            } else {
                for byte in piece { if let id = byteToken(byte) { output.append(id) } }
            }
            i = s.next
        }
    }

    /// Byte-level BPE on one pre-tokenized word (raw UTF-8): map bytes to GPT-2's printable
    /// characters, then merge the adjacent pair with the lowest merge rank, leftmost on ties.
    func bpeTokenize(word: ArraySlice<UInt8>, into output: inout [Int32]) {
        var encoded: [UInt8] = []
        encoded.reserveCapacity(word.count * 2)
        for b in word { encoded.append(contentsOf: ByteLevel.encode[Int(b)]) }

        if ignoreMerges, let id = tokenID(encoded[...]) {
            output.append(id)
            return
        }

        var symbols = utf8Symbols(encoded)
        // Ranks are below 2^24, so their order survives the Float.
        mergeSymbols(&symbols) { l, r in
            mergeRank(encoded[l.start..<l.start + l.count], encoded[r.start..<r.start + r.count]).map { Float($0) }
        }

        var i = symbols.isEmpty ? -1 : 0
        while i != -1 {
            let s = symbols[i]
            let piece = encoded[s.start..<s.start + s.count]
            if let id = tokenID(piece) {
                output.append(id)
            } else {
                // llama.cpp looks each byte of the encoded text up as a one-byte token and drops
                // the ones it cannot find.
                for byte in piece { if let id = tokenID([byte][...]) { output.append(id) } }
            }
            i = s.next
        }
    }
}

/// GPT-2's reversible map from bytes to printable characters: printable Latin-1 bytes map to
/// themselves, the rest to U+0100 onwards in byte order.
enum ByteLevel {
    static let scalars: [UInt32] = {
        var map = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                map[b] = UInt32(b)
            } else {
                map[b] = next
                next += 1
            }
        }
        return map
    }()

    /// UTF-8 of each byte's character.
    static let encode: [[UInt8]] = scalars.map { Array(String(Character(Unicode.Scalar($0)!)).utf8) }

    static let decode: [UInt32: UInt8] = {
        var d: [UInt32: UInt8] = [:]
        for (b, s) in scalars.enumerated() { d[s] = UInt8(b) }
        return d
    }()
}
