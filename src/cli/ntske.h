/*
 * ntske: `horloge ntske HOST [-p PORT] [--cafile FILE]` — one NTS-KE handshake
 * (io/nts_ke_client), printing what a client would keep: the C2S and S2C keys,
 * the NTP server and port offered, and the cookies, as `key value` lines. For
 * checking a server's NTS-KE by hand, and for tests that build NTS requests.
 */
#ifndef HORLOGE_CLI_NTSKE_H
#define HORLOGE_CLI_NTSKE_H

int ntske_run(int argc, char **argv);

#endif
