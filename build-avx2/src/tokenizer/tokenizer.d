build-avx2/src/tokenizer/tokenizer.o: src/tokenizer/tokenizer.c \
 src/tokenizer/tokenizer.h src/core/err.h src/tokenizer/tok_internal.h \
 src/tokenizer/tok_json.h
src/tokenizer/tokenizer.h:
src/core/err.h:
src/tokenizer/tok_internal.h:
src/tokenizer/tok_json.h:
