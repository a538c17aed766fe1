// cmd_panel.c — `memprof panel`: build panel.h5 from the preshuffled Pile (the paper's
// sampler or an index list) and validation text or idx/bin, or a synthetic panel.
// Layout: include/memprof/panel.h; docs/formats.md; docs/cli.md.
#include <getopt.h>
#include <glob.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/progress_printer.h"
#include "commands.h"
#include "memprof/indexed_dataset.h"
#include "memprof/panel_builder.h"
#include "memprof/sampler.h"

enum { MAX_FILES = 256 };

typedef struct panel_options {
    const char *out;
    bool synthetic_requested, list_indices;
    synthetic_config synthetic;
    pile_sampler_config sampler;
    const char *indices_path;
    const char *pile_idx;
    const char *pile_bins[MAX_FILES];
    int n_pile_bins;
    const char *valid_jsonl[MAX_FILES];
    int n_valid_jsonl;
    const char *valid_idx;
    const char *valid_bins[MAX_FILES];
    int n_valid_bins;
    const char *tokenizer_path;
    uint32_t valid_seed;
    int64_t valid_count;
    int64_t vocab_size;
    int64_t sequence_length;
    int threads;
} panel_options;

static void print_help(FILE *out) {
    fprintf(out,
            "usage: memprof panel [options] --out panel.h5\n\n"
            "Training rows (split 0) from the preshuffled Pile's .bin shards:\n"
            "  --pile-bin FILE       a shard, repeated in shard order (document-00000-of-00020.bin ...)\n"
            "  --pile-idx FILE       document.idx: checks the header and takes the token dtype from it\n"
            "  --pile-dir DIR        the shards DIR/document-*-of-*.bin in name order, and DIR/document.idx\n"
            "  --indices FILE        explicit sample indices, one per line, instead of the sampler\n"
            "  --sample-seed N       the paper's sampler: seed (1994)\n"
            "  --cohorts N           cohorts of batches (143)\n"
            "  --batches-per-cohort N  (1000)    --batches-drawn N   per cohort (10)\n"
            "  --batch-size N        sequences per step (1024)   --sequences-drawn N  per batch (10)\n"
            "  --list-indices        print the selected sample indices, sorted, one per line, and exit\n\n"
            "Held-out rows (split 1) from validation data:\n"
            "  --valid FILE          JSON lines with \"text\" (.jsonl or .jsonl.zst), repeatable, in order\n"
            "  --tokenizer FILE      tokenizer.json for --valid (data/gpt-neox-20b-tokenizer.json)\n"
            "  --valid-idx FILE --valid-bin FILE   pre-tokenised validation data instead\n"
            "  --valid-seed N        RandomState(N).choice(n_windows, count, replace=False) (1234)\n"
            "  --valid-count N       windows to draw (2000)\n"
            "  --threads N           tokenizer threads (1)\n\n"
            "Common:\n"
            "  --out FILE            output (default panel.h5); written as FILE.tmp then renamed\n"
            "  --vocab-size N        model vocabulary: token ids >= N are errors (50304)\n"
            "  --sequence-length N   tokens per row (2049)\n\n"
            "Synthetic panel (tests and the demo):\n"
            "  --synthetic           seeded random tokens; options --seed N (0), --train-rows N (48),\n"
            "                        --heldout-rows N (16), --steps N (8000), --vocab-size (1024 here),\n"
            "                        --sequence-length, --batch-size\n"
            "  --help                this text\n");
}

static int parse_int64(int64_t *out, const char *text, const char *option, int64_t min) {
    char *end;
    long long value = strtoll(text, &end, 10);
    if (*text == '\0' || *end != '\0' || value < min) {
        fprintf(stderr, "memprof panel: %s needs an integer >= %lld, got '%s'\n", option, (long long)min, text);
        return -1;
    }
    *out = value;
    return 0;
}

static int compare_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static uint64_t file_bytes(const char *path) {
    struct stat info;
    return stat(path, &info) == 0 ? (uint64_t)info.st_size : 0;
}

// "path\tbytes" lines for the provenance attributes.
static char *describe_files(const char *const *paths, int n) {
    size_t capacity = 64;
    for (int i = 0; i < n; i++) capacity += strlen(paths[i]) + 32;
    char *text = malloc(capacity);
    if (!text) return NULL;
    size_t used = 0;
    text[0] = '\0';
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(text + used, capacity - used, "%s%s\t%llu", i ? "\n" : "", paths[i],
                                 (unsigned long long)file_bytes(paths[i]));
    return text;
}

static int select_training(int64_t **out, int64_t *out_count, const panel_options *options, memprof_error *err) {
    if (options->indices_path) return index_list_read(out, out_count, options->indices_path, err);
    int64_t count = pile_sampler_count(&options->sampler);
    int64_t *indices = malloc((size_t)(count > 0 ? count : 1) * sizeof *indices);
    if (!indices) return error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    int status = pile_sampler_draw(indices, &options->sampler, err);
    if (status) {
        free(indices);
        return status;
    }
    *out = indices;
    *out_count = count;
    return MEMPROF_OK;
}

static int build(panel *p, const panel_options *options, memprof_error *err) {
    progress_printer printer;
    progress_reporter progress;
    progress_printer_init(&printer, &progress, stderr);
    int64_t *train = NULL, n_train = 0, *windows = NULL, n_windows_drawn = 0;
    token_store *store = NULL;
    indexed_dataset *pile_index = NULL, *valid_dataset = NULL;
    tokenizer *tok = NULL;
    token_stream stream = {0};
    int status = MEMPROF_OK;
    int64_t length = options->sequence_length;
    bool has_train = options->n_pile_bins > 0, has_valid = options->n_valid_jsonl > 0 || options->valid_idx;

    if (has_train) {
        int dtype = 8;  // uint16, as Pythia's files
        if (options->pile_idx) {
            status = indexed_dataset_open(&pile_index, options->pile_idx, options->pile_bins, options->n_pile_bins, err);
            if (status) goto done;
            dtype = indexed_dataset_index(pile_index)->dtype_code;
        }
        status = token_store_open(&store, options->pile_bins, options->n_pile_bins, dtype, err);
        if (!status) status = select_training(&train, &n_train, options, err);
        if (status) goto done;
        qsort(train, (size_t)n_train, sizeof *train, compare_int64);
        for (int64_t i = 1; i < n_train; i++)
            if (train[i] == train[i - 1]) {
                status = error_set(err, MEMPROF_ERR, "sample index %lld listed twice", (long long)train[i]);
                goto done;
            }
    }
    if (has_valid) {
        if (options->valid_idx) {
            status = indexed_dataset_open(&valid_dataset, options->valid_idx, options->valid_bins, options->n_valid_bins, err);
            if (!status) status = token_stream_append_indexed(&stream, valid_dataset, err);
        } else {
            if (!options->tokenizer_path) {
                status = error_set(err, MEMPROF_ERR, "--valid needs --tokenizer");
                goto done;
            }
            status = tokenizer_load(&tok, options->tokenizer_path, err);
            for (int i = 0; i < options->n_valid_jsonl && !status; i++)
                status = token_stream_append_jsonl(&stream, options->valid_jsonl[i], tok, options->threads, &progress, err);
            progress_printer_finish(&printer);
        }
        if (status) goto done;
        int64_t n_windows = stream.count / length;
        if (options->valid_count > n_windows) {
            status = error_set(err, MEMPROF_ERR, "validation data holds %lld windows of %lld tokens, fewer than --valid-count %lld",
                               (long long)n_windows, (long long)length, (long long)options->valid_count);
            goto done;
        }
        n_windows_drawn = options->valid_count;
        windows = malloc((size_t)(n_windows_drawn + 1) * sizeof *windows);
        if (!windows) {
            status = error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
            goto done;
        }
        legacy_random rng;
        legacy_random_seed(&rng, options->valid_seed);
        status = legacy_random_choice(windows, &rng, n_windows, n_windows_drawn, err);
        if (status) goto done;
        qsort(windows, (size_t)n_windows_drawn, sizeof *windows, compare_int64);
    }
    status = panel_alloc(p, n_train + n_windows_drawn, length, err);
    int64_t special_tokens = 0;
    if (!status && has_train)
        status = panel_fill_training(p, &special_tokens, 0, train, n_train, store, options->sampler.batch_size,
                                     options->vocab_size, &progress, err);
    progress_printer_finish(&printer);
    if (!status && special_tokens > 0)
        fprintf(stderr, "memprof panel: warning: %lld training tokens are <|endoftext|> or <|padding|> (ids 0, 1); "
                        "Pythia's preshuffled Pile has none\n", (long long)special_tokens);
    if (!status && has_valid)
        status = panel_fill_heldout(p, n_train, &stream, windows, n_windows_drawn, options->vocab_size, err);
    if (status) goto done;

    // Provenance.
    panel_set_integer(p, "sequence_length", length, err);
    panel_set_integer(p, "vocab_size", options->vocab_size, err);
    panel_set_integer(p, "synthetic", 0, err);
    if (has_train) {
        char *sources = describe_files(options->pile_bins, options->n_pile_bins);
        panel_set_text(p, "train_sources", sources ? sources : "", err);
        free(sources);
        if (options->pile_idx) panel_set_text(p, "train_index", options->pile_idx, err);
        panel_set_integer(p, "train_source_tokens", (int64_t)token_store_tokens(store), err);
        panel_set_integer(p, "batch_size", options->sampler.batch_size, err);
        panel_set_integer(p, "train_special_tokens", special_tokens, err);
        if (options->indices_path) {
            panel_set_text(p, "train_selection", "index-file", err);
            panel_set_text(p, "train_index_file", options->indices_path, err);
        } else {
            panel_set_text(p, "train_selection", "paper-sampler", err);
            panel_set_integer(p, "sample_seed", options->sampler.seed, err);
            panel_set_integer(p, "cohorts", options->sampler.cohorts, err);
            panel_set_integer(p, "batches_per_cohort", options->sampler.batches_per_cohort, err);
            panel_set_integer(p, "batches_drawn", options->sampler.batches_drawn, err);
            panel_set_integer(p, "sequences_drawn", options->sampler.sequences_drawn, err);
        }
    }
    if (has_valid) {
        char *sources = options->valid_idx ? describe_files(options->valid_bins, options->n_valid_bins)
                                           : describe_files(options->valid_jsonl, options->n_valid_jsonl);
        panel_set_text(p, "valid_sources", sources ? sources : "", err);
        free(sources);
        panel_set_text(p, "valid_packing", "concatenated without separator, windows of sequence_length, remainder dropped", err);
        panel_set_integer(p, "valid_seed", options->valid_seed, err);
        panel_set_integer(p, "valid_count", options->valid_count, err);
        panel_set_integer(p, "valid_documents", stream.documents, err);
        panel_set_integer(p, "valid_tokens", stream.count, err);
        panel_set_integer(p, "valid_windows", stream.count / length, err);
        if (tok) panel_set_text(p, "tokenizer_sha256", tokenizer_sha256(tok), err);
    }
done:
    free(train);
    free(windows);
    token_store_close(store);
    indexed_dataset_close(pile_index);
    indexed_dataset_close(valid_dataset);
    tokenizer_free(tok);
    token_stream_free(&stream);
    return status;
}

static int run_panel(panel_options *options);

int command_panel(int argc, char **argv) {
    panel_options options = {.out = "panel.h5", .synthetic = synthetic_defaults(), .sampler = pile_sampler_defaults(),
                             .valid_seed = 1234, .valid_count = 2000, .vocab_size = -1, .sequence_length = 2049,
                             .threads = 1};
    // Options from O_VALID_SEED to O_STEPS take integer arguments.
    enum { O_OUT = 256, O_SYNTHETIC, O_PILE_DIR, O_LIST, O_INDICES, O_PILE_IDX, O_PILE_BIN, O_VALID, O_VALID_IDX, O_VALID_BIN,
           O_TOKENIZER, O_VALID_SEED, O_VALID_COUNT, O_VOCAB, O_LENGTH, O_THREADS, O_SAMPLE_SEED, O_COHORTS,
           O_BATCHES_PER_COHORT, O_BATCHES_DRAWN, O_BATCH_SIZE, O_SEQUENCES_DRAWN, O_SEED, O_TRAIN_ROWS, O_HELDOUT_ROWS, O_STEPS };
    static const struct option table[] = {
        {"out", required_argument, NULL, O_OUT}, {"synthetic", no_argument, NULL, O_SYNTHETIC},
        {"pile-dir", required_argument, NULL, O_PILE_DIR},
        {"list-indices", no_argument, NULL, O_LIST}, {"indices", required_argument, NULL, O_INDICES},
        {"pile-idx", required_argument, NULL, O_PILE_IDX}, {"pile-bin", required_argument, NULL, O_PILE_BIN},
        {"valid", required_argument, NULL, O_VALID}, {"valid-idx", required_argument, NULL, O_VALID_IDX},
        {"valid-bin", required_argument, NULL, O_VALID_BIN}, {"tokenizer", required_argument, NULL, O_TOKENIZER},
        {"valid-seed", required_argument, NULL, O_VALID_SEED}, {"valid-count", required_argument, NULL, O_VALID_COUNT},
        {"vocab-size", required_argument, NULL, O_VOCAB}, {"sequence-length", required_argument, NULL, O_LENGTH},
        {"threads", required_argument, NULL, O_THREADS}, {"sample-seed", required_argument, NULL, O_SAMPLE_SEED},
        {"cohorts", required_argument, NULL, O_COHORTS}, {"batches-per-cohort", required_argument, NULL, O_BATCHES_PER_COHORT},
        {"batches-drawn", required_argument, NULL, O_BATCHES_DRAWN}, {"batch-size", required_argument, NULL, O_BATCH_SIZE},
        {"sequences-drawn", required_argument, NULL, O_SEQUENCES_DRAWN}, {"seed", required_argument, NULL, O_SEED},
        {"train-rows", required_argument, NULL, O_TRAIN_ROWS}, {"heldout-rows", required_argument, NULL, O_HELDOUT_ROWS},
        {"steps", required_argument, NULL, O_STEPS}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int option;
    int64_t value = 0;
    const char *pile_dir = NULL;
    optind = 1;
    while ((option = getopt_long(argc, argv, "h", table, NULL)) != -1) {
        const char *name = table[0].name;
        for (int i = 0; table[i].name; i++)
            if (table[i].val == option) name = table[i].name;
        bool numeric = option >= O_VALID_SEED && option <= O_STEPS;  // these options take integers
        if (numeric && parse_int64(&value, optarg, name, 0) != 0) return EXIT_USAGE;
        bool seed_option = option == O_VALID_SEED || option == O_SAMPLE_SEED || option == O_SEED;
        if (seed_option && value > 0xffffffffLL) {
            fprintf(stderr, "memprof panel: --%s must be below 2^32\n", name);
            return EXIT_USAGE;
        }
        switch (option) {
        case O_OUT: options.out = optarg; break;
        case O_PILE_DIR: pile_dir = optarg; break;
        case O_SYNTHETIC: options.synthetic_requested = true; break;
        case O_LIST: options.list_indices = true; break;
        case O_INDICES: options.indices_path = optarg; break;
        case O_PILE_IDX: options.pile_idx = optarg; break;
        case O_PILE_BIN:
        case O_VALID:
        case O_VALID_BIN: {
            const char **list = option == O_PILE_BIN ? options.pile_bins : option == O_VALID ? options.valid_jsonl : options.valid_bins;
            int *count = option == O_PILE_BIN ? &options.n_pile_bins : option == O_VALID ? &options.n_valid_jsonl : &options.n_valid_bins;
            if (*count == MAX_FILES) {
                fprintf(stderr, "memprof panel: at most %d files per option\n", MAX_FILES);
                return EXIT_USAGE;
            }
            list[(*count)++] = optarg;
            break;
        }
        case O_VALID_IDX: options.valid_idx = optarg; break;
        case O_TOKENIZER: options.tokenizer_path = optarg; break;
        case O_VALID_SEED: options.valid_seed = (uint32_t)value; break;
        case O_VALID_COUNT: options.valid_count = value; break;
        case O_VOCAB: options.vocab_size = value; break;
        case O_LENGTH: options.sequence_length = value; break;
        case O_THREADS: options.threads = (int)(value < 1 ? 1 : value > 256 ? 256 : value); break;
        case O_SAMPLE_SEED: options.sampler.seed = (uint32_t)value; break;
        case O_COHORTS: options.sampler.cohorts = value; break;
        case O_BATCHES_PER_COHORT: options.sampler.batches_per_cohort = value; break;
        case O_BATCHES_DRAWN: options.sampler.batches_drawn = value; break;
        case O_BATCH_SIZE: options.sampler.batch_size = value; options.synthetic.batch_size = value; break;
        case O_SEQUENCES_DRAWN: options.sampler.sequences_drawn = value; break;
        case O_SEED: options.synthetic.seed = (uint32_t)value; break;
        case O_TRAIN_ROWS: options.synthetic.train_rows = value; break;
        case O_HELDOUT_ROWS: options.synthetic.heldout_rows = value; break;
        case O_STEPS: options.synthetic.steps = value; break;
        case 'h': print_help(stdout); return EXIT_OK;
        default: print_help(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "memprof panel: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    // --pile-dir: the shards in name order (their order in the virtual file) and the index.
    glob_t shards = {0};
    char pile_idx[4200];
    if (pile_dir) {
        char pattern[4200];
        snprintf(pattern, sizeof pattern, "%s/document-*-of-*.bin", pile_dir);
        if (glob(pattern, 0, NULL, &shards) != 0 || shards.gl_pathc == 0 || shards.gl_pathc > MAX_FILES) {
            fprintf(stderr, "memprof panel: %s: no document-*-of-*.bin shards (or more than %d)\n", pile_dir, MAX_FILES);
            globfree(&shards);
            return EXIT_FAILURE_INPUT;
        }
        for (size_t i = 0; i < shards.gl_pathc && options.n_pile_bins < MAX_FILES; i++)
            options.pile_bins[options.n_pile_bins++] = shards.gl_pathv[i];
        snprintf(pile_idx, sizeof pile_idx, "%s/document.idx", pile_dir);
        if (!options.pile_idx && access(pile_idx, R_OK) == 0) options.pile_idx = pile_idx;
    }
    int exit_status = run_panel(&options);
    globfree(&shards);
    return exit_status;
}

// Everything after option parsing: list indices, or build and write the panel.
static int run_panel(panel_options *options) {
    memprof_error err = {0};
    if (options->list_indices) {
        int64_t *indices = NULL, count = 0;
        if (select_training(&indices, &count, options, &err) != 0) {
            fprintf(stderr, "memprof panel: %s\n", err.message);
            return EXIT_FAILURE_INPUT;
        }
        qsort(indices, (size_t)count, sizeof *indices, compare_int64);
        for (int64_t i = 0; i < count; i++) printf("%lld\n", (long long)indices[i]);
        free(indices);
        return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILURE_INPUT;
    }
    panel result = {0};
    int status;
    if (options->synthetic_requested) {
        if (options->vocab_size >= 0) options->synthetic.vocab_size = options->vocab_size;
        options->synthetic.sequence_length = options->sequence_length;
        status = panel_synthetic(&result, &options->synthetic, &err);
        if (!status) {
            panel_set_integer(&result, "synthetic", 1, &err);
            panel_set_integer(&result, "seed", options->synthetic.seed, &err);
            panel_set_integer(&result, "sequence_length", options->synthetic.sequence_length, &err);
            panel_set_integer(&result, "vocab_size", options->synthetic.vocab_size, &err);
            panel_set_integer(&result, "steps", options->synthetic.steps, &err);
            panel_set_integer(&result, "batch_size", options->synthetic.batch_size, &err);
        }
    } else {
        if (options->n_pile_bins == 0 && options->n_valid_jsonl == 0 && !options->valid_idx) {
            fprintf(stderr, "memprof panel: nothing to do: give --pile-bin, --valid/--valid-idx or --synthetic\n");
            return EXIT_USAGE;
        }
        if (options->valid_idx && options->n_valid_bins == 0) {
            fprintf(stderr, "memprof panel: --valid-idx needs --valid-bin\n");
            return EXIT_USAGE;
        }
        if (options->vocab_size < 0) options->vocab_size = 50304;
        status = build(&result, options, &err);
    }
    if (!status) status = panel_write(&result, options->out, &err);
    panel_free(&result);
    if (status) {
        fprintf(stderr, "memprof panel: %s\n", err.message);
        return EXIT_FAILURE_INPUT;
    }
    return EXIT_OK;
}
