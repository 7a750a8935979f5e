build-clang/obj/src/io/control.o: src/io/control.c src/io/control.h \
  src/io/log.h

src/io/control.h:

src/io/log.h:
