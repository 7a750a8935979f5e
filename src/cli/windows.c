/* windows: the Windows administrator's set-up script; see windows.h. */
#include "cli/windows.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* What w32tm will see of this server, from the daemon or (not running) the default configuration. */
struct served {
    bool from_daemon;
    long leap, stratum, precision;
    double root_delay, root_dispersion;
    const char *refid_text;
};

static const char *value(const struct kvdoc *status, const char *key, const char *fallback)
{
    const char *v = status ? kvdoc_get(status, 0, key) : NULL;
    return v ? v : fallback;
}

/* Without a daemon to ask: what the shipped configuration (`local stratum 10`) serves. */
static struct served served_from(const struct kvdoc *status)
{
    return (struct served){
        .from_daemon = status != NULL,
        .leap = strtol(value(status, "leap", "0"), NULL, 10),
        .stratum = strtol(value(status, "stratum", "10"), NULL, 10),
        .precision = strtol(value(status, "precision", "0"), NULL, 10),
        .root_delay = strtod(value(status, "root_delay", "0"), NULL),
        .root_dispersion = strtod(value(status, "root_dispersion", "0"), NULL),
        .refid_text = value(status, "reference_id_text", "LOCL"),
    };
}

static void print_server_now(const struct windows_options *opt, const struct served *s, FILE *f)
{
    if (s->from_daemon)
        fprintf(f, "# This server now: stratum %ld, leap indicator %ld, reference ID %s, precision %ld"
                   " (%.3f ns per tick),\n#   root delay %.6f s, root dispersion %.6f s.\n",
                s->stratum, s->leap, s->refid_text, s->precision, ldexp(1.0, (int)s->precision) * 1e9,
                s->root_delay, s->root_dispersion);
    else
        fprintf(f, "# horloged is not answering on %s: what follows assumes the default\n"
                   "#   configuration (`local stratum 10`, a reliable local reference).\n",
                opt->socket_path);
    if (s->leap == 3 || s->stratum == 0 || s->stratum >= 16)
        fprintf(f, "# WARNING: this server is unsynchronised (leap indicator 3, stratum %ld): Windows\n"
                   "#   will not take its time until it is (horloge tracking says why).\n",
                s->stratum);
}

static const char *const server_firewall[] = {
    "#",
    "# 1. On this server (Linux): let NTP requests in on UDP 123, e.g. with nftables:",
    "#      nft add rule inet filter input udp dport 123 accept",
    "#    and horloge.conf must serve them: `allow all` (the default) or `allow 192.168.0.0/16`.",
    "#",
};

static const char *const peer_flags[] = {
    "#   The flags after the comma in /manualpeerlist (add them up: 0x9 is both):",
    "#     0x8  client mode: w32time sends ordinary NTP client requests (mode 3), as every",
    "#          other client does. Without it, it sends symmetric-active requests (mode 1),",
    "#          which horloged answers too (with mode 2), but many servers and firewalls do not.",
    "#     0x1  special interval: poll every SpecialPollInterval seconds (registry value under",
    "#          HKLM\\SYSTEM\\CurrentControlSet\\Services\\W32Time\\TimeProviders\\NtpClient)",
    "#          instead of w32time's own adaptive interval (MinPollInterval..MaxPollInterval).",
    "#   In a domain: run these on the PDC emulator only (netdom query fsmo), with /reliable:YES",
    "#   so that the domain takes its time from it; the other members keep /syncfromflags:domhier.",
    "#",
};

static const char *const windows_firewall[] = {
    "# 3. Windows Firewall: w32time's replies come back through its outbound rule. A Windows",
    "#    machine that serves time to others (/reliable:YES, a PDC emulator) must let requests in:",
    "netsh advfirewall firewall add rule name=\"NTP server (UDP 123)\" dir=in action=allow protocol=UDP localport=123",
    "#",
};

static void print_lines(const char *const *lines, size_t n, FILE *f)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\n", lines[i]);
}

#define PRINT_LINES(lines, f) print_lines((lines), sizeof(lines) / sizeof(lines)[0], (f))

static void print_w32tm_commands(const char *server, FILE *f)
{
    fprintf(f, "# 2. On each Windows machine, in an elevated PowerShell:\n"
               "w32tm /config /manualpeerlist:\"%s,0x8\" /syncfromflags:manual /update\n"
               "net stop w32time\n"
               "net start w32time\n"
               "w32tm /resync /rediscover\n"
               "#\n",
            server);
    PRINT_LINES(peer_flags, f);
}

/* The reference ID w32time shows: the IPv4 address it synchronised to, as hex and dotted. */
static void print_refid(const char *server, FILE *f)
{
    struct in_addr a;
    if (inet_pton(AF_INET, server, &a) == 1)
        fprintf(f, "#     ReferenceId: 0x%08X (source IP:  %s)\n", (unsigned)ntohl(a.s_addr), server);
    else
        fprintf(f, "#     ReferenceId: 0x........ (source IP:  the address %s resolves to)\n", server);
}

static void print_expected_status(const char *server, const struct served *s, FILE *f)
{
    fprintf(f, "#   w32tm /query /status should then show:\n"
               "#     Leap Indicator: %ld(%s)\n",
            s->leap, s->leap == 0 ? "no warning" : s->leap == 3 ? "not synchronized" : "leap second pending");
    fprintf(f, "#     Stratum: %ld (secondary reference - syncd by (S)NTP)   [this server's %ld + 1]\n",
            s->stratum + 1, s->stratum);
    fprintf(f, "#     Precision: the Windows machine's own (e.g. -23 (119.209ns per tick))\n"
               "#     Root Delay: this server's %.7fs plus the round trip to it\n"
               "#     Root Dispersion: this server's %.7fs plus w32time's own error terms\n",
            s->root_delay, s->root_dispersion);
    print_refid(server, f);
    fprintf(f, "#     Last Successful Sync Time: a few seconds after net start w32time\n"
               "#     Source: %s,0x8\n"
               "#     Poll Interval: w32time's own (10 (1024s) on a domain member)\n"
               "#   On this server, `horloge serverstats` counts their requests and `horloge clients`\n"
               "#   lists the machines.\n",
            server);
}

static void print_checks(const char *server, const struct served *s, FILE *f)
{
    fprintf(f, "# 4. Check, on the Windows machine:\n"
               "w32tm /query /status\n"
               "w32tm /query /peers\n"
               "w32tm /stripchart /computer:%s /samples:5 /dataonly\n"
               "#\n",
            server);
    print_expected_status(server, s, f);
}

/* Computer Configuration > Administrative Templates > System > Windows Time Service > Time Providers. */
static void print_gpo(const char *server, FILE *f)
{
    fprintf(f, "# 2. Group Policy, on a domain controller (PowerShell, GroupPolicy module). In the editor:\n"
               "#    Computer Configuration > Administrative Templates > System > Windows Time Service >\n"
               "#    Time Providers: \"Configure Windows NTP Client\" Enabled with NtpServer %s,0x8,\n"
               "#    Type NTP, SpecialPollInterval 3600 (used only with flag 0x1); \"Enable Windows NTP Client\" Enabled.\n",
            server);
    fprintf(f, "$gpo = \"horloge NTP client\"\n"
               "New-GPO -Name $gpo\n"
               "$p = \"HKLM\\SOFTWARE\\Policies\\Microsoft\\W32Time\"\n"
               "Set-GPRegistryValue -Name $gpo -Key \"$p\\Parameters\" -ValueName NtpServer -Type String -Value \"%s,0x8\"\n"
               "Set-GPRegistryValue -Name $gpo -Key \"$p\\Parameters\" -ValueName Type -Type String -Value NTP\n"
               "Set-GPRegistryValue -Name $gpo -Key \"$p\\TimeProviders\\NtpClient\" -ValueName Enabled -Type DWord -Value 1\n"
               "Set-GPRegistryValue -Name $gpo -Key \"$p\\TimeProviders\\NtpClient\" -ValueName SpecialPollInterval -Type DWord -Value 3600\n"
               "# Link it where the machines are, e.g.:\n"
               "# New-GPLink -Name $gpo -Target \"OU=Servers,DC=example,DC=org\"\n"
               "# Then on a machine: gpupdate /force; net stop w32time; net start w32time\n"
               "#\n",
            server);
    PRINT_LINES(peer_flags, f);
}

void windows_setup_print(const struct windows_options *opt, const struct kvdoc *status, FILE *f)
{
    struct served s = served_from(status);
    fprintf(f, "# Pointing Windows clients at %s (horloged), as a PowerShell script.\n", opt->server);
    print_server_now(opt, &s, f);
    PRINT_LINES(server_firewall, f);
    if (opt->gpo)
        print_gpo(opt->server, f);
    else
        print_w32tm_commands(opt->server, f);
    PRINT_LINES(windows_firewall, f);
    print_checks(opt->server, &s, f);
}
