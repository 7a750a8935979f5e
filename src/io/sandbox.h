/*
 * sandbox: the seccomp system-call allow-list (libseccomp), entered once
 * start-up is over and applied to every thread of the network process.
 *
 * Owns: the table of allowed system calls (one group per use, with why),
 * the decision whether to enter it, and what happens to a call outside it:
 * a SIGSYS handler logs the call's number, then the process dies of SIGSYS
 * (as SCMP_ACT_KILL_PROCESS would, but the operator learns which call).
 */
#ifndef HORLOGE_SANDBOX_H
#define HORLOGE_SANDBOX_H

#include <stdbool.h>

#include "io/config.h"

/*
 * Whether to enter it: `seccomp off` never, `on` always; by default yes,
 * except under LD_PRELOAD, where a preloaded library (a clock simulator, a
 * profiler) makes system calls of its own that no list here can know. `why`
 * says why not (or why forced), for the log.
 */
bool sandbox_decide(enum cfg_switch mode, bool preloaded, const char **why);

/*
 * Enters the allow-list when sandbox_decide() says so. `steers_clock`: this
 * process changes the clock itself (no helper), so the clock-setting calls
 * are allowed; with a helper they are not. 0, or -1 (logged).
 */
int sandbox_start(enum cfg_switch mode, bool steers_clock, bool preloaded);

/* The same filter, entered unconditionally (for tests): 0 or -errno. */
int sandbox_enter(bool steers_clock);
/*
 * The clock helper's own, much shorter list (io/privsep): its channel, the
 * clock calls, its log. Entered by the helper when the main process uses
 * seccomp. 0 or -errno.
 */
int sandbox_enter_helper(void);

#endif
