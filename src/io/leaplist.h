/*
 * leaplist: the daemon's leap-second list (`leapseclist FILE`, IETF/NIST
 * leap-seconds.list): read at start and on SIGHUP, asked every tick what
 * the leap indicator must be.
 *
 * Owns: reading the file (bounded), parsing it with core/leapsec, keeping the
 * last good list when a re-read fails, and the verdict the reference is given:
 * while the list has not expired it decides the leap indicator over the
 * sources' (see core/reference.h REF_LEAP_FROM_SOURCES). Every problem is a
 * warning logged once, never a configuration error.
 */
#ifndef HORLOGE_LEAPLIST_H
#define HORLOGE_LEAPLIST_H

#include <stdbool.h>
#include <stdint.h>

#include "core/leapsec.h"
#include "io/config.h"

/* The published leap-seconds.list is about 10 KB; a larger file is not one. */
#define LEAPLIST_MAX_BYTES (256 * 1024)

struct leaplist {
    struct leapsec_list list;
    bool loaded;
    char path[CFG_PATH_MAX];    /* the file `list` came from */
    bool expiry_logged;
    int verdict;                /* what the reference was last told: REF_LEAP_FROM_SOURCES or NTP_LEAP_* */
    struct leapsec_status status; /* the list's answer at the last verdict */
};

void leaplist_init(struct leaplist *ll);
/* Parses `path` into `out`; logs `path:line: message` (or the system error) and returns -1 on failure. */
int leaplist_read(const char *path, struct leapsec_list *out);
/* (Re)loads from `path` ("" = no list); a list that cannot be read keeps the one read before from the same file. */
void leaplist_load(struct leaplist *ll, const char *path);
/* The leap indicator the reference must announce at Unix time `now_sec`: REF_LEAP_FROM_SOURCES or NTP_LEAP_*. */
int leaplist_verdict(struct leaplist *ll, int64_t now_sec);

#endif
