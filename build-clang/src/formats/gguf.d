build-clang/src/formats/gguf.o: src/formats/gguf.c src/formats/gguf.h \
  src/core/err.h src/formats/config.h src/formats/tensor_file.h

src/formats/gguf.h:

src/core/err.h:

src/formats/config.h:

src/formats/tensor_file.h:
