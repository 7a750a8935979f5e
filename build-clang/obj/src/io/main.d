build-clang/obj/src/io/main.o: src/io/main.c src/core/packet.h \
  src/core/ntptime.h src/core/responder.h src/io/config.h src/core/acl.h \
  src/core/netaddr.h src/core/ratelimit.h src/io/control.h src/io/log.h \
  src/io/netutil.h src/io/process.h src/io/server.h

src/core/packet.h:

src/core/ntptime.h:

src/core/responder.h:

src/io/config.h:

src/core/acl.h:

src/core/netaddr.h:

src/core/ratelimit.h:

src/io/control.h:

src/io/log.h:

src/io/netutil.h:

src/io/process.h:

src/io/server.h:
