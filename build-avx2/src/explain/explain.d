build-avx2/src/explain/explain.o: src/explain/explain.c \
 src/explain/explain.h src/models/model.h src/core/graph.h src/core/err.h \
 src/core/rules.h src/core/tensor.h src/formats/tensor_file.h \
 src/models/config.h src/ops/ops.h
src/explain/explain.h:
src/models/model.h:
src/core/graph.h:
src/core/err.h:
src/core/rules.h:
src/core/tensor.h:
src/formats/tensor_file.h:
src/models/config.h:
src/ops/ops.h:
