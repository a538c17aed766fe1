// test_config.c — the YAML loader and the sweep schema: values, steps, overrides, every
// error with its FILE:LINE:COLUMN, the resolved printer and its hash.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/config.h"
#include "test.h"

// The smallest valid sweep file; tests append lines to it or write their own.
#define BASE                                                 \
    "model:\n"                                               \
    "  name: pythia-70m-deduped\n"                           \
    "  checkpoint: ckpt/pythia-70m-deduped/step{step}\n"     \
    "checkpoints:\n"                                         \
    "  steps: [0, \"1000:143000:1000\"]\n"                   \
    "panel: data/panel.h5\n"                                 \
    "output: runs/70m/stats.h5\n"

static memprof_error err;

// Loads text as "sweep.yaml" with the given overrides (NULL-terminated).
static int load(sweep_config *c, const char *text, const char *const *overrides) {
    int n = 0;
    while (overrides && overrides[n]) n++;
    memset(c, 0, sizeof *c);
    error_clear(&err);
    return config_load_buffer(c, &sweep_config_schema, "sweep.yaml", text, strlen(text), n, overrides, &err);
}

// Expects the load to fail with a message equal to / containing `expected`.
static void expect_error(const char *name, const char *text, const char *const *overrides, const char *expected, int exact) {
    sweep_config c;
    int rc = load(&c, text, overrides);
    if (rc == 0) sweep_config_free(&c);
    int ok = rc != 0 && (exact ? strcmp(err.message, expected) == 0 : strstr(err.message, expected) != NULL);
    CHECK(name, ok, "rc=%d message '%s', expected %s'%s'", rc, err.message, exact ? "" : "to contain ", expected);
}

#define OVERRIDES(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_valid_file(void) {
    const char *text = BASE
        "journal: runs/70m/journal\n"
        "log_dir: logs\n"
        "backend: cuda\n"
        "precision: bf16\n"
        "batch_size: 16\n"
        "shard_size: 128\n"
        "threads: 8\n"
        "per_token: true\n"
        "max_gpu_memory_gb: 40.5\n";
    sweep_config c;
    int rc = load(&c, text, NULL);
    CHECK("valid: loads", rc == 0, "%s", err.message);
    if (rc != 0) return;
    CHECK("valid: model.name", strcmp(c.model_name, "pythia-70m-deduped") == 0, "%s", c.model_name);
    CHECK("valid: model.checkpoint", strcmp(c.checkpoint_template, "ckpt/pythia-70m-deduped/step{step}") == 0, "%s", c.checkpoint_template);
    CHECK("valid: panel", strcmp(c.panel, "data/panel.h5") == 0, "%s", c.panel);
    CHECK("valid: output", strcmp(c.output, "runs/70m/stats.h5") == 0, "%s", c.output);
    CHECK("valid: journal", strcmp(c.journal, "runs/70m/journal") == 0, "%s", c.journal);
    CHECK("valid: log_dir", strcmp(c.log_dir, "logs") == 0, "%s", c.log_dir);
    CHECK("valid: backend", c.backend == SWEEP_BACKEND_CUDA, "%d", c.backend);
    CHECK("valid: precision", c.precision == SWEEP_PRECISION_BF16, "%d", c.precision);
    CHECK("valid: batch_size", c.batch_size == 16, "%lld", (long long)c.batch_size);
    CHECK("valid: shard_size", c.shard_size == 128, "%lld", (long long)c.shard_size);
    CHECK("valid: threads", c.threads == 8, "%lld", (long long)c.threads);
    CHECK("valid: per_token", c.per_token, "false");
    CHECK("valid: max_gpu_memory_gb", c.max_gpu_memory_gb == 40.5, "%g", c.max_gpu_memory_gb);
    sweep_config_free(&c);
    CHECK("valid: free zeroes", c.model_name == NULL && c.steps.values == NULL && c.journal == NULL, "not zeroed");
}

static void test_defaults(void) {
    sweep_config c;
    int rc = load(&c, BASE, NULL);
    CHECK("defaults: loads", rc == 0, "%s", err.message);
    if (rc != 0) return;
    CHECK("defaults: journal beside output", strcmp(c.journal, "runs/70m/stats.h5.journal") == 0, "%s", c.journal);
    CHECK("defaults: log_dir beside output", strcmp(c.log_dir, "runs/70m/stats.h5.logs") == 0, "%s", c.log_dir);
    CHECK("defaults: backend cpu", c.backend == SWEEP_BACKEND_CPU, "%d", c.backend);
    CHECK("defaults: precision fp32 on cpu", c.precision == SWEEP_PRECISION_FP32, "%d", c.precision);
    CHECK("defaults: batch_size 0 (auto)", c.batch_size == 0, "%lld", (long long)c.batch_size);
    CHECK("defaults: shard_size 64", c.shard_size == 64, "%lld", (long long)c.shard_size);
    CHECK("defaults: threads 0", c.threads == 0, "%lld", (long long)c.threads);
    CHECK("defaults: per_token false", !c.per_token, "true");
    CHECK("defaults: max_gpu_memory_gb 0", c.max_gpu_memory_gb == 0, "%g", c.max_gpu_memory_gb);
    sweep_config_free(&c);

    rc = load(&c, BASE "backend: cuda\n", NULL);
    CHECK("defaults: precision fp16 on cuda", rc == 0 && c.precision == SWEEP_PRECISION_FP16, "rc=%d %s", rc, err.message);
    if (rc == 0) sweep_config_free(&c);
    rc = load(&c, BASE "backend: cuda\nprecision: auto\n", NULL);
    CHECK("defaults: explicit auto", rc == 0 && c.precision == SWEEP_PRECISION_FP16, "rc=%d %s", rc, err.message);
    if (rc == 0) sweep_config_free(&c);
    rc = load(&c, BASE "journal: ~\nthreads:\n", NULL);
    CHECK("defaults: null value keeps the default", rc == 0 && strcmp(c.journal, "runs/70m/stats.h5.journal") == 0 && c.threads == 0,
          "rc=%d %s", rc, err.message);
    if (rc == 0) sweep_config_free(&c);
}

static void check_steps(const char *name, const char *steps_line, const int64_t *expected, size_t count) {
    char text[2048];
    snprintf(text, sizeof text,
             "model: {name: m, checkpoint: \"c/{step}\"}\npanel: p.h5\noutput: o.h5\ncheckpoints:\n  steps: %s\n", steps_line);
    sweep_config c;
    int rc = load(&c, text, NULL);
    int ok = rc == 0 && c.steps.count == count;
    for (size_t i = 0; ok && i < count; i++) ok = c.steps.values[i] == expected[i];
    CHECK(name, ok, "rc=%d %s count=%zu", rc, err.message, rc == 0 ? c.steps.count : 0);
    if (rc == 0) sweep_config_free(&c);
}

static void test_steps(void) {
    sweep_config c;
    int rc = load(&c, BASE, NULL);
    CHECK("steps: paper list has 144", rc == 0 && c.steps.count == 144, "rc=%d %s", rc, err.message);
    if (rc == 0) {
        CHECK("steps: paper first/second/last", c.steps.values[0] == 0 && c.steps.values[1] == 1000 && c.steps.values[143] == 143000,
              "%lld %lld %lld", (long long)c.steps.values[0], (long long)c.steps.values[1], (long long)c.steps.values[143]);
        sweep_config_free(&c);
    }
    const char *paper_string = "model: {name: m, checkpoint: \"c/{step}\"}\npanel: p.h5\noutput: o.h5\n"
                               "checkpoints:\n  steps: \"0, 1000:143000:1000\"\n";
    rc = load(&c, paper_string, NULL);
    CHECK("steps: paper list as a string has 144", rc == 0 && c.steps.count == 144 && c.steps.values[143] == 143000,
          "rc=%d %s", rc, err.message);
    if (rc == 0) sweep_config_free(&c);
    rc = load(&c, "model: {name: m, checkpoint: \"c/{step}\"}\npanel: p.h5\noutput: o.h5\n"
                  "checkpoints:\n  steps:\n    - 0\n    - 1000:143000:1000\n", NULL);
    CHECK("steps: block list with a plain range", rc == 0 && c.steps.count == 144, "rc=%d %s", rc, err.message);
    if (rc == 0) sweep_config_free(&c);

    check_steps("steps: single integer", "7", (const int64_t[]){7}, 1);
    check_steps("steps: sorted", "[5000, 0, 1000]", (const int64_t[]){0, 1000, 5000}, 3);
    check_steps("steps: stop not on the stride", "\"0:10:3\"", (const int64_t[]){0, 3, 6, 9}, 4);
    check_steps("steps: one-element range", "[\"8:8:1\"]", (const int64_t[]){8}, 1);
    check_steps("steps: mixed string", "\"1, 2, 4:10:2, 3\"", (const int64_t[]){1, 2, 3, 4, 6, 8, 10}, 7);

    // Errors, with the item's own position inside a list.
    const char *head = "model: {name: m, checkpoint: \"c/{step}\"}\npanel: p.h5\noutput: o.h5\ncheckpoints:\n";
    char text[1024];
    snprintf(text, sizeof text, "%s  steps: [0, \"0:2000:1000\"]\n", head);
    expect_error("steps: duplicate is an error", text, NULL,
                 "sweep.yaml:5:10: key 'checkpoints.steps': step 0 appears more than once", 1);
    snprintf(text, sizeof text, "%s  steps: [0, \"5:1:1\"]\n", head);
    expect_error("steps: stop below start", text, NULL, "sweep.yaml:5:14: key 'checkpoints.steps': range '5:1:1': stop is below start", 1);
    snprintf(text, sizeof text, "%s  steps: [\"0:10:0\"]\n", head);
    expect_error("steps: zero stride", text, NULL, "range '0:10:0': the step must be >= 1", 0);
    snprintf(text, sizeof text, "%s  steps: [-5]\n", head);
    expect_error("steps: negative", text, NULL, "sweep.yaml:5:11: key 'checkpoints.steps': expected a step", 0);
    snprintf(text, sizeof text, "%s  steps: [\"1:2\"]\n", head);
    expect_error("steps: two-part range", text, NULL, "got '1:2'", 0);
    snprintf(text, sizeof text, "%s  steps: [x]\n", head);
    expect_error("steps: not a number", text, NULL, "got 'x'", 0);
    snprintf(text, sizeof text, "%s  steps: []\n", head);
    expect_error("steps: empty list", text, NULL, "sweep.yaml:5:10: key 'checkpoints.steps': the step list is empty", 1);
    snprintf(text, sizeof text, "%s  steps: \"0,,5\"\n", head);
    expect_error("steps: empty item", text, NULL, "empty item in step list", 0);
    snprintf(text, sizeof text, "%s  steps: \"0:9000000000000000000:1\"\n", head);
    expect_error("steps: too many", text, NULL, "more than 1000000 steps", 0);
    snprintf(text, sizeof text, "%s  steps: {a: 1}\n", head);
    expect_error("steps: mapping", text, NULL, "expected a list of steps, got a mapping", 0);
    snprintf(text, sizeof text, "%s  steps: [[1]]\n", head);
    expect_error("steps: nested list", text, NULL, "sweep.yaml:5:11: key 'checkpoints.steps': expected a step or a range start:stop:step in the list, got a list", 1);

    // Folding back into ranges.
    config_steps s = {(int64_t[]){0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 2000, 3000}, 14};
    char *folded = config_steps_format(&s);
    CHECK("steps: folding the published log-spaced grid", folded && strcmp(folded, "[\"0:2:1\", 4, 8, 16, 32, 64, 128, 256, 512, \"1000:3000:1000\"]") == 0,
          "%s", folded ? folded : "NULL");
    free(folded);
}

static void test_overrides(void) {
    sweep_config c;
    int rc = load(&c, BASE, OVERRIDES("model.name=pythia-160m-deduped", "backend=cuda", "batch_size=32", "per_token=true",
                                      "checkpoints.steps=0,1000:3000:1000", "max_gpu_memory_gb=70"));
    CHECK("override: loads", rc == 0, "%s", err.message);
    if (rc == 0) {
        CHECK("override: nested string", strcmp(c.model_name, "pythia-160m-deduped") == 0, "%s", c.model_name);
        CHECK("override: enum and derived precision", c.backend == SWEEP_BACKEND_CUDA && c.precision == SWEEP_PRECISION_FP16, "%d %d", c.backend, c.precision);
        CHECK("override: int", c.batch_size == 32, "%lld", (long long)c.batch_size);
        CHECK("override: bool", c.per_token, "false");
        CHECK("override: steps", c.steps.count == 4 && c.steps.values[3] == 3000, "%zu", c.steps.count);
        CHECK("override: double", c.max_gpu_memory_gb == 70, "%g", c.max_gpu_memory_gb);
        sweep_config_free(&c);
    }
    rc = load(&c, BASE, OVERRIDES("checkpoints.steps=[0, \"10:30:10\"]", "model.checkpoint={step}/weights", "journal=\"a b.journal\""));
    CHECK("override: YAML flow list, literal braces, quoted string", rc == 0 && c.steps.count == 4 &&
          strcmp(c.checkpoint_template, "{step}/weights") == 0 && strcmp(c.journal, "a b.journal") == 0, "rc=%d %s", rc, err.message);
    if (rc == 0) sweep_config_free(&c);
    rc = load(&c, BASE "journal: j\n", OVERRIDES("journal=null"));
    CHECK("override: null restores the default", rc == 0 && strcmp(c.journal, "runs/70m/stats.h5.journal") == 0, "rc=%d %s", rc, err.message);
    if (rc == 0) sweep_config_free(&c);
    rc = load(&c, BASE, OVERRIDES("threads=2", "threads=4"));
    CHECK("override: last one wins", rc == 0 && c.threads == 4, "rc=%d %s", rc, err.message);
    if (rc == 0) sweep_config_free(&c);
    // Required keys may come from overrides alone.
    rc = load(&c, "model:\n  name: m\n", OVERRIDES("model.checkpoint=c{step}", "checkpoints.steps=5", "panel=p", "output=o"));
    CHECK("override: supplies required keys", rc == 0 && c.steps.count == 1, "rc=%d %s", rc, err.message);
    if (rc == 0) sweep_config_free(&c);

    expect_error("override: wrong type", BASE, OVERRIDES("batch_size=abc"),
                 "override 'batch_size=abc': key 'batch_size': expected an integer in [0, 1048576], got 'abc'", 1);
    expect_error("override: unknown nested key with suggestion", BASE, OVERRIDES("modle.name=x"),
                 "override 'modle.name=x': unknown key 'modle.name' (did you mean 'model.name'?)", 1);
    expect_error("override: unknown top key with suggestion", BASE, OVERRIDES("bakend=cuda"),
                 "override 'bakend=cuda': unknown key 'bakend' (did you mean 'backend'?)", 1);
    expect_error("override: a section", BASE, OVERRIDES("model=x"), "'model' is a section", 0);
    expect_error("override: no '='", BASE, OVERRIDES("backend"), "override 'backend': expected key=value", 0);
    expect_error("override: out of range", BASE, OVERRIDES("shard_size=0"), "expected an integer in [1, 16777216], got '0'", 0);
    expect_error("override: bad enum with suggestion", BASE, OVERRIDES("backend=cdua"),
                 "override 'backend=cdua': key 'backend': expected one of cpu, cuda, got 'cdua' (did you mean 'cuda'?)", 1);
    expect_error("override: bad YAML value", BASE, OVERRIDES("checkpoints.steps=[0, 1"), "invalid YAML value", 0);
    expect_error("override: removes a required key", BASE, OVERRIDES("panel="), "sweep.yaml: missing required key 'panel'", 0);
    expect_error("override: invalid UTF-8", BASE, OVERRIDES("journal=a\xff"), "key 'journal': the string is not valid UTF-8 (at byte 1)", 0);
    expect_error("override: overlong UTF-8", BASE, OVERRIDES("journal=\xc0\xaf"), "not valid UTF-8", 0);
    expect_error("override: UTF-8 surrogate", BASE, OVERRIDES("journal=\xed\xa0\x80"), "not valid UTF-8", 0);
    expect_error("override: cross-key rule names the override", BASE, OVERRIDES("precision=fp16"),
                 "override 'precision=fp16': key 'precision': fp16 needs backend cuda", 0);
}

static void test_errors(void) {
    expect_error("error: unknown key with suggestion", "modle:\n  name: x\n", NULL,
                 "sweep.yaml:1:1: unknown key 'modle' (did you mean 'model'?)", 1);
    expect_error("error: unknown nested key with suggestion", "model:\n  nmae: x\n", NULL,
                 "sweep.yaml:2:3: unknown key 'model.nmae' (did you mean 'model.name'?)", 1);
    expect_error("error: unknown key after valid ones", BASE "bacth_size: 4\n", NULL,
                 "sweep.yaml:8:1: unknown key 'bacth_size' (did you mean 'batch_size'?)", 1);
    expect_error("error: wrong type (quoted number)", BASE "batch_size: \"4\"\n", NULL,
                 "sweep.yaml:8:13: key 'batch_size': expected an integer in [0, 1048576], got quoted '4'", 1);
    expect_error("error: wrong type (word)", BASE "threads: many\n", NULL,
                 "sweep.yaml:8:10: key 'threads': expected an integer in [0, 65536], got 'many'", 1);
    expect_error("error: out of range", BASE "shard_size: 0\n", NULL,
                 "sweep.yaml:8:13: key 'shard_size': expected an integer in [1, 16777216], got '0'", 1);
    expect_error("error: negative double", BASE "max_gpu_memory_gb: -1\n", NULL,
                 "sweep.yaml:8:20: key 'max_gpu_memory_gb': expected a number >= 0, got '-1'", 1);
    expect_error("error: nan double", BASE "max_gpu_memory_gb: .nan\n", NULL, "expected a number >= 0, got '.nan'", 0);
    expect_error("error: bad bool", BASE "per_token: maybe\n", NULL,
                 "sweep.yaml:8:12: key 'per_token': expected a boolean (true or false), got 'maybe'", 1);
    expect_error("error: bad enum", BASE "precision: fp8\n", NULL,
                 "sweep.yaml:8:12: key 'precision': expected one of auto, fp32, fp16, bf16, got 'fp8' (did you mean 'fp32'?)", 1);
    expect_error("error: list for a string", BASE "log_dir: [a, b]\n", NULL,
                 "sweep.yaml:8:10: key 'log_dir': expected a string, got a list", 1);
    expect_error("error: scalar for a section", "model: pythia\n", NULL,
                 "sweep.yaml:1:8: key 'model' is a section: expected a mapping of its keys, got a scalar", 1);
    expect_error("error: missing required key", "model:\n  name: m\n  checkpoint: c/{step}\ncheckpoints:\n  steps: 0\noutput: o.h5\n", NULL,
                 "sweep.yaml: missing required key 'panel' (panel.h5 written by memprof panel: the instances)", 1);
    expect_error("error: missing required nested key", "model:\n  name: m\n", NULL, "sweep.yaml: missing required key 'model.checkpoint'", 0);
    expect_error("error: YAML syntax error", "model:\n  name: [a, b\npanel: p\n", NULL, "sweep.yaml:3:6: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 2, column 9)", 1);
    expect_error("error: YAML syntax error (bad indentation)", "model:\n  name: m\n checkpoint: x\n", NULL, "sweep.yaml:3:2: YAML syntax error:", 0);
    expect_error("error: YAML tab indentation", "model:\n\tname: m\n", NULL, "sweep.yaml:2:1: YAML syntax error:", 0);
    expect_error("error: empty file", "", NULL, "sweep.yaml: the configuration is empty (expected a mapping of keys)", 1);
    expect_error("error: comments only", "# nothing here\n\n", NULL, "sweep.yaml: the configuration is empty", 0);
    expect_error("error: top level is a list", "- a\n- b\n", NULL,
                 "sweep.yaml:1:1: expected a mapping of keys at the top level, got a list", 1);
    expect_error("error: duplicate key", BASE "panel: other.h5\n", NULL,
                 "sweep.yaml:8:1: duplicate key 'panel' (first set at line 6)", 1);
    expect_error("error: duplicate nested key", "model:\n  name: a\n  name: b\n", NULL,
                 "sweep.yaml:3:3: duplicate key 'model.name' (first set at line 2)", 1);
    expect_error("error: template without {step}", "model:\n  name: m\n  checkpoint: ckpt/final\ncheckpoints:\n  steps: 0\npanel: p\noutput: o\n", NULL,
                 "sweep.yaml:3:15: key 'model.checkpoint': the path template must contain {step}", 0);
    expect_error("error: template with an unknown placeholder", "model:\n  name: m\n  checkpoint: ckpt/step{steps}\ncheckpoints:\n  steps: 0\npanel: p\noutput: o\n", NULL,
                 "sweep.yaml:3:15: key 'model.checkpoint': unknown placeholder '{steps}'", 0);
    expect_error("error: half precision on cpu", BASE "precision: fp16\n", NULL,
                 "sweep.yaml:8:12: key 'precision': fp16 needs backend cuda; the cpu backend computes in fp32 (use fp32 or auto)", 1);
    expect_error("error: output equals panel", "model: {name: m, checkpoint: \"c{step}\"}\ncheckpoints: {steps: 0}\npanel: x.h5\noutput: x.h5\n", NULL,
                 "sweep.yaml:4:9: key 'output': the output must not be the panel file", 1);
    expect_error("error: second document", BASE "---\npanel: q\n", NULL, "sweep.yaml:8:1: a second YAML document", 0);
    expect_error("error: dotted key in a file", BASE "model.name: other\n", NULL,
                 "sweep.yaml:8:1: key 'model.name' contains a dot: nest it as a mapping (dotted keys are for overrides)", 1);
    expect_error("error: non-scalar key", "? [a]\n: 1\n", NULL, "sweep.yaml:1:3: expected a key name, got a list", 1);
    expect_error("error: invalid UTF-8", "model:\n  name: \xff\xfe\n", NULL, "sweep.yaml: invalid text at byte", 0);

    sweep_config c;
    memset(&c, 0, sizeof c);
    int rc = sweep_config_load(&c, "/nonexistent/sweep.yaml", 0, NULL, &err);
    CHECK("error: missing file", rc != 0 && strstr(err.message, "/nonexistent/sweep.yaml: cannot open") == err.message, "%s", err.message);
}

static void test_render_and_hash(void) {
    sweep_config a, b;
    int rc = load(&a, BASE, NULL);
    char *text_a = NULL, *text_b = NULL;
    if (rc == 0) rc = config_render(&text_a, &a, &sweep_config_schema, &err);
    CHECK("render: works", rc == 0, "%s", err.message);
    if (rc != 0) return;
    const char *expected =
        "model:\n"
        "  name: \"pythia-70m-deduped\"\n"
        "  checkpoint: \"ckpt/pythia-70m-deduped/step{step}\"\n"
        "checkpoints:\n"
        "  steps: [\"0:143000:1000\"]\n"
        "panel: \"data/panel.h5\"\n"
        "output: \"runs/70m/stats.h5\"\n"
        "journal: \"runs/70m/stats.h5.journal\"\n"
        "log_dir: \"runs/70m/stats.h5.logs\"\n"
        "backend: cpu\n"
        "precision: fp32\n"
        "batch_size: 0\n"
        "shard_size: 64\n"
        "threads: 0\n"
        "per_token: false\n"
        "max_gpu_memory_gb: 0\n";
    CHECK("render: every key, defaults filled, steps folded", strcmp(text_a, expected) == 0, "got:\n%s", text_a);
    // The rendered text is itself a valid configuration that resolves to the same text.
    rc = load(&b, text_a, NULL);
    if (rc == 0) rc = config_render(&text_b, &b, &sweep_config_schema, &err);
    CHECK("render: round trip", rc == 0 && strcmp(text_a, text_b) == 0, "rc=%d %s", rc, err.message);
    CHECK("hash: stable across a round trip", rc == 0 && config_hash(text_a) == config_hash(text_b), "differs");
    CHECK("hash: known value", config_hash("") == 0xef46db3751d8e999ULL, "%llx", (unsigned long long)config_hash(""));
    if (rc == 0) sweep_config_free(&b);
    free(text_b);
    text_b = NULL;
    rc = load(&b, BASE, OVERRIDES("threads=1"));
    if (rc == 0) rc = config_render(&text_b, &b, &sweep_config_schema, &err);
    CHECK("hash: changes with a value", rc == 0 && config_hash(text_a) != config_hash(text_b), "same hash");
    if (rc == 0) sweep_config_free(&b);
    free(text_b);
    text_b = NULL;
    // The same values written differently (defaults spelt out, flow style, string steps).
    rc = load(&b, "model: {name: pythia-70m-deduped, checkpoint: 'ckpt/pythia-70m-deduped/step{step}'}\n"
                  "checkpoints: {steps: \"0:143000:1000\"}\npanel: data/panel.h5\noutput: runs/70m/stats.h5\n"
                  "backend: cpu\nshard_size: 64\nper_token: no\n", NULL);
    if (rc == 0) rc = config_render(&text_b, &b, &sweep_config_schema, &err);
    CHECK("hash: independent of how values are written", rc == 0 && strcmp(text_a, text_b) == 0, "rc=%d %s", rc, err.message);
    if (rc == 0) sweep_config_free(&b);
    free(text_b);
    // Strings that need escaping survive the round trip.
    text_b = NULL;
    rc = load(&b, BASE "log_dir: \"we\\\"ird\\\\path\\ttab\"\n", NULL);
    if (rc == 0) rc = config_render(&text_b, &b, &sweep_config_schema, &err);
    sweep_config c;
    if (rc == 0) { sweep_config_free(&b); rc = load(&c, text_b, NULL); }
    CHECK("render: escaped string round trip", rc == 0 && strcmp(c.log_dir, "we\"ird\\path\ttab") == 0, "rc=%d %s", rc, err.message);
    if (rc == 0) sweep_config_free(&c);
    free(text_b);
    // Characters YAML readers refuse raw (C1 controls, BOM) arrive through overrides; the
    // printer escapes them so the text still loads.
    text_b = NULL;
    rc = load(&b, BASE, OVERRIDES("log_dir=x\xc2\x9by\xef\xbb\xbfz\x01\xc3\xa9"));
    if (rc == 0) rc = config_render(&text_b, &b, &sweep_config_schema, &err);
    if (rc == 0) { sweep_config_free(&b); rc = load(&c, text_b, NULL); }
    CHECK("render: unprintable characters escaped", rc == 0 && strcmp(c.log_dir, "x\xc2\x9by\xef\xbb\xbfz\x01\xc3\xa9") == 0 &&
          strstr(text_b, "log_dir: \"x\\u009by\\ufeffz\\x01\xc3\xa9\"") != NULL, "rc=%d %s %s", rc, err.message, text_b ? text_b : "");
    if (rc == 0) sweep_config_free(&c);
    free(text_b);
    sweep_config_free(&a);
    free(text_a);
}

static void test_helpers(void) {
    CHECK("edit distance: swap is one edit", config_edit_distance("modle", "model") == 1, "%zu", config_edit_distance("modle", "model"));
    CHECK("edit distance: kitten/sitting", config_edit_distance("kitten", "sitting") == 3, "%zu", config_edit_distance("kitten", "sitting"));
    CHECK("edit distance: empty", config_edit_distance("", "abc") == 3 && config_edit_distance("abc", "abc") == 0, "wrong");
    char path[64];
    int rc = sweep_checkpoint_path(path, sizeof path, "ckpt/step{step}/{step}.bin", 143000, &err);
    CHECK("checkpoint path: every {step} replaced", rc == 0 && strcmp(path, "ckpt/step143000/143000.bin") == 0, "%s", path);
    rc = sweep_checkpoint_path(path, 8, "ckpt/step{step}", 143000, &err);
    CHECK("checkpoint path: too long is an error", rc != 0, "rc=%d", rc);
    // Schema invariants: each section's keys are contiguous (the printer relies on it).
    const config_schema *s = &sweep_config_schema;
    int contiguous = 1;
    for (size_t i = 0; i < s->num_fields; i++) {
        const char *dot = strchr(s->fields[i].key, '.');
        if (dot == NULL || (i > 0 && strncmp(s->fields[i - 1].key, s->fields[i].key, (size_t)(dot - s->fields[i].key) + 1) == 0)) continue;
        for (size_t j = 0; j + 1 < i; j++)
            if (strncmp(s->fields[j].key, s->fields[i].key, (size_t)(dot - s->fields[i].key) + 1) == 0) contiguous = 0;
    }
    CHECK("schema: sections contiguous", contiguous, "a section's keys are split");
    int documented = 1;
    for (size_t i = 0; i < s->num_fields; i++) documented &= s->fields[i].doc != NULL && s->fields[i].doc[0] != '\0';
    CHECK("schema: every key documented", documented, "a key has no doc string");
    CHECK("schema: find_field", config_find_field(s, "model.name") != NULL && config_find_field(s, "model") == NULL, "wrong");
}

int main(void) {
    test_valid_file();
    test_defaults();
    test_steps();
    test_overrides();
    test_errors();
    test_render_and_hash();
    test_helpers();
    return test_failures != 0;
}
