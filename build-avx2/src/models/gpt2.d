build-avx2/src/models/gpt2.o: src/models/gpt2.c src/models/bind.h \
 src/models/model.h src/core/graph.h src/core/err.h src/core/rules.h \
 src/core/tensor.h src/formats/tensor_file.h src/models/config.h \
 src/ops/ops.h src/models/registry.h src/models/hparams.h
src/models/bind.h:
src/models/model.h:
src/core/graph.h:
src/core/err.h:
src/core/rules.h:
src/core/tensor.h:
src/formats/tensor_file.h:
src/models/config.h:
src/ops/ops.h:
src/models/registry.h:
src/models/hparams.h:
