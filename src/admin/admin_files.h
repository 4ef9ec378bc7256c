/* admin_files.h — the admin tool's small file helpers: a whole text file into a buffer, a file replaced atomically.
 * Used by nginx-site and apache-site. */
#ifndef CLONE_JOBS_ADMIN_FILES_H
#define CLONE_JOBS_ADMIN_FILES_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

/* Read path into out (whose limit bounds it); a file that is empty or holds a NUL is refused.
 * Returns 0, or -1 with err. */
int admin_read_text(const char *path, struct buf *out, char *err, size_t errlen);

/* Replace path by data: a temporary file beside it (mode), fsync, rename. Returns 0, or -1 with err. */
int admin_write_atomically(const char *path, const char *data, size_t len, mode_t mode, char *err, size_t errlen);

#endif
