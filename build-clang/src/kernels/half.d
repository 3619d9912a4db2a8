build-clang/src/kernels/half.o: src/kernels/half.c src/kernels/half.h

src/kernels/half.h:
