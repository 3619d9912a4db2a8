build-avx2/src/formats/gguf.o: src/formats/gguf.c src/formats/gguf.h \
 src/core/err.h src/formats/tensor_file.h src/core/tensor.h
src/formats/gguf.h:
src/core/err.h:
src/formats/tensor_file.h:
src/core/tensor.h:
