/*
 * process: what makes horloged a well-behaved service — detaching into the
 * background, the pid file (written atomically), run directories, dropping
 * privileges after the sockets are bound, and signals turned into flags the
 * main loop reads (no self-pipe: the loop wakes from poll() with EINTR or at
 * its next timeout, at most a second later).
 */
#ifndef HORLOGE_PROCESS_H
#define HORLOGE_PROCESS_H

#include <signal.h>
#include <stdbool.h>

struct process_signals {
    volatile sig_atomic_t stop;
    volatile sig_atomic_t reload;
};

/* Installs SIGTERM/SIGINT (stop), SIGHUP (reload) handlers and ignores SIGPIPE. */
void process_install_signals(struct process_signals *flags);
/* Forks into the background, detached from the terminal. Returns 0 in the child, -1 on error. */
int process_daemonize(void);
/*
 * Creates the parent directory of `path` if missing (mode 0755), owned by
 * `owner` when given: only for what the daemon writes after dropping
 * privileges (the drift file). The run directory stays root's, so no process
 * of the unprivileged user can replace the pid file or the control socket.
 */
int process_make_parent_dir(const char *path, const char *owner);
/* Fails (and logs why) when the pid file names a live process: another daemon owns it. */
int process_check_pidfile(const char *path);
/* Writes our pid to `path` atomically (temp file + rename). */
int process_write_pidfile(const char *path);
/*
 * Switches to `user` (its uid, gid and groups; NULL or "": stays) and leaves
 * no capability in any set, the bounding set included, but CAP_SYS_TIME when
 * keep_sys_time (for a process that steers the clock itself).
 */
int process_drop_privileges(const char *user, bool keep_sys_time);

#endif
