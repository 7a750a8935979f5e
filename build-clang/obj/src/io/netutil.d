build-clang/obj/src/io/netutil.o: src/io/netutil.c src/io/netutil.h \
  src/core/netaddr.h

src/io/netutil.h:

src/core/netaddr.h:
