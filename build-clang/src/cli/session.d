build-clang/src/cli/session.o: src/cli/session.c src/cli/session.h \
  src/models/model.h src/core/graph.h src/core/err.h src/core/rules.h \
  src/formats/tensor_file.h src/formats/config.h src/ops/ops.h \
  src/tokenizer/tokenizer.h src/cli/args.h

src/cli/session.h:

src/models/model.h:

src/core/graph.h:

src/core/err.h:

src/core/rules.h:

src/formats/tensor_file.h:

src/formats/config.h:

src/ops/ops.h:

src/tokenizer/tokenizer.h:

src/cli/args.h:
