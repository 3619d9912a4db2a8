build-avx2/src/kernels/cpu.o: src/kernels/cpu.c src/kernels/cpu.h
src/kernels/cpu.h:
