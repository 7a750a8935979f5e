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

/*
 * The bounding set limits what any later exec could regain; emptying it (all
 * but CAP_SYS_TIME when kept) needs CAP_SETPCAP, so it comes before setuid.
 */
static void drop_bounding_set(bool keep_sys_time)
{
    for (int cap = 0; cap < 64; cap++) {
        if (keep_sys_time && cap == CAP_SYS_TIME)
            continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
            continue;
        if (errno != EINVAL) /* EINVAL: past the kernel's last capability */
            log_warn("cannot empty the capability bounding set: %s", strerror(errno));
        return;
    }
}

/*
 * CAP_SYS_TIME alone (effective and permitted), or nothing; none inheritable
 * either way. 1 when CAP_SYS_TIME was asked for but was not ours to keep.
 */
static int set_capabilities(bool keep_sys_time)
{
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (keep_sys_time)
        data[0].effective = data[0].permitted = 1U << CAP_SYS_TIME;
    if (capset(&header, data) == 0)
        return 0;
    if (!keep_sys_time || errno != EPERM)
        return -1;
    /* Started without it (a container, a bounding set without it): the clock calls will fail, said then. */
    log_warn("CAP_SYS_TIME is not ours to keep; continuing without any capability");
    memset(data, 0, sizeof data);
    return capset(&header, data) == 0 ? 1 : -1;
}

static int switch_user(const struct passwd *pw, bool keep_caps)
{
    if (keep_caps && prctl(PR_SET_KEEPCAPS, 1) < 0) {
        log_error("prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
        return -1;
    }
    if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        log_error("cannot switch to user %s: %s", pw->pw_name, strerror(errno));
        return -1;
    }
    return 0;
}

int process_drop_privileges(const char *user, bool keep_sys_time)
{
    struct passwd *pw = NULL;
    if (user && user[0] && !(pw = getpwnam(user))) {
        log_error("user %s: no such user", user);
        return -1;
    }
    drop_bounding_set(keep_sys_time);
    if (pw && switch_user(pw, keep_sys_time) < 0)
        return -1;
    int kept = set_capabilities(keep_sys_time);
    if (kept < 0) {
        log_error("cannot set capabilities%s%s: %s", pw ? " as " : "", pw ? user : "", strerror(errno));
        return -1;
    }
    log_info("running as %s%s%s", pw ? "user " : "the starting user", pw ? user : "",
             keep_sys_time && kept == 0 ? " with CAP_SYS_TIME alone" : " without capabilities");
    return 0;
}
