build-avx2/src/models/registry.o: src/models/registry.c \
 src/models/registry.h src/models/hparams.h src/formats/tensor_file.h \
 src/core/err.h src/core/tensor.h src/models/config.h src/ops/ops.h \
 src/core/graph.h src/core/rules.h src/models/model.h
src/models/registry.h:
src/models/hparams.h:
src/formats/tensor_file.h:
src/core/err.h:
src/core/tensor.h:
src/models/config.h:
src/ops/ops.h:
src/core/graph.h:
src/core/rules.h:
src/models/model.h:
