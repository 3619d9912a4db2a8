// Image -> model input: the pixel tensor `[C, H, W]` (float32) a vision model reads, from
//   - a NumPy `.npy` file holding `[C, H, W]` (or `[1, C, H, W]`) float32/float64, taken as it is (already
//     normalised), or
//   - a PNG or JPEG file (decoded by libpng / libjpeg), converted, resized, rescaled and normalised as the
//     model's preprocessor_config.json says (Hugging Face ViTImageProcessor: do_resize + size, resample,
//     do_rescale + rescale_factor, do_normalize + image_mean / image_std).
// Conventions are PIL's, because that is what the Hugging Face processors run: a grayscale image for a
// 3-channel model is replicated (convert("RGB")), an RGB image for a 1-channel model becomes ITU-R 601-2
// luma (convert("L")), alpha is dropped (not composited), palettes are expanded, 16-bit samples keep their
// high byte, and resizing is PIL's Image.resize (separable, antialiased when downscaling, 8-bit
// fixed-point between the two passes).
// Every error is one line naming the file (and the field) at fault.
#ifndef LRP_INPUTS_IMAGE_H
#define LRP_INPUTS_IMAGE_H

#include <stddef.h>

#include "core/err.h"

// What the model reads: channels, height, width (a ViT's num_channels and image_size).
typedef struct lrp_image_spec {
    int channels, height, width;
} lrp_image_spec;

// 8-bit interleaved pixels `[height][width][channels]`, channels 1 (gray) or 3 (RGB).
typedef struct lrp_pixels {
    unsigned char *data;
    int width, height, channels;
} lrp_pixels;

typedef struct lrp_image {
    float *x;               // [C * H * W] the model input, channel-major (C, H, W as in the spec)
    int channels, height, width;
    // A copy for people (heatmap overlays), at the model size, channels = the model's (1 or 3; a model
    // with other channel counts gets a gray copy): for an image file the converted, resized 8-bit image
    // before rescaling; for a .npy the input mapped back through the preprocessor's normalisation and
    // rescaling when one is given, else each channel min-max scaled to 0..255.
    lrp_pixels display;
} lrp_image;

// Preprocessing as read from preprocessor_config.json (the defaults are ViTImageProcessor's).
typedef struct lrp_preprocess {
    int do_resize;          // default 1
    int height, width;      // size {"height","width"} or an int (square); 0: the model's size
    int resample;           // PIL filter id: 0 nearest, 1 lanczos, 2 bilinear (default), 3 bicubic, 4 box, 5 hamming
    int do_rescale;         // default 1
    double rescale_factor;  // default 1/255
    int do_normalize;       // default 1
    int n_mean, n_std;      // 1 (one value for every channel) or the number of channels
    double mean[4], std[4]; // default 0.5 each
} lrp_preprocess;

// The ViTImageProcessor defaults.
void lrp_preprocess_default(lrp_preprocess *p);

// Reads a preprocessor_config.json. Unsupported settings (size as shortest_edge/longest_edge,
// do_center_crop true, a non-positive std, more than 4 mean/std values) are errors naming the file and field.
int lrp_preprocess_load(const char *path, lrp_preprocess *p, lrp_err *err);

// Loads `path` as the model input for `model`. A file ending in ".npy" (any case) is read as NumPy; every
// other file is decoded by its content (PNG or JPEG signature) and needs preprocessor_json (the path of the
// model's preprocessor_config.json; NULL is then an error). A .npy ignores preprocessor_json except for
// its display copy. On failure *out is left empty (lrp_image_free is harmless either way).
int lrp_image_load(const char *path, const lrp_image_spec *model, const char *preprocessor_json, lrp_image *out,
                   lrp_err *err);
void lrp_image_free(lrp_image *img);

// The steps on their own (lrp_image_load composes them).

// Decodes a PNG or JPEG file into 8-bit gray (1 channel) or RGB (3 channels) at its own size: palettes
// expanded, alpha dropped, 16-bit samples reduced to their high byte, interlacing undone.
int lrp_image_decode(const char *path, lrp_pixels *out, lrp_err *err);
// The same from bytes in memory; `name` only labels the error messages.
int lrp_image_decode_memory(const char *name, const unsigned char *data, size_t n, lrp_pixels *out, lrp_err *err);
void lrp_pixels_free(lrp_pixels *p);

// PIL's convert("RGB") (gray replicated) or convert("L") (L = (19595 R + 38470 G + 7471 B + 2^15) >> 16)
// to `channels` (1 or 3). Returns 0, or -1 when out of memory.
int lrp_pixels_convert(const lrp_pixels *in, int channels, lrp_pixels *out);

// PIL's Image.resize(size, filter) of 8-bit pixels (filter a PIL id, see lrp_preprocess.resample).
// Returns 0, or -1 (unknown filter, bad size, out of memory).
int lrp_pixels_resize(const lrp_pixels *in, int width, int height, int filter, lrp_pixels *out, lrp_err *err);

// Reads a NumPy .npy file of float32 or float64 (either byte order) into malloc'ed float32 values.
// shape receives up to 8 dimensions; *rank their number. Non-finite values are errors.
int lrp_npy_load(const char *path, float **data, int shape[8], int *rank, lrp_err *err);
// The same from bytes in memory; `name` only labels the error messages.
int lrp_npy_parse(const char *name, const unsigned char *buf, size_t n, float **data, int shape[8], int *rank,
                  lrp_err *err);

#endif
