build-clang/tests/test_tokenizer.o: tests/test_tokenizer.c \
  tests/harness.h src/tokenizer/tok_internal.h src/core/err.h \
  src/tokenizer/tok_json.h src/tokenizer/tokenizer.h

tests/harness.h:

src/tokenizer/tok_internal.h:

src/core/err.h:

src/tokenizer/tok_json.h:

src/tokenizer/tokenizer.h:
