build-clang/src/kernels/matmul.o: src/kernels/matmul.c \
  src/kernels/matmul.h src/formats/tensor_file.h src/core/err.h \
  /usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h \
  /usr/include/x86_64-linux-gnu/openblas-pthread/openblas_config.h

src/kernels/matmul.h:

src/formats/tensor_file.h:

src/core/err.h:

/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h:

/usr/include/x86_64-linux-gnu/openblas-pthread/openblas_config.h:
