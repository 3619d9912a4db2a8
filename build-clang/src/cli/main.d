build-clang/src/cli/main.o: src/cli/main.c src/cli/args.h \
  src/cli/commands.h

src/cli/args.h:

src/cli/commands.h:
