build-avx2/src/ops/embedding.o: src/ops/embedding.c src/kernels/matmul.h \
 src/core/tensor.h src/ops/ops.h src/core/graph.h src/core/err.h \
 src/core/rules.h
src/kernels/matmul.h:
src/core/tensor.h:
src/ops/ops.h:
src/core/graph.h:
src/core/err.h:
src/core/rules.h:
