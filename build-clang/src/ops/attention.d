build-clang/src/ops/attention.o: src/ops/attention.c \
  /usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h \
  /usr/include/x86_64-linux-gnu/openblas-pthread/openblas_config.h \
  src/ops/ops.h src/core/graph.h src/core/err.h src/core/rules.h \
  src/formats/tensor_file.h src/formats/config.h

/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h:

/usr/include/x86_64-linux-gnu/openblas-pthread/openblas_config.h:

src/ops/ops.h:

src/core/graph.h:

src/core/err.h:

src/core/rules.h:

src/formats/tensor_file.h:

src/formats/config.h:
