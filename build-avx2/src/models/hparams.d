build-avx2/src/models/hparams.o: src/models/hparams.c \
 src/models/hparams.h src/formats/tensor_file.h src/core/err.h \
 src/core/tensor.h src/models/config.h src/ops/ops.h src/core/graph.h \
 src/core/rules.h src/formats/gguf.h
src/models/hparams.h:
src/formats/tensor_file.h:
src/core/err.h:
src/core/tensor.h:
src/models/config.h:
src/ops/ops.h:
src/core/graph.h:
src/core/rules.h:
src/formats/gguf.h:
