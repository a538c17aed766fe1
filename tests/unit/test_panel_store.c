// test_panel_store.c — panel.h5 write/read round trip (datasets, format and provenance
// attributes), the temporary-name-then-rename rule, and refusal of files that are not panels.
// The layout itself is checked independently with h5py in tests/cli/test_panel.sh.
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memprof/panel.h"
#include "memprof/panel_builder.h"
#include "test.h"

static const panel_attribute *find(const panel *p, const char *name) {
    for (int i = 0; i < p->n_attributes; i++)
        if (strcmp(p->attributes[i].name, name) == 0) return &p->attributes[i];
    return NULL;
}

int main(void) {
    char directory[] = "/tmp/memprof-test-panel-XXXXXX";
    if (!mkdtemp(directory)) return 1;
    char path[256], temporary[300];
    snprintf(path, sizeof path, "%s/panel.h5", directory);
    snprintf(temporary, sizeof temporary, "%s.tmp", path);
    memprof_error err = {0};

    synthetic_config config = synthetic_defaults();
    config.train_rows = 5;
    config.heldout_rows = 3;
    config.sequence_length = 17;
    panel written;
    int status = panel_synthetic(&written, &config, &err);
    CHECK("synthetic panel", status == 0, "%s", err.message);
    panel_set_text(&written, "train_sources", "a.bin\t10\nb.bin\t20", &err);
    panel_set_integer(&written, "valid_seed", 1234, &err);
    status = panel_write(&written, path, &err);
    CHECK("write", status == 0 && access(path, F_OK) == 0 && access(temporary, F_OK) != 0, "%s", err.message);

    panel read;
    status = panel_read(&read, path, &err);
    CHECK("read back", status == 0, "%s", err.message);
    if (status == 0) {
        size_t cells = (size_t)(written.rows * written.sequence_length);
        CHECK("shape", read.rows == 8 && read.sequence_length == 17, "got [%lld, %lld]", (long long)read.rows,
              (long long)read.sequence_length);
        CHECK("datasets equal", memcmp(read.tokens, written.tokens, cells * 2) == 0 &&
              memcmp(read.seq_idx, written.seq_idx, 8 * 8) == 0 && memcmp(read.split, written.split, 8) == 0 &&
              memcmp(read.train_step, written.train_step, 8 * 8) == 0, "differ");
        const panel_attribute *sources = find(&read, "train_sources"), *seed = find(&read, "valid_seed");
        CHECK("string attribute", sources && sources->text && strcmp(sources->text, "a.bin\t10\nb.bin\t20") == 0, "missing or wrong");
        CHECK("integer attribute", seed && !seed->text && seed->integer == 1234, "missing or wrong");
        CHECK("held-out rows", read.split[5] == 1 && read.seq_idx[5] == -100 && read.train_step[7] == -1, "wrong");
        panel_free(&read);
    }

    // A file that is HDF5 but not a panel, and a path that cannot be written.
    char other[256];
    snprintf(other, sizeof other, "%s/other.h5", directory);
    hid_t file = H5Fcreate(other, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(file);
    status = panel_read(&read, other, &err);
    CHECK("non-panel HDF5 refused", status != 0 && strstr(err.message, "not a memprof panel"), "'%s'", err.message);
    status = panel_read(&read, "/nonexistent/panel.h5", &err);
    CHECK("missing file refused", status != 0, "accepted");
    status = panel_write(&written, "/nonexistent-dir/panel.h5", &err);
    CHECK("unwritable path fails", status != 0 && access("/nonexistent-dir/panel.h5.tmp", F_OK) != 0, "status %d", status);

    panel_free(&written);
    unlink(path);
    unlink(other);
    rmdir(directory);
    return test_failures;
}
