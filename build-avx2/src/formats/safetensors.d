build-avx2/src/formats/safetensors.o: src/formats/safetensors.c \
 src/formats/safetensors.h src/formats/tensor_file.h src/core/err.h \
 src/core/tensor.h
src/formats/safetensors.h:
src/formats/tensor_file.h:
src/core/err.h:
src/core/tensor.h:
