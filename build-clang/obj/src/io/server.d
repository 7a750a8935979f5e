build-clang/obj/src/io/server.o: src/io/server.c src/io/server.h \
  src/core/ratelimit.h src/core/netaddr.h src/core/responder.h \
  src/core/ntptime.h src/io/config.h src/core/acl.h src/core/packet.h \
  src/io/log.h src/io/netutil.h

src/io/server.h:

src/core/ratelimit.h:

src/core/netaddr.h:

src/core/responder.h:

src/core/ntptime.h:

src/io/config.h:

src/core/acl.h:

src/core/packet.h:

src/io/log.h:

src/io/netutil.h:
