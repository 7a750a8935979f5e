/* sandbox: the seccomp allow-list; see sandbox.h. */
#include "io/sandbox.h"

#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "io/log.h"

/*
 * The allow-list, one group per use. A name this architecture lacks is
 * skipped. Generous on purpose where a module may need it tomorrow (TLS,
 * an HTTP endpoint, SHM/PPS reference clocks, error-queue reads, sd_notify,
 * a signer's Unix socket): the point is to forbid what a time server never
 * does (exec, ptrace, mount, module loading, raw clock setting without a
 * reason, namespaces, keyrings, ...), not to count every read.
 */
static const char *const allowed_always[] = {
    /* Memory, threads and the C library's own housekeeping */
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mlock", "mlock2", "munlock", "getcpu",
    "futex", "clone", "clone3", "set_robust_list", "get_robust_list", "rseq", "set_tid_address",
    "exit", "exit_group", "sched_yield", "sched_getaffinity", "gettid", "getpid", "getppid",
    "getuid", "geteuid", "getgid", "getegid", "getgroups", "getresuid", "getresgid",
    "prlimit64", "getrlimit", "sysinfo", "uname", "getrandom", "membarrier", "restart_syscall",
    /* Signals: the stop/reload flags, SIGSYS's own death (raise), the sanitizer's stack */
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "sigaltstack",
    "tgkill", "tkill", "kill",
    /* Reading clocks and waiting (timers are poll timeouts; libraries may sleep). clock_adjtime
       and adjtimex also read the kernel clock's state (the serving threads ask for TIME_OOP
       inside an inserted leap second when smearing it); without CAP_SYS_TIME, which the
       network process never holds alongside a helper, the kernel refuses any change they ask */
    "clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep",
    "clock_adjtime", "adjtimex",
    /* Files: config and leap list on SIGHUP, drift file (temp + rename), key and cookie files,
       certificates, /proc reads, the pid file and sockets removed at stop */
    "read", "write", "readv", "writev", "pread64", "pwrite64", "lseek", "open", "openat", "close",
    "close_range", "fstat", "newfstatat", "stat", "lstat", "statx", "fstatfs", "statfs", "access",
    "faccessat", "faccessat2", "readlink", "readlinkat", "getdents", "getdents64", "fsync", "fdatasync",
    "ftruncate", "fadvise64", "sendfile", "rename", "renameat", "renameat2", "unlink", "unlinkat", "fchmod", "fchown",
    "mkdir", "mkdirat", "umask", "getcwd", "flock",
    /* Descriptors, polling (the loop's poll(); a library's epoll, eventfd or pipe) */
    "fcntl", "dup", "dup2", "dup3", "poll", "ppoll", "select", "pselect6", "epoll_create",
    "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "eventfd2", "pipe", "pipe2",
    /* Sockets: serving, upstream, control, NTS-KE (TCP), metrics (HTTP), Unix sockets to a
       signer or sd_notify, the resolver, syslog; error-queue and batched I/O */
    "socket", "bind", "listen", "accept", "accept4", "connect", "shutdown", "getsockname",
    "getpeername", "setsockopt", "getsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg",
    "sendmmsg", "recvmmsg", "socketpair",
    /* Reference clocks: SHM segments (ntpd's SHM protocol), PPS and PHC ioctls */
    "shmget", "shmat", "shmdt", "shmctl", "ioctl",
    /* Our own threads' names, and no new privileges */
    "prctl",
    /* The clock helper reaped at stop */
    "wait4", "waitid",
};

/* Only for a process that steers the clock itself (no privileged helper). */
static const char *const allowed_to_steer[] = {
    "clock_settime", "settimeofday",
};

/*
 * The clock helper (io/privsep): its channel, the clock, its log (stderr, or
 * syslog's Unix socket: socket() is allowed for AF_UNIX only), and leaving.
 * The files are for the C library's time zone when the log line is stamped.
 */
static const char *const allowed_helper[] = {
    "recvfrom", "recvmsg", "sendto", "sendmsg", "read", "write", "writev", "close", "connect",
    "openat", "fstat", "newfstatat", "lseek", "brk", "mmap", "munmap", "futex",
    "clock_adjtime", "adjtimex", "clock_gettime", "gettimeofday", "time", "getpid", "gettid",
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "tgkill", "exit", "exit_group",
};

#if defined(__SANITIZE_ADDRESS__)
#define HORLOGE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define HORLOGE_SANITIZED 1
#endif
#endif

#ifdef HORLOGE_SANITIZED
/*
 * The ASan/UBSan runtime (the SAN build only): LeakSanitizer stops the world
 * at exit with a ptrace'd tracer (clone, ptrace, wait), and a report runs
 * llvm-symbolizer (fork, execve). A production build never allows these.
 */
static const char *const allowed_sanitizer[] = {
    "ptrace", "fork", "vfork", "execve", "execveat", "personality", "mincore", "msync",
    "sched_setaffinity", "getpriority", "setpriority", "process_vm_readv",
};
#endif

/* Async-signal-safe: the trapped call may have happened anywhere, even inside malloc. */
static size_t format_decimal(char *out, long v)
{
    char tmp[24];
    size_t n = 0, len = 0;
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
    do
        tmp[n++] = (char)('0' + u % 10);
    while ((u /= 10) && n < sizeof tmp);
    if (v < 0)
        out[len++] = '-';
    while (n)
        out[len++] = tmp[--n];
    return len;
}

/*
 * A call outside the list: say which (stderr with write(), syslog for a
 * detached daemon — syslog is not async-signal-safe, but the process dies
 * next whatever it does), then die of SIGSYS with the default action.
 */
static void on_forbidden_call(int sig, siginfo_t *info, void *uctx)
{
    (void)uctx;
    char msg[96] = "horloged: seccomp: forbidden system call ";
    size_t len = strlen(msg);
    len += format_decimal(msg + len, info->si_syscall);
    static const char hint[] = " (scmp_sys_resolver NUMBER names it); exiting\n";
    memcpy(msg + len, hint, sizeof hint - 1);
    len += sizeof hint - 1;
    ssize_t ignored = write(STDERR_FILENO, msg, len);
    (void)ignored;
    log_error("seccomp: forbidden system call %d; exiting", info->si_syscall);
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
}

static int allow_all(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int nr = seccomp_syscall_resolve_name(names[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not on this architecture */
        int err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
        if (err < 0)
            return err;
    }
    return 0;
}

#define ALLOW(ctx, list) allow_all(ctx, list, sizeof list / sizeof list[0])

/* Calls the runtime of a sanitizer build makes at exit and on a report (none otherwise). */
static int allow_sanitizer(scmp_filter_ctx ctx, bool add_always)
{
#ifdef HORLOGE_SANITIZED
    int err = ALLOW(ctx, allowed_sanitizer);
    return err || !add_always ? err : ALLOW(ctx, allowed_always);
#else
    (void)ctx;
    (void)add_always;
    return 0;
#endif
}

static int build_filter(scmp_filter_ctx ctx, bool steers_clock)
{
    int err = ALLOW(ctx, allowed_always);
    if (!err && steers_clock)
        err = ALLOW(ctx, allowed_to_steer);
    if (!err)
        err = allow_sanitizer(ctx, false);
    /* Every thread, those already serving included. */
    if (!err)
        err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    return err;
}

static int build_helper_filter(scmp_filter_ctx ctx, bool steers_clock)
{
    (void)steers_clock; /* the helper always does */
    const struct scmp_arg_cmp unix_only = {.arg = 0, .op = SCMP_CMP_EQ, .datum_a = AF_UNIX, .datum_b = 0};
    int err = ALLOW(ctx, allowed_helper);
    if (!err)
        err = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, &unix_only);
    /* LeakSanitizer's exit needs about everything the main process may do. */
    return err ? err : allow_sanitizer(ctx, true);
}

static int enter(int (*build)(scmp_filter_ctx ctx, bool steers_clock), bool steers_clock)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_forbidden_call;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) < 0)
        return -errno;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
    if (!ctx)
        return -ENOMEM;
    int err = build(ctx, steers_clock);
    if (!err)
        err = seccomp_load(ctx);
    seccomp_release(ctx);
    return err;
}

int sandbox_enter_helper(void)
{
    return enter(build_helper_filter, true);
}

int sandbox_enter(bool steers_clock)
{
    return enter(build_filter, steers_clock);
}

bool sandbox_decide(enum cfg_switch mode, bool preloaded, const char **why)
{
    static const struct cfg_switch_reasons reasons = {
        .off = "seccomp off: no system-call filter",
        .forced = "seccomp on: the system-call filter is entered although LD_PRELOAD is set",
        .preloaded = "LD_PRELOAD is set: no system-call filter, a preloaded library's own calls are "
                     "unknown to it (seccomp on forces it)",
    };
    return cfg_switch_resolve(mode, preloaded, &reasons, why);
}

int sandbox_start(enum cfg_switch mode, bool steers_clock, bool preloaded)
{
    const char *why;
    bool enter = sandbox_decide(mode, preloaded, &why);
    if (why)
        log_info("%s", why);
    if (!enter)
        return 0;
    int err = sandbox_enter(steers_clock);
    if (err) {
        log_error("cannot enter the seccomp filter: %s", strerror(-err));
        return -1;
    }
    log_info("seccomp filter entered (forbidden system calls kill the daemon, logged)");
    return 0;
}
