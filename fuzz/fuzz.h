// Shared by the libFuzzer harnesses (fuzz/fuzz_*.c). The readers under test take paths (they mmap or
// stat their files), so a harness writes its input to a file in a private folder of /dev/shm (or
// $TMPDIR) made once per process and removed at exit.
#ifndef LRP_FUZZ_H
#define LRP_FUZZ_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// The harness's stdout and stderr fully buffered (set before libFuzzer's main, which keeps its own copy
// of stderr for its log under -close_fd_mask): the usage errors the parsers print cost no write(2) each.
// Sanitizer reports are written directly and are not delayed.
__attribute__((constructor)) static void fuzz_buffer_output(void) {
    static char out[1 << 14], err[1 << 14];
    setvbuf(stdout, out, _IOFBF, sizeof out);
    setvbuf(stderr, err, _IOFBF, sizeof err);
}

static char fuzz_dir[256];

static inline void fuzz_dir_remove(void) {
    char cmd[300];
    if (!fuzz_dir[0]) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", fuzz_dir);
}

// The private folder (created on first use).
static inline const char *fuzz_tmpdir(void) {
    if (fuzz_dir[0]) return fuzz_dir;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/attnlrp-fuzz.XXXXXX", base);
    if (!mkdtemp(fuzz_dir)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(fuzz_dir_remove);
    return fuzz_dir;
}

// Writes data to NAME in the private folder; returns the path (a static buffer, one per name slot).
static inline const char *fuzz_write(const char *name, const uint8_t *data, size_t size) {
    static char path[8][512];
    static int slot;
    char *p = path[slot++ & 7];
    snprintf(p, 512, "%s/%s", fuzz_tmpdir(), name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(p);
        abort();
    }
    while (size) {
        ssize_t n = write(fd, data, size);
        if (n <= 0) {
            perror(p);
            abort();
        }
        data += n;
        size -= (size_t)n;
    }
    close(fd);
    return p;
}

// Reads every byte of [p, p + n): a read past a mapping faults here rather than later.
static inline unsigned fuzz_touch(const void *p, size_t n) {
    const volatile unsigned char *b = p;
    unsigned s = 0;
    if (n) s = b[0] + b[n - 1] + b[n / 2];
    return s;
}

#endif
