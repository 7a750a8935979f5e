#!/bin/sh
# Fails when horloged imports a libc function that an LD_PRELOAD clock and network simulator
# (clknetsim's kind) does not intercept, so the unmodified binary keeps running under one:
# the main loop waits only in poll(), timers are poll timeouts, signals are flags. Under a simulator
# run it with `threads 0`: then the serving sockets are in that loop too and it is the only thread.
# socketpair is allowed for one use only: the privileged clock helper's channel (io/privsep), made
# when the helper starts, which it does not under LD_PRELOAD unless `privsep on` forces it; the
# channel is used synchronously (request, blocking reply), never in poll(). A simulator could not
# follow it, which is why the helper is off under one.
bin="$1"
forbidden='epoll_create|epoll_create1|epoll_ctl|epoll_wait|epoll_pwait|ppoll|pselect|signalfd|eventfd|pipe|pipe2|timerfd_create|timerfd_settime|timespec_get|ntp_gettime|sleep|usleep|nanosleep|clock_nanosleep|syscall|accept4'
imports=$(nm -D --undefined-only "$bin" | awk '{print $2}' | sed 's/@.*//' | sort -u)
bad=$(echo "$imports" | grep -Ex "($forbidden)" || true)
if [ -n "$bad" ]; then
    echo "sim-ready: $bin imports" $bad "- a simulator could not drive it" >&2
    exit 1
fi
readelf -l "$bin" | grep -q 'Requesting program interpreter' || { echo "sim-ready: $bin must be dynamically linked" >&2; exit 1; }
echo "sim-ready: ok ($bin waits only in poll(); no epoll, ppoll, signalfd, pipes, timerfds or sleeps; with \`threads 0\` it is one thread)"
