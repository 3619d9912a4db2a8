build-avx2/src/core/tensor.o: src/core/tensor.c src/core/tensor.h
src/core/tensor.h:
