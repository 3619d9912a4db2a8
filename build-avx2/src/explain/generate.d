build-avx2/src/explain/generate.o: src/explain/generate.c \
 src/explain/generate.h src/models/model.h src/core/graph.h \
 src/core/err.h src/core/rules.h src/core/tensor.h \
 src/formats/tensor_file.h src/models/config.h src/ops/ops.h \
 src/explain/explain.h
src/explain/generate.h:
src/models/model.h:
src/core/graph.h:
src/core/err.h:
src/core/rules.h:
src/core/tensor.h:
src/formats/tensor_file.h:
src/models/config.h:
src/ops/ops.h:
src/explain/explain.h:
