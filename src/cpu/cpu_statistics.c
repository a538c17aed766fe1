// cpu_statistics.c — the LM head folded into the paper's statistics, LOGITS_CHUNK rows at a time
// so [T, V] logits never exist in full.
//
// For the row z (length V) at position t with target y = tokens[t+1], m = max z:
//   S = Σ exp(z − m),  lse = m + log S,  surprisal = lse − z_y,
//   entropy = −Σ p log p = log S − Σ exp(z − m)(z − m) / S,
//   rank = #{v : z_v > z_y} on the fp32 logits exactly as the GEMM produced them.
#include <math.h>

#include "cpu/cpu_internal.h"
#include "cpu/cpu_math.h"

enum { SUM_BLOCK = 512 };  // exps are summed in fp32 over a block, blocks in double

typedef struct position_statistics {
    double surprisal, entropy;
    int64_t rank;
} position_statistics;

__attribute__((target_clones("avx2", "default")))
static position_statistics row_statistics(const float *z, int64_t V, int target) {
    float max = z[0];
#pragma omp simd reduction(max : max)
    for (int64_t v = 1; v < V; v++) max = z[v] > max ? z[v] : max;
    float target_logit = z[target];
    double sum = 0.0, weighted = 0.0;
    int64_t above = 0;
    for (int64_t start = 0; start < V; start += SUM_BLOCK) {
        int64_t end = start + SUM_BLOCK < V ? start + SUM_BLOCK : V;
        float block_sum = 0.0f, block_weighted = 0.0f;
        int block_above = 0, count = (int)(end - start);
        const float *block = z + start;
        // The reduction order is fixed by the code, so results are reproducible run to run.
#pragma omp simd reduction(+ : block_sum, block_weighted, block_above)
        for (int v = 0; v < count; v++) {
            float shifted = block[v] - max;
            float e = exp_vectorizable(shifted);
            block_sum += e;
            block_weighted += e * shifted;
            block_above += block[v] > target_logit;
        }
        sum += block_sum;
        weighted += block_weighted;
        above += block_above;
    }
    double log_sum = log(sum);
    position_statistics s;
    s.surprisal = (double)max + log_sum - (double)target_logit;
    s.entropy = log_sum - weighted / sum;
    s.rank = above;
    return s;
}

void cpu_statistics_forward(sequence_statistics *out, token_statistics *out_tokens, cpu_workspace *w,
                            const cpu_model *model, const int32_t *tokens, int64_t T) {
    int d = model->config.hidden_size;
    int64_t V = model->config.vocab_size;
    int64_t predictions = T - 1;
    double sum_surprisal = 0.0, sum_entropy = 0.0, sum_rank = 0.0;
    int64_t correct = 0;
    for (int64_t start = 0; start < predictions; start += LOGITS_CHUNK) {
        int64_t rows = predictions - start < LOGITS_CHUNK ? predictions - start : LOGITS_CHUNK;
        matmul_transposed(w->logits, w->norm1 + start * d, model->embed_out, rows, V, d, d, d, V, 1.0f);
        for (int64_t r = 0; r < rows; r++) {
            int64_t t = start + r;
            position_statistics s = row_statistics(w->logits + r * V, V, tokens[t + 1]);
            sum_surprisal += s.surprisal;
            sum_entropy += s.entropy;
            sum_rank += (double)s.rank;
            correct += s.rank == 0;
            if (out_tokens) {
                out_tokens->surprisal[t] = s.surprisal;
                out_tokens->entropy[t] = s.entropy;
                out_tokens->rank[t] = s.rank;
                out_tokens->correct[t] = s.rank == 0;
            }
        }
    }
    out->n_pred = predictions;
    out->sup_seq = sum_surprisal / (double)predictions;
    out->entr_seq = sum_entropy / (double)predictions;
    out->avg_rank = sum_rank / (double)predictions;
    out->acc_seq = (double)correct / (double)predictions;
}
