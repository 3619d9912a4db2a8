build-avx2/src/kernels/matmul.o: src/kernels/matmul.c \
 src/kernels/matmul.h src/core/tensor.h src/kernels/dequant.h \
 src/kernels/gemm.h src/kernels/half.h
src/kernels/matmul.h:
src/core/tensor.h:
src/kernels/dequant.h:
src/kernels/gemm.h:
src/kernels/half.h:
