build-avx2/src/core/rules.o: src/core/rules.c src/core/rules.h
src/core/rules.h:
