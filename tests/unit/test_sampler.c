// test_sampler.c — the paper's draw against values fixed outside memprof: the sha256 of the
// 14,300 sorted indices and the first three drawn (issue 3, from numpy), MT19937's
// published first outputs for init_genrand(5489), and numpy draws for small cases
// (RandomState(0).randint(1_000_000), RandomState(42).permutation(10)).
#include <stdlib.h>
#include <string.h>

#include "memprof/sampler.h"
#include "memprof/sha256.h"
#include "test.h"

static int compare_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(void) {
    legacy_random rng;
    legacy_random_seed(&rng, 5489);
    uint32_t first = legacy_random_next32(&rng), second = legacy_random_next32(&rng);
    CHECK("mt19937 reference outputs", first == 3499211612u && second == 581869302u, "got %u %u", first, second);

    // numpy: RandomState(0).randint(1_000_000) == 985772; RandomState(42).permutation(10)
    legacy_random_seed(&rng, 0);
    int64_t value = legacy_random_randint(&rng, 1000000);
    CHECK("randint(1e6) seed 0", value == 985772, "got %lld", (long long)value);
    int64_t permutation[10], expected[10] = {8, 1, 5, 0, 7, 2, 9, 4, 3, 6};
    legacy_random_seed(&rng, 42);
    legacy_random_permutation(permutation, &rng, 10);
    CHECK("permutation(10) seed 42", memcmp(permutation, expected, sizeof expected) == 0, "got %lld %lld %lld ...",
          (long long)permutation[0], (long long)permutation[1], (long long)permutation[2]);

    pile_sampler_config config = pile_sampler_defaults();
    int64_t count = pile_sampler_count(&config);
    CHECK("paper sample size", count == 14300, "got %lld", (long long)count);
    int64_t *indices = malloc((size_t)count * sizeof *indices);
    memprof_error err = {0};
    int status = pile_sampler_draw(indices, &config, &err);
    CHECK("paper draw runs", status == 0, "%s", err.message);
    CHECK("first three drawn", indices[0] == 3385 && indices[1] == 3457 && indices[2] == 3097, "got %lld %lld %lld",
          (long long)indices[0], (long long)indices[1], (long long)indices[2]);
    qsort(indices, (size_t)count, sizeof *indices, compare_int64);
    sha256_context ctx;
    sha256_init(&ctx);
    for (int64_t i = 0; i < count; i++) {
        char line[32];
        int length = snprintf(line, sizeof line, "%lld\n", (long long)indices[i]);
        sha256_update(&ctx, line, (size_t)length);
    }
    char digest[65];
    sha256_final_hex(digest, &ctx);
    CHECK("paper sample sha256", strcmp(digest, "989aec9fd0f30185de88a28cb3329110973b8eee3e1041d41302d1ae6c6d8f2c") == 0,
          "got %s", digest);
    int distinct = 1;
    for (int64_t i = 1; i < count; i++) distinct &= indices[i] != indices[i - 1];
    CHECK("indices distinct", distinct, "duplicates found");
    free(indices);

    char abc_digest[65];
    sha256_hex(abc_digest, "abc", 3);
    CHECK("sha256('abc')", strcmp(abc_digest, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
          "got %s", abc_digest);
    config.batches_drawn = 1001;
    CHECK("bad sizes rejected", pile_sampler_draw(NULL, &config, &err) != 0, "accepted");
    return test_failures;
}
