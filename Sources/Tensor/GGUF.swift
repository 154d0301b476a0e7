#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A GGUF file (v2, v3) mapped into memory: its metadata and tensor table. Weights stay in the
/// mapping; nothing is copied at load. Every read is bounds-checked, so a cut or corrupt file
/// is an error that names the byte offset, never a crash.
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// In file order.
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Byte offset of the tensor data section.
    public let dataOffset: Int
    public let base: UnsafeRawPointer
    public let size: Int
    private let mappingLength: Int
    private let byName: [String: Int]

    public init(path: String) throws(GGUFError) {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw GGUFError(path: path, offset: nil, reason: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw GGUFError(path: path, offset: nil, reason: "cannot stat") }
        size = Int(st.st_size)
        guard size >= 24 else { throw GGUFError(path: path, offset: 0, reason: "\(size) bytes: too short for a GGUF header") }
        guard let m = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), m != MAP_FAILED else {
            throw GGUFError(path: path, offset: nil, reason: "cannot map: \(String(cString: strerror(errno)))")
        }
        mappingLength = size
        base = UnsafeRawPointer(m)
        do throws(GGUFError) {
            var r = GGUFReader(base: base, size: size, path: path)
            guard try r.u32() == 0x4655_4747 else { throw r.error("not a GGUF file (magic is not \"GGUF\")", at: 0) }
            version = try r.u32()
            guard version == 2 || version == 3 else { throw r.error("GGUF version \(version); versions 2 and 3 are read", at: 4) }
            let tensorCount = try r.count(limit: 1 << 20, what: "tensors")
            let kvCount = try r.count(limit: 1 << 20, what: "metadata entries")
            var metadata: [String: GGUFValue] = [:]
            for _ in 0..<kvCount {
                let key = try r.string()
                metadata[key] = try r.value(type: try r.u32(), depth: 0)
            }
            self.metadata = metadata
            var alignment = 32
            if let a = metadata["general.alignment"] {
                guard let v = a.int, v > 0, v <= 1 << 16, v & (v - 1) == 0 else { throw r.error("general.alignment is not a power of two", at: nil) }
                alignment = v
            }
            self.alignment = alignment
            var infos: [GGUFTensorInfo] = []
            var byName: [String: Int] = [:]
            for _ in 0..<tensorCount {
                let at = r.offset
                let name = try r.string()
                let dims = Int(try r.u32())
                guard (1...4).contains(dims) else { throw r.error("tensor \(name): \(dims) dimensions", at: at) }
                var shape: [Int] = []
                for _ in 0..<dims { shape.append(try r.count(limit: 1 << 32, what: "elements of a dimension")) }
                let rawType = try r.u32()
                guard let type = GGMLType(rawValue: rawType) else { throw r.error("tensor \(name): ggml type \(rawType) is not supported", at: at) }
                let offset = try r.count(limit: Int.max / 2, what: "tensor offset")
                let elements = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max / 4 : $0 * $1 }
                guard shape[0] % type.blockElements == 0 else {
                    throw r.error("tensor \(name): rows of \(shape[0]) are not whole \(type) blocks of \(type.blockElements)", at: at)
                }
                guard byName[name] == nil else { throw r.error("tensor \(name) appears twice", at: at) }
                byName[name] = infos.count
                infos.append(GGUFTensorInfo(name: name, shape: shape, type: type, offset: offset,
                                            byteCount: elements / type.blockElements * type.blockBytes))
            }
            let data = (r.offset + alignment - 1) / alignment * alignment
            dataOffset = data
            for t in infos {
                guard t.offset % alignment == 0 || version == 2 else { throw r.error("tensor \(t.name) is not aligned to \(alignment)", at: nil) }
                guard data + t.offset + t.byteCount <= size else {
                    throw r.error("tensor \(t.name) (\(t.byteCount) bytes at data offset \(t.offset)) runs past the end of the file: truncated?", at: size)
                }
            }
            tensors = infos
            self.byName = byName
        } catch {
            munmap(UnsafeMutableRawPointer(mutating: base), mappingLength)
            throw error
        }
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), mappingLength) }

    public func tensor(_ name: String) -> GGUFTensorInfo? { byName[name].map { tensors[$0] } }

    /// The tensor's bytes inside the mapping.
    public func data(_ t: GGUFTensorInfo) -> UnsafeRawPointer { base + dataOffset + t.offset }

    public subscript(key: String) -> GGUFValue? { metadata[key] }

    public var architecture: String? { metadata["general.architecture"]?.string }
}

public struct GGUFTensorInfo: Sendable, Equatable {
    public var name: String
    /// ggml order: shape[0] is the row length.
    public var shape: [Int]
    public var type: GGMLType
    /// From the start of the data section.
    public var offset: Int
    public var byteCount: Int

    public var rows: Int { shape.dropFirst().reduce(1, *) }
    public var elementCount: Int { shape.reduce(1, *) }
}

public struct GGUFError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var offset: Int?
    public var reason: String

    public init(path: String, offset: Int? = nil, reason: String) {
        self.path = path
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "\(path)\(offset.map { " @\($0)" } ?? ""): \(reason)" }
}

/// Not `indirect`: arrays already hold their elements out of line, and a box per element would
/// cost megabytes on a 50,000-token vocabulary.
public enum GGUFValue: Sendable, Equatable {
    case int(Int64)
    case uint(UInt64)
    case float(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    public var int: Int? {
        switch self {
        case .int(let v): Int(exactly: v)
        case .uint(let v): Int(exactly: v)
        case .float(let v): v == v.rounded() && abs(v) < 1e15 ? Int(v) : nil
        case .bool(let b): b ? 1 : 0
        default: nil
        }
    }

    public var double: Double? {
        switch self {
        case .int(let v): Double(v)
        case .uint(let v): Double(v)
        case .float(let v): v
        default: nil
        }
    }

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var bool: Bool? { if case .bool(let b) = self { b } else { int.map { $0 != 0 } } }
    public var array: [GGUFValue]? { if case .array(let a) = self { a } else { nil } }
}

/// ggml tensor types this engine reads (ids from ggml.h).
public enum GGMLType: UInt32, Sendable, CustomStringConvertible {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q4_K = 12, q5_K = 13, q6_K = 14, bf16 = 30

    public var blockElements: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0: 32
        case .q4_K, .q5_K, .q6_K: 256
        }
    }

    public var blockBytes: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q4_0: 18
        case .q4_1: 20
        case .q5_0: 22
        case .q5_1: 24
        case .q8_0: 34
        case .q4_K: 144
        case .q5_K: 176
        case .q6_K: 210
        }
    }

    public var description: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .bf16: "BF16"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q5_0: "Q5_0"
        case .q5_1: "Q5_1"
        case .q8_0: "Q8_0"
        case .q4_K: "Q4_K"
        case .q5_K: "Q5_K"
        case .q6_K: "Q6_K"
        }
    }
}

/// Little-endian reads over the mapping, each checked against the end.
struct GGUFReader {
    let base: UnsafeRawPointer
    let size: Int
    let path: String
    var offset = 0

    func error(_ reason: String, at offset: Int?) -> GGUFError { GGUFError(path: path, offset: offset, reason: reason) }

    mutating func bytes(_ n: Int) throws(GGUFError) -> UnsafeRawPointer {
        guard n >= 0, n <= size - offset else { throw error("needs \(n) bytes, the file ends at \(size): truncated", at: offset) }
        defer { offset += n }
        return base + offset
    }

    mutating func u32() throws(GGUFError) -> UInt32 { UInt32(littleEndian: try bytes(4).loadUnaligned(as: UInt32.self)) }
    mutating func u64() throws(GGUFError) -> UInt64 { UInt64(littleEndian: try bytes(8).loadUnaligned(as: UInt64.self)) }

    mutating func count(limit: Int, what: String) throws(GGUFError) -> Int {
        let at = offset
        let v = try u64()
        guard v <= UInt64(limit) else { throw error("\(v) \(what) is beyond any plausible file", at: at) }
        return Int(v)
    }

    mutating func string() throws(GGUFError) -> String {
        let n = try count(limit: size, what: "bytes of a string")
        let p = try bytes(n)
        return String(decoding: UnsafeRawBufferPointer(start: p, count: n), as: UTF8.self)
    }

    mutating func value(type: UInt32, depth: Int) throws(GGUFError) -> GGUFValue {
        let at = offset
        switch type {
        case 0: return .uint(UInt64(try bytes(1).load(as: UInt8.self)))
        case 1: return .int(Int64(try bytes(1).load(as: Int8.self)))
        case 2: return .uint(UInt64(UInt16(littleEndian: try bytes(2).loadUnaligned(as: UInt16.self))))
        case 3: return .int(Int64(Int16(littleEndian: try bytes(2).loadUnaligned(as: Int16.self))))
        case 4: return .uint(UInt64(try u32()))
        case 5: return .int(Int64(Int32(bitPattern: try u32())))
        case 6: return .float(Double(Float(bitPattern: try u32())))
        case 7: return .bool(try bytes(1).load(as: UInt8.self) != 0)
        case 8: return .string(try string())
        case 9:
            guard depth < 2 else { throw error("arrays nested too deep", at: at) }
            let elementType = try u32()
            // Each element takes at least one byte: a count beyond the file is corrupt.
            let n = try count(limit: size - offset, what: "array elements")
            var out: [GGUFValue] = []
            out.reserveCapacity(n)
            for _ in 0..<n { out.append(try value(type: elementType, depth: depth + 1)) }
            return .array(out)
        case 10: return .uint(try u64())
        case 11: return .int(Int64(bitPattern: try u64()))
        case 12: return .float(Double(bitPattern: try u64()))
        default: throw error("metadata value type \(type) is unknown", at: at)
        }
    }
}
