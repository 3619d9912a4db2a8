build-clang/src/explain/eval.o: src/explain/eval.c src/explain/eval.h \
  src/core/err.h

src/explain/eval.h:

src/core/err.h:
