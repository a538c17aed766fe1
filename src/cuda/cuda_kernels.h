// cuda_kernels.h — C launchers of the CUDA backend's kernels (src/cuda/*.cu).
//
// Shapes, for a device batch of N tokens made of S sequences laid end to end
// (row-major; "scalar" is fp16 or bf16 as the precision argument says):
//   residual [N, d] fp32          norm1/norm2 [N, d] scalar     qkv [N, 3d] scalar, per head [q|k|v]
//   attention [N, d] scalar       hidden [N, ff] scalar (with MEMPROF_RESIDUAL_GEMM=joined both
//   in one [N, d + ff] buffer: attention in columns 0 … d−1, hidden in d … d+ff−1)
//   logits [rows, V] fp32         positions [N] int32 (index of each token inside its sequence)
//   sequence_starts/lengths [S] int32
// Every launcher is asynchronous on `stream` and returns 0 or a CUDA error code.
#ifndef MEMPROF_CUDA_KERNELS_H
#define MEMPROF_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct CUstream_st *cuda_stream;

enum { CUDA_SCALAR_FP16 = 0, CUDA_SCALAR_BF16 = 1 };

// residual[t] = float(embedding[tokens[t]])
int cuda_embedding_forward(float *residual, const void *embedding, const int32_t *tokens, int64_t tokens_count,
                           int dim, int scalar_type, cuda_stream stream);

// out1 = LN(in; w1, b1), out2 = LN(in; w2, b2) from one read of each row (out2 may be NULL).
int cuda_layernorm_forward(void *out1, void *out2, const float *in, const void *weight1, const void *bias1,
                           const void *weight2, const void *bias2, int64_t rows, int dim, float eps,
                           int scalar_type, cuda_stream stream);

// Partial rotary on q and k of every head, fp32 math, tables [max_position, rot/2].
int cuda_rotary_forward(void *qkv, const float *cos_table, const float *sin_table, const int32_t *positions,
                        int64_t tokens_count, int heads, int head_dim, int rotary_dims, int scalar_type,
                        cuda_stream stream);

// Causal softmax(q·kᵀ·scale)·v per sequence and head, online softmax in fp32. Every attention
// launcher writes token t's heads at out + t·out_stride (out_stride ≥ heads·head_dim: the
// joined residual GEMM's operand, where the attention's rows sit beside the MLP's).
int cuda_attention_forward(void *out, int out_stride, const void *qkv, const int32_t *sequence_starts,
                           const int32_t *sequence_lengths, int sequences, int max_length, int heads, int head_dim,
                           int scalar_type, cuda_stream stream);

// The same on tensor cores (mma.sync, FlashAttention-2 style) for head dims 32, 64, 80, 96, 128, 256; returns −1 when
// the head dim or the device's shared memory is not covered (then use the function above).
// Block order (this and the wgmma kernels): grid (heads, query tiles, sequences), dispatched x
// fastest, so one sequence's heads run together, longest query tiles first, and their K and V
// are read from DRAM about once and then from L2, where ordered by query tile first every
// wave touched a slice of every head's K and V. Measured on an H100 (docs/performance.md):
// L2 hit rate 86%, DRAM 14% of peak at 1.4b, and the kernel's time unchanged within 2%: it
// was not bound by DRAM.
// Where a device's shared memory per block cannot hold two stages of 64-key K and V tiles (an
// A100's 163 KB at head dim 256; the 99 KB of compute capability 8.6/8.9 cards at 128) the
// kernel takes 32-key tiles: other bits than the 64-key form (another summation order).
int cuda_flash_attention_forward(void *out, int out_stride, const void *qkv, const int32_t *sequence_starts,
                                 const int32_t *sequence_lengths, int sequences, int max_length, int heads,
                                 int head_dim, int scalar_type, cuda_stream stream);
// The keys per K/V tile the function above takes at this head dim on the current device: 64,
// 32, or 0 where it returns −1 (the warp kernel runs).
int cuda_flash_attention_keys(int head_dim);
// The 32-key form whatever the device, at head dims 128 and 256 (−1 at the others): for tests.
int cuda_flash_attention_keys32_forward(void *out, int out_stride, const void *qkv, const int32_t *sequence_starts,
                                        const int32_t *sequence_lengths, int sequences, int max_length, int heads,
                                        int head_dim, int scalar_type, cuda_stream stream);

// The same on Hopper's warpgroup products (wgmma, cuda_flash_attention_wgmma.cu) for the same
// head dims; returns −1 where this build lacks sm_90a code or the device is not compute
// capability 9.x (cuda_wgmma_available), or the head dim is not covered.
// The first overlaps each warpgroup's softmax with its previous P·V product (FlashAttention-3's
// intra-warpgroup pipelining); the serial one waits for each product in turn. Both apply the
// same products and rescalings to each accumulator in the same order: the same bits. The
// small-blocks form is the pipelined one with one warpgroup (64 rows) per block and 64-key
// tiles (other bits: another summation order). The ping-pong form
// (cuda_flash_attention_pingpong.cu) is the pipelined one with a copying warpgroup and the two
// multiplying warpgroups taking turns at the tensor cores: the pipelined form's bits.
int cuda_flash_attention_wgmma_forward(void *out, int out_stride, const void *qkv, const int32_t *sequence_starts,
                                       const int32_t *sequence_lengths, int sequences, int max_length, int heads,
                                       int head_dim, int scalar_type, cuda_stream stream);
int cuda_flash_attention_wgmma_serial_forward(void *out, int out_stride, const void *qkv,
                                              const int32_t *sequence_starts, const int32_t *sequence_lengths,
                                              int sequences, int max_length, int heads, int head_dim, int scalar_type,
                                              cuda_stream stream);
int cuda_flash_attention_wgmma_small_blocks_forward(void *out, int out_stride, const void *qkv,
                                                    const int32_t *sequence_starts, const int32_t *sequence_lengths,
                                                    int sequences, int max_length, int heads, int head_dim,
                                                    int scalar_type, cuda_stream stream);
int cuda_flash_attention_wgmma_pingpong_forward(void *out, int out_stride, const void *qkv,
                                                const int32_t *sequence_starts, const int32_t *sequence_lengths,
                                                int sequences, int max_length, int heads, int head_dim, int scalar_type,
                                                cuda_stream stream);
// The ping-pong form with TMA box copies by one thread of the copying warpgroup
// (cuda_tensor_map.h): tokens = the rows of qkv (rows past it arrive as zeros). The same bits.
int cuda_flash_attention_wgmma_tma_forward(void *out, int out_stride, const void *qkv, const int32_t *sequence_starts,
                                           const int32_t *sequence_lengths, int sequences, int max_length, int heads,
                                           int head_dim, int scalar_type, int64_t tokens, cuda_stream stream);
// The TMA form applied to q and k before the rotary (MEMPROF_ROTARY=attention): its copying
// warpgroup rotates the first rotary_dims of each landed Q and K row in shared memory with
// cuda_rotary_forward's arithmetic, so out is the TMA form's on the rotated qkv, bit for bit,
// and qkv is left as it was. Positions are each row's index in its sequence; the tables cos,
// sin [positions, rotary_dims/2] fp32 (cuda_rotary_forward's). −1 where the TMA form is not
// covered or rotary_dims is not even in [2, head_dim].
int cuda_flash_attention_wgmma_tma_rotary_forward(void *out, int out_stride, const void *qkv,
                                                  const int32_t *sequence_starts, const int32_t *sequence_lengths,
                                                  int sequences, int max_length, int heads, int head_dim,
                                                  int scalar_type, int64_t tokens, const float *cos_table,
                                                  const float *sin_table, int rotary_dims, cuda_stream stream);
// The TMA form with one pair of exponentials in every fma_every (4 or 2; else −1) of its
// softmax computed on the FMA units (polynomial_exp2) instead of MUFU.EX2: within 2e-7 of
// the same values, not the same bits.
int cuda_flash_attention_wgmma_tma_fma_forward(void *out, int out_stride, const void *qkv,
                                               const int32_t *sequence_starts, const int32_t *sequence_lengths,
                                               int sequences, int max_length, int heads, int head_dim, int scalar_type,
                                               int fma_every, int64_t tokens, cuda_stream stream);
// The FMA forms' 2^x (polynomial_exp2) over count values, for its test.
int cuda_polynomial_exp2(float *out, const float *in, int64_t count, cuda_stream stream);
int cuda_wgmma_available(void);
// 1 where the TMA form is the attention kernel to use by default for this head dim: wgmma
// is available and the head dim is one where it measured faster than mma.sync on an H100
// (attention's GPU time against mma.sync's, end to end tokens/s: head dim 64, Pythia-70m to
// 410m, +6 to +8%; 80, 2.8b, 0.74×, +4%; 128, 1.4b to 12b, 0.57–0.61×, +2.5 to +4%; 256, 1b,
// 0.43×, +14%; docs/performance.md). Head dim 32 (14m) is not measured: mma.sync there.
int cuda_attention_tma_preferred(int head_dim);
// 1 where the driver has the tensor-map encoder the TMA form needs (cuda_tensor_map.h).
int cuda_tensor_maps_available(void);
// d [64][64] fp32 = a [64][32] · b [32][64] (row-major, input type) on one warpgroup with the
// wgmma form `form` (0: both operands from shared memory, K-major; 1: a from registers, b
// MN-major), its tiles in the no-swizzle layout (swizzle_width 0) or swizzled 32, 64 or 128
// bytes wide: the hardware check of cuda_wgmma.cuh's layouts; variant ≠ 0 exchanges LBO and
// SBO of B's (bit 0) or A's (bit 1) descriptor, for diagnosis. −1 where wgmma is unavailable.
int cuda_wgmma_probe(float *d, const void *a, const void *b, int form, int variant, int swizzle_width, int scalar_type,
                     cuda_stream stream);

// values = gelu_erf(values) in place, fp32 math.
int cuda_gelu_forward(void *values, int64_t count, int scalar_type, cuda_stream stream);
// The same on rows [rows, width] whose starts are stride elements apart (width and stride
// multiples of 8, values 16-byte aligned; else cudaErrorInvalidValue): the MLP's half of the
// joined residual GEMM's operand. The same bits as cuda_gelu_forward on those values.
int cuda_gelu_rows_forward(void *values, int64_t rows, int width, int stride, int scalar_type, cuda_stream stream);

// out[rows, out_dim] = gelu_erf(in[rows, in_dim] · weight[out_dim, in_dim]ᵀ + bias[out_dim]):
// the up GEMM with bias and GELU as its epilogue (cuda_gemm_fused.cu, TMA and wgmma, fp32
// accumulation, one rounding), so the activations are written once and never re-read for
// GELU. pingpong: 0 = both multiplying warpgroups on each 128 × 256 tile, 1 = each on its
// own 128 × 128 tile, taking turns, so that one's epilogue runs beside the other's products
// (the same bits). Returns −1 where it does not apply (then cuBLASLt and cuda_gelu_forward):
// no wgmma or tensor-map encoder (cuda_wgmma_available, cuda_tensor_maps_available), in_dim
// or out_dim not a multiple of 8, in or weight not 16-byte aligned.
int cuda_gemm_gelu_forward(void *out, const void *in, const void *weight, const void *bias, int64_t rows, int in_dim,
                           int out_dim, int pingpong, int scalar_type, cuda_stream stream);
// residual[rows, dim] += attention[rows, dim] · dense_weight[dim, dim]ᵀ + hidden[rows, hidden_dim]
// · down_weight[dim, hidden_dim]ᵀ + bias[dim] (fp32: both layer biases summed): the dense
// and down GEMMs as one over the concatenated k (cuda_gemm_fused.cu, the cooperative
// schedule), the fp32 residual read and written once; one rounding of the sum into it.
// Returns −1 where it does not apply (as cuda_gemm_gelu_forward; then two cuBLASLt GEMMs).
int cuda_gemm_residual_forward(float *residual, const void *attention, const void *dense_weight, const void *hidden,
                               const void *down_weight, const float *bias, int64_t rows, int dim, int hidden_dim,
                               int scalar_type, cuda_stream stream);

// sum (fp32, [dim]) = attention_bias + mlp_bias: the one bias the two residual GEMMs add
// (the dense GEMM's epilogue adds it while it accumulates into the residual stream).
int cuda_bias_sum(float *sum, const void *attention_bias, const void *mlp_bias, int dim, int scalar_type,
                  cuda_stream stream);

// Per logits row with targets[r] ≥ 0: surprisal, entropy, rank (count strictly above the
// target's logit in this same buffer). Rows with target < 0 are skipped. blocks: 0 for a warp
// per row, else that many blocks of 16 warps (one an SM) taking the rows in turn; the same bits.
int cuda_row_statistics(double *surprisal, double *entropy, int64_t *rank, const float *logits,
                        const int32_t *targets, int64_t rows, int vocab, int blocks, cuda_stream stream);

// Per sequence s (predictions at positions starts[s] … starts[s] + predictions[s] − 1):
// sums [S, 3] = Σ surprisal, Σ entropy, Σ (double) rank, each one
// double sum in position order — the host's order, so the bits are the CPU backend's way of
// summing — and correct [S] = #{rank = 0}. Only these leave the device per batch.
int cuda_sequence_sums(double *sums, int64_t *correct, const double *surprisal, const double *entropy,
                       const int64_t *rank, const int32_t *starts, const int32_t *predictions, int sequences,
                       cuda_stream stream);

// The LM head fused with the statistics (cuda_lm_head.cu): per row r < rows with
// targets[r] ≥ 0, surprisal, entropy and rank of softmax(hidden[r]·Wᵀ) over the V rows of
// W [V, dim] (dim a multiple of 8), without a logits buffer. splits: how many parts the
// vocabulary is cut into (cuda_lm_head_splits(V) in the backend: it depends on V only, so a
// row's bits do not depend on its batch); workspace: cuda_lm_head_workspace_bytes(rows, splits).
// The workspace ends with the target logits [rows] fp32. block_rows: 128 (4 warps, two blocks
// per SM) or 256 (8 warps, one): the same bits, another speed. logits_out [rows, V] fp32,
// NULL except in tests, receives every logit as computed. Returns −1 when dim, splits or
// block_rows is not covered.
int cuda_lm_head_splits(int vocab);
// Shared memory per block of the fused (mma) head in `block_rows`-row blocks (128 or 256):
// 256 needs more than the 99 KB of compute capability 8.6/8.9 cards allow.
size_t cuda_lm_head_shared_bytes(int block_rows);
size_t cuda_lm_head_workspace_bytes(int64_t rows, int splits);
int cuda_lm_head_statistics(double *surprisal, double *entropy, int64_t *rank, const void *hidden, const void *weight,
                            const int32_t *targets, int64_t rows, int dim, int vocab, int splits, int block_rows,
                            void *workspace, float *logits_out, int scalar_type, cuda_stream stream);
// The same on Hopper's warpgroup products (cuda_lm_head_wgmma.cu: 128-row blocks of two
// warpgroups; same splits and workspace, other low-order bits); also −1 where
// cuda_wgmma_available() says no.
// 1 where that kernel is the LM head to use by default for hidden size `dim`: wgmma is
// available and the block's hidden rows stay in shared memory with steps of 64 (d ≤ 640 on
// an H100: Pythia-70m, where it measured 7% faster than the chunked path; at 160m, steps of
// 32, and from 410m, streamed, it is slower: docs/performance.md).
int cuda_lm_head_wgmma_preferred(int dim);
int cuda_lm_head_wgmma_statistics(double *surprisal, double *entropy, int64_t *rank, const void *hidden,
                                  const void *weight, const int32_t *targets, int64_t rows, int dim, int vocab,
                                  int splits, void *workspace, float *logits_out, int scalar_type, cuda_stream stream);

// Its target pass alone: target_logits [rows] = hidden[r] · W[targets[r]] as the wgmma heads'
// tiles compute them (0 where targets[r] < 0); what cuda_lm_head_pingpong_statistics ranks by.
int cuda_lm_head_wgmma_target_logits(float *target_logits, const void *hidden, const void *weight,
                                     const int32_t *targets, int64_t rows, int dim, int scalar_type,
                                     cuda_stream stream);
// The same statistics from a persistent ping-pong GEMM whose epilogue folds the logits
// (cuda_lm_head_pingpong.cu: TMA and wgmma; MEMPROF_LM_HEAD=fused-pingpong): one warpgroup
// folds a tile while the other multiplies the next. Its workspace holds two partial states
// per split (one per multiplying warpgroup): cuda_lm_head_workspace_bytes(rows, 2 · splits);
// splits at most ⌈⌈V/128⌉/2⌉; other low-order bits than the other heads. −1 where wgmma or
// the tensor-map encoder is missing, or dim, splits or the operands' alignment (16 bytes) is
// not covered.
int cuda_lm_head_pingpong_statistics(double *surprisal, double *entropy, int64_t *rank, const void *hidden,
                                     const void *weight, const int32_t *targets, int64_t rows, int dim, int vocab,
                                     int splits, void *workspace, float *logits_out, int scalar_type,
                                     cuda_stream stream);

// dst (scalar) = src (fp32): the reference weight upload (cuda_upload_tensor_reference).
int cuda_convert_from_float(void *dst, const float *src, int64_t count, int scalar_type, cuda_stream stream);

// The checkpoint dtypes the upload moves as they are stored (tensor_dtype F16, BF16, F32).
enum { CUDA_SOURCE_F16 = 0, CUDA_SOURCE_BF16 = 1, CUDA_SOURCE_F32 = 2 };

// dst (scalar) = src (source_type) through fp32: the source value is widened exactly, then
// rounded to nearest even by the same intrinsic as cuda_convert_from_float, so the result is
// bit for bit what the fp32 reference path gives (NaN payloads aside).
int cuda_convert_weights(void *dst, const void *src, int64_t count, int source_type, int scalar_type,
                         cuda_stream stream);
// The same for rows [rows, width] of src into rows `stride` elements apart in dst (a weight
// that shares its rows with another: the joined residual GEMM's dense | down).
int cuda_convert_weights_rows(void *dst, int64_t stride, const void *src, int64_t rows, int64_t width, int source_type,
                              int scalar_type, cuda_stream stream);

#ifdef __cplusplus
}
#endif

#endif
