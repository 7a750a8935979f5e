/*
 * libFuzzer target for cfg_parse_text: any text must parse or be refused
 * with bounded, counted error messages, and an accepted config must respect
 * the limits its consumers rely on.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "io/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_config(const struct config *cfg)
{
    if (cfg->n_listen > CFG_MAX_LISTEN || cfg->n_sources > CFG_MAX_SOURCES ||
        cfg->acl.n_rules > ACL_MAX_RULES)
        __builtin_trap();
    if (cfg->threads < 1 || cfg->threads > 64 || cfg->clientlog_size < 16 ||
        cfg->clientlog_size > 1048576 || (cfg->clientlog_size & (cfg->clientlog_size - 1)))
        __builtin_trap();
    if (cfg->ratelimit.interval_log2 < -4 || cfg->ratelimit.interval_log2 > 12 ||
        cfg->ratelimit.burst < 1 || cfg->ratelimit.burst > 255 || cfg->ratelimit.leak_log2 > 4)
        __builtin_trap();
    if (cfg->local_stratum < 1 || cfg->local_stratum > 15 || cfg->minsources < 1 ||
        cfg->minsources > 16 || !(cfg->maxdistance > 0))
        __builtin_trap();
    for (unsigned i = 0; i < cfg->n_sources; i++) {
        const struct cfg_source *s = &cfg->sources[i];
        if (strnlen(s->host, sizeof s->host) >= sizeof s->host || s->host[0] == '\0')
            __builtin_trap();
        if (s->minpoll < -6 || s->maxpoll > 17 || s->minpoll > s->maxpoll || s->port == 0)
            __builtin_trap();
    }
    if (strnlen(cfg->controlsocket, sizeof cfg->controlsocket) >= 108 ||
        strnlen(cfg->pidfile, sizeof cfg->pidfile) >= sizeof cfg->pidfile ||
        strnlen(cfg->user, sizeof cfg->user) >= sizeof cfg->user)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct config cfg;
    static struct cfg_errors errs;
    int rc = cfg_parse_text((const char *)data, size, "fuzz.conf", &cfg, &errs);
    size_t n = strnlen(errs.text, sizeof errs.text);
    if (n >= sizeof errs.text)
        __builtin_trap();
    if (rc == 0) {
        if (errs.count != 0 || n != 0)
            __builtin_trap();
        check_config(&cfg);
    } else if (rc != -1 || errs.count == 0 || n == 0 || errs.text[n - 1] != '\n') {
        __builtin_trap();
    }
    return 0;
}
