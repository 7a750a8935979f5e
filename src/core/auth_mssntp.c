/* auth_mssntp: MS-SNTP requests and Samba's ntp_signd protocol; see auth_mssntp.h. */
#include "core/auth_mssntp.h"

#include <string.h>

#include "core/packet.h"

#define ANSWER_FIELDS_LEN 12 /* version, op, packet id */

bool mssntp_is_request(size_t len, const struct ntp_layout *layout)
{
    return len == MSSNTP_REQUEST_LEN && layout->has_mac && layout->mac_offset == NTP_HEADER_LEN &&
           layout->mac_len == MSSNTP_REQUEST_LEN - NTP_HEADER_LEN;
}

static enum auth_verdict mssntp_check_request(void *ctx, const uint8_t *req, size_t len,
                                              const struct ntp_layout *layout, struct auth_request_info *info)
{
    (void)ctx;
    if (!mssntp_is_request(len, layout))
        return AUTH_NOT_MINE;
    memcpy(info->data, req + NTP_HEADER_LEN, 4); /* the key id's bytes, as the signer wants them */
    info->deferred = true;
    return AUTH_VALID;
}

/* The reply leaves unsigned to the shell: the signer appends key id and checksum. */
static size_t mssntp_seal_reply(void *ctx, const struct auth_request_info *info, uint8_t *reply, size_t len,
                                size_t cap)
{
    (void)ctx, (void)info, (void)reply;
    return len == NTP_HEADER_LEN && cap >= MSSNTP_SIGNED_LEN ? len : 0;
}

const struct auth_ops auth_mssntp = {
    .name = "mssntp",
    .check_request = mssntp_check_request,
    .seal_reply = mssntp_seal_reply,
};

void mssntp_encode_sign_request(uint16_t packet_id, const uint8_t key_id_wire[4], const uint8_t *reply,
                                uint8_t *out)
{
    store_be32(out, MSSNTP_SIGN_REQUEST_LEN - 4);
    store_be32(out + 4, 0); /* protocol version 0 */
    store_be32(out + 8, MSSNTP_SIGN_TO_CLIENT);
    store_be16(out + 12, packet_id);
    store_be16(out + 14, 0);          /* NDR aligns the key id to 4 bytes */
    memcpy(out + 16, key_id_wire, 4); /* little-endian on the socket, as in the packet */
    memcpy(out + 20, reply, NTP_HEADER_LEN);
}

enum mssntp_parse mssntp_parse_answer(const uint8_t *buf, size_t len, struct mssntp_answer *out, size_t *used)
{
    if (len < 4)
        return MSSNTP_NEED_MORE;
    uint32_t body = load_be32(buf);
    if (body < ANSWER_FIELDS_LEN || body > MSSNTP_ANSWER_MAX - 4)
        return MSSNTP_BAD;
    if (len < 4 + (size_t)body)
        return MSSNTP_NEED_MORE;
    uint32_t version = load_be32(buf + 4), op = load_be32(buf + 8);
    if (version != 0 || (op != MSSNTP_SIGNING_SUCCESS && op != MSSNTP_SIGNING_FAILURE))
        return MSSNTP_BAD;
    out->op = (enum mssntp_op)op;
    uint32_t packet_id = load_be32(buf + 12);
    if (packet_id > UINT16_MAX) /* we only ever send 16-bit ids */
        return MSSNTP_BAD;
    out->packet_id = (uint16_t)packet_id;
    out->signed_reply = NULL;
    size_t payload = body - ANSWER_FIELDS_LEN;
    if (op == MSSNTP_SIGNING_SUCCESS) {
        if (payload != MSSNTP_SIGNED_LEN)
            return MSSNTP_BAD;
        out->signed_reply = buf + 4 + ANSWER_FIELDS_LEN;
    }
    *used = 4 + body;
    return MSSNTP_ANSWER;
}
