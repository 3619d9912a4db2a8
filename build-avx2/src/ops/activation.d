build-avx2/src/ops/activation.o: src/ops/activation.c src/ops/ops.h \
 src/core/graph.h src/core/err.h src/core/rules.h src/core/tensor.h
src/ops/ops.h:
src/core/graph.h:
src/core/err.h:
src/core/rules.h:
src/core/tensor.h:
