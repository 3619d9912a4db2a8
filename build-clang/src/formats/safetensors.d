build-clang/src/formats/safetensors.o: src/formats/safetensors.c \
  src/formats/safetensors.h src/formats/tensor_file.h src/core/err.h

src/formats/safetensors.h:

src/formats/tensor_file.h:

src/core/err.h:
