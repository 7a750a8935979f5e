/* fileutil: reading the small files the daemon is told of (leap-second list, key file). */
#ifndef HORLOGE_FILEUTIL_H
#define HORLOGE_FILEUTIL_H

#include <stddef.h>

/* Reads a file whole into buf; 0, or an errno value (EFBIG when it is larger than cap). */
int fileutil_read_small(const char *path, char *buf, size_t cap, size_t *len);

#endif
