build-clang/src/ops/linear.o: src/ops/linear.c src/kernels/matmul.h \
  src/formats/tensor_file.h src/core/err.h src/ops/ops.h \
  src/core/graph.h src/core/rules.h src/formats/config.h

src/kernels/matmul.h:

src/formats/tensor_file.h:

src/core/err.h:

src/ops/ops.h:

src/core/graph.h:

src/core/rules.h:

src/formats/config.h:
