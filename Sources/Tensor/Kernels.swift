/// The float32 arithmetic of the engine: half-precision conversion, dequantisation of each ggml
/// block type (embedding rows, norms, and every weight on the `.float32` path) and the float
/// dot product (attention, and the `.float32` products). The fast products with 8-bit
/// activations are in CSLMKernels. Block layouts follow ggml's (ggml-common.h); the code is our
/// own, written to read top to bottom.
public enum Kernels {
    @inline(__always)
    public static func half(_ bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }

    @inline(__always)
    public static func bf16(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    @inline(__always)
    static func u16(_ p: UnsafeRawPointer, _ offset: Int) -> UInt16 { p.loadUnaligned(fromByteOffset: offset, as: UInt16.self) }

    /// Dequantises `count` elements (whole blocks) starting at `src` into `dst`.
    public static func dequantize(_ type: GGMLType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        let blocks = count / type.blockElements
        switch type {
        case .f32:
            dst.update(from: src.assumingMemoryBound(to: Float.self), count: count)
        case .f16:
            for i in 0..<count { dst[i] = half(u16(src, 2 * i)) }
        case .bf16:
            for i in 0..<count { dst[i] = bf16(u16(src, 2 * i)) }
        case .q8_0:
            for b in 0..<blocks {
                let p = src + b * 34, d = half(u16(p, 0)), q = (p + 2).assumingMemoryBound(to: Int8.self), y = dst + b * 32
                for j in 0..<32 { y[j] = d * Float(q[j]) }
            }
        case .q4_0:
            // Low nibbles are elements 0–15, high nibbles 16–31; values are offset by 8.
            for b in 0..<blocks {
                let p = src + b * 18, d = half(u16(p, 0)), q = (p + 2).assumingMemoryBound(to: UInt8.self), y = dst + b * 32
                for j in 0..<16 {
                    y[j] = d * Float(Int(q[j] & 0xF) - 8)
                    y[j + 16] = d * Float(Int(q[j] >> 4) - 8)
                }
            }
        case .q4_1:
            for b in 0..<blocks {
                let p = src + b * 20, d = half(u16(p, 0)), m = half(u16(p, 2)), q = (p + 4).assumingMemoryBound(to: UInt8.self), y = dst + b * 32
                for j in 0..<16 {
                    y[j] = d * Float(q[j] & 0xF) + m
                    y[j + 16] = d * Float(q[j] >> 4) + m
                }
            }
        case .q5_0, .q5_1:
            // A fifth bit per element sits in a 32-bit mask after the scale(s); values of
            // Q5_0 are offset by 16, Q5_1 has a minimum instead.
            let hasMin = type == .q5_1
            let stride = hasMin ? 24 : 22
            for b in 0..<blocks {
                let p = src + b * stride
                let d = half(u16(p, 0)), m = hasMin ? half(u16(p, 2)) : 0
                let qh = p.loadUnaligned(fromByteOffset: hasMin ? 4 : 2, as: UInt32.self)
                let q = (p + (hasMin ? 8 : 6)).assumingMemoryBound(to: UInt8.self), y = dst + b * 32
                let offset = hasMin ? 0 : 16
                for j in 0..<16 {
                    let h0 = Int((qh >> UInt32(j)) & 1) << 4, h1 = Int((qh >> UInt32(j + 16)) & 1) << 4
                    y[j] = d * Float((Int(q[j] & 0xF) | h0) - offset) + m
                    y[j + 16] = d * Float((Int(q[j] >> 4) | h1) - offset) + m
                }
            }
        case .q4_K, .q5_K:
            // Super-blocks of 256: eight sub-blocks of 32 with 6-bit scales and minimums
            // packed in 12 bytes; Q5_K adds a fifth bit per element in 32 bytes.
            let five = type == .q5_K
            for b in 0..<blocks {
                let p = src + b * (five ? 176 : 144)
                let d = half(u16(p, 0)), dmin = half(u16(p, 2))
                let scales = (p + 4).assumingMemoryBound(to: UInt8.self)
                let qh = (p + 16).assumingMemoryBound(to: UInt8.self)
                var q = (p + (five ? 48 : 16)).assumingMemoryBound(to: UInt8.self)
                var y = dst + b * 256
                for chunk in 0..<4 {
                    let (s1, m1) = scaleMin(scales, 2 * chunk), (s2, m2) = scaleMin(scales, 2 * chunk + 1)
                    let d1 = d * Float(s1), mm1 = dmin * Float(m1), d2 = d * Float(s2), mm2 = dmin * Float(m2)
                    for l in 0..<32 {
                        let hi1 = five ? Int((qh[l] >> UInt8(2 * chunk)) & 1) << 4 : 0
                        let hi2 = five ? Int((qh[l] >> UInt8(2 * chunk + 1)) & 1) << 4 : 0
                        y[l] = d1 * Float(Int(q[l] & 0xF) | hi1) - mm1
                        y[l + 32] = d2 * Float(Int(q[l] >> 4) | hi2) - mm2
                    }
                    q += 32
                    y += 64
                }
            }
        case .q6_K:
            // Four 2-bit high parts per qh byte, low nibbles in ql, 16 signed 8-bit scales.
            for b in 0..<blocks {
                let p = src + b * 210
                var ql = p.assumingMemoryBound(to: UInt8.self)
                var qh = (p + 128).assumingMemoryBound(to: UInt8.self)
                var sc = (p + 192).assumingMemoryBound(to: Int8.self)
                let d = half(u16(p, 208))
                var y = dst + b * 256
                for _ in 0..<2 {
                    for l in 0..<32 {
                        let s = l / 16
                        let q1 = Int((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32
                        let q2 = Int((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32
                        let q3 = Int((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32
                        let q4 = Int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32
                        y[l] = d * Float(sc[s]) * Float(q1)
                        y[l + 32] = d * Float(sc[s + 2]) * Float(q2)
                        y[l + 64] = d * Float(sc[s + 4]) * Float(q3)
                        y[l + 96] = d * Float(sc[s + 6]) * Float(q4)
                    }
                    y += 128
                    ql += 64
                    qh += 32
                    sc += 8
                }
            }
        }
    }

    /// The 6-bit scale and minimum of sub-block `j` of a Q4_K/Q5_K super-block.
    @inline(__always)
    static func scaleMin(_ q: UnsafePointer<UInt8>, _ j: Int) -> (UInt8, UInt8) {
        if j < 4 { return (q[j] & 63, q[j + 4] & 63) }
        return ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }

    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        // Eight independent accumulators let the compiler keep SIMD lanes busy.
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>()
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i + 16 <= n {
            s0 += ra.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) * rb.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            s1 += ra.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self) * rb.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self)
            i += 16
        }
        var s = (s0 + s1).sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }
}
