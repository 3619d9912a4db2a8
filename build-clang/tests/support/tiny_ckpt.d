build-clang/tests/support/tiny_ckpt.o: tests/support/tiny_ckpt.c \
  tests/support/tiny_ckpt.h src/core/err.h src/formats/config.h \
  src/formats/tensor_file.h

tests/support/tiny_ckpt.h:

src/core/err.h:

src/formats/config.h:

src/formats/tensor_file.h:
