build-avx2/src/formats/tensor_file.o: src/formats/tensor_file.c \
 src/formats/tensor_file.h src/core/err.h src/core/tensor.h
src/formats/tensor_file.h:
src/core/err.h:
src/core/tensor.h:
