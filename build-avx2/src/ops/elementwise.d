build-avx2/src/ops/elementwise.o: src/ops/elementwise.c src/ops/ops.h \
 src/core/graph.h src/core/err.h src/core/rules.h src/core/tensor.h
src/ops/ops.h:
src/core/graph.h:
src/core/err.h:
src/core/rules.h:
src/core/tensor.h:
