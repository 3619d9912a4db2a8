build-clang/src/kernels/dequant.o: src/kernels/dequant.c \
  src/formats/tensor_file.h src/core/err.h src/kernels/dequant_quant.h \
  src/kernels/half.h

src/formats/tensor_file.h:

src/core/err.h:

src/kernels/dequant_quant.h:

src/kernels/half.h:
