// test.h — the few macros unit tests share. A test prints "PASS name" or
// "FAIL name: why"; tests/run-tests.sh counts the lines. main returns failures.
#ifndef MEMPROF_TEST_H
#define MEMPROF_TEST_H

#include <stdio.h>

static int test_failures = 0;

// Output line by line even into a file or pipe: a test stopped by a timeout (a kernel that
// hangs on a GPU machine) then shows how far it got.
__attribute__((constructor)) static void test_output_by_line(void) { setvbuf(stdout, NULL, _IOLBF, 0); }

// Records one named check; prints the formatted reason on failure.
#define CHECK(name, condition, ...)                                   \
    do {                                                              \
        if (condition) {                                              \
            printf("PASS %s\n", name);                                \
        } else {                                                      \
            printf("FAIL %s: ", name);                                \
            printf(__VA_ARGS__);                                      \
            printf(" (%s:%d)\n", __FILE__, __LINE__);                 \
            test_failures++;                                          \
        }                                                             \
    } while (0)

#define SKIP(name, ...)                 \
    do {                                \
        printf("SKIP %s: ", name);      \
        printf(__VA_ARGS__);            \
        printf("\n");                   \
    } while (0)

#endif
