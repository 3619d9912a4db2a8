build-clang/tests/support/gguf_writer.o: tests/support/gguf_writer.c \
  tests/support/gguf_writer.h src/formats/tensor_file.h src/core/err.h \
  src/kernels/half.h

tests/support/gguf_writer.h:

src/formats/tensor_file.h:

src/core/err.h:

src/kernels/half.h:
