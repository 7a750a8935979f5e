/* packet: explicit NTP packet decode/encode; see packet.h. */
#include "core/packet.h"

/* A MAC is a 4-byte key id plus a 16 (MD5/AES-CMAC), 20 (SHA-1) or 32 (SHA-256) byte digest; 4 alone is a crypto-NAK. */
#define MAC_NAK_LEN 4
#define MAC_MIN_LEN 20
#define MAC_MAX_LEN 24
/* A SHA-256 MAC (4 + 32), as chronyd sends it: longer than RFC 7822 allows, so taken only when the
 * bytes cannot be an extension field. */
#define MAC_LONG_LEN 36

uint16_t load_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

uint32_t load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

uint64_t load_be64(const uint8_t *p) { return ((uint64_t)load_be32(p) << 32) | load_be32(p + 4); }

void store_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void store_be64(uint8_t *p, uint64_t v)
{
    store_be32(p, (uint32_t)(v >> 32));
    store_be32(p + 4, (uint32_t)v);
}

uint32_t pkt_refid_ascii(const char text[4])
{
    return load_be32((const uint8_t *)text);
}

const char *pkt_status_name(enum pkt_status status)
{
    switch (status) {
    case PKT_OK: return "ok";
    case PKT_TOO_SHORT: return "too-short";
    case PKT_TOO_LONG: return "too-long";
    case PKT_BAD_VERSION: return "bad-version";
    case PKT_BAD_EXTENSION: return "bad-extension";
    case PKT_BAD_TRAILER: return "bad-trailer";
    case PKT_STATUS_COUNT: break;
    }
    return "unknown";
}

static void decode_header(const uint8_t *buf, struct ntp_header *hdr)
{
    hdr->leap = buf[0] >> 6;
    hdr->version = (buf[0] >> 3) & 7;
    hdr->mode = buf[0] & 7;
    hdr->stratum = buf[1];
    hdr->poll = (int8_t)buf[2];
    hdr->precision = (int8_t)buf[3];
    hdr->root_delay = load_be32(buf + 4);
    hdr->root_dispersion = load_be32(buf + 8);
    hdr->refid = load_be32(buf + 12);
    hdr->reference = load_be64(buf + 16);
    hdr->origin = load_be64(buf + 24);
    hdr->receive = load_be64(buf + 32);
    hdr->transmit = load_be64(buf + 40);
}

static bool is_mac_length(size_t remaining)
{
    return remaining == MAC_NAK_LEN || (remaining >= MAC_MIN_LEN && remaining <= MAC_MAX_LEN);
}

static void record_mac(const uint8_t *buf, size_t offset, size_t remaining, struct ntp_layout *layout)
{
    layout->has_mac = true;
    layout->mac_offset = offset;
    layout->mac_len = remaining;
    layout->key_id = load_be32(buf + offset);
}

/*
 * RFC 7822 §7.5: after the header come extension fields (each at least 16
 * bytes, a multiple of 4, length covering its own 4-byte header), then
 * optionally a MAC. A remainder of MAC size is taken as a MAC, which is how
 * ntpd and chrony resolve the grammar's ambiguity. NTPv3 and older have no
 * extension fields: only a MAC may follow.
 */
static enum pkt_status walk_trailer(const uint8_t *buf, size_t len, uint8_t version,
                                    struct ntp_layout *layout)
{
    size_t pos = NTP_HEADER_LEN;
    while (pos < len) {
        size_t remaining = len - pos;
        if (is_mac_length(remaining) && remaining % 4 == 0) {
            record_mac(buf, pos, remaining, layout);
            return PKT_OK;
        }
        uint16_t ef_len = remaining >= 4 ? load_be16(buf + pos + 2) : 0;
        bool fits_field = ef_len >= NTP_EF_MIN_LEN && ef_len % 4 == 0 && ef_len <= remaining;
        if (remaining == MAC_LONG_LEN && (version < 4 || !fits_field)) {
            record_mac(buf, pos, remaining, layout);
            return PKT_OK;
        }
        if (version < 4 || remaining < NTP_EF_MIN_LEN)
            return PKT_BAD_TRAILER;
        if (ef_len < NTP_EF_MIN_LEN || ef_len % 4 != 0 || ef_len > remaining)
            return PKT_BAD_EXTENSION;
        if (layout->n_extfields >= NTP_MAX_EXTFIELDS)
            return PKT_BAD_EXTENSION;
        struct ntp_extfield *ef = &layout->extfields[layout->n_extfields++];
        ef->type = load_be16(buf + pos);
        ef->length = ef_len;
        ef->offset = pos;
        pos += ef_len;
    }
    return PKT_OK;
}

enum pkt_status pkt_decode(const uint8_t *buf, size_t len, struct ntp_header *hdr,
                           struct ntp_layout *layout)
{
    if (len < NTP_HEADER_LEN)
        return PKT_TOO_SHORT;
    if (len > NTP_MAX_PACKET_LEN)
        return PKT_TOO_LONG;
    decode_header(buf, hdr);
    if (hdr->version == 0 || hdr->version > 4)
        return PKT_BAD_VERSION;
    struct ntp_layout scratch;
    if (!layout)
        layout = &scratch;
    layout->length = len;
    layout->n_extfields = 0;
    layout->has_mac = false;
    layout->mac_offset = 0;
    layout->mac_len = 0;
    layout->key_id = 0;
    return walk_trailer(buf, len, hdr->version, layout);
}

void pkt_encode_header(const struct ntp_header *hdr, uint8_t *buf)
{
    buf[0] = (uint8_t)(((hdr->leap & 3) << 6) | ((hdr->version & 7) << 3) | (hdr->mode & 7));
    buf[1] = hdr->stratum;
    buf[2] = (uint8_t)hdr->poll;
    buf[3] = (uint8_t)hdr->precision;
    store_be32(buf + 4, hdr->root_delay);
    store_be32(buf + 8, hdr->root_dispersion);
    store_be32(buf + 12, hdr->refid);
    store_be64(buf + 16, hdr->reference);
    store_be64(buf + 24, hdr->origin);
    store_be64(buf + 32, hdr->receive);
    store_be64(buf + 40, hdr->transmit);
}

void pkt_set_transmit(uint8_t *buf, ntp_ts transmit)
{
    store_be64(buf + 40, transmit);
}
