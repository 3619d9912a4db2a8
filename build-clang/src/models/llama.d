build-clang/src/models/llama.o: src/models/llama.c src/models/model.h \
  src/core/graph.h src/core/err.h src/core/rules.h \
  src/formats/tensor_file.h src/formats/config.h src/ops/ops.h

src/models/model.h:

src/core/graph.h:

src/core/err.h:

src/core/rules.h:

src/formats/tensor_file.h:

src/formats/config.h:

src/ops/ops.h:
