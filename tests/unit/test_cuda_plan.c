// test_cuda_plan.c — the CUDA memory planner's arithmetic (cuda_plan_sequences, the function
// cuda_plan_batch calls with cudaMemGetInfo's answer), which needs no GPU: batches fit their
// budget, the --max-gpu-memory cap holds, the widest activation stays under 2^31 elements.
#include <stdint.h>
#include <string.h>

#include "memprof/checkpoint.h"
#include "test.h"

#ifdef MEMPROF_CUDA
#include "cuda/cuda_internal.h"

// The bytes cuda_internal.h lists per token: residual fp32 [d]; norm1, norm2,
// attention [d], qkv [3d], hidden [ff] in 2 bytes; tokens, positions, targets int32;
// surprisal, entropy double; rank int64.
// With a fused LM head (MEMPROF_LM_HEAD=fused…) also, per token, 24-byte partial softmax
// states (two doubles, a float, an int32), one per vocabulary split of 32 tiles of 128 (two
// per split for fused-pingpong: one per multiplying warpgroup), and the fp32 target logit;
// and no logits buffer. head: 0 chunked, 1 fused, 2 fused-pingpong.
static int head_partials(const model_config *c, int head) {
    return head * (int)(((size_t)c->vocab_size + 128 * 32 - 1) / (128 * 32));
}
static size_t per_token(const model_config *c, int head) {
    return 4 * (size_t)c->hidden_size + 12 * (size_t)c->hidden_size + 2 * (size_t)c->intermediate_size + 12 + 16 + 8 +
           (head ? (size_t)head_partials(c, head) * 24 + 4 : 0);
}
static const char *const head_labels[] = {"", " (fused LM head)", " (ping-pong LM head)"};

static void check_plan(const char *size, int head, size_t free_bytes, size_t cap, size_t fixed, int64_t T) {
    model_config c;
    memprof_error err = {0};
    char name[160];
    snprintf(name, sizeof name, "plan %s: config", size);
    if (pythia_size_config(&c, size, &err) != 0) {
        CHECK(name, 0, "%s", err.message);
        return;
    }
    int64_t logits_rows = -1;
    const int fused = head > 0;
    int sequences = cuda_plan_sequences(&logits_rows, &c, head_partials(&c, head), free_bytes, cap, fixed, T);
    size_t budget = free_bytes - ((size_t)512 << 20);
    if (cap && cap - fixed < budget) budget = cap - fixed;
    size_t used = (size_t)sequences * (size_t)T * per_token(&c, head) + (size_t)logits_rows * (size_t)c.vocab_size * 4;
    int64_t widest = 3 * (int64_t)c.hidden_size > c.intermediate_size ? 3 * (int64_t)c.hidden_size : c.intermediate_size;
    const char *label = head_labels[head];
    snprintf(name, sizeof name, "plan %s%s, %zu GB free, cap %zu GB, T %lld: at least one sequence, logits rows in %s",
             size, label, free_bytes >> 30, cap >> 30, (long long)T, fused ? "{0}" : "[1, 8192]");
    CHECK(name, sequences >= 1 && (fused ? logits_rows == 0 : logits_rows >= 1 && logits_rows <= 8192),
          "%d sequences, %lld logits rows", sequences, (long long)logits_rows);
    snprintf(name, sizeof name, "plan %s%s, %zu GB free, cap %zu GB, T %lld: activations and logits within the budget",
             size, label, free_bytes >> 30, cap >> 30, (long long)T);
    CHECK(name, used <= budget && (size_t)logits_rows * (size_t)c.vocab_size * 4 <= budget / 4 + 1,
          "%zu MB used of %zu MB", used >> 20, budget >> 20);
    snprintf(name, sizeof name, "plan %s%s, %zu GB free, cap %zu GB, T %lld: [N, max(3d, ff)] under 2^31 elements",
             size, label, free_bytes >> 30, cap >> 30, (long long)T);
    CHECK(name, (int64_t)sequences * T * widest <= INT32_MAX && sequences <= 4096, "%d sequences x %lld tokens",
          sequences, (long long)T);
}

// Pythia-12b in fp16 under --max-gpu-memory 40 (40e9 bytes, as the backend reads the cap)
// on an 80 GB card whose free memory is net of the weights already allocated: at least one
// sequence of 2049 tokens, and weights + workspace + the activations cuda_plan_batch would
// allocate for that plan (from the layout itself, alignment included) within the cap.
static void check_12b_under_cap(double cap_gb, size_t card_bytes, int head) {
    model_config c;
    memprof_error err = {0};
    if (pythia_size_config(&c, "12b", &err) != 0) {
        CHECK("plan 12b: config", 0, "%s", err.message);
        return;
    }
    const int64_t T = 2049;
    size_t cap = (size_t)(cap_gb * 1e9), weights = cuda_weight_bytes(&c);
    size_t fixed = weights + cuda_gemm_workspace_bytes();
    char name[200];
    if (cap_gb == 40 && card_bytes < ((size_t)100 << 30)) {
        snprintf(name, sizeof name, "plan 12b fp16: weights %.2f GB, 2 bytes per parameter", (double)weights * 1e-9);
        CHECK(name, weights > (size_t)23.6e9 && weights < (size_t)23.8e9, "%zu bytes", weights);
    }
    int64_t logits_rows = 0;
    int sequences = cuda_plan_sequences(&logits_rows, &c, head_partials(&c, head), card_bytes - weights, cap, fixed, T);
    int64_t tokens = (int64_t)sequences * T;
    int64_t rows = tokens < logits_rows ? tokens : logits_rows;  // as cuda_plan_batch sizes the logits
    size_t total = fixed + (sequences > 0 ? cuda_activation_bytes(&c, head_partials(&c, head), tokens, sequences, rows) : 0);
    snprintf(name, sizeof name, "plan 12b fp16%s on %zu GB under a %.0f GB cap: %d sequences of %lld tokens, %.3f GB in all",
             head_labels[head], card_bytes >> 30, cap_gb, sequences, (long long)T, (double)total * 1e-9);
    CHECK(name, sequences >= 1 && total <= cap, "%d sequences, %zu bytes of %zu", sequences, total, cap);
}

int main(void) {
    const size_t GB = (size_t)1 << 30;
    for (int head = 0; head <= 2; head++) {
        check_12b_under_cap(40, 79 * GB, head);
        check_12b_under_cap(40, 139 * GB, head);
        check_12b_under_cap(25, 79 * GB, head);  // barely above the weights: one sequence, or none, never over
        // An 80 GB card and a 141 GB card, the paper's lengths, no cap: the index limit binds.
        check_plan("70m", head, 79 * GB, 0, 0, 2049);
        check_plan("70m", head, 139 * GB, 0, 0, 2049);
        check_plan("410m", head, 79 * GB, 0, 0, 2049);
        check_plan("12b", head, 79 * GB - 24 * GB, 0, 0, 2049);
        check_plan("12b", head, 139 * GB - 24 * GB, 0, 0, 2049);
        check_plan("14m", head, 79 * GB, 0, 0, 2);
        // Memory binds: a 1.4b on 3 GB free, and a cap of 2 GB above 1 GB of weights.
        check_plan("1.4b", head, 3 * GB, 0, 0, 2049);
        check_plan("160m", head, 79 * GB, 3 * GB, 1 * GB, 2049);
    }

    // The 70m on 79 GB: 2^31 / (4·512) / 2049 = 511 sequences, logits at their 8192-row ceiling.
    model_config c;
    memprof_error err = {0};
    pythia_size_config(&c, "70m", &err);
    int64_t logits_rows = 0;
    int sequences = cuda_plan_sequences(&logits_rows, &c, 0, 79 * GB, 0, 0, 2049);
    CHECK("plan 70m on 79 GB: 511 sequences of 2049, 8192 logits rows", sequences == 511 && logits_rows == 8192,
          "%d, %lld", sequences, (long long)logits_rows);
    // Not one sequence fits: 0, and a cap below the weights leaves nothing.
    CHECK("plan: 520 MB free holds no 70m sequence", cuda_plan_sequences(&logits_rows, &c, 0, 520u << 20, 0, 0, 2049) == 0,
          "fit");
    CHECK("plan: a cap below the weights plans nothing",
          cuda_plan_sequences(&logits_rows, &c, 0, 79 * GB, 1 * GB, 2 * GB, 2049) == 0, "fit");
    return test_failures ? 1 : 0;
}
#else
int main(void) {
    SKIP("cuda planner", "no CUDA backend compiled in (built with CUDA=0)");
    return test_failures;
}
#endif
