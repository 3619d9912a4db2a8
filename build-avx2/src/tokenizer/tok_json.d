build-avx2/src/tokenizer/tok_json.o: src/tokenizer/tok_json.c \
 src/tokenizer/tok_json.h src/core/err.h
src/tokenizer/tok_json.h:
src/core/err.h:
