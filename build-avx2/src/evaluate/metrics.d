build-avx2/src/evaluate/metrics.o: src/evaluate/metrics.c \
 src/evaluate/metrics.h src/core/err.h
src/evaluate/metrics.h:
src/core/err.h:
