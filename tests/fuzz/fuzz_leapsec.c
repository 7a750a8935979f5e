/*
 * Fuzz target: the leap-seconds.list parser takes any bytes without crashing or
 * reading past them, and a list it accepts keeps its invariants: entries at UTC
 * midnights, increasing, offsets in range changing by exactly one second, expiry
 * after the last update; the query at times taken from the input answers sanely.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/leapsec.h"
#include "core/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_list(const struct leapsec_list *l)
{
    if (l->n == 0 || l->n > LEAPSEC_MAX_ENTRIES || l->expiry <= l->updated)
        __builtin_trap();
    for (unsigned i = 0; i < l->n; i++) {
        const struct leapsec_entry *e = &l->entry[i];
        if (e->ntp_sec < LEAPSEC_MIN_NTP || e->ntp_sec > LEAPSEC_MAX_NTP || e->ntp_sec % LEAPSEC_DAY ||
            e->tai_offset < LEAPSEC_MIN_OFFSET || e->tai_offset > LEAPSEC_MAX_OFFSET)
            __builtin_trap();
        if (i > 0 && (e->ntp_sec <= l->entry[i - 1].ntp_sec ||
                      abs(e->tai_offset - l->entry[i - 1].tai_offset) != 1))
            __builtin_trap();
    }
}

static void check_query(const struct leapsec_list *l, int64_t unix_sec)
{
    struct leapsec_status st;
    leapsec_query(l, unix_sec, &st);
    if (st.leap > NTP_LEAP_DELETE || (st.tai_offset != 0 && (st.tai_offset < LEAPSEC_MIN_OFFSET ||
                                                             st.tai_offset > LEAPSEC_MAX_OFFSET)))
        __builtin_trap();
    if (st.leap != NTP_LEAP_NONE && (st.next_unix <= unix_sec || st.next_unix - unix_sec > LEAPSEC_DAY))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly `size` bytes, so ASan catches any read past the end. */
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    static struct leapsec_list l;
    struct leapsec_error err;
    if (leapsec_parse(text, size, &l, &err) == 0) {
        check_list(&l);
        for (unsigned i = 0; i < l.n; i++) {
            int64_t t = l.entry[i].ntp_sec - (int64_t)NTP_UNIX_OFFSET;
            check_query(&l, t - LEAPSEC_DAY - 1);
            check_query(&l, t - 1);
            check_query(&l, t);
        }
        check_query(&l, l.expiry - (int64_t)NTP_UNIX_OFFSET);
    } else {
        unsigned lines = 1;
        for (size_t i = 0; i < size; i++)
            lines += text[i] == '\n';
        if (!err.message || err.line == 0 || err.line > lines)
            __builtin_trap();
    }
    free(text);
    return 0;
}
