// Image inputs (src/inputs/image.c): .npy files written by NumPy and hostile ones built byte by byte;
// PNG and JPEG decoding against PIL's reading of the same files; preprocessing (PIL resize with every
// filter, up and down, rescale, normalisation, gray <-> RGB) against PIL + NumPy as a Hugging Face
// ViTImageProcessor computes it; corrupt and truncated files. tests/image_fixtures.py builds the files
// and the expected values in a temporary folder; this test adds the PNGs PIL cannot write (interlaced,
// 16-bit RGB) with libpng first.
#include <png.h>
#include <stdint.h>
#include <unistd.h>

#include "harness.h"
#include "inputs/image.h"

static char fixture_dir[256];

static void remove_fixtures(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fixture_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", fixture_dir);
}

static const char *fx(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", fixture_dir, name);
    return buf[k];
}

// A PNG written by libpng, for the layouts PIL cannot write. rows: [h][w * channels * (depth / 8)] big-endian.
static int write_png(const char *path, int w, int h, int depth, int color, int interlace, const unsigned char *pix) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, depth, color, interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    int ch = color == PNG_COLOR_TYPE_RGB ? 3 : color == PNG_COLOR_TYPE_RGBA ? 4 : color == PNG_COLOR_TYPE_GRAY ? 1 : 2;
    size_t stride = (size_t)w * ch * depth / 8;
    png_bytep rows[64];
    for (int y = 0; y < h; y++) rows[y] = (png_bytep)pix + y * stride;
    png_set_interlace_handling(png);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return fclose(f);
}

static int write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) || w != n ? -1 : 0;
}

static unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(len > 0 ? len : 1);
    *n = fread(b, 1, len, f);
    fclose(f);
    return b;
}

// Builds the fixtures once; NULL (and a failed check) when Python, NumPy or PIL is missing.
static const char *fixtures(void) {
    static int state;   // 0 not built, 1 ready, -1 failed
    if (state) return state > 0 ? fixture_dir : NULL;
    state = -1;
    snprintf(fixture_dir, sizeof fixture_dir, "/tmp/attnlrp-image-XXXXXX");
    if (!mkdtemp(fixture_dir)) return NULL;
    atexit(remove_fixtures);
    unsigned char rgb8[13 * 11 * 3], rgba16[13 * 11 * 8], gray8[13 * 11];
    for (int i = 0; i < 13 * 11 * 3; i++) rgb8[i] = (unsigned char)(i * 37 + 11);
    for (int i = 0; i < 13 * 11 * 8; i++) rgba16[i] = (unsigned char)(i * 91 + 5);
    for (int i = 0; i < 13 * 11; i++) gray8[i] = (unsigned char)(i * 13);
    if (write_png(fx("interlaced_rgb.png"), 13, 11, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, rgb8) ||
        write_png(fx("interlaced_gray.png"), 13, 11, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_ADAM7, gray8) ||
        write_png(fx("rgba16.png"), 13, 11, 16, PNG_COLOR_TYPE_RGBA, PNG_INTERLACE_NONE, rgba16) ||
        write_png(fx("rgb16_interlaced.png"), 13, 11, 16, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, rgba16))
        return NULL;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/image_fixtures.py '%s' > /dev/null", fixture_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "  tests/image_fixtures.py failed (needs python3-numpy and python3-pil)\n");
        return NULL;
    }
    state = 1;
    return fixture_dir;
}

static float *load_expected(const char *name, int shape[8], int *rank) {
    float *v = NULL;
    lrp_err err;
    if (lrp_npy_load(fx(name), &v, shape, rank, &err)) {
        fprintf(stderr, "  %s\n", err.msg);
        return NULL;
    }
    return v;
}

// ---- .npy ----

static void check_ramp(const float *v) {   // a = arange(60).reshape(3,4,5) * 0.25 - 3
    int bad = 0;
    for (int i = 0; i < 60; i++) bad += v[i] != (float)(i * 0.25 - 3);
    CHECK(bad == 0);
}

TEST(npy_written_by_numpy_reads_back_in_every_dtype_byte_order_and_version) {
    CHECK(fixtures());
    const char *files[] = {"f4.npy", "f8.npy", "be4.npy", "be8.npy", "v2.npy", "v3.npy"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        int shape[8], rank;
        float *v = load_expected(files[i], shape, &rank);
        CHECK(v && rank == 3 && shape[0] == 3 && shape[1] == 4 && shape[2] == 5);
        if (v) check_ramp(v);
        free(v);
    }
}

TEST(npy_model_input_is_taken_as_it_is_and_a_batch_of_one_is_accepted) {
    CHECK(fixtures());
    lrp_image_spec spec = {3, 4, 5};
    lrp_err err;
    const char *files[] = {"f4.npy", "batch.npy"};
    for (int i = 0; i < 2; i++) {
        lrp_image img;
        CHECK(lrp_image_load(fx(files[i]), &spec, NULL, &img, &err) == 0);
        CHECK(img.channels == 3 && img.height == 4 && img.width == 5);
        if (img.x) check_ramp(img.x);
        // Without a preprocessor the display copy is min-max scaled per channel: channel 0 runs -3 .. 1.75.
        CHECK(img.display.data && img.display.channels == 3 && img.display.data[0] == 0 &&
              img.display.data[19 * 3] == 255);
        lrp_image_free(&img);
    }
}

TEST(npy_display_copy_undoes_the_preprocessor_normalisation) {
    CHECK(fixtures());
    const char *half = "{\"image_mean\": 0.5, \"image_std\": 0.5}";
    CHECK(write_bytes(fx("pp_half.json"), half, strlen(half)) == 0);
    lrp_image_spec spec = {3, 4, 5};
    lrp_image img;
    lrp_err err;
    CHECK(lrp_image_load(fx("f4.npy"), &spec, fx("pp_half.json"), &img, &err) == 0);
    // x = (p/255 - 0.5)/0.5  =>  p = (x*0.5 + 0.5)*255, clipped: x = -3 -> 0, x = 0.5 (i = 14) -> 191.
    CHECK(img.display.data && img.display.data[0] == 0 && img.display.data[14 * 3] == 191);
    lrp_image_free(&img);
    // A missing preprocessor is fine for a .npy.
    CHECK(lrp_image_load(fx("f4.npy"), &spec, fx("no_such_preprocessor.json"), &img, &err) == 0);
    lrp_image_free(&img);
}

static void expect_npy_error(const char *file, const char *needle) {
    lrp_image_spec spec = {3, 4, 5};
    lrp_image img;
    lrp_err err = {{0}};
    int rc = lrp_image_load(fx(file), &spec, NULL, &img, &err);
    CHECK(rc == -1);
    CHECK(img.x == NULL && img.display.data == NULL);
    if (!strstr(err.msg, needle) || !strstr(err.msg, file)) {
        fprintf(stderr, "  %s: got \"%s\", expected it to contain \"%s\"\n", file, err.msg, needle);
        CHECK(0);
    }
}

TEST(npy_from_numpy_with_the_wrong_layout_is_refused) {
    CHECK(fixtures());
    expect_npy_error("fortran.npy", ".npy array is in Fortran order (save it C-contiguous)");
    expect_npy_error("int32.npy", ".npy dtype '<i4' is not supported (float32 '<f4' or float64 '<f8')");
    expect_npy_error("u8.npy", ".npy dtype '|u1' is not supported");
    expect_npy_error("rank2.npy", "shape (4, 5); the model reads [C, H, W] = (3, 4, 5)");
    expect_npy_error("batch2.npy", "shape (2, 3, 4, 5); the model reads [C, H, W] = (3, 4, 5)");
    expect_npy_error("nan.npy", "element 33 is not finite (NaN or infinity)");
    lrp_image_spec other = {3, 5, 4};
    lrp_image img;
    lrp_err err;
    CHECK(lrp_image_load(fx("f4.npy"), &other, NULL, &img, &err) == -1);
    CHECK(strstr(err.msg, "shape (3, 4, 5); the model reads [C, H, W] = (3, 5, 4)") != NULL);
}

// A v1 .npy with this header text (padded as NumPy pads) and `data_bytes` bytes of zeros after it.
static size_t make_npy(unsigned char *buf, const char *header, size_t data_bytes) {
    size_t h = strlen(header);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(h & 0xFF);
    buf[9] = (unsigned char)(h >> 8);
    memcpy(buf + 10, header, h);
    memset(buf + 10 + h, 0, data_bytes);
    return 10 + h + data_bytes;
}

static void expect_parse_error(const char *header, size_t data_bytes, const char *message) {
    static unsigned char buf[4096];
    size_t n = make_npy(buf, header, data_bytes);
    float *v = (float *)1;
    int shape[8], rank;
    lrp_err err = {{0}};
    CHECK(lrp_npy_parse("x.npy", buf, n, &v, shape, &rank, &err) == -1);
    CHECK(v == NULL);
    if (strcmp(err.msg, message) != 0) {
        fprintf(stderr, "  header %s: got \"%s\", expected \"%s\"\n", header, err.msg, message);
        CHECK(0);
    }
}

TEST(npy_hostile_headers_each_get_one_clear_error) {
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4, 5), }";
    unsigned char buf[4096];
    size_t n = make_npy(buf, ok, 240);
    float *v;
    int shape[8], rank;
    lrp_err err;
    CHECK(lrp_npy_parse("x.npy", buf, n, &v, shape, &rank, &err) == 0 && rank == 3);
    free(v);
    // Byte-level damage.
    CHECK(lrp_npy_parse("x.npy", buf, 5, &v, shape, &rank, &err) == -1);
    CHECK_STR(err.msg, "x.npy: not a NumPy .npy file (no \\x93NUMPY magic)");
    buf[1] = 'n';
    CHECK(lrp_npy_parse("x.npy", buf, n, &v, shape, &rank, &err) == -1);
    CHECK_STR(err.msg, "x.npy: not a NumPy .npy file (no \\x93NUMPY magic)");
    buf[1] = 'N';
    buf[6] = 4;
    CHECK(lrp_npy_parse("x.npy", buf, n, &v, shape, &rank, &err) == -1);
    CHECK_STR(err.msg, "x.npy: unsupported .npy format version 4.0 (1.0, 2.0 or 3.0)");
    buf[6] = 2;   // v2 reads a 4-byte length: 0x0000 .. with the dict's first bytes -> huge
    CHECK(lrp_npy_parse("x.npy", buf, n, &v, shape, &rank, &err) == -1);
    CHECK(strstr(err.msg, "x.npy: .npy header length") && strstr(err.msg, "runs past the end of the file"));
    CHECK(lrp_npy_parse("x.npy", buf, 11, &v, shape, &rank, &err) == -1);
    CHECK_STR(err.msg, "x.npy: .npy header is truncated");
    buf[6] = 1;
    buf[9] = 0xFF;   // v1 length 0xFF.. > file
    CHECK(lrp_npy_parse("x.npy", buf, n, &v, shape, &rank, &err) == -1);
    CHECK(strstr(err.msg, "runs past the end of the file") != NULL);
    CHECK(lrp_npy_parse("x.npy", buf, 40, &v, shape, &rank, &err) == -1);   // truncated inside the header
    CHECK(strstr(err.msg, "runs past the end of the file") != NULL);
    // The dict.
    expect_parse_error("['descr', '<f4']", 0, "x.npy: .npy header is not a Python dict");
    expect_parse_error("{descr: '<f4'}", 0, "x.npy: .npy header: bad dict key");
    expect_parse_error("{'descr' '<f4'}", 0, "x.npy: .npy header: no ':' after 'descr'");
    expect_parse_error("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4, 5)", 0,
                       "x.npy: .npy header: the dict is not closed");
    expect_parse_error("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4, 5)} x", 0,
                       "x.npy: .npy header: text after the dict");
    expect_parse_error("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}", 0,
                       "x.npy: .npy header: unexpected or repeated key 'extra'");
    expect_parse_error("{'descr': '<f4', 'descr': '<f4'}", 0, "x.npy: .npy header: unexpected or repeated key 'descr'");
    expect_parse_error("{'descr': '<f4', 'fortran_order': False}", 0, "x.npy: .npy header lacks 'shape'");
    expect_parse_error("{'descr': '<f4', 'shape': ()}", 0, "x.npy: .npy header lacks 'fortran_order'");
    expect_parse_error("{'descr': 4}", 0, "x.npy: .npy header: 'descr' is not a dtype string");
    expect_parse_error("{'fortran_order': 0}", 0, "x.npy: .npy header: 'fortran_order' is not True or False");
    expect_parse_error("{'shape': [3, 4]}", 0, "x.npy: .npy header: 'shape' is not a tuple of integers");
    expect_parse_error("{'shape': (3, -4)}", 0, "x.npy: .npy header: 'shape' is not a tuple of integers");
    expect_parse_error("{'shape': (3 4)}", 0, "x.npy: .npy header: 'shape' is not a tuple of integers");
    expect_parse_error("{'shape': (99999999999,)}", 0, "x.npy: .npy header: a 'shape' dimension is too large");
    expect_parse_error("{'shape': (1,1,1,1,1,1,1,1,1)}", 0, "x.npy: .npy header: 'shape' has more than 8 dimensions");
    // The array.
    expect_parse_error("{'descr': '<i4', 'fortran_order': False, 'shape': (3,)}", 12,
                       "x.npy: .npy dtype '<i4' is not supported (float32 '<f4' or float64 '<f8')");
    expect_parse_error("{'descr': '<f2', 'fortran_order': False, 'shape': (3,)}", 6,
                       "x.npy: .npy dtype '<f2' is not supported (float32 '<f4' or float64 '<f8')");
    expect_parse_error("{'descr': '<f4', 'fortran_order': True, 'shape': (3,)}", 12,
                       "x.npy: .npy array is in Fortran order (save it C-contiguous)");
    expect_parse_error("{'descr': '<f4', 'fortran_order': False, 'shape': (1073741824, 1073741824, 1073741824)}", 0,
                       "x.npy: .npy shape overflows the address space");
    expect_parse_error("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4, 5)}", 239,
                       "x.npy: .npy data is truncated (239 bytes, the shape needs 240)");
    expect_parse_error("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4, 5)}", 240,
                       "x.npy: .npy data is truncated (240 bytes, the shape needs 480)");
    expect_parse_error("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", 13,
                       "x.npy: .npy has 1 bytes after the array's data");
}

TEST(npy_missing_file_names_the_file) {
    lrp_image_spec spec = {3, 4, 5};
    lrp_image img;
    lrp_err err;
    CHECK(lrp_image_load("/nonexistent/x.npy", &spec, NULL, &img, &err) == -1);
    CHECK_STR(err.msg, "/nonexistent/x.npy: No such file or directory");
}

// ---- decoding ----

static void check_decoded(const char *image, const char *expected) {
    lrp_pixels p;
    lrp_err err;
    int shape[8], rank;
    float *want = load_expected(expected, shape, &rank);
    CHECK(want != NULL);
    if (lrp_image_decode(fx(image), &p, &err)) {
        fprintf(stderr, "  %s\n", err.msg);
        CHECK(0);
        free(want);
        return;
    }
    int ch = rank == 3 ? shape[2] : 1;
    if (!want || shape[0] != p.height || shape[1] != p.width || ch != p.channels) {
        fprintf(stderr, "  %s: decoded %dx%dx%d, PIL %dx%dx%d\n", image, p.height, p.width, p.channels, shape[0], shape[1], ch);
        CHECK(0);
    }
    if (want && shape[0] == p.height && shape[1] == p.width && ch == p.channels) {
        int bad = 0;
        for (size_t i = 0; i < (size_t)p.width * p.height * p.channels; i++) bad += p.data[i] != want[i];
        if (bad) fprintf(stderr, "  %s: %d samples differ from PIL\n", image, bad);
        CHECK(bad == 0);
    }
    free(want);
    lrp_pixels_free(&p);
}

TEST(png_decodes_as_pil_reads_it_in_every_layout) {
    CHECK(fixtures());
    check_decoded("rgb.png", "rgb.png.decoded.npy");
    check_decoded("gray.png", "gray.png.decoded.npy");
    check_decoded("rgba.png", "rgba.png.decoded.npy");             // alpha dropped
    check_decoded("la.png", "la.png.decoded.npy");
    check_decoded("palette.png", "palette.png.decoded.npy");       // palette expanded
    check_decoded("palette_trns.png", "palette_trns.png.decoded.npy");
    check_decoded("bits.png", "bits.png.decoded.npy");             // 1-bit gray -> 0 / 255
    check_decoded("gray16.png", "gray16.expected.npy");            // 16-bit: the high byte
    check_decoded("rgba16.png", "rgba16.png.decoded.npy");
    check_decoded("rgb16_interlaced.png", "rgb16_interlaced.png.decoded.npy");
    check_decoded("interlaced_rgb.png", "interlaced_rgb.png.decoded.npy");
    check_decoded("interlaced_gray.png", "interlaced_gray.png.decoded.npy");
}

TEST(jpeg_decodes_as_pil_reads_it) {
    CHECK(fixtures());
    check_decoded("rgb.jpg", "rgb.jpg.decoded.npy");
    check_decoded("gray.jpg", "gray.jpg.decoded.npy");
    check_decoded("progressive.jpg", "progressive.jpg.decoded.npy");
}

static void expect_decode_error(const char *name, const unsigned char *data, size_t n, const char *prefix) {
    lrp_pixels p;
    lrp_err err = {{0}};
    CHECK(lrp_image_decode_memory(name, data, n, &p, &err) == -1);
    CHECK(p.data == NULL);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0 || strchr(err.msg, '\n')) {
        fprintf(stderr, "  %s: got \"%s\", expected \"%s...\"\n", name, err.msg, prefix);
        CHECK(0);
    }
}

TEST(corrupt_and_truncated_images_are_one_line_errors_naming_the_file) {
    CHECK(fixtures());
    size_t n_png, n_jpg, n_prog;
    unsigned char *png = read_bytes(fx("rgb.png"), &n_png), *jpg = read_bytes(fx("rgb.jpg"), &n_jpg),
                  *prog = read_bytes(fx("progressive.jpg"), &n_prog);
    CHECK(png && jpg && prog);
    if (!png || !jpg || !prog) return;
    for (size_t cut = 9; cut < n_png; cut += n_png / 7)
        expect_decode_error("cut.png", png, cut, "cut.png: corrupt or unsupported PNG: ");
    expect_decode_error("cut.png", png, n_png - 12, "cut.png: corrupt or unsupported PNG: ");   // no IEND
    unsigned char *bad = malloc(n_png);
    memcpy(bad, png, n_png);
    bad[n_png / 2] ^= 0x55;   // inside IDAT: CRC error
    expect_decode_error("flipped.png", bad, n_png, "flipped.png: corrupt or unsupported PNG: ");
    memcpy(bad, png, n_png);
    bad[16] = 0x7F;           // width 2^31-ish: IHDR error
    expect_decode_error("ihdr.png", bad, n_png, "ihdr.png: corrupt or unsupported PNG: ");
    free(bad);
    for (size_t cut = 3; cut < n_jpg; cut += n_jpg / 7)
        expect_decode_error("cut.jpg", jpg, cut, "cut.jpg: corrupt or unsupported JPEG: ");
    expect_decode_error("cut.jpg", prog, n_prog / 2, "cut.jpg: corrupt or unsupported JPEG: ");
    expect_decode_error("junk.bin", (const unsigned char *)"GIF89a....", 10, "junk.bin: not a PNG or JPEG file");
    expect_decode_error("empty.png", (const unsigned char *)"", 0, "empty.png: not a PNG or JPEG file");
    free(png);
    free(jpg);
    free(prog);
    // Through the loader, a corrupt file is still named.
    CHECK(write_bytes(fx("trunc.png"), "\x89PNG\r\n\x1a\n\0\0", 10) == 0);
    CHECK(write_bytes(fx("plain.json"), "{}", 2) == 0);
    lrp_image_spec spec = {3, 29, 37};
    lrp_image img;
    lrp_err err;
    CHECK(lrp_image_load(fx("trunc.png"), &spec, fx("plain.json"), &img, &err) == -1);
    CHECK(strstr(err.msg, "trunc.png: corrupt or unsupported PNG: ") != NULL);
}

// ---- preprocessing ----

typedef struct pcase {
    char name[128], image[64], pp[128];
    int C, H, W;
} pcase;

// Runs every case in cases.txt whose name starts with prefix; returns how many ran.
static int run_cases(const char *prefix) {
    if (!fixtures()) return 0;
    FILE *f = fopen(fx("cases.txt"), "r");
    if (!f) return 0;
    pcase c;
    int ran = 0;
    while (fscanf(f, "%127s %63s %127s %d %d %d", c.name, c.image, c.pp, &c.C, &c.H, &c.W) == 6) {
        if (strncmp(c.name, prefix, strlen(prefix)) != 0) continue;
        ran++;
        char xname[160], dname[160];
        snprintf(xname, sizeof xname, "%s.x.npy", c.name);
        snprintf(dname, sizeof dname, "%s.display.npy", c.name);
        int xs[8], xr, ds[8], dr;
        float *x = load_expected(xname, xs, &xr), *disp = load_expected(dname, ds, &dr);
        lrp_image_spec spec = {c.C, c.H, c.W};
        lrp_image img;
        lrp_err err;
        if (!x || !disp || lrp_image_load(fx(c.image), &spec, fx(c.pp), &img, &err)) {
            fprintf(stderr, "  %s: %s\n", c.name, (!x || !disp) ? "no expected values" : err.msg);
            CHECK(0);
            free(x);
            free(disp);
            continue;
        }
        size_t n = (size_t)c.C * c.H * c.W;
        int bad_display = 0;
        double max_dx = 0;
        for (size_t i = 0; i < n; i++) {
            bad_display += img.display.data[i] != disp[i];
            double d = fabs((double)img.x[i] - x[i]);
            max_dx = d > max_dx ? d : max_dx;
        }
        if (bad_display || max_dx > 1e-5)
            fprintf(stderr, "  %s: %d display samples differ from PIL, max |dx| %.3g\n", c.name, bad_display, max_dx);
        CHECK(img.display.channels == c.C && img.display.width == c.W && img.display.height == c.H);
        CHECK(bad_display == 0);
        CHECK(max_dx <= 1e-5);
        lrp_image_free(&img);
        free(x);
        free(disp);
    }
    fclose(f);
    return ran;
}

TEST(resize_nearest_matches_pil_up_and_down) { CHECK(run_cases("resize_nearest_") == 14); }
TEST(resize_bilinear_matches_pil_up_and_down) { CHECK(run_cases("resize_bilinear_") == 14); }
TEST(resize_bicubic_matches_pil_up_and_down) { CHECK(run_cases("resize_bicubic_") == 14); }
TEST(resize_lanczos_box_and_hamming_match_pil) {
    CHECK(run_cases("resize_lanczos_") == 14);
    CHECK(run_cases("resize_box_") == 14);
    CHECK(run_cases("resize_hamming_") == 14);
}
TEST(resize_defaults_int_size_and_same_size) {
    CHECK(run_cases("resize_default_bilinear") == 1);
    CHECK(run_cases("resize_int_size") == 1);
    CHECK(run_cases("resize_same_size_is_a_copy") == 1);
}
TEST(rescale_and_normalisation_match_the_hugging_face_processor) {
    CHECK(run_cases("norm_") == 2);
    CHECK(run_cases("rescale_") == 2);
}
TEST(gray_and_rgb_convert_as_pil_does) {
    CHECK(run_cases("gray_image_rgb_model") == 1);
    CHECK(run_cases("rgb_image_gray_model") == 1);
    CHECK(run_cases("rgba_image_") == 2);
    CHECK(run_cases("palette_image_gray_model") == 1);
}
TEST(jpeg_inputs_are_preprocessed_like_png) {
    CHECK(run_cases("jpeg_image") == 1);
    CHECK(run_cases("gray_jpeg_rgb_model") == 1);
}

TEST(convert_rgb_to_gray_is_pil_luma) {
    unsigned char rgb[] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 200, 33, 255, 255, 255};
    lrp_pixels in = {rgb, 5, 1, 3}, out;
    CHECK(lrp_pixels_convert(&in, 1, &out) == 0);
    // (19595 R + 38470 G + 7471 B + 32768) >> 16
    CHECK(out.data[0] == 76 && out.data[1] == 150 && out.data[2] == 29 && out.data[3] == 124 && out.data[4] == 255);
    lrp_pixels_free(&out);
}

static void expect_load_error(const char *image, const char *pp_json, lrp_image_spec spec, const char *needle) {
    char ppname[64] = "";
    if (pp_json) {
        snprintf(ppname, sizeof ppname, "pp_%08x.json", (unsigned)(strlen(pp_json) * 2654435761u) ^ (unsigned)rand());
        CHECK(write_bytes(fx(ppname), pp_json, strlen(pp_json)) == 0);
    }
    lrp_image img;
    lrp_err err = {{0}};
    CHECK(lrp_image_load(fx(image), &spec, pp_json ? fx(ppname) : NULL, &img, &err) == -1);
    CHECK(img.x == NULL && img.display.data == NULL);
    if (!strstr(err.msg, needle)) {
        fprintf(stderr, "  %s with %s: got \"%s\", expected \"%s\"\n", image, pp_json ? pp_json : "(none)", err.msg,
                needle);
        CHECK(0);
    }
}

TEST(preprocessing_errors_name_the_file_and_field) {
    CHECK(fixtures());
    lrp_image_spec s = {3, 16, 16};
    expect_load_error("rgb.png", NULL, s, "rgb.png: no preprocessor_config.json to say how the model preprocesses images");
    expect_load_error("rgb.png", "{\"do_resize\": false}", s,
                      "rgb.png: the image is 29x37 (height x width), the model reads 16x16, and");
    expect_load_error("rgb.png", "{\"size\": {\"shortest_edge\": 224}}", s,
                      ".json: \"size\" {\"shortest_edge\"}: only {\"height\", \"width\"} is supported");
    expect_load_error("rgb.png", "{\"size\": {\"height\": 32, \"width\": 32}}", s,
                      ".json: \"size\" 32x32 (height x width) differs from the model's image size 16x16");
    expect_load_error("rgb.png", "{\"size\": \"big\"}", s, "\"size\" is not an integer or {\"height\", \"width\"}");
    expect_load_error("rgb.png", "{\"resample\": 7}", s, "\"resample\" is not a PIL filter id");
    expect_load_error("rgb.png", "{\"do_resize\": 1}", s, "\"do_resize\" is not true or false");
    expect_load_error("rgb.png", "{\"do_center_crop\": true}", s, "\"do_center_crop\": center cropping is not supported");
    expect_load_error("rgb.png", "{\"rescale_factor\": 0}", s, "\"rescale_factor\" is not a positive number");
    expect_load_error("rgb.png", "{\"image_std\": [0.5, 0, 0.5]}", s, "\"image_std\" has a value that is not positive");
    expect_load_error("rgb.png", "{\"image_mean\": [0.5, \"a\", 0.5]}", s, "\"image_mean\"[1] is not a number");
    expect_load_error("rgb.png", "{\"image_mean\": [0.5, 0.5]}", s,
                      "\"image_mean\"/\"image_std\" have 2/1 values; the model has 3 channels");
    expect_load_error("rgb.png", "{\"size\": 16", s, ".json: invalid JSON at line");
    lrp_image_spec four = {4, 16, 16};
    expect_load_error("rgb.png", "{}", four, "rgb.png: the model reads 4 channels; images give 1 (gray) or 3 (RGB)");
}

TEST(resize_rejects_unknown_filters) {
    unsigned char px[3] = {1, 2, 3};
    lrp_pixels in = {px, 1, 1, 3}, out;
    lrp_err err;
    CHECK(lrp_pixels_resize(&in, 2, 2, 6, &out, &err) == -1);
    CHECK(strstr(err.msg, "resample 6: not a PIL filter") == err.msg);
    CHECK(out.data == NULL);
}

// Damage of every kind must end in success or one error line, never a crash (run under ASan by `make check SAN=1`).
TEST(damaged_npy_png_and_jpeg_never_crash) {
    CHECK(fixtures());
    unsigned long long seed = 0x9E3779B97F4A7C15ull;
    unsigned char npy[512];
    size_t n_npy = make_npy(npy, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4, 5), }", 240);
    unsigned char *work = malloc(1 << 16);
    int bad_contract = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(work, npy, n_npy);
        for (int k = 0; k < 1 + it % 4; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (seed >> 33) % 80;   // the prefix and the header text
            work[at] = (unsigned char)(seed >> 17);
        }
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t len = it % 3 ? n_npy : (seed >> 33) % (n_npy + 1);
        float *v = (float *)1;
        int shape[8], rank;
        lrp_err err = {{0}};
        int rc = lrp_npy_parse("m.npy", work, len, &v, shape, &rank, &err);
        if (rc == 0) {
            free(v);
        } else if (v != NULL || strncmp(err.msg, "m.npy: ", 7) != 0) {
            bad_contract++;
        }
    }
    const char *files[] = {"rgb.png", "interlaced_rgb.png", "palette.png", "rgb.jpg", "progressive.jpg", "gray.jpg"};
    for (size_t fi = 0; fi < sizeof files / sizeof *files; fi++) {
        size_t n;
        unsigned char *orig = read_bytes(fx(files[fi]), &n);
        if (!orig || n > (1 << 16)) {
            CHECK(0);
            free(orig);
            continue;
        }
        for (size_t cut = 0; cut < n; cut += 1 + n / 300) {   // truncated anywhere
            lrp_pixels p;
            lrp_err err = {{0}};
            if (lrp_image_decode_memory("d", orig, cut, &p, &err) == 0) lrp_pixels_free(&p);
            else bad_contract += p.data != NULL || strncmp(err.msg, "d: ", 3) != 0 || strchr(err.msg, '\n') != NULL;
        }
        for (int it = 0; it < 300; it++) {                   // bytes overwritten
            memcpy(work, orig, n);
            for (int k = 0; k < 1 + it % 3; k++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                work[8 + (seed >> 33) % (n - 8)] = (unsigned char)(seed >> 11);
            }
            lrp_pixels p;
            lrp_err err = {{0}};
            if (lrp_image_decode_memory("d", work, n, &p, &err) == 0) lrp_pixels_free(&p);
            else bad_contract += p.data != NULL || strncmp(err.msg, "d: ", 3) != 0 || strchr(err.msg, '\n') != NULL;
        }
        free(orig);
    }
    free(work);
    CHECK(bad_contract == 0);
}

// A 147-byte progressive JPEG claiming 65287 x 65496 pixels (found by fuzz/fuzz_image.c, which took
// seconds and gigabytes in jpeg_start_decompress): refused from its header, naming the size.
TEST(a_jpeg_header_claiming_a_huge_image_is_refused_before_decoding) {
    size_t n;
    unsigned char *b = read_bytes("tests/fixtures/fuzz/fuzz_image/jpeg_progressive_65496x65287", &n);
    CHECK(b && n == 147);
    if (!b) return;
    lrp_pixels p;
    lrp_err err = {{0}};
    CHECK(lrp_image_decode_memory("huge.jpg", b + 4, n - 4, &p, &err) == -1);  // the harness's 4 option bytes
    CHECK_STR(err.msg, "huge.jpg: corrupt or unsupported JPEG: 65287 x 65496 pixels is too large (at most 67108864 pixels)");
    CHECK(p.data == NULL);
    free(b);
}

TEST_MAIN(T(npy_written_by_numpy_reads_back_in_every_dtype_byte_order_and_version),
          T(npy_model_input_is_taken_as_it_is_and_a_batch_of_one_is_accepted),
          T(npy_display_copy_undoes_the_preprocessor_normalisation), T(npy_from_numpy_with_the_wrong_layout_is_refused),
          T(npy_hostile_headers_each_get_one_clear_error), T(npy_missing_file_names_the_file),
          T(png_decodes_as_pil_reads_it_in_every_layout), T(jpeg_decodes_as_pil_reads_it),
          T(corrupt_and_truncated_images_are_one_line_errors_naming_the_file), T(resize_nearest_matches_pil_up_and_down),
          T(resize_bilinear_matches_pil_up_and_down), T(resize_bicubic_matches_pil_up_and_down),
          T(resize_lanczos_box_and_hamming_match_pil), T(resize_defaults_int_size_and_same_size),
          T(rescale_and_normalisation_match_the_hugging_face_processor), T(gray_and_rgb_convert_as_pil_does),
          T(jpeg_inputs_are_preprocessed_like_png), T(convert_rgb_to_gray_is_pil_luma),
          T(preprocessing_errors_name_the_file_and_field), T(resize_rejects_unknown_filters), T(damaged_npy_png_and_jpeg_never_crash),
          T(a_jpeg_header_claiming_a_huge_image_is_refused_before_decoding))
