// Block dot products of quantised weights with 8-bit activations. Block layouts are ggml's
// (ggml-common.h); the code is our own. Every kernel has a portable version; the AVX2 ones
// compute the same integer sums with maddubs/madd and differ only in float rounding order.

#include "CSLMKernels.h"
#include <math.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define SLM_AVX2 1
#endif

// MARK: - Scalars

static inline float half_to_float(const uint8_t *p) {
    uint16_t bits;
    memcpy(&bits, p, 2);
#if SLM_AVX2
    return _cvtsh_ss(bits);
#else
    _Float16 h;
    memcpy(&h, &bits, 2);
    return (float)h;
#endif
}

static inline float load_f32(const uint8_t *p) { float f; memcpy(&f, p, 4); return f; }
static inline int16_t load_i16(const uint8_t *p) { int16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t load_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

// Block sizes in bytes: ACT_ for the activation blocks, which are ours (never stored), so their scales are
// float32 rather than ggml's half precision: no conversion in the inner loop.
enum { ACT_Q8_0_BYTES = 4 + 32, ACT_Q8_1_BYTES = 8 + 32, ACT_Q8_K_BYTES = 4 + 256 + 32,
       Q8_0_BYTES = 34, Q4_0_BYTES = 18, Q4_1_BYTES = 20, Q5_0_BYTES = 22, Q5_1_BYTES = 24,
       Q4_K_BYTES = 144, Q5_K_BYTES = 176, Q6_K_BYTES = 210 };

/// Bytes of one weight block of the 32-element types.
static inline int block32_bytes(int type) {
    switch (type) {
    case SLM_Q8_0: return Q8_0_BYTES;
    case SLM_Q4_0: return Q4_0_BYTES;
    case SLM_Q4_1: return Q4_1_BYTES;
    case SLM_Q5_0: return Q5_0_BYTES;
    default: return Q5_1_BYTES;
    }
}

int slm_activation_type(int weight_type) {
    switch (weight_type) {
    case SLM_F32: case SLM_F16: case SLM_BF16: return SLM_F32;
    case SLM_Q8_0: case SLM_Q4_0: case SLM_Q5_0: return SLM_Q8_0;
    case SLM_Q4_1: case SLM_Q5_1: return SLM_Q8_1;
    case SLM_Q4_K: case SLM_Q5_K: case SLM_Q6_K: return SLM_Q8_K;
    default: return -1;
    }
}

size_t slm_activation_row_bytes(int activation_type, int cols) {
    switch (activation_type) {
    case SLM_Q8_0: return (size_t)(cols / 32) * ACT_Q8_0_BYTES;
    case SLM_Q8_1: return (size_t)(cols / 32) * ACT_Q8_1_BYTES;
    case SLM_Q8_K: return (size_t)(cols / 256) * ACT_Q8_K_BYTES;
    default: return (size_t)cols * 4;
    }
}

// MARK: - Activation rounding

static inline float max_abs(const float *x, int n) {
    float m = 0;
    for (int i = 0; i < n; i++) { float a = fabsf(x[i]); m = a > m ? a : m; }
    return m;
}

/// 32 floats → 32 int8 at scale amax/127, rounding half to even; returns the scale and the
/// sum of the integers.
static inline float quantize_block32(const float *x, int8_t *q, int *sum) {
    float d = max_abs(x, 32) / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
    int s = 0;
#if SLM_AVX2
    const __m256 scale = _mm256_set1_ps(id);
    __m256i v[4];
    for (int k = 0; k < 4; k++)
        v[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    // Pack 4×8 int32 → 32 int8; the packs interleave 128-bit lanes, the permute restores order.
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, p);
    for (int i = 0; i < 32; i++) s += q[i];
#else
    for (int i = 0; i < 32; i++) { q[i] = (int8_t)nearbyintf(x[i] * id); s += q[i]; }
#endif
    *sum = s;
    return d;
}

void slm_quantize_row(int activation_type, const float *x, void *dst, int cols) {
    uint8_t *y = dst;
    switch (activation_type) {
    case SLM_Q8_0:
        for (int b = 0; b < cols / 32; b++, y += ACT_Q8_0_BYTES) {
            int sum;
            float d = quantize_block32(x + 32 * b, (int8_t *)(y + 4), &sum);
            memcpy(y, &d, 4);
        }
        break;
    case SLM_Q8_1:
        for (int b = 0; b < cols / 32; b++, y += ACT_Q8_1_BYTES) {
            int sum;
            float d = quantize_block32(x + 32 * b, (int8_t *)(y + 8), &sum), ds = d * (float)sum;
            memcpy(y, &d, 4);
            memcpy(y + 4, &ds, 4);
        }
        break;
    case SLM_Q8_K:
        for (int b = 0; b < cols / 256; b++, y += ACT_Q8_K_BYTES) {
            const float *xb = x + 256 * b;
            int8_t *q = (int8_t *)(y + 4);
            float d = max_abs(xb, 256) / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
            for (int i = 0; i < 256; i++) q[i] = (int8_t)nearbyintf(xb[i] * id);
            memcpy(y, &d, 4);
            for (int g = 0; g < 16; g++) {
                int16_t s = 0;
                for (int i = 0; i < 16; i++) s += q[16 * g + i];
                memcpy(y + 260 + 2 * g, &s, 2);
            }
        }
        break;
    default:
        memcpy(dst, x, (size_t)cols * 4);
    }
}

/// The 6-bit scale and minimum of sub-block j of a Q4_K/Q5_K super-block.
static inline void scale_min_k4(const uint8_t *q, int j, int *scale, int *min) {
    if (j < 4) { *scale = q[j] & 63; *min = q[j + 4] & 63; }
    else { *scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4); *min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4); }
}

// MARK: - Portable kernels: one weight row · one activation row

static float dot_float(int type, int n, const uint8_t *w, const float *x) {
    float s = 0;
    for (int i = 0; i < n; i++) {
        float v;
        if (type == SLM_F32) v = load_f32(w + 4 * i);
        else if (type == SLM_F16) v = half_to_float(w + 2 * i);
        else { uint32_t bits = (uint32_t)(uint16_t)load_i16(w + 2 * i) << 16; memcpy(&v, &bits, 4); }
        s += v * x[i];
    }
    return s;
}

/// Q8_0, Q4_0, Q4_1, Q5_0, Q5_1: blocks of 32 with a half scale (and a half minimum for the
/// _1 types, which meets the activation block's scaled sum).
static float dot_block32(int type, int n, const uint8_t *w, const uint8_t *x) {
    const int wbytes = block32_bytes(type);
    const int with_min = type == SLM_Q4_1 || type == SLM_Q5_1;
    const int xbytes = with_min ? ACT_Q8_1_BYTES : ACT_Q8_0_BYTES;
    float s = 0;
    for (int b = 0; b < n / 32; b++, w += wbytes, x += xbytes) {
        const int8_t *qx = (const int8_t *)(x + (with_min ? 8 : 4));
        int sum = 0;
        if (type == SLM_Q8_0) {
            for (int i = 0; i < 32; i++) sum += ((const int8_t *)(w + 2))[i] * qx[i];
        } else {
            const int five = type == SLM_Q5_0 || type == SLM_Q5_1;
            const uint32_t qh = five ? load_u32(w + (with_min ? 4 : 2)) : 0;
            const uint8_t *q = w + (with_min ? 4 : 2) + (five ? 4 : 0);
            const int offset = with_min ? 0 : five ? 16 : 8;
            for (int i = 0; i < 16; i++) {
                int lo = (q[i] & 0xF) | (((qh >> i) & 1) << 4), hi = (q[i] >> 4) | (((qh >> (i + 16)) & 1) << 4);
                sum += (lo - offset) * qx[i] + (hi - offset) * qx[i + 16];
            }
        }
        s += half_to_float(w) * load_f32(x) * (float)sum;
        if (with_min) s += half_to_float(w + 2) * load_f32(x + 4);
    }
    return s;
}

/// Q4_K and Q5_K: eight sub-blocks of 32 with 6-bit scales and minimums; the minimums meet
/// the activation sums of 16.
static float dot_q45_k(int n, const uint8_t *w, const uint8_t *x, int five) {
    float s = 0;
    for (int b = 0; b < n / 256; b++, w += five ? Q5_K_BYTES : Q4_K_BYTES, x += ACT_Q8_K_BYTES) {
        const uint8_t *qh = w + 16, *q = w + (five ? 48 : 16);
        const int8_t *qx = (const int8_t *)(x + 4);
        int dots = 0, mins = 0;
        for (int c = 0; c < 4; c++, q += 32, qx += 64) {
            int slo, mlo, shi, mhi, lo_sum = 0, hi_sum = 0;
            scale_min_k4(w + 4, 2 * c, &slo, &mlo);
            scale_min_k4(w + 4, 2 * c + 1, &shi, &mhi);
            for (int l = 0; l < 32; l++) {
                int lo = q[l] & 0xF, hi = q[l] >> 4;
                if (five) { lo |= ((qh[l] >> (2 * c)) & 1) << 4; hi |= ((qh[l] >> (2 * c + 1)) & 1) << 4; }
                lo_sum += lo * qx[l];
                hi_sum += hi * qx[l + 32];
            }
            dots += slo * lo_sum + shi * hi_sum;
            mins += mlo * (load_i16(x + 260 + 8 * c) + load_i16(x + 262 + 8 * c))
                  + mhi * (load_i16(x + 264 + 8 * c) + load_i16(x + 266 + 8 * c));
        }
        s += half_to_float(w) * load_f32(x) * (float)dots - half_to_float(w + 2) * load_f32(x) * (float)mins;
    }
    return s;
}

/// Q6_K: 4 low bits in ql, 2 high bits in qh, values offset by 32, a signed scale per 16.
static float dot_q6_k(int n, const uint8_t *w, const uint8_t *x) {
    float s = 0;
    for (int b = 0; b < n / 256; b++, w += Q6_K_BYTES, x += ACT_Q8_K_BYTES) {
        const uint8_t *ql = w, *qh = w + 128;
        const int8_t *sc = (const int8_t *)(w + 192), *qx = (const int8_t *)(x + 4);
        int dots = 0;
        for (int half = 0; half < 2; half++, ql += 64, qh += 32, qx += 128, sc += 8) {
            for (int l = 0; l < 32; l++) {
                int g = l / 16;
                int q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                dots += sc[g] * q1 * qx[l] + sc[g + 2] * q2 * qx[l + 32] + sc[g + 4] * q3 * qx[l + 64] + sc[g + 6] * q4 * qx[l + 96];
            }
        }
        s += half_to_float(w + 208) * load_f32(x) * (float)dots;
    }
    return s;
}

static float dot_row(int type, int cols, const uint8_t *w, const uint8_t *x) {
    switch (type) {
    case SLM_F32: case SLM_F16: case SLM_BF16: return dot_float(type, cols, w, (const float *)x);
    case SLM_Q8_0: case SLM_Q4_0: case SLM_Q4_1: case SLM_Q5_0: case SLM_Q5_1: return dot_block32(type, cols, w, x);
    case SLM_Q4_K: return dot_q45_k(cols, w, x, 0);
    case SLM_Q5_K: return dot_q45_k(cols, w, x, 1);
    case SLM_Q6_K: return dot_q6_k(cols, w, x);
    default: return 0;
    }
}

#if SLM_AVX2
// MARK: - AVX2 kernels: one weight row · up to four activation rows
//
// A tile reads each weight block once, unpacks it once, and meets it with `nt` activation rows
// (the tokens of a prompt batch), so prompt processing pays the unpacking once per four tokens.
// `nt` is a constant at every call site, so the token loops unroll and the accumulators stay
// in registers. Integer sums are exact; only the float accumulation order differs from the
// portable kernels.

#define TILE static inline __attribute__((always_inline)) void

static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// Eight int32 sums of four products each: unsigned bytes × signed bytes.
static inline __m256i dot_u8_i8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/// Low nibbles of 16 bytes then their high nibbles: elements 0–15 and 16–31 of a 4-bit block.
static inline __m256i nibbles32(const uint8_t *p) {
    __m128i raw = _mm_loadu_si128((const __m128i *)p);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0F));
}

/// Byte i is 0xFF where bit i of `bits` is set.
static inline __m256i bits_to_bytes(uint32_t bits) {
    const __m256i spread = _mm256_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL, 0x0101010101010101LL, 0);
    const __m256i select = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), spread);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, select), select);
}

static inline __m256i load256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

TILE tile_float(int type, int n, const uint8_t *w, const uint8_t *x, size_t xs, int nt, float *out) {
    __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v;
        if (type == SLM_F32) v = _mm256_loadu_ps((const float *)w + i);
        else if (type == SLM_F16) v = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + 2 * i)));
        else v = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(w + 2 * i))), 16));
        for (int t = 0; t < nt; t++) acc[t] = _mm256_fmadd_ps(v, _mm256_loadu_ps((const float *)(x + t * xs) + i), acc[t]);
    }
    for (int t = 0; t < nt; t++) {
        out[t] = hsum_ps(acc[t]);
        if (i < n) out[t] += dot_float(type, n - i, w + (type == SLM_F32 ? 4 : 2) * i, (const float *)(x + t * xs) + i);
    }
}

TILE tile_block32(int type, int n, const uint8_t *w, const uint8_t *x, size_t xs, int nt, float *out) {
    const int wbytes = block32_bytes(type);
    const int with_min = type == SLM_Q4_1 || type == SLM_Q5_1, five = type == SLM_Q5_0 || type == SLM_Q5_1;
    const int xbytes = with_min ? ACT_Q8_1_BYTES : ACT_Q8_0_BYTES, qx_at = with_min ? 8 : 4;
    const int is_signed = type == SLM_Q8_0 || type == SLM_Q4_0 || type == SLM_Q5_0;
    __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
    float mins[4] = { 0, 0, 0, 0 };
    for (int b = 0; b < n / 32; b++, w += wbytes, x += xbytes) {
        __m256i q;
        if (type == SLM_Q8_0) q = load256(w + 2);
        else if (!five) q = nibbles32(w + (with_min ? 4 : 2));
        else {
            const int qh_at = with_min ? 4 : 2;
            q = _mm256_or_si256(nibbles32(w + qh_at + 4), _mm256_and_si256(bits_to_bytes(load_u32(w + qh_at)), _mm256_set1_epi8(0x10)));
        }
        if (type == SLM_Q4_0) q = _mm256_sub_epi8(q, _mm256_set1_epi8(8));
        if (type == SLM_Q5_0) q = _mm256_sub_epi8(q, _mm256_set1_epi8(16));
        // Signed weights: move their sign onto the activations once per token.
        const __m256i magnitude = is_signed ? _mm256_sign_epi8(q, q) : q;
        const float dw = half_to_float(w), mw = with_min ? half_to_float(w + 2) : 0;
        for (int t = 0; t < nt; t++) {
            const uint8_t *xb = x + t * xs;
            __m256i qx = load256(xb + qx_at);
            if (is_signed) qx = _mm256_sign_epi8(qx, q);
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * load_f32(xb)), _mm256_cvtepi32_ps(dot_u8_i8(magnitude, qx)), acc[t]);
            if (with_min) mins[t] += mw * load_f32(xb + 4);
        }
    }
    for (int t = 0; t < nt; t++) out[t] = hsum_ps(acc[t]) + mins[t];
}

/// The activation sums of 16 of a Q8_K block, times 16 per-group int16 factors, as 8 int32.
static inline __m256i group_sums(const uint8_t *xb, __m256i factors) {
    return _mm256_madd_epi16(load256(xb + 260), factors);
}

TILE tile_q45_k(int n, const uint8_t *w, const uint8_t *x, size_t xs, int nt, float *out, int five) {
    __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
    for (int b = 0; b < n / 256; b++, w += five ? Q5_K_BYTES : Q4_K_BYTES, x += ACT_Q8_K_BYTES) {
        int16_t scale[8], min16[16];
        for (int j = 0; j < 8; j++) {
            int sc, mn;
            scale_min_k4(w + 4, j, &sc, &mn);
            scale[j] = (int16_t)sc;
            min16[2 * j] = min16[2 * j + 1] = (int16_t)mn;
        }
        const __m256i mins = load256(min16);
        const float d = half_to_float(w), dmin = half_to_float(w + 2);
        __m256i sum[4] = { _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256() };
        const uint8_t *q = w + (five ? 48 : 16);
        __m256i high = five ? load256(w + 16) : _mm256_setzero_si256();
        for (int c = 0; c < 4; c++, q += 32) {
            __m256i raw = load256(q);
            __m256i lo = _mm256_and_si256(raw, _mm256_set1_epi8(0x0F));
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), _mm256_set1_epi8(0x0F));
            if (five) {
                lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(high, 4), _mm256_set1_epi8(0x10)));
                hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(high, 3), _mm256_set1_epi8(0x10)));
                high = _mm256_srli_epi16(high, 2);
            }
            const __m256i slo = _mm256_set1_epi16(scale[2 * c]), shi = _mm256_set1_epi16(scale[2 * c + 1]);
            for (int t = 0; t < nt; t++) {
                const uint8_t *qx = x + t * xs + 4 + 64 * c;
                sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load256(qx)), slo));
                sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load256(qx + 32)), shi));
            }
        }
        for (int t = 0; t < nt; t++) {
            const uint8_t *xb = x + t * xs;
            const float dx = load_f32(xb);
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * dx), _mm256_cvtepi32_ps(sum[t]), acc[t]);
            acc[t] = _mm256_fnmadd_ps(_mm256_set1_ps(dmin * dx), _mm256_cvtepi32_ps(group_sums(xb, mins)), acc[t]);
        }
    }
    for (int t = 0; t < nt; t++) out[t] = hsum_ps(acc[t]);
}

TILE tile_q6_k(int n, const uint8_t *w, const uint8_t *x, size_t xs, int nt, float *out) {
    __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (int b = 0; b < n / 256; b++, w += Q6_K_BYTES, x += ACT_Q8_K_BYTES) {
        const int8_t *scales = (const int8_t *)(w + 192);
        // The offset of 32 comes out once per group of 16 through the activation sums.
        const __m256i offset = _mm256_slli_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)scales)), 5);
        __m256i sum[4] = { _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256() };
        for (int half = 0; half < 2; half++) {
            const uint8_t *ql = w + 64 * half, *qh = w + 128 + 32 * half;
            const __m256i a = load256(ql), c = load256(ql + 32), h = load256(qh);
            const __m256i e[4] = {
                _mm256_or_si256(_mm256_and_si256(a, low4), _mm256_slli_epi16(_mm256_and_si256(h, _mm256_set1_epi8(0x03)), 4)),
                _mm256_or_si256(_mm256_and_si256(c, low4), _mm256_slli_epi16(_mm256_and_si256(h, _mm256_set1_epi8(0x0C)), 2)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), low4), _mm256_and_si256(h, _mm256_set1_epi8(0x30))),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(c, 4), low4), _mm256_and_si256(_mm256_srli_epi16(h, 2), _mm256_set1_epi8(0x30))),
            };
            const int8_t *sc = scales + 8 * half;
            for (int k = 0; k < 4; k++) {
                const __m256i scale = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
                for (int t = 0; t < nt; t++) {
                    const uint8_t *qx = x + t * xs + 4 + 128 * half + 32 * k;
                    sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(e[k], load256(qx)), scale));
                }
            }
        }
        const float d = half_to_float(w + 208);
        for (int t = 0; t < nt; t++) {
            const uint8_t *xb = x + t * xs;
            __m256i total = _mm256_sub_epi32(sum[t], group_sums(xb, offset));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * load_f32(xb)), _mm256_cvtepi32_ps(total), acc[t]);
        }
    }
    for (int t = 0; t < nt; t++) out[t] = hsum_ps(acc[t]);
}

TILE tile(int type, int n, const uint8_t *w, const uint8_t *x, size_t xs, int nt, float *out) {
    switch (type) {
    case SLM_F32: case SLM_F16: case SLM_BF16: tile_float(type, n, w, x, xs, nt, out); break;
    case SLM_Q8_0: case SLM_Q4_0: case SLM_Q4_1: case SLM_Q5_0: case SLM_Q5_1: tile_block32(type, n, w, x, xs, nt, out); break;
    case SLM_Q4_K: tile_q45_k(n, w, x, xs, nt, out, 0); break;
    case SLM_Q5_K: tile_q45_k(n, w, x, xs, nt, out, 1); break;
    case SLM_Q6_K: tile_q6_k(n, w, x, xs, nt, out); break;
    default: for (int t = 0; t < nt; t++) out[t] = 0;
    }
}

/// How far ahead of the row being multiplied its successors' bytes are requested: one core's
/// hardware prefetcher alone does not keep enough loads in flight to stream weights at full
/// speed (measured: Q8_0 generation doubled). A few kilobytes cover the latency.
enum { PREFETCH_BYTES = 4096 };

/// One weight type's rows × tokens, with the type fixed so each tile is specialised.
#define ROWS_OF(TYPE) \
    for (int j = row_begin; j < row_end; j++) { \
        const uint8_t *row = w + (size_t)j * weight_row_bytes; \
        if (row + PREFETCH_BYTES < end) \
            for (size_t k = 0; k < weight_row_bytes; k += 64) _mm_prefetch((const char *)row + PREFETCH_BYTES + k, _MM_HINT_T0); \
        int t = 0; \
        float r[4]; \
        for (; t + 4 <= tokens; t += 4) { \
            tile(TYPE, cols, row, x + t * activation_row_bytes, activation_row_bytes, 4, r); \
            for (int k = 0; k < 4; k++) out[(size_t)(t + k) * out_stride + j] = r[k]; \
        } \
        for (; t < tokens; t++) { \
            tile(TYPE, cols, row, x + t * activation_row_bytes, activation_row_bytes, 1, r); \
            out[(size_t)t * out_stride + j] = r[0]; \
        } \
    }
#endif

void slm_matmul(int weight_type, const void *weights, size_t weight_row_bytes,
                int row_begin, int row_end, int cols,
                const void *activations, size_t activation_row_bytes, int tokens,
                float *out, size_t out_stride) {
    // Weight rows outside, tokens inside: a row is read from memory once and then served
    // from L1 to every token of the batch.
#if SLM_AVX2
    const uint8_t *w = weights, *x = activations, *end = w + (size_t)row_end * weight_row_bytes;
    switch (weight_type) {
    case SLM_F32: ROWS_OF(SLM_F32) break;
    case SLM_F16: ROWS_OF(SLM_F16) break;
    case SLM_BF16: ROWS_OF(SLM_BF16) break;
    case SLM_Q8_0: ROWS_OF(SLM_Q8_0) break;
    case SLM_Q4_0: ROWS_OF(SLM_Q4_0) break;
    case SLM_Q4_1: ROWS_OF(SLM_Q4_1) break;
    case SLM_Q5_0: ROWS_OF(SLM_Q5_0) break;
    case SLM_Q5_1: ROWS_OF(SLM_Q5_1) break;
    case SLM_Q4_K: ROWS_OF(SLM_Q4_K) break;
    case SLM_Q5_K: ROWS_OF(SLM_Q5_K) break;
    case SLM_Q6_K: ROWS_OF(SLM_Q6_K) break;
    default: break;
    }
#else
    slm_matmul_portable(weight_type, weights, weight_row_bytes, row_begin, row_end, cols, activations, activation_row_bytes, tokens, out, out_stride);
#endif
}

void slm_matmul_portable(int weight_type, const void *weights, size_t weight_row_bytes,
                         int row_begin, int row_end, int cols,
                         const void *activations, size_t activation_row_bytes, int tokens,
                         float *out, size_t out_stride) {
    const uint8_t *w = weights, *x = activations;
    for (int j = row_begin; j < row_end; j++) {
        const uint8_t *row = w + (size_t)j * weight_row_bytes;
        for (int t = 0; t < tokens; t++)
            out[(size_t)t * out_stride + j] = dot_row(weight_type, cols, row, x + (size_t)t * activation_row_bytes);
    }
}
