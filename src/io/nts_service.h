/*
 * nts_service: NTS as the daemon runs it — the cookie keys, the NTS-KE server
 * and the NTS strategy on the serving path, started, reloaded and stopped
 * together (main.c calls these four, in start-up order).
 *
 * Owns: the cookie keys (they outlive every connection and serving thread
 * that uses them) and the NTS-KE server. NTS is served when the configuration
 * has at least one `ntsservercert`/`ntsserverkey` pair; otherwise all four are no-ops.
 */
#ifndef HORLOGE_NTS_SERVICE_H
#define HORLOGE_NTS_SERVICE_H

#include <stdbool.h>

#include "io/config.h"
#include "io/control.h"
#include "io/nts_ke_server.h"
#include "io/nts_keys.h"
#include "core/auth.h"

struct nts_service {
    bool enabled;
    struct nts_keys keys;
    struct nts_ke_server *ke;
};

/*
 * `ntsdumpdir` made (for `user`) when missing; then, when NTS is served: keys read or made, NTS-KE
 * sockets bound, the NTS strategy added to the server's `auth`. 0, or -1 (logged).
 */
int nts_service_open(struct nts_service *nts, const struct config *cfg, struct auth_set *auth);
/* After detaching: the NTS-KE thread. */
int nts_service_start(struct nts_service *nts);
/* SIGHUP: certificates read again; keys, cookies and NTP service untouched. */
void nts_service_reload(struct nts_service *nts, const struct config *cfg);
void nts_service_close(struct nts_service *nts);
/* serverstats' NTS lines (nothing when NTS is not served). */
void nts_service_report(struct nts_service *nts, struct kv_out *out);

#endif
