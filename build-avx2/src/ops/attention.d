build-avx2/src/ops/attention.o: src/ops/attention.c src/kernels/gemm.h \
 src/ops/ops.h src/core/graph.h src/core/err.h src/core/rules.h \
 src/core/tensor.h
src/kernels/gemm.h:
src/ops/ops.h:
src/core/graph.h:
src/core/err.h:
src/core/rules.h:
src/core/tensor.h:
