build-avx2/src/kernels/half.o: src/kernels/half.c src/kernels/half.h \
 src/kernels/cpu.h
src/kernels/half.h:
src/kernels/cpu.h:
