// Writing a file whole or not at all: the data goes to a temporary file beside the target, which a rename
// puts in place. The target is what `path` names after following symbolic links (a link stays a link and
// the file it points to is replaced); an existing target keeps its permission bits, a new one gets
// 0666 minus the umask, as a plain open(O_CREAT) would give it.
#ifndef LRP_CORE_ATOMIC_FILE_H
#define LRP_CORE_ATOMIC_FILE_H

#include <stdio.h>

typedef struct lrp_atomic_file {
    FILE *f;        // write here (binary)
    char *target;   // the file that will be replaced (path with its links followed)
    char *tmp;      // the temporary file in the target's folder
} lrp_atomic_file;

// 0, or -1 with errno set (the struct is then cleared).
int lrp_atomic_open(lrp_atomic_file *a, const char *path);
// Flushes, closes and renames into place; 0, or -1 with errno set (the temporary file is removed).
// Releases the struct either way.
int lrp_atomic_commit(lrp_atomic_file *a);
// Drops the temporary file; safe on a cleared struct.
void lrp_atomic_abort(lrp_atomic_file *a);

#endif
