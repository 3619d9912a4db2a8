build-avx2/bench/profile_explain.o: bench/profile_explain.c \
 /usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h \
 /usr/include/x86_64-linux-gnu/openblas-pthread/openblas_config.h \
 src/kernels/cpu.h src/models/model.h src/core/graph.h src/core/err.h \
 src/core/rules.h src/core/tensor.h src/formats/tensor_file.h \
 src/models/config.h src/ops/ops.h
/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h:
/usr/include/x86_64-linux-gnu/openblas-pthread/openblas_config.h:
src/kernels/cpu.h:
src/models/model.h:
src/core/graph.h:
src/core/err.h:
src/core/rules.h:
src/core/tensor.h:
src/formats/tensor_file.h:
src/models/config.h:
src/ops/ops.h:
