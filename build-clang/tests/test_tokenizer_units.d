build-clang/tests/test_tokenizer_units.o: tests/test_tokenizer_units.c \
  tests/harness.h src/tokenizer/tokenizer.h src/core/err.h

tests/harness.h:

src/tokenizer/tokenizer.h:

src/core/err.h:
