build-clang/src/formats/config.o: src/formats/config.c \
  src/formats/config.h src/core/err.h

src/formats/config.h:

src/core/err.h:
