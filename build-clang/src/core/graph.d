build-clang/src/core/graph.o: src/core/graph.c src/core/graph.h \
  src/core/err.h src/core/rules.h src/formats/tensor_file.h

src/core/graph.h:

src/core/err.h:

src/core/rules.h:

src/formats/tensor_file.h:
