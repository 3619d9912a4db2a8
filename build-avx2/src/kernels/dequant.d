build-avx2/src/kernels/dequant.o: src/kernels/dequant.c \
 src/kernels/dequant.h src/core/tensor.h src/kernels/dequant_quant.h \
 src/kernels/half.h
src/kernels/dequant.h:
src/core/tensor.h:
src/kernels/dequant_quant.h:
src/kernels/half.h:
