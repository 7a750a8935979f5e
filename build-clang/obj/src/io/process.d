build-clang/obj/src/io/process.o: src/io/process.c src/io/process.h \
  src/io/log.h

src/io/process.h:

src/io/log.h:
