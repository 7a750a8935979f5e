/* process: daemonising, pid file, privileges, signals; see process.h. */
#include "io/process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/log.h"

/* glibc exports capset without a header; libcap is not worth a dependency for one call. */
extern int capset(cap_user_header_t header, const cap_user_data_t data);

static struct process_signals *signal_flags;

static void on_signal(int sig)
{
    if (!signal_flags)
        return;
    if (sig == SIGHUP)
        signal_flags->reload = 1;
    else
        signal_flags->stop = 1;
}

void process_install_signals(struct process_signals *flags)
{
    signal_flags = flags;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int process_daemonize(void)
{
    pid_t pid = fork();
    if (pid < 0) {
        log_error("fork: %s", strerror(errno));
        return -1;
    }
    if (pid > 0)
        _exit(0);
    if (setsid() < 0) {
        log_error("setsid: %s", strerror(errno));
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        log_error("fork: %s", strerror(errno));
        return -1;
    }
    if (pid > 0)
        _exit(0);
    if (chdir("/") < 0)
        log_warn("chdir /: %s", strerror(errno));
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        if (null > 2)
            close(null);
    }
    return 0;
}

int process_make_parent_dir(const char *path, const char *owner)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    if (mkdir(dir, 0755) < 0) {
        if (errno == EEXIST)
            return 0;
        log_error("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    /* A directory we made for ourselves: the unprivileged daemon must be able to remove its files. */
    struct passwd *pw = owner && owner[0] ? getpwnam(owner) : NULL;
    if (pw && chown(dir, pw->pw_uid, pw->pw_gid) < 0)
        log_warn("cannot give %s to %s: %s", dir, owner, strerror(errno));
    return 0;
}

int process_check_pidfile(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long pid = 0;
    int n = fscanf(f, "%ld", &pid);
    fclose(f);
    if (n != 1 || pid <= 0 || pid == (long)getpid())
        return 0;
    if (kill((pid_t)pid, 0) == 0 || errno == EPERM) {
        log_error("another horloged seems to be running (pid %ld in %s); not starting", pid, path);
        return -1;
    }
    return 0;
}


int process_write_pidfile(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        log_error("pid file %s: %s", tmp, strerror(errno));
        return -1;
    }
    fprintf(f, "%ld\n", (long)getpid());
    if (fclose(f) != 0 || rename(tmp, path) < 0) {
        log_error("pid file %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int keep_capability_sys_time(void)
{
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    data[0].effective = data[0].permitted = 1U << CAP_SYS_TIME;
    return capset(&header, data);
}

int process_drop_privileges(const char *user, bool keep_sys_time)
{
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        log_error("user %s: no such user", user);
        return -1;
    }
    /* Started as that user already (systemd's User= with AmbientCapabilities): nothing to drop. */
    if (getuid() == pw->pw_uid && geteuid() == pw->pw_uid && getgid() == pw->pw_gid) {
        log_info("running as user %s, as started", user);
        return 0;
    }
    if (keep_sys_time && prctl(PR_SET_KEEPCAPS, 1) < 0) {
        log_error("prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
        return -1;
    }
    if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        log_error("cannot switch to user %s: %s", user, strerror(errno));
        return -1;
    }
    if (keep_sys_time && keep_capability_sys_time() < 0) {
        log_error("cannot keep CAP_SYS_TIME as %s: %s", user, strerror(errno));
        return -1;
    }
    log_info("running as user %s%s", user, keep_sys_time ? " (with CAP_SYS_TIME)" : "");
    return 0;
}
