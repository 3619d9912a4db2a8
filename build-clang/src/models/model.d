build-clang/src/models/model.o: src/models/model.c src/models/model.h \
  src/core/graph.h src/core/err.h src/core/rules.h \
  src/formats/tensor_file.h src/formats/config.h src/ops/ops.h \
  src/formats/gguf.h src/formats/safetensors.h

src/models/model.h:

src/core/graph.h:

src/core/err.h:

src/core/rules.h:

src/formats/tensor_file.h:

src/formats/config.h:

src/ops/ops.h:

src/formats/gguf.h:

src/formats/safetensors.h:
