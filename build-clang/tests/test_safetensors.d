build-clang/tests/test_safetensors.o: tests/test_safetensors.c \
  src/formats/safetensors.h src/formats/tensor_file.h src/core/err.h \
  tests/harness.h tests/support/tiny_ckpt.h src/formats/config.h

src/formats/safetensors.h:

src/formats/tensor_file.h:

src/core/err.h:

tests/harness.h:

tests/support/tiny_ckpt.h:

src/formats/config.h:
