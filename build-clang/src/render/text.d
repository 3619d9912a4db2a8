build-clang/src/render/text.o: src/render/text.c src/render/render.h \
  src/explain/explain.h src/models/model.h src/core/graph.h \
  src/core/err.h src/core/rules.h src/formats/tensor_file.h \
  src/formats/config.h src/ops/ops.h

src/render/render.h:

src/explain/explain.h:

src/models/model.h:

src/core/graph.h:

src/core/err.h:

src/core/rules.h:

src/formats/tensor_file.h:

src/formats/config.h:

src/ops/ops.h:
