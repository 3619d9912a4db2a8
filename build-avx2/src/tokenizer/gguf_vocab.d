build-avx2/src/tokenizer/gguf_vocab.o: src/tokenizer/gguf_vocab.c \
 src/formats/gguf.h src/core/err.h src/formats/tensor_file.h \
 src/core/tensor.h src/tokenizer/tok_internal.h src/tokenizer/tok_json.h \
 src/tokenizer/tokenizer.h
src/formats/gguf.h:
src/core/err.h:
src/formats/tensor_file.h:
src/core/tensor.h:
src/tokenizer/tok_internal.h:
src/tokenizer/tok_json.h:
src/tokenizer/tokenizer.h:
