/* admin_files.c — reads a template whole and replaces an output file atomically, for the admin's renderers.
 * Why atomically: a server reloading at the wrong moment must see the old file or the new one, never half. */
#include "config.h"

#include "admin_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int admin_read_text(const char *path, struct buf *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rbe");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char chunk[8192];
    size_t n;
    int failed = 0;
    while (!failed && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        failed = buf_append(out, chunk, n) != 0;
    if (failed || ferror(f)) {
        snprintf(err, errlen, "%s: unreadable or too large", path);
        fclose(f);
        return -1;
    }
    fclose(f);
    if (out->len == 0 || memchr(out->data, '\0', out->len) || buf_append(out, "", 0) != 0) {
        snprintf(err, errlen, "%s: empty or not a text file", path);
        return -1;
    }
    return 0;
}

int admin_write_atomically(const char *path, const char *data, size_t len, mode_t mode, char *err, size_t errlen)
{
    char tmp[4200];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    int failed = done != len || fchmod(fd, mode) != 0 || fsync(fd) != 0;
    if (close(fd) != 0)
        failed = 1;
    if (failed || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: %s", path, errno ? strerror(errno) : "short write");
        unlink(tmp);
        return -1;
    }
    return 0;
}
