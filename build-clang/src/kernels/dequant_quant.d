build-clang/src/kernels/dequant_quant.o: src/kernels/dequant_quant.c \
  src/kernels/dequant_quant.h src/formats/tensor_file.h src/core/err.h \
  src/kernels/half.h

src/kernels/dequant_quant.h:

src/formats/tensor_file.h:

src/core/err.h:

src/kernels/half.h:
