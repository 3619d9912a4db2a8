build-avx2/src/evaluate/data.o: src/evaluate/data.c src/evaluate/data.h \
 src/core/err.h
src/evaluate/data.h:
src/core/err.h:
