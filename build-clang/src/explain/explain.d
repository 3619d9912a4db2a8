build-clang/src/explain/explain.o: src/explain/explain.c \
  src/explain/explain.h src/models/model.h src/core/graph.h \
  src/core/err.h src/core/rules.h src/formats/tensor_file.h \
  src/formats/config.h src/ops/ops.h

src/explain/explain.h:

src/models/model.h:

src/core/graph.h:

src/core/err.h:

src/core/rules.h:

src/formats/tensor_file.h:

src/formats/config.h:

src/ops/ops.h:
