/// Keys of a `FlatTable`: equality plus a cheap 64-bit hash built with `HashMix`.
import CNocturneShims
#if canImport(Glibc)
import Glibc
#endif

protocol FlatKey: Equatable {
    func hash(_ seed: UInt64) -> UInt64
}

/// Multiply–xorshift mixing of 64-bit words: a few cycles per word, enough spread for
/// addresses and ports. Seeded per process so that crafted traffic cannot aim at collisions.
enum HashMix {
    static let seed: UInt64 = UInt64.random(in: 1...UInt64.max)

    @inline(__always)
    static func mix(_ h: UInt64, _ v: UInt64) -> UInt64 {
        let x = (h ^ v) &* 0x9e37_79b9_7f4a_7c15
        return x ^ (x >> 29)
    }
}

/// An open-addressing hash table (linear probing, backward-shift deletion) over one flat buffer
/// of entries, each holding its occupied flag, key and value side by side.
///
/// A busy capture streams through the caches and evicts the tables between packets, so what
/// counts is how many cache lines a packet touches: here the probe and the update that follows
/// share the entry's lines. Values are updated in place through a pointer; nothing is hashed
/// through `Hasher` or copied out and back as `Dictionary` would. The table grows (doubling at
/// half full) in the first windows; after that a lookup or insert allocates nothing.
final class FlatTable<Key: FlatKey, Value> {
    struct Entry {
        var used: Bool
        var key: Key
        var value: Value
    }

    private(set) var capacity: Int
    private(set) var count = 0
    private var mask: Int
    private var entries: UnsafeMutablePointer<Entry>
    private let seed = HashMix.seed

    init(capacity requested: Int) {
        var c = 16
        while c < requested * 2 { c <<= 1 }
        capacity = c
        mask = c - 1
        entries = FlatTable.allocate(c)
    }

    private static func allocate(_ c: Int) -> UnsafeMutablePointer<Entry> {
        let bytes = c * MemoryLayout<Entry>.stride
        // Tables of a megabyte or more go on 2 MiB-aligned memory marked for huge pages: a probe
        // per packet into a large table otherwise pays a TLB miss on top of the cache miss.
        let huge = bytes >= 1 << 20
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, huge ? 1 << 21 : 64, bytes) == 0, let raw else {
            fatalError("out of memory for a \(bytes)-byte table")
        }
        if huge { _ = madvise(raw, bytes, MADV_HUGEPAGE) }
        // Only the flag of a free entry is ever read; zeroed memory says "free".
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        return raw.bindMemory(to: Entry.self, capacity: c)
    }

    deinit {
        removeAll()
        free(entries)
    }

    @inline(__always)
    private func home(_ key: Key) -> Int { Int(truncatingIfNeeded: key.hash(seed)) & mask }

    @inline(__always)
    private func isUsed(_ i: Int) -> Bool {
        UnsafeRawPointer(entries + i).load(as: Bool.self)
    }

    @inline(__always)
    private func setFree(_ i: Int) {
        UnsafeMutableRawPointer(entries + i).storeBytes(of: false, as: Bool.self)
    }

    @inline(__always)
    private func value(at i: Int) -> UnsafeMutablePointer<Value> {
        UnsafeMutableRawPointer(entries + i).advanced(by: MemoryLayout<Entry>.offset(of: \Entry.value)!)
            .assumingMemoryBound(to: Value.self)
    }

    /// Starts loading `key`'s home entry into the cache; returns the hash for the lookup.
    @inline(__always)
    func prefetch(_ key: Key) -> UInt64 {
        let hash = key.hash(seed)
        let entry = UnsafeRawPointer(entries + (Int(truncatingIfNeeded: hash) & mask))
        nocturne_prefetch(entry)
        if MemoryLayout<Entry>.stride > 64 { nocturne_prefetch(entry + 64) }
        return hash
    }

    /// The value of `key` (whose `prefetch` gave `hash`), or nil.
    @inline(__always)
    func find(_ key: Key, hash: UInt64) -> UnsafeMutablePointer<Value>? {
        var i = Int(truncatingIfNeeded: hash) & mask
        while isUsed(i) {
            if entries[i].key == key { return value(at: i) }
            i = (i + 1) & mask
        }
        return nil
    }

    /// The value of `key` (whose `prefetch` gave `hash`), inserting `make()` first when absent.
    @inline(__always)
    func findOrInsert(_ key: Key, hash: UInt64, _ make: () -> Value) -> UnsafeMutablePointer<Value> {
        var i = Int(truncatingIfNeeded: hash) & mask
        while isUsed(i) {
            if entries[i].key == key { return value(at: i) }
            i = (i + 1) & mask
        }
        if (count + 1) * 2 > capacity {
            grow()
            return findOrInsert(key, hash: hash, make)
        }
        (entries + i).initialize(to: Entry(used: true, key: key, value: make()))
        count += 1
        return value(at: i)
    }

    /// Visits every entry; `body` may update the value in place.
    func forEach(_ body: (Key, UnsafeMutablePointer<Value>) -> Void) {
        for i in 0..<capacity where isUsed(i) { body(entries[i].key, value(at: i)) }
    }

    /// Removes the entries `shouldRemove` picks.
    func removeAll(where shouldRemove: (Key, Value) -> Bool) {
        var doomed: [Key] = []
        for i in 0..<capacity where isUsed(i) && shouldRemove(entries[i].key, entries[i].value) {
            doomed.append(entries[i].key)
        }
        for key in doomed { remove(key) }
    }

    func removeAll() {
        for i in 0..<capacity where isUsed(i) {
            (entries + i).deinitialize(count: 1)
            setFree(i)
        }
        count = 0
    }

    func remove(_ key: Key) {
        var i = home(key)
        while isUsed(i) {
            if entries[i].key == key { break }
            i = (i + 1) & mask
        }
        guard isUsed(i) else { return }
        (entries + i).deinitialize(count: 1)
        setFree(i)
        count -= 1
        // Shift later members of the probe run back into the hole.
        var hole = i
        var j = (i + 1) & mask
        while isUsed(j) {
            // Move j into the hole unless its home lies cyclically within (hole, j].
            if (j - home(entries[j].key)) & mask >= (j - hole) & mask {
                (entries + hole).moveInitialize(from: entries + j, count: 1)
                setFree(j)
                hole = j
            }
            j = (j + 1) & mask
        }
    }

    private func grow() {
        let old = entries, oldCapacity = capacity
        capacity *= 2
        mask = capacity - 1
        entries = FlatTable.allocate(capacity)
        for i in 0..<oldCapacity where UnsafeRawPointer(old + i).load(as: Bool.self) {
            var j = home(old[i].key)
            while isUsed(j) { j = (j + 1) & mask }
            (entries + j).moveInitialize(from: old + i, count: 1)
        }
        free(old)
    }
}

/// A growable array of plain values addressed in place, for per-packet counters: no
/// uniqueness check or copy-on-write on each update, as `Array` in a class would do.
final class Slab<Element> {
    private(set) var count = 0
    private var capacity = 0
    private var base: UnsafeMutablePointer<Element>

    init() {
        base = .allocate(capacity: 1)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    @discardableResult
    func append(_ value: Element) -> Int {
        if count == capacity {
            let grown = Swift.max(16, capacity * 2)
            let new = UnsafeMutablePointer<Element>.allocate(capacity: grown)
            new.moveInitialize(from: base, count: count)
            base.deallocate()
            base = new
            capacity = grown
        }
        (base + count).initialize(to: value)
        count += 1
        return count - 1
    }

    var indices: Range<Int> { 0..<count }

    subscript(i: Int) -> Element {
        unsafeAddress {
            precondition(i >= 0 && i < count)
            return UnsafePointer(base + i)
        }
        unsafeMutableAddress {
            precondition(i >= 0 && i < count)
            return base + i
        }
    }
}
