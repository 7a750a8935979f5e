/*
 * packet: the NTP packet codec (RFC 5905 §7.3, RFC 7822 extension fields).
 *
 * Owns: decoding the 48-byte header at explicit byte offsets (no struct
 * overlays), locating extension fields and a trailing MAC with bounds checks,
 * and encoding a header. It interprets nothing: what a mode means is the
 * responder's or the source's business.
 */
#ifndef HORLOGE_PACKET_H
#define HORLOGE_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ntp.h"
#include "core/ntptime.h"

#define NTP_HEADER_LEN 48
/* Largest packet we ever read or write (header + extension fields + MAC). */
#define NTP_MAX_PACKET_LEN 1280
#define NTP_EF_MIN_LEN 16
#define NTP_MAX_EXTFIELDS 16

enum ntp_mode {
    NTP_MODE_RESERVED = 0, /* NTPv1 client requests carry mode 0 */
    NTP_MODE_SYM_ACTIVE = 1,
    NTP_MODE_SYM_PASSIVE = 2,
    NTP_MODE_CLIENT = 3,
    NTP_MODE_SERVER = 4,
    NTP_MODE_BROADCAST = 5,
    NTP_MODE_CONTROL = 6,
    NTP_MODE_PRIVATE = 7,
};

enum ntp_leap {
    NTP_LEAP_NONE = 0,
    NTP_LEAP_INSERT = 1,
    NTP_LEAP_DELETE = 2,
    NTP_LEAP_UNSYNC = 3,
};

/* The header, field for field, in host byte order. */
struct ntp_header {
    uint8_t leap;     /* 2 bits */
    uint8_t version;  /* 3 bits */
    uint8_t mode;     /* 3 bits */
    uint8_t stratum;
    int8_t poll;
    int8_t precision;
    uint32_t root_delay;      /* short format */
    uint32_t root_dispersion; /* short format */
    uint32_t refid;           /* as on the wire, big-endian value in host order */
    ntp_ts reference;
    ntp_ts origin;
    ntp_ts receive;
    ntp_ts transmit;
};

struct ntp_extfield {
    uint16_t type;
    uint16_t length;   /* whole field, header included */
    size_t offset;     /* of the field's first byte in the packet */
};

/* Where the parts of a decoded packet lie. */
struct ntp_layout {
    size_t length;
    unsigned n_extfields;
    struct ntp_extfield extfields[NTP_MAX_EXTFIELDS];
    bool has_mac;
    size_t mac_offset; /* key identifier, then digest */
    size_t mac_len;    /* 4 (crypto-NAK), or 4 + digest length */
    uint32_t key_id;
};

enum pkt_status {
    PKT_OK = 0,
    PKT_TOO_SHORT,      /* fewer than 48 bytes */
    PKT_TOO_LONG,       /* over NTP_MAX_PACKET_LEN */
    PKT_BAD_VERSION,    /* version 0 or above 4 */
    PKT_BAD_EXTENSION,  /* a field's length is short, unaligned or overruns */
    PKT_BAD_TRAILER,    /* bytes after the header that are neither fields nor a MAC */
    PKT_STATUS_COUNT
};

const char *pkt_status_name(enum pkt_status status);

/* Decodes `len` bytes; `layout` may be NULL when only the header is wanted. */
enum pkt_status pkt_decode(const uint8_t *buf, size_t len, struct ntp_header *hdr,
                           struct ntp_layout *layout);

/* Writes the 48-byte header into buf (which must hold NTP_HEADER_LEN bytes). */
void pkt_encode_header(const struct ntp_header *hdr, uint8_t *buf);

/* Overwrites the transmit timestamp of an encoded packet (read as late as possible). */
void pkt_set_transmit(uint8_t *buf, ntp_ts transmit);

/* Big-endian loads and stores, for codecs that share this module's style. */
uint16_t load_be16(const uint8_t *p);
uint32_t load_be32(const uint8_t *p);
uint64_t load_be64(const uint8_t *p);
void store_be16(uint8_t *p, uint16_t v);
void store_be32(uint8_t *p, uint32_t v);
void store_be64(uint8_t *p, uint64_t v);

/* Builds refid values: four ASCII characters ("LOCL"), or an IPv4 address in network order bytes. */
uint32_t pkt_refid_ascii(const char text[4]);

#endif
