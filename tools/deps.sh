#!/bin/sh
# Installs the Debian 12 packages that building, testing and benchmarking horloge use, only when
# missing, and without recommended packages: whatever is used is named here. As non-root it only
# checks, and fails naming what is missing. Packages' services are never started.
set -e
# package                what uses it
packages="
make                    Makefile
gcc                     build (cc)
libc6-dev               libc headers and crt files (gcc only recommends it)
binutils                ar (Makefile), nm and readelf (tools/check-*.sh)
clang                   make CC=clang, fuzz targets
libclang-rt-14-dev      clang 14's sanitizer and libFuzzer runtimes (build-fuzz/fuzz_*)
libssl-dev              -lssl -lcrypto (TLS for NTS-KE, HKDF, random bytes)
openssl                 the openssl CLI: test CAs and certificates (NTS tests 46-49, bench/nts.sh)
nettle-dev              -lnettle: AES-SIV-CMAC-256 for NTS (OpenSSL 3.0's cannot seal an empty plaintext)
libseccomp-dev          -lseccomp: horloged's system-call allow-list (src/io/sandbox.c)
libcmocka-dev           unit and simulation tests
libmicrohttpd-dev       -lmicrohttpd: the metrics directive's HTTP server (io/webserver)
prometheus              promtool check metrics (integration tests 42, 43)
chromium                headless browser loading the status page (integration test 42)
python3                 tests/integration/*.py
iproute2                ip netns (integration tests), ss (bench/serve.sh)
util-linux              setpriv (tests and bench drop CAP_SYS_TIME), taskset (bench/serve.sh)
coreutils               timeout (tests/integration/run.sh), nproc, mktemp, date
mawk                    awk (tools/, bench/)
tzdata                  /usr/share/zoneinfo/leap-seconds.list (unit test of the leap-second list)
chrony                  chronyd and chronyc peers (integration tests, bench/serve.sh)
ntpsec-ntpdig           ntpdig client (integration test 02)
tshark                  packet dissection (integration test 03)
wireshark-common        dumpcap capture (integration test 03)
gpsd                    a real GPS daemon feeding SHM and SOCK reference clocks (integration test 26)
python3-cryptography    AES-CMAC of symmetric-key requests and replies (integration tests 54, 55)
samba                   a throw-away AD DC whose ntp_signd signs MS-SNTP replies (integration test 55)
samba-ad-provision      samba-tool domain provision's schema and templates (integration test 55)
samba-dsdb-modules      the DC's directory database modules (integration test 55)
samba-vfs-modules       acl_xattr, which samba-tool domain provision loads to set sysvol ACLs (integration test 55)
pkgconf                 Makefile finds libsystemd (pkg-config)
libsystemd-dev          sd_notify for horloge.service's Type=notify and watchdog (io/notify)
scdoc                   man pages (man/*.scd -> make man, make install)
man-db                  man -l renders them (integration test 38)
systemd                 systemd-analyze, systemd-sysusers (integration tests 38, 39); never started here
systemd-container       systemd-nspawn boots a throw-away root to run horloge.service (integration test 38)
debhelper               dpkg-buildpackage of debian/ (integration test 39)
build-essential         dpkg-buildpackage's implied build dependency (integration test 39)
procps                  /bin/kill, horloge.service's ExecReload (integration test 38)
dpkg-dev                dpkg-buildpackage (integration test 39)
lintian                 the .deb checked (integration test 39)
"
need=""
want() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' || need="$need $1"; }
for p in $(printf '%s\n' "$packages" | awk 'NF {print $1}'); do
    want "$p"
done
if [ -n "$need" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "deps: missing packages:$need (run as root to install them)" >&2
        exit 1
    fi
    echo "deps: installing$need"
    export DEBIAN_FRONTEND=noninteractive
    # Packages must not start their services here: a system chronyd would steer this machine's clock.
    # The guard is removed even when apt-get fails.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
# chrony's own service must not run: tests start chronyd instances of their own.
if [ -f /run/chrony/chronyd.pid ] && kill -0 "$(cat /run/chrony/chronyd.pid)" 2>/dev/null; then
    echo "deps: a system chronyd is running (pid $(cat /run/chrony/chronyd.pid)); the tests check the clock is left alone" >&2
    echo "deps: stop it first (service chrony stop)" >&2
    exit 1
fi
