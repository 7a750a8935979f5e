/* version: horloge's release, shown by `horloge metrics` (build info) and the status page. */
#ifndef HORLOGE_VERSION_H
#define HORLOGE_VERSION_H

#define HORLOGE_VERSION "0.9.0"

#endif
