/* keys: the key table and chrony's key file format; see keys.h. */
#include "core/keys.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* chrony's threshold: fewer than 80 bits of secret is worth a warning. */
#define KEY_SECURE_MIN_LEN 10
#define LINE_MAX_LEN 512

struct key_parser {
    const char *name;
    unsigned line;
    struct key_table *table;
    struct keys_report *report;
};

static const struct {
    const char *name;
    enum key_type type;
} type_names[] = {
    {"MD5", KEY_MD5}, {"SHA1", KEY_SHA1}, {"SHA256", KEY_SHA256},
    {"AES128", KEY_AES128_CMAC}, {"AES256", KEY_AES256_CMAC},
};

const char *key_type_name(enum key_type type)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (type_names[i].type == type)
            return type_names[i].name;
    return "unknown";
}

size_t key_digest_len(enum key_type type)
{
    return type == KEY_SHA256 ? 32 : type == KEY_SHA1 ? 20 : 16;
}

bool key_digest_len_ok(enum key_type type, size_t len)
{
    size_t full = key_digest_len(type);
    return len == full || (full > KEY_V4_DIGEST_MAX && len == KEY_V4_DIGEST_MAX);
}

size_t key_digest_len_for(enum key_type type, unsigned version)
{
    size_t full = key_digest_len(type);
    return version >= 4 && full > KEY_V4_DIGEST_MAX ? KEY_V4_DIGEST_MAX : full;
}

__attribute__((format(printf, 3, 4))) static void note(struct key_parser *p, bool error, const char *fmt, ...)
{
    struct keys_report *r = p->report;
    error ? r->errors++ : r->warnings++;
    size_t used = strlen(r->text);
    if (used + 1 >= sizeof r->text)
        return;
    int n = snprintf(r->text + used, sizeof r->text - used, "%s:%u: %s", p->name, p->line,
                     error ? "" : "warning: ");
    if (n < 0 || (size_t)n >= sizeof r->text - used)
        return;
    used += (size_t)n;
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(r->text + used, sizeof r->text - used, fmt, ap);
    va_end(ap);
    used = strnlen(r->text, sizeof r->text - 1);
    if (n >= 0 && used + 1 < sizeof r->text) {
        r->text[used] = '\n';
        r->text[used + 1] = '\0';
    }
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Splits a line (comment already cut) into at most `max` words; returns the count, or max + 1 if more. */
static unsigned split_words(char *line, char *words[], unsigned max)
{
    unsigned n = 0;
    char *s = line;
    for (;;) {
        while (is_blank(*s))
            s++;
        if (!*s)
            return n;
        if (n == max)
            return max + 1;
        words[n++] = s;
        while (*s && !is_blank(*s))
            s++;
        if (*s)
            *s++ = '\0';
    }
}

static bool parse_id(const char *w, uint32_t *id)
{
    uint64_t v = 0;
    if (!*w || strlen(w) > 10)
        return false;
    for (; *w; w++) {
        if (*w < '0' || *w > '9')
            return false;
        v = v * 10 + (uint64_t)(*w - '0');
    }
    if (v == 0 || v > UINT32_MAX)
        return false;
    *id = (uint32_t)v;
    return true;
}

static bool parse_type(const char *w, enum key_type *type)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (strcmp(type_names[i].name, w) == 0) {
            *type = type_names[i].type;
            return true;
        }
    return false;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "HEX:..." or printable ASCII into the entry's secret; false (reported) when it is not a key. */
static bool parse_secret(struct key_parser *p, const char *w, struct key_entry *k)
{
    if (strncmp(w, "HEX:", 4) == 0) {
        const char *h = w + 4;
        size_t n = strlen(h);
        if (n == 0 || n % 2 || n / 2 > KEY_SECRET_MAX) {
            note(p, true, "key %u: HEX: needs an even number of digits, at most %d", (unsigned)k->id,
                 2 * KEY_SECRET_MAX);
            return false;
        }
        for (size_t i = 0; i < n / 2; i++) {
            int hi = hex_value(h[2 * i]), lo = hex_value(h[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                note(p, true, "key %u: '%c%c' is not a hex digit pair", (unsigned)k->id, h[2 * i], h[2 * i + 1]);
                return false;
            }
            k->secret[i] = (uint8_t)(hi << 4 | lo);
        }
        k->len = (uint8_t)(n / 2);
        return true;
    }
    size_t n = strlen(w);
    if (n > KEY_SECRET_MAX) {
        note(p, true, "key %u: longer than %d characters", (unsigned)k->id, KEY_SECRET_MAX);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (w[i] < 0x21 || w[i] > 0x7e) {
            note(p, true, "key %u: an ASCII key must be printable characters", (unsigned)k->id);
            return false;
        }
    memcpy(k->secret, w, n);
    k->len = (uint8_t)n;
    return true;
}

/* RFC 8573: a CMAC key is the cipher's key, no shorter, no longer. */
static bool check_length(struct key_parser *p, const struct key_entry *k)
{
    size_t need = k->type == KEY_AES128_CMAC ? 16 : k->type == KEY_AES256_CMAC ? 32 : 0;
    if (need && k->len != need) {
        note(p, true, "key %u: %s needs a key of %zu bytes, not %u", (unsigned)k->id, key_type_name(k->type),
             need, (unsigned)k->len);
        return false;
    }
    if (!need && k->len < KEY_SECURE_MIN_LEN)
        note(p, false, "key %u: shorter than %d bytes, weak", (unsigned)k->id, KEY_SECURE_MIN_LEN);
    if (k->type == KEY_MD5)
        note(p, false, "key %u: MD5 is accepted for old peers only; prefer AES128 (RFC 8573)", (unsigned)k->id);
    return true;
}

static bool insert_sorted(struct key_parser *p, const struct key_entry *k)
{
    struct key_table *t = p->table;
    if (t->n == KEYS_MAX) {
        note(p, true, "more than %d keys", KEYS_MAX);
        return false;
    }
    unsigned i = t->n;
    while (i > 0 && t->keys[i - 1].id > k->id)
        i--;
    if (i > 0 && t->keys[i - 1].id == k->id) {
        note(p, true, "key %u defined twice", (unsigned)k->id);
        return false;
    }
    memmove(&t->keys[i + 1], &t->keys[i], (t->n - i) * sizeof t->keys[0]);
    t->keys[i] = *k;
    t->n++;
    return true;
}

static void parse_line(struct key_parser *p, char *line)
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    char *w[3];
    unsigned n = split_words(line, w, 3);
    if (n == 0)
        return;
    struct key_entry k = {.type = KEY_MD5};
    if (n < 2 || n > 3) {
        note(p, true, "expected ID [TYPE] KEY");
        return;
    }
    if (!parse_id(w[0], &k.id)) {
        note(p, true, "'%.16s' is not a key id (1 to 4294967295)", w[0]);
        return;
    }
    if (n == 3 && !parse_type(w[1], &k.type)) {
        note(p, true, "key %u: unknown type '%.16s' (MD5, SHA1, SHA256, AES128, AES256)", (unsigned)k.id, w[1]);
        return;
    }
    if (parse_secret(p, w[n - 1], &k) && check_length(p, &k))
        insert_sorted(p, &k);
}

int keys_parse_text(const char *text, size_t len, const char *name, struct key_table *table,
                    struct keys_report *report)
{
    struct key_parser p = {.name = name, .table = table, .report = report};
    table->n = 0;
    report->errors = report->warnings = 0;
    report->text[0] = '\0';
    size_t pos = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        p.line++;
        char line[LINE_MAX_LEN];
        if (end - pos >= sizeof line) {
            note(&p, true, "line longer than %d characters", LINE_MAX_LEN - 1);
        } else if (memchr(text + pos, '\0', end - pos)) {
            note(&p, true, "NUL byte in line");
        } else {
            memcpy(line, text + pos, end - pos);
            line[end - pos] = '\0';
            parse_line(&p, line);
        }
        pos = end + 1;
    }
    return report->errors ? -1 : 0;
}

const struct key_entry *keys_find(const struct key_table *table, uint32_t id)
{
    unsigned lo = 0, hi = table->n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        uint32_t m = table->keys[mid].id;
        if (m == id)
            return &table->keys[mid];
        if (m < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
