build-avx2/src/render/svg.o: src/render/svg.c src/render/plot.h
src/render/plot.h:
