#ifndef C_SLM_KERNELS_H
#define C_SLM_KERNELS_H

// The language model's fast arithmetic, in C because it needs the CPU's integer dot-product
// instructions (AVX2 maddubs/madd) and half-precision loads written out: Swift's generic SIMD
// conversions go lane by lane. Each weight type has one dot product against activations that
// were rounded to 8 bits per block, the way llama.cpp does it:
//   Q8_0, Q4_0, Q5_0 weights × Q8_0 activations (32 per block and a float scale);
//   Q4_1, Q5_1 weights      × Q8_1 activations (Q8_0 plus the block's scaled sum);
//   Q4_K, Q5_K, Q6_K weights × Q8_K activations (256 per block, a float scale, sums of 16);
//   F32, F16, BF16 weights  × float32 activations.
// Type numbers are ggml's. A portable C version of every kernel is used where AVX2 is absent.

#include <stddef.h>
#include <stdint.h>

enum {
    SLM_F32 = 0, SLM_F16 = 1, SLM_Q4_0 = 2, SLM_Q4_1 = 3, SLM_Q5_0 = 6, SLM_Q5_1 = 7,
    SLM_Q8_0 = 8, SLM_Q8_1 = 9, SLM_Q4_K = 12, SLM_Q5_K = 13, SLM_Q6_K = 14, SLM_Q8_K = 15,
    SLM_BF16 = 30,
};

/// The activation format a weight type is multiplied with (SLM_F32, SLM_Q8_0, SLM_Q8_1 or
/// SLM_Q8_K), or -1 for an unknown type.
int slm_activation_type(int weight_type);

/// Bytes of one row of `cols` activations in `activation_type`.
size_t slm_activation_row_bytes(int activation_type, int cols);

/// Rounds `cols` floats (a multiple of the format's block) into `activation_type` at `dst`.
void slm_quantize_row(int activation_type, const float *x, void *dst, int cols);

/// out[t * out_stride + j] = row j of the weights · activation row t, for rows
/// [row_begin, row_end) and tokens [0, tokens). Activations must be in the weight type's format.
void slm_matmul(int weight_type, const void *weights, size_t weight_row_bytes,
                int row_begin, int row_end, int cols,
                const void *activations, size_t activation_row_bytes, int tokens,
                float *out, size_t out_stride);

/// The same products with the portable C kernels only: what CPUs without AVX2 run, and what
/// the tests hold the vector kernels to.
void slm_matmul_portable(int weight_type, const void *weights, size_t weight_row_bytes,
                         int row_begin, int row_end, int cols,
                         const void *activations, size_t activation_row_bytes, int tokens,
                         float *out, size_t out_stride);

/// Threads that stay up for the life of a model and spin briefly between jobs, so that
/// splitting one matrix–vector product over them costs far less than the product.
typedef struct slm_pool slm_pool;

slm_pool *slm_pool_create(int threads);
void slm_pool_destroy(slm_pool *pool);
int slm_pool_threads(const slm_pool *pool);

/// Calls job(context, part, parts) for every part in 0..<parts, one part per thread (the caller
/// runs part 0), and returns when all are done. Jobs from several threads run one at a time;
/// a job must not submit another.
void slm_pool_run(slm_pool *pool, void (*job)(void *context, int part, int parts), void *context);

#endif
