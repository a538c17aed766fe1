// replay_main.c — feeds every file of a corpus folder to a fuzz target once, so
// `make test` (and the sanitizer build) replays the committed seeds without libFuzzer.
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    DIR *dir = opendir(argv[1]);
    if (!dir) {
        printf("FAIL replay %s: cannot open corpus folder\n", argv[1]);
        return 1;
    }
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], entry->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buffer = malloc(size > 0 ? (size_t)size : 1);
        size_t got = fread(buffer, 1, (size_t)size, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buffer, got);  // a crash or sanitizer report fails the run
        free(buffer);
        count++;
    }
    closedir(dir);
    printf("%s %s: %d inputs replayed\n", count > 0 ? "PASS" : "FAIL", argv[1], count);
    return count > 0 ? 0 : 1;
}
