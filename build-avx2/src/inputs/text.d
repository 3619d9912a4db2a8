build-avx2/src/inputs/text.o: src/inputs/text.c src/inputs/text.h \
 src/models/config.h src/core/err.h src/ops/ops.h src/core/graph.h \
 src/core/rules.h src/core/tensor.h src/tokenizer/tokenizer.h
src/inputs/text.h:
src/models/config.h:
src/core/err.h:
src/ops/ops.h:
src/core/graph.h:
src/core/rules.h:
src/core/tensor.h:
src/tokenizer/tokenizer.h:
