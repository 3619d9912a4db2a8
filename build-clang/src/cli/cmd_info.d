build-clang/src/cli/cmd_info.o: src/cli/cmd_info.c src/cli/args.h \
  src/cli/commands.h src/formats/gguf.h src/core/err.h \
  src/formats/config.h src/formats/tensor_file.h src/models/model.h \
  src/core/graph.h src/core/rules.h src/ops/ops.h

src/cli/args.h:

src/cli/commands.h:

src/formats/gguf.h:

src/core/err.h:

src/formats/config.h:

src/formats/tensor_file.h:

src/models/model.h:

src/core/graph.h:

src/core/rules.h:

src/ops/ops.h:
