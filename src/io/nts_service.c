/* nts_service: NTS keys, NTS-KE server and NTP-path strategy together; see nts_service.h. */
#include "io/nts_service.h"

#include <stdio.h>
#include <time.h>

#include "io/auth_nts.h"
#include "io/log.h"
#include "io/process.h"

int nts_service_open(struct nts_service *nts, const struct config *cfg, struct auth_set *auth)
{
    /* Keys rotated and sessions saved after privileges are dropped are written there by `user`. */
    char in_dumpdir[CFG_PATH_MAX + 16];
    snprintf(in_dumpdir, sizeof in_dumpdir, "%s/%s", cfg->nts.dumpdir, NTS_KEYS_FILE);
    if (cfg->nts.dumpdir[0] && process_make_parent_dir(in_dumpdir, cfg->user) < 0)
        log_warn("NTS: keys and sessions will not be saved in %s", cfg->nts.dumpdir);
    nts->enabled = cfg->nts.n_certs > 0;
    if (!nts->enabled)
        return 0;
    if (nts_keys_init(&nts->keys, cfg->nts.rotate, cfg->nts.masterkey, cfg->nts.dumpdir, time(NULL)) < 0)
        return -1;
    nts->ke = nts_ke_server_open(cfg, &nts->keys);
    if (!nts->ke)
        return -1;
    if (!auth_set_add(auth, &auth_nts, &nts->keys)) {
        log_error("NTS: no room for another authentication strategy");
        return -1;
    }
    log_info("NTS-KE on TCP port %u; cookie keys rotate every %u s%s", cfg->nts.port, cfg->nts.rotate,
             cfg->nts.masterkey[0] ? ", derived from the master key" : "");
    return 0;
}

int nts_service_start(struct nts_service *nts)
{
    return nts->enabled ? nts_ke_server_start(nts->ke) : 0;
}

void nts_service_reload(struct nts_service *nts, const struct config *cfg)
{
    if (nts->enabled && cfg->nts.n_certs > 0)
        nts_ke_server_reload(nts->ke, cfg);
}

/* The serving threads are stopped first (server_close): nothing uses the keys after this. */
void nts_service_close(struct nts_service *nts)
{
    if (!nts->enabled)
        return;
    nts_ke_server_close(nts->ke);
    nts->ke = NULL;
    nts_keys_fini(&nts->keys);
    nts->enabled = false;
}

void nts_service_report(struct nts_service *nts, struct kv_out *out)
{
    if (!nts->enabled)
        return;
    struct nts_ke_counters c;
    nts_ke_server_get_counters(nts->ke, &c);
    kv_add(out, "nts_authenticated", "%llu", (unsigned long long)atomic_load(&nts->keys.requests_valid));
    kv_add(out, "nts_nak", "%llu", (unsigned long long)atomic_load(&nts->keys.requests_nak));
    kv_add(out, "ntske_accepted", "%llu", (unsigned long long)c.accepted);
    kv_add(out, "ntske_completed", "%llu", (unsigned long long)c.completed);
    kv_add(out, "ntske_failed", "%llu", (unsigned long long)c.failed);
    kv_add(out, "ntske_rate_limited", "%llu", (unsigned long long)c.rate_limited);
    kv_add(out, "ntske_evicted", "%llu", (unsigned long long)c.evicted);
    kv_add(out, "ntske_timed_out", "%llu", (unsigned long long)c.timed_out);
}
