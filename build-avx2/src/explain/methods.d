build-avx2/src/explain/methods.o: src/explain/methods.c \
 src/explain/methods.h src/core/err.h src/core/rules.h
src/explain/methods.h:
src/core/err.h:
src/core/rules.h:
