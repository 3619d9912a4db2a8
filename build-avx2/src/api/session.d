build-avx2/src/api/session.o: src/api/session.c src/api/session.h \
 src/inputs/text.h src/models/config.h src/core/err.h src/ops/ops.h \
 src/core/graph.h src/core/rules.h src/core/tensor.h \
 src/tokenizer/tokenizer.h src/models/model.h src/formats/tensor_file.h
src/api/session.h:
src/inputs/text.h:
src/models/config.h:
src/core/err.h:
src/ops/ops.h:
src/core/graph.h:
src/core/rules.h:
src/core/tensor.h:
src/tokenizer/tokenizer.h:
src/models/model.h:
src/formats/tensor_file.h:
