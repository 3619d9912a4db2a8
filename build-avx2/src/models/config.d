build-avx2/src/models/config.o: src/models/config.c src/models/config.h \
 src/core/err.h src/ops/ops.h src/core/graph.h src/core/rules.h \
 src/core/tensor.h src/models/hparams.h src/formats/tensor_file.h \
 src/models/registry.h src/models/model.h
src/models/config.h:
src/core/err.h:
src/ops/ops.h:
src/core/graph.h:
src/core/rules.h:
src/core/tensor.h:
src/models/hparams.h:
src/formats/tensor_file.h:
src/models/registry.h:
src/models/model.h:
