import CPcap
import Decode
#if canImport(Glibc)
import Glibc
#endif

/// Several capture files read as one time-ordered stream (a k-way merge on timestamps).
///
/// Files are ordered by their first packet and opened only when the stream reaches that time,
/// so an archive of thousands of files holds only the overlapping ones open at once.
public final class CaptureStream {
    public struct Source: Sendable {
        public var path: String
        public var size: Int64
        public var linkType: LinkType
        public var firstTimestamp: Int64
    }

    public private(set) var sources: [Source] = []
    /// Inputs that could not be read at all, or stopped early; in the order they were met.
    public private(set) var errors: [CaptureError] = []
    /// Files opened but with no packets.
    public private(set) var emptyFiles: [String] = []
    public let totalBytes: Int64
    private let filter: String?

    private var pending: [Int] = []  // source indices not yet opened, by first timestamp, reversed
    private var open: [Entry] = []  // min-heap on the next packet's timestamp

    /// An open file in the merge. The pcap handle is kept beside the file so that the per-packet
    /// read touches no reference count.
    private struct Entry {
        var handle: OpaquePointer
        var index: Int
        var packet: CapturedPacket
        var packets: Int
    }
    private var files: [Int: CaptureFile] = [:]
    private var closedBytes: Int64 = 0
    private var packetsRead: [Int] = []

    /// Prepares the stream: opens each file once to learn its link type and first timestamp.
    /// Files that cannot be read are recorded in `errors` and left out.
    public init(paths: [String], filter: String? = nil) {
        self.filter = filter
        var total: Int64 = 0
        for path in paths {
            do {
                let file = try CaptureFile(path: path, filter: filter)
                var packet = CapturedPacket(timestamp: 0, wireLength: 0, bytes: UnsafeRawBufferPointer(start: nil, count: 0), source: 0)
                var st = stat()
                let size = stat(path, &st) == 0 ? Int64(st.st_size) : 0
                if file.next(into: &packet) {
                    sources.append(Source(path: path, size: size, linkType: file.linkType, firstTimestamp: packet.timestamp))
                    total += size
                } else if let error = file.stopError {
                    errors.append(error)
                } else {
                    emptyFiles.append(path)
                }
            } catch {
                errors.append(error)
            }
        }
        totalBytes = total
        packetsRead = Array(repeating: 0, count: sources.count)
        pending = sources.indices.sorted {
            (sources[$0].firstTimestamp, $0) > (sources[$1].firstTimestamp, $1)
        }
    }

    /// Bytes of input consumed so far (for progress).
    public var bytesRead: Int64 {
        closedBytes + open.reduce(0) { $0 + (files[$1.index]?.offset ?? 0) }
    }

    /// The next packet in time order across all files; false at the end of the stream.
    @inline(__always)
    public func next(into packet: inout CapturedPacket) -> Bool {
        // Open every file whose first packet comes before the earliest packet at hand.
        while let candidate = pending.last,
              open.isEmpty || sources[candidate].firstTimestamp <= open[0].packet.timestamp {
            pending.removeLast()
            openSource(candidate)
        }
        guard !open.isEmpty else { return false }
        packet = open[0].packet
        // Advance that file; the buffer handed out stays valid until its next read, which happens
        // on the following call, after the caller is done with this packet.
        return true
    }

    /// Moves past the packet returned by `next`. Call before the following `next`.
    @inline(__always)
    public func advance() {
        let rc = CaptureFile.read(open[0].handle, into: &open[0].packet)
        if rc == 1 {
            open[0].packets &+= 1
            if open.count > 1 { siftDown(0) }
        } else {
            finish(heapSlot: 0, code: rc)
        }
    }

    private func openSource(_ index: Int) {
        do {
            let file = try CaptureFile(path: sources[index].path, filter: filter)
            var packet = CapturedPacket(timestamp: 0, wireLength: 0, bytes: UnsafeRawBufferPointer(start: nil, count: 0), source: index)
            guard file.next(into: &packet) else {
                if let error = file.stopError { errors.append(error) }
                closedBytes += sources[index].size
                return
            }
            packet.source = index
            guard let handle = file.rawHandle else { return }
            files[index] = file
            open.append(Entry(handle: handle, index: index, packet: packet, packets: 1))
            siftUp(open.count - 1)
        } catch {
            errors.append(error)
            closedBytes += sources[index].size
        }
    }

    /// Packets read so far from source `index`.
    public func packets(of index: Int) -> Int {
        if let entry = open.first(where: { $0.index == index }) { return entry.packets }
        return packetsRead[index]
    }

    private func finish(heapSlot slot: Int, code: Int32) {
        let entry = open[slot]
        packetsRead[entry.index] = entry.packets
        if let file = files.removeValue(forKey: entry.index) {
            file.packets = entry.packets  // read through the handle by `advance`
            file.end(code)
            if let error = file.stopError { errors.append(error) }
        }
        closedBytes += sources[entry.index].size
        let last = open.removeLast()
        if slot < open.count {
            open[slot] = last
            siftDown(slot)
        }
    }

    @inline(__always)
    private func less(_ a: Int, _ b: Int) -> Bool {
        let x = open[a].packet.timestamp, y = open[b].packet.timestamp
        return x < y || (x == y && open[a].index < open[b].index)
    }

    private func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(i, parent) else { break }
            open.swapAt(i, parent)
            i = parent
        }
    }

    private func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < open.count && less(l, m) { m = l }
            if r < open.count && less(r, m) { m = r }
            if m == i { return }
            open.swapAt(i, m)
            i = m
        }
    }
}
