/// Bounds-checked big-endian reads from a packet buffer.
///
/// Every read names the absolute offset it wants and gets `nil` when the bytes are not all
/// there, so a decoder cannot run past the captured length whatever the headers claim.
extension UnsafeRawBufferPointer {
    @inlinable @inline(__always)
    func u8(_ offset: Int) -> UInt8? {
        guard offset >= 0, offset < count else { return nil }
        return self[offset]
    }

    @inlinable @inline(__always)
    func u16(_ offset: Int) -> UInt16? {
        guard offset >= 0, offset &+ 2 <= count else { return nil }
        return UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inlinable @inline(__always)
    func u32(_ offset: Int) -> UInt32? {
        guard offset >= 0, offset &+ 4 <= count else { return nil }
        return UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inlinable @inline(__always)
    func u64(_ offset: Int) -> UInt64? {
        guard offset >= 0, offset &+ 8 <= count else { return nil }
        return UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inlinable @inline(__always)
    func has(_ offset: Int, _ length: Int) -> Bool {
        offset >= 0 && length >= 0 && offset &+ length <= count
    }
}
