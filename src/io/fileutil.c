/* fileutil: see fileutil.h. */
#include "io/fileutil.h"

#include <errno.h>
#include <stdio.h>

int fileutil_read_small(const char *path, char *buf, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return errno;
    errno = 0;
    *len = fread(buf, 1, cap, f);
    int err = ferror(f) ? (errno ? errno : EIO) : 0;
    if (!err && *len == cap && fgetc(f) != EOF)
        err = EFBIG;
    fclose(f);
    return err;
}
