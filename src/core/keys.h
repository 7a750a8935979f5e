/*
 * keys: symmetric keys for NTP MACs, and chrony's key file format.
 *
 * Owns: the key table (a caller-owned, fixed-size value: no allocation) and
 * parsing a key file into it. A line is `ID [TYPE] KEY`: ID a decimal key
 * identifier (1..2^32-1; 0 is the crypto-NAK's), TYPE one of MD5 (the
 * default when omitted, accepted with a warning), SHA1, SHA256, AES128,
 * AES256 (RFC 8573 CMAC, whose key must be exactly 16 or 32 bytes), KEY
 * either ASCII (printable, no blanks) or `HEX:` followed by an even number
 * of hex digits. `#` starts a comment. Every bad line is reported as
 * `NAME:LINE: message` and a file with any error is refused whole; the MAC
 * arithmetic itself is the shell's (OpenSSL), see auth_symkey.h.
 */
#ifndef HORLOGE_KEYS_H
#define HORLOGE_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYS_MAX 256
#define KEY_SECRET_MAX 64
/* SHA-256's whole digest, as chronyd sends it (a 36-byte MAC, see packet.c). */
#define KEY_DIGEST_MAX 32

enum key_type {
    KEY_MD5 = 0,
    KEY_SHA1,
    KEY_SHA256,
    KEY_AES128_CMAC,
    KEY_AES256_CMAC,
};

struct key_entry {
    uint32_t id;
    enum key_type type;
    uint8_t len;
    uint8_t secret[KEY_SECRET_MAX];
};

/* Sorted by id, each id once. */
struct key_table {
    unsigned n;
    struct key_entry keys[KEYS_MAX];
};

/* What parsing found: errors refuse the file, warnings (MD5 keys, short keys) do not. */
struct keys_report {
    unsigned errors;
    unsigned warnings;
    char text[2048]; /* `name:line: message` lines, newline-separated, cut short safely */
};

const char *key_type_name(enum key_type type);
/* The MAC's digest length on the wire for this type (16 for MD5 and CMAC, 20 for SHA1, 32 for SHA256). */
size_t key_digest_len(enum key_type type);
/*
 * NTPv4 MACs are at most 20 bytes of digest (RFC 7822: a longer MAC would read
 * as an extension field), so chrony cuts a SHA256 digest to its first 20 bytes
 * in v4 packets and sends it whole only in v3. Both forms are accepted.
 */
#define KEY_V4_DIGEST_MAX 20
/* Whether `len` digest bytes are this type's MAC: the whole digest, or a longer one cut to 20. */
bool key_digest_len_ok(enum key_type type, size_t len);
/* The digest length to send in a packet of NTP version `version`. */
size_t key_digest_len_for(enum key_type type, unsigned version);

/* Parses a whole key file's text. Returns 0, or -1 when any line is bad (`table` is then unspecified). */
int keys_parse_text(const char *text, size_t len, const char *name, struct key_table *table,
                    struct keys_report *report);
/* The key with this id, or NULL. */
const struct key_entry *keys_find(const struct key_table *table, uint32_t id);

#endif
