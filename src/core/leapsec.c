/* leapsec: leap-seconds.list parsing and the leap status it decides; see leapsec.h. */
#include "core/leapsec.h"

#include <string.h>

#include "core/ntptime.h"
#include "core/packet.h"

/* More digits than any valid value has: longer numbers are rejected before they can overflow. */
#define LEAPSEC_MAX_DIGITS 12

struct cursor {
    const char *p, *end;
};

struct parser {
    struct leapsec_list *out;
    struct leapsec_error *err;
    unsigned line;
    unsigned updated_line, expiry_line;  /* 0 = not seen yet */
};

static int fail(struct parser *ps, const char *message)
{
    ps->err->line = ps->line;
    ps->err->message = message;
    return -1;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static void skip_blanks(struct cursor *c)
{
    while (c->p < c->end && is_blank(*c->p))
        c->p++;
}

static bool parse_number(struct cursor *c, int64_t *value)
{
    int64_t v = 0;
    int digits = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (++digits > LEAPSEC_MAX_DIGITS)
            return false;
        v = v * 10 + (*c->p++ - '0');
    }
    *value = v;
    return digits > 0;
}

/* Only blanks remain, or blanks and a `#` comment when `comment_ok`. */
static bool at_line_end(struct cursor *c, bool comment_ok)
{
    skip_blanks(c);
    return c->p == c->end || (comment_ok && *c->p == '#');
}

static bool valid_time(int64_t t)
{
    return t >= LEAPSEC_MIN_NTP && t <= LEAPSEC_MAX_NTP;
}

/* `#$ N` or `#@ N`, each once. */
static int parse_special(struct parser *ps, struct cursor *c, int64_t *value, unsigned *seen_line,
                         const char *what_bad, const char *what_twice)
{
    if (*seen_line)
        return fail(ps, what_twice);
    skip_blanks(c);
    int64_t v;
    if (!parse_number(c, &v) || !at_line_end(c, false))
        return fail(ps, what_bad);
    if (!valid_time(v))
        return fail(ps, "time out of range (1972 to 2172)");
    *value = v;
    *seen_line = ps->line;
    return 0;
}

static int check_entry(struct parser *ps, int64_t t, int64_t offset)
{
    if (!valid_time(t))
        return fail(ps, "time out of range (1972 to 2172)");
    if (t % LEAPSEC_DAY != 0)
        return fail(ps, "time is not a UTC midnight");
    if (offset < LEAPSEC_MIN_OFFSET || offset > LEAPSEC_MAX_OFFSET)
        return fail(ps, "TAI-UTC offset out of range");
    const struct leapsec_list *l = ps->out;
    if (l->n == 0)
        return 0;
    const struct leapsec_entry *prev = &l->entry[l->n - 1];
    if (t <= prev->ntp_sec)
        return fail(ps, "time not later than the previous entry's");
    if (offset != prev->tai_offset + 1 && offset != prev->tai_offset - 1)
        return fail(ps, "TAI-UTC offset does not change by exactly one second");
    return 0;
}

/* `NTPSECONDS TAI-OFFSET [# comment]` */
static int parse_entry(struct parser *ps, struct cursor *c)
{
    int64_t t, offset;
    if (!parse_number(c, &t) || c->p == c->end || !is_blank(*c->p))
        return fail(ps, "expected NTP-SECONDS TAI-UTC-OFFSET");
    skip_blanks(c);
    if (!parse_number(c, &offset))
        return fail(ps, "expected NTP-SECONDS TAI-UTC-OFFSET");
    if (!at_line_end(c, true))
        return fail(ps, "unexpected text after the TAI-UTC offset");
    if (check_entry(ps, t, offset) < 0)
        return -1;
    struct leapsec_list *l = ps->out;
    if (l->n >= LEAPSEC_MAX_ENTRIES)
        return fail(ps, "too many entries");
    l->entry[l->n++] = (struct leapsec_entry){.ntp_sec = t, .tai_offset = (int)offset};
    return 0;
}

static int parse_line(struct parser *ps, struct cursor *c)
{
    skip_blanks(c);
    if (c->p == c->end)
        return 0;
    if (*c->p != '#')
        return parse_entry(ps, c);
    c->p++;
    if (c->p < c->end && *c->p == '$') {
        c->p++;
        return parse_special(ps, c, &ps->out->updated, &ps->updated_line,
                             "bad last-update line (expected #$ NTP-SECONDS)", "second last-update line (#$)");
    }
    if (c->p < c->end && *c->p == '@') {
        c->p++;
        return parse_special(ps, c, &ps->out->expiry, &ps->expiry_line,
                             "bad expiry line (expected #@ NTP-SECONDS)", "second expiry line (#@)");
    }
    return 0; /* a comment, or the #h hash line */
}

static int check_complete(struct parser *ps)
{
    if (ps->line == 0)
        ps->line = 1;
    if (ps->out->n == 0)
        return fail(ps, "no leap second entries");
    if (!ps->expiry_line)
        return fail(ps, "no expiry line (#@)");
    if (!ps->updated_line)
        return fail(ps, "no last-update line (#$)");
    if (ps->out->expiry <= ps->out->updated) {
        ps->line = ps->expiry_line;
        return fail(ps, "expiry not after the last update");
    }
    return 0;
}

int leapsec_parse(const char *text, size_t len, struct leapsec_list *out, struct leapsec_error *err)
{
    memset(out, 0, sizeof *out);
    *err = (struct leapsec_error){0};
    struct parser ps = {.out = out, .err = err};
    const char *p = text, *end = text + len;
    while (p < end) {
        ps.line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        struct cursor c = {p, nl ? nl : end};
        if (c.end > c.p && c.end[-1] == '\r')
            c.end--;
        if (parse_line(&ps, &c) < 0)
            return -1;
        p = nl ? nl + 1 : end;
    }
    return check_complete(&ps);
}

void leapsec_query(const struct leapsec_list *l, int64_t unix_sec, struct leapsec_status *st)
{
    int64_t now = unix_sec + (int64_t)NTP_UNIX_OFFSET;
    *st = (struct leapsec_status){.leap = NTP_LEAP_NONE, .expired = now >= l->expiry};
    for (unsigned i = 0; i < l->n; i++) {
        const struct leapsec_entry *e = &l->entry[i];
        if (e->ntp_sec <= now) {
            st->tai_offset = e->tai_offset;
            continue;
        }
        st->next_unix = e->ntp_sec - (int64_t)NTP_UNIX_OFFSET;
        /* Entries are midnights, so "within a day" means "the coming midnight": the last day. */
        if (i > 0 && e->ntp_sec - now <= LEAPSEC_DAY)
            st->leap = e->tai_offset > l->entry[i - 1].tai_offset ? NTP_LEAP_INSERT : NTP_LEAP_DELETE;
        return;
    }
}

/* Day of the month of a day count since 1970-01-01 (the proleptic Gregorian civil-from-days rule). */
static unsigned day_of_month(int64_t days)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                   /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);             /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                   /* [0, 11] */
    return (unsigned)(doy - (153 * mp + 2) / 5 + 1);
}

bool leapsec_last_day_of_month(int64_t unix_sec)
{
    int64_t days = unix_sec >= 0 ? unix_sec / 86400 : (unix_sec - 86399) / 86400;
    return day_of_month(days + 1) == 1;
}
