build-avx2/src/core/graph.o: src/core/graph.c src/core/graph.h \
 src/core/err.h src/core/rules.h src/core/tensor.h
src/core/graph.h:
src/core/err.h:
src/core/rules.h:
src/core/tensor.h:
