build-clang/src/ops/rope.o: src/ops/rope.c src/ops/ops.h src/core/graph.h \
  src/core/err.h src/core/rules.h src/formats/tensor_file.h \
  src/formats/config.h

src/ops/ops.h:

src/core/graph.h:

src/core/err.h:

src/core/rules.h:

src/formats/tensor_file.h:

src/formats/config.h:
