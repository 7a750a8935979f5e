/*
 * atomicfile: replacing a small file whole — a temporary file beside it,
 * written and synced, renamed over it, its directory synced — so a crash or a
 * full disk leaves either the old content or the new, never half of either.
 *
 * Owns: that sequence, for state the daemon keeps across restarts (NTS cookie
 * keys, NTS sessions).
 */
#ifndef HORLOGE_ATOMICFILE_H
#define HORLOGE_ATOMICFILE_H

#include <stddef.h>
#include <sys/types.h>

/* 0, or -1 with errno set (the temporary file removed). */
int atomicfile_write(const char *path, const void *data, size_t len, mode_t mode);

#endif
