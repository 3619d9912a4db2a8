#include "core/atomic_file.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// path with its symbolic links followed (up to 40, as the kernel allows); a dangling link names the file
// the link would create. malloc'ed, or NULL with errno set.
static char *follow_links(const char *path) {
    char *p = strdup(path);
    for (int hops = 0; p; hops++) {
        struct stat st;
        if (lstat(p, &st) != 0 || !S_ISLNK(st.st_mode)) return p;  // not there yet, or not a link
        if (hops == 40) {
            free(p);
            errno = ELOOP;
            return NULL;
        }
        char link[PATH_MAX];
        ssize_t n = readlink(p, link, sizeof link - 1);
        if (n < 0) {
            free(p);
            return NULL;
        }
        link[n] = '\0';
        char *next;
        const char *slash = strrchr(p, '/');
        if (link[0] == '/' || !slash) {
            next = strdup(link);
        } else {  // relative to the folder that holds the link
            size_t dir = (size_t)(slash - p) + 1;
            next = malloc(dir + (size_t)n + 1);
            if (next) {
                memcpy(next, p, dir);
                memcpy(next + dir, link, (size_t)n + 1);
            }
        }
        free(p);
        p = next;
    }
    return NULL;
}

int lrp_atomic_open(lrp_atomic_file *a, const char *path) {
    memset(a, 0, sizeof *a);
    if (!(a->target = follow_links(path))) return -1;
    size_t len = strlen(a->target) + 16;
    if (!(a->tmp = malloc(len))) goto fail;
    snprintf(a->tmp, len, "%s.tmp.XXXXXX", a->target);
    int fd = mkstemp(a->tmp);
    if (fd < 0) goto fail;
    // mkstemp makes the file private (0600): give it the existing file's bits, or what a plain create gives.
    struct stat st;
    mode_t mode;
    if (stat(a->target, &st) == 0) {
        mode = st.st_mode & 07777;
    } else {
        mode_t mask = umask(0);
        umask(mask);
        mode = 0666 & ~mask;
    }
    if (fchmod(fd, mode) != 0 || !(a->f = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        unlink(a->tmp);
        errno = e;
        goto fail;
    }
    return 0;
fail:;
    int e = errno;
    free(a->tmp);
    free(a->target);
    memset(a, 0, sizeof *a);
    errno = e;
    return -1;
}

int lrp_atomic_commit(lrp_atomic_file *a) {
    int e = 0;
    if (fflush(a->f) != 0 || ferror(a->f)) e = errno ? errno : EIO;
    if (fclose(a->f) != 0 && !e) e = errno ? errno : EIO;
    a->f = NULL;
    if (!e && rename(a->tmp, a->target) != 0) e = errno;
    if (e) unlink(a->tmp);
    free(a->tmp);
    free(a->target);
    memset(a, 0, sizeof *a);
    errno = e;
    return e ? -1 : 0;
}

void lrp_atomic_abort(lrp_atomic_file *a) {
    if (a->f) {
        fclose(a->f);
        unlink(a->tmp);
    }
    free(a->tmp);
    free(a->target);
    memset(a, 0, sizeof *a);
}
