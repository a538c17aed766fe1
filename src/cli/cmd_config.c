// cmd_config.c — `memprof config check FILE [key=value ...]`: validate a sweep
// configuration and print it resolved (every key, defaults filled) with its hash.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "memprof/config.h"

static void print_config_usage(FILE *out) {
    fprintf(out,
            "usage: memprof config check FILE [key=value ...]\n"
            "\n"
            "Validates a sweep configuration (YAML) with the command-line overrides applied on top\n"
            "(key.sub=value, e.g. backend=cuda model.name=pythia-160m-deduped) and prints the\n"
            "resolved configuration as YAML followed by its hash (xxh64), which stats.h5 records.\n"
            "Exit status: 0 valid, 1 invalid (one line on stderr naming FILE:LINE:COLUMN or the\n"
            "override), 2 bad command line.\n"
            "\n"
            "keys (see docs/configuration.md):\n");
    const config_schema *schema = &sweep_config_schema;
    for (size_t i = 0; i < schema->num_fields; i++) {
        const config_field *f = &schema->fields[i];
        if (f->required) fprintf(out, "  %-19s %s [required]\n", f->key, f->doc);
        else if (f->default_text) fprintf(out, "  %-19s %s [default: %s]\n", f->key, f->doc, f->default_text);
        else fprintf(out, "  %-19s %s\n", f->key, f->doc);
    }
}

static int config_check(int argc, char **argv) {
    const char *path = NULL;
    int first_override = argc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_config_usage(stdout);
            return EXIT_OK;
        }
    }
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') {
            fprintf(stderr, "memprof config check: unknown option '%s' (see --help)\n", argv[i]);
            return EXIT_USAGE;
        }
        if (path == NULL) {
            path = argv[i];
            first_override = i + 1;
        } else if (strchr(argv[i], '=') == NULL) {
            fprintf(stderr, "memprof config check: '%s' is not an override key=value (see --help)\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (path == NULL) {
        fprintf(stderr, "memprof config check: missing FILE (see --help)\n");
        return EXIT_USAGE;
    }
    sweep_config config;
    memprof_error err = {0};
    if (sweep_config_load(&config, path, argc - first_override, (const char *const *)argv + first_override, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        return EXIT_FAILURE_INPUT;
    }
    char *text = NULL;
    int rc = config_render(&text, &config, &sweep_config_schema, &err);
    sweep_config_free(&config);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err.message);
        return EXIT_FAILURE_INPUT;
    }
    fputs(text, stdout);
    printf("# config hash: xxh64:%016" PRIx64 "\n", config_hash(text));
    free(text);
    return EXIT_OK;
}

int command_config(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "check") == 0) return config_check(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        print_config_usage(stdout);
        return EXIT_OK;
    }
    if (argc < 2) fprintf(stderr, "memprof config: missing subcommand (usage: memprof config check FILE [key=value ...])\n");
    else fprintf(stderr, "memprof config: unknown subcommand '%s' (usage: memprof config check FILE [key=value ...])\n", argv[1]);
    return EXIT_USAGE;
}
