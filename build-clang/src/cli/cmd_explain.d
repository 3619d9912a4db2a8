build-clang/src/cli/cmd_explain.o: src/cli/cmd_explain.c src/cli/args.h \
  src/cli/commands.h src/cli/session.h src/models/model.h \
  src/core/graph.h src/core/err.h src/core/rules.h \
  src/formats/tensor_file.h src/formats/config.h src/ops/ops.h \
  src/tokenizer/tokenizer.h src/explain/explain.h src/render/render.h

src/cli/args.h:

src/cli/commands.h:

src/cli/session.h:

src/models/model.h:

src/core/graph.h:

src/core/err.h:

src/core/rules.h:

src/formats/tensor_file.h:

src/formats/config.h:

src/ops/ops.h:

src/tokenizer/tokenizer.h:

src/explain/explain.h:

src/render/render.h:
