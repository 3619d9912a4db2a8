build-avx2/src/render/html.o: src/render/html.c src/render/render.h \
 src/evaluate/runner.h src/evaluate/data.h src/core/err.h \
 src/evaluate/metrics.h src/models/model.h src/core/graph.h \
 src/core/rules.h src/core/tensor.h src/formats/tensor_file.h \
 src/models/config.h src/ops/ops.h src/tokenizer/tokenizer.h \
 src/explain/explain.h
src/render/render.h:
src/evaluate/runner.h:
src/evaluate/data.h:
src/core/err.h:
src/evaluate/metrics.h:
src/models/model.h:
src/core/graph.h:
src/core/rules.h:
src/core/tensor.h:
src/formats/tensor_file.h:
src/models/config.h:
src/ops/ops.h:
src/tokenizer/tokenizer.h:
src/explain/explain.h:
