build-avx2/src/kernels/dequant_quant.o: src/kernels/dequant_quant.c \
 src/kernels/dequant_quant.h src/core/tensor.h src/kernels/cpu.h \
 src/kernels/half.h
src/kernels/dequant_quant.h:
src/core/tensor.h:
src/kernels/cpu.h:
src/kernels/half.h:
