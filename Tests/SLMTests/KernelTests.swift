import CSLMKernels
import Foundation
@testable import SLM
@testable import Tensor
import Testing

/// The quantised path's kernels (CSLMKernels) against float64 sums of the dequantised weights
/// (Kernels.dequantize, the path that equals transformers) and of the rounded activations,
/// decoded here from their bytes.
@Suite("8-bit activation kernels")
struct KernelTests {
    static let types: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K]

    /// Random weight rows: random bytes, with every scale field set to a plausible half.
    static func weights(_ type: GGMLType, rows: Int, cols: Int, _ random: inout SplitMix64) -> [UInt8] {
        func half(_ v: Float) -> (UInt8, UInt8) { let b = Float16(v).bitPattern; return (UInt8(b & 0xFF), UInt8(b >> 8)) }
        func normal() -> Float {
            let u1 = Float(random.next() >> 40 | 1) / Float(1 << 24), u2 = Float(random.next() >> 40) / Float(1 << 24)
            return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
        }
        let count = rows * cols / type.blockElements
        var bytes: [UInt8] = []
        for _ in 0..<count {
            switch type {
            case .f32: withUnsafeBytes(of: normal().bitPattern) { bytes += $0 }
            case .f16: let (a, b) = half(normal()); bytes += [a, b]
            case .bf16: let bits = normal().bitPattern >> 16; bytes += [UInt8(bits & 0xFF), UInt8(bits >> 8)]
            default:
                var block = (0..<type.blockBytes).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                let scaleFields: [Int] = switch type {
                case .q4_1, .q5_1, .q4_K, .q5_K: [0, 2]
                case .q6_K: [208]
                default: [0]
                }
                for at in scaleFields { (block[at], block[at + 1]) = half(0.05 * normal()) }
                bytes += block
            }
        }
        return bytes
    }

    /// The activations a rounded row stands for, read from its bytes.
    static func decode(_ format: Int32, _ row: UnsafeRawPointer, cols: Int) -> [Double] {
        let (block, header, scaleAt) = format == SLM_Q8_0 ? (32, 4, 0) : format == SLM_Q8_1 ? (32, 8, 0) : (256, 4, 0)
        let stride = slm_activation_row_bytes(format, Int32(block))
        return (0..<cols).map { i in
            let b = row + (i / block) * stride
            let d = b.loadUnaligned(fromByteOffset: scaleAt, as: Float.self)
            return Double(d) * Double(b.load(fromByteOffset: header + i % block, as: Int8.self))
        }
    }

    @Test("each weight type times rounded activations equals the float64 sum of what both stand for", arguments: types)
    func products(_ type: GGMLType) throws {
        var random = SplitMix64(seed: UInt64(type.rawValue) + 17)
        let rows = 3, cols = 512, tokens = 6
        let w = Self.weights(type, rows: rows, cols: cols, &random)
        let rowBytes = cols / type.blockElements * type.blockBytes
        let format = slm_activation_type(Int32(type.rawValue))
        let stride = slm_activation_row_bytes(format, Int32(cols))
        var x = (0..<(tokens * cols)).map { _ in Float(Int64(bitPattern: random.next() % 2001) - 1000) / 300 }
        x[5] = 40  // an outlier sets its block's scale
        var packed = [UInt8](repeating: 0, count: tokens * stride)
        var fast = [Float](repeating: .nan, count: tokens * rows), portable = fast
        x.withUnsafeBufferPointer { x in
            packed.withUnsafeMutableBytes { p in
                for t in 0..<tokens { slm_quantize_row(format, x.baseAddress! + t * cols, p.baseAddress! + t * stride, Int32(cols)) }
            }
        }
        w.withUnsafeBytes { w in
            packed.withUnsafeBytes { p in
                slm_matmul(Int32(type.rawValue), w.baseAddress!, rowBytes, 0, Int32(rows), Int32(cols), p.baseAddress!, stride, Int32(tokens), &fast, rows)
                slm_matmul_portable(Int32(type.rawValue), w.baseAddress!, rowBytes, 0, Int32(rows), Int32(cols), p.baseAddress!, stride, Int32(tokens), &portable, rows)
            }
        }
        for t in 0..<tokens {
            let xs: [Double] = packed.withUnsafeBytes { p in
                format == SLM_F32 ? x[(t * cols)..<((t + 1) * cols)].map(Double.init) : Self.decode(format, p.baseAddress! + t * stride, cols: cols)
            }
            if format != SLM_F32 {
                // Rounding to 8 bits moves no activation by more than half its block's step.
                let block = format == SLM_Q8_K ? 256 : 32
                for b in 0..<(cols / block) {
                    let slice = (t * cols + b * block)..<(t * cols + (b + 1) * block)
                    let step = Double(x[slice].map(abs).max()!) / 127
                    for i in slice { #expect(abs(xs[i - t * cols] - Double(x[i])) <= step / 2 * 1.0001 + 1e-12) }
                }
            }
            for j in 0..<rows {
                var row = [Float](repeating: 0, count: cols)
                w.withUnsafeBytes { Kernels.dequantize(type, $0.baseAddress! + j * rowBytes, &row, count: cols) }
                let exact = zip(row, xs).reduce(0) { $0 + Double($1.0) * $1.1 }
                let scale = zip(row, xs).reduce(0) { $0 + abs(Double($1.0) * $1.1) }
                #expect(abs(Double(fast[t * rows + j]) - exact) <= 1e-5 * scale, "\(type) row \(j) token \(t): \(fast[t * rows + j]) vs \(exact)")
                #expect(abs(Double(portable[t * rows + j]) - exact) <= 1e-5 * scale, "\(type) portable row \(j) token \(t)")
            }
        }
    }

    @Test("the rounded activations carry their block sums: Q8_1's scaled sum, Q8_K's sums of 16")
    func activationSums() {
        var random = SplitMix64(seed: 5)
        let cols = 512
        let x = (0..<cols).map { _ in Float(Int64(bitPattern: random.next() % 2001) - 1000) / 77 }
        for format in [Int32(SLM_Q8_1), Int32(SLM_Q8_K)] {
            var packed = [UInt8](repeating: 0, count: slm_activation_row_bytes(format, Int32(cols)))
            packed.withUnsafeMutableBytes { slm_quantize_row(format, x, $0.baseAddress!, Int32(cols)) }
            packed.withUnsafeBytes { p in
                if format == SLM_Q8_1 {
                    for b in 0..<(cols / 32) {
                        let block = p.baseAddress! + b * 40
                        let q = (0..<32).reduce(0) { $0 + Int(block.load(fromByteOffset: 8 + $1, as: Int8.self)) }
                        let d = block.loadUnaligned(as: Float.self), s = block.loadUnaligned(fromByteOffset: 4, as: Float.self)
                        #expect(abs(s - d * Float(q)) <= 1e-6 * abs(s) + 1e-30)
                    }
                } else {
                    for b in 0..<(cols / 256) {
                        let block = p.baseAddress! + b * 292
                        for g in 0..<16 {
                            let q = (0..<16).reduce(0) { $0 + Int(block.load(fromByteOffset: 4 + 16 * g + $1, as: Int8.self)) }
                            #expect(Int(block.loadUnaligned(fromByteOffset: 260 + 2 * g, as: Int16.self)) == q)
                        }
                    }
                }
            }
        }
    }
}
