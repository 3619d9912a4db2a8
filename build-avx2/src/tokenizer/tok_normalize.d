build-avx2/src/tokenizer/tok_normalize.o: src/tokenizer/tok_normalize.c \
 src/tokenizer/tok_internal.h src/core/err.h src/tokenizer/tok_json.h \
 src/tokenizer/tokenizer.h
src/tokenizer/tok_internal.h:
src/core/err.h:
src/tokenizer/tok_json.h:
src/tokenizer/tokenizer.h:
