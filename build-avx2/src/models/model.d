build-avx2/src/models/model.o: src/models/model.c src/models/model.h \
 src/core/graph.h src/core/err.h src/core/rules.h src/core/tensor.h \
 src/formats/tensor_file.h src/models/config.h src/ops/ops.h \
 src/formats/gguf.h src/formats/safetensors.h src/kernels/matmul.h \
 src/models/bind.h src/models/registry.h src/models/hparams.h
src/models/model.h:
src/core/graph.h:
src/core/err.h:
src/core/rules.h:
src/core/tensor.h:
src/formats/tensor_file.h:
src/models/config.h:
src/ops/ops.h:
src/formats/gguf.h:
src/formats/safetensors.h:
src/kernels/matmul.h:
src/models/bind.h:
src/models/registry.h:
src/models/hparams.h:
