// Heatmap PNGs (src/render/png.c): the colour map (white zero, red positive, blue negative, one symmetric
// scale), patch maps drawn as blocks, the image beside the map or under it (overlay), the colour bar and
// its labels, automatic magnification, PNG files read back with libpng and with PIL, base64, errors.
#include <dirent.h>
#include <unistd.h>

#include "harness.h"
#include "inputs/image.h"
#include "render/png.h"

static const unsigned char *px(const lrp_pixels *c, int x, int y) { return c->data + ((size_t)y * c->width + x) * 3; }

static int same(const unsigned char *a, const unsigned char *b) { return a[0] == b[0] && a[1] == b[1] && a[2] == b[2]; }

static const unsigned char *color(double t) {
    static unsigned char rgb[8][3];
    static int k;
    k = (k + 1) % 8;
    lrp_diverging_color(t, rgb[k]);
    return rgb[k];
}

TEST(colour_map_is_white_at_zero_red_above_and_blue_below) {
    const unsigned char white[3] = {255, 255, 255}, red[3] = {103, 0, 31}, blue[3] = {5, 48, 97};
    CHECK(same(color(0), white));
    CHECK(same(color(1), red) && same(color(7), red));
    CHECK(same(color(-1), blue) && same(color(-7), blue));
    for (int i = 1; i <= 20; i++) {
        const unsigned char *p = color(i / 20.0), *n = color(-i / 20.0);
        CHECK(p[0] > p[1] && p[0] > p[2]);   // red dominates
        CHECK(n[2] > n[0] && n[2] >= n[1]);  // blue dominates
        // Darker (less light) the larger |t|: the channel sum falls monotonically.
        const unsigned char *p0 = color((i - 1) / 20.0), *n0 = color(-(i - 1) / 20.0);
        CHECK(p[0] + p[1] + p[2] < p0[0] + p0[1] + p0[2]);
        CHECK(n[0] + n[1] + n[2] < n0[0] + n0[1] + n0[2]);
    }
}

TEST(pixel_map_colours_each_value_on_a_symmetric_scale) {
    // max |R| = 2: +2 -> t = 1, -2 -> -1, 1 -> 0.5, -1 -> -0.5, -0.25 -> -0.125; NaN grey and out of the scale.
    float r[16] = {2, -2, 0, 0, 0, 1, 0, 0, -1, 0, -0.25f, 0, 0, 0, 0, NAN};
    lrp_heatmap h = {r, 4, 4, NULL, 0, 2};
    lrp_pixels c;
    lrp_heatmap_layout L;
    lrp_err err;
    CHECK(lrp_heatmap_render(&h, &c, &L, &err) == 0);
    CHECK(L.scale == 2 && L.max_abs == 2 && L.image_x == -1 && L.panel_w == 8 && L.panel_h == 8);
    CHECK(L.map_x == 8 && L.panel_y == 8 && L.height == 8 + 64 + 8 && c.width == L.width && c.height == L.height);
    const unsigned char grey[3] = {128, 128, 128};
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) {
            float v = r[(y / 2) * 4 + x / 2];
            const unsigned char *want = isnan(v) ? grey : color(v / 2.0);
            CHECK(same(px(&c, L.map_x + x, L.panel_y + y), want));
        }
    CHECK(same(px(&c, L.map_x, L.panel_y), color(1)));
    CHECK(same(px(&c, L.map_x + 2, L.panel_y), color(-1)));
    CHECK(same(px(&c, L.map_x + 4, L.panel_y + 4), color(-0.125)));   // not stretched to -1: symmetric
    lrp_pixels_free(&c);
}

TEST(colour_bar_runs_from_plus_max_to_minus_max_with_labels) {
    float r[4] = {0.5f, -0.125f, 0, 0.25f};
    lrp_heatmap h = {r, 2, 2, NULL, 0, 0};
    lrp_pixels c;
    lrp_heatmap_layout L;
    lrp_err err;
    CHECK(lrp_heatmap_render(&h, &c, &L, &err) == 0);
    CHECK(L.scale == 112);   // 224 / 2
    CHECK(L.bar_h == L.panel_h && L.bar_h == 224);
    const unsigned char *top = px(&c, L.bar_x + 3, L.bar_y), *bottom = px(&c, L.bar_x + 3, L.bar_y + L.bar_h - 1);
    CHECK(same(top, color(1.0 - 2.0 * 0.5 / 224)) && top[0] > 100 && top[1] < 10);
    CHECK(same(bottom, color(1.0 - 2.0 * 223.5 / 224)) && bottom[2] > 90 && bottom[0] < 10);
    const unsigned char *mid = px(&c, L.bar_x + 3, L.bar_y + L.bar_h / 2);
    CHECK(mid[0] >= 250 && mid[1] >= 250 && mid[2] >= 250);
    // Ink in the three label rows (top: "+0.5", middle: "0", bottom: "-0.5"), none between them.
    int ink[3] = {0, 0, 0}, between = 0;
    for (int y = L.bar_y; y < L.bar_y + L.bar_h; y++)
        for (int x = L.label_x; x < c.width; x++) {
            const unsigned char *p = px(&c, x, y);
            if (p[0] != 32) continue;
            if (y < L.bar_y + 14) ink[0]++;
            else if (y >= L.bar_y + L.bar_h / 2 - 7 && y < L.bar_y + L.bar_h / 2 + 7) ink[1]++;
            else if (y >= L.bar_y + L.bar_h - 14) ink[2]++;
            else between++;
        }
    CHECK(ink[0] > 0 && ink[1] > 0 && ink[2] > 0 && between == 0);
    // "+0.5" is 4 glyphs of 6 font pixels at font scale 2, less the last column's gap.
    CHECK(c.width == L.label_x + 4 * 12 - 2 + 8);
    lrp_pixels_free(&c);
}

TEST(all_zero_relevance_is_white_with_a_zero_scale) {
    float r[9] = {0};
    lrp_heatmap h = {r, 3, 3, NULL, 0, 1};
    lrp_pixels c;
    lrp_heatmap_layout L;
    lrp_err err;
    CHECK(lrp_heatmap_render(&h, &c, &L, &err) == 0);
    CHECK(L.max_abs == 0);
    int white = 0;
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 3; x++) white += same(px(&c, L.map_x + x, L.panel_y + y), color(0));
    CHECK(white == 9);
    lrp_pixels_free(&c);
}

TEST(patch_map_is_drawn_as_blocks_beside_the_magnified_image) {
    unsigned char gray[64];
    for (int i = 0; i < 64; i++) gray[i] = (unsigned char)(i * 4);
    lrp_pixels img = {gray, 8, 8, 1};
    float r[4] = {1, -1, 0.5f, 0};   // 2 x 2 patches of 4 x 4 pixels
    lrp_heatmap h = {r, 2, 2, &img, 0, 3};
    lrp_pixels c;
    lrp_heatmap_layout L;
    lrp_err err;
    CHECK(lrp_heatmap_render(&h, &c, &L, &err) == 0);
    CHECK(L.image_x == 8 && L.map_x == 8 + 24 + 8 && L.panel_w == 24 && L.bar_x == L.map_x + 24 + 8);
    int bad_image = 0, bad_map = 0;
    for (int y = 0; y < 24; y++)
        for (int x = 0; x < 24; x++) {
            unsigned char g = gray[(y / 3) * 8 + x / 3];
            const unsigned char want_img[3] = {g, g, g};
            bad_image += !same(px(&c, L.image_x + x, L.panel_y + y), want_img);
            bad_map += !same(px(&c, L.map_x + x, L.panel_y + y), color(r[(y / 12) * 2 + x / 12]));
        }
    CHECK(bad_image == 0 && bad_map == 0);
    lrp_pixels_free(&c);
}

TEST(overlay_blends_the_colour_over_the_image_luma_by_strength) {
    unsigned char rgb[16 * 3];
    for (int i = 0; i < 16; i++) rgb[i * 3] = 200, rgb[i * 3 + 1] = 100, rgb[i * 3 + 2] = 50;
    lrp_pixels img = {rgb, 4, 4, 3};
    float r[4] = {0, 1, -1, 0.25f};
    lrp_heatmap h = {r, 2, 2, &img, 1, 1};
    lrp_pixels c;
    lrp_heatmap_layout L;
    lrp_err err;
    CHECK(lrp_heatmap_render(&h, &c, &L, &err) == 0);
    CHECK(L.image_x == -1 && L.map_x == 8 && L.bar_x == 8 + 4 + 8);
    // Luma of (200, 100, 50) as PIL: (200·19595 + 100·38470 + 50·7471 + 32768) >> 16 = 124.
    const unsigned char zero[3] = {124, 124, 124};
    CHECK(same(px(&c, L.map_x, L.panel_y), zero));
    double t[3] = {1, -1, 0.25};
    int at[3][2] = {{2, 0}, {0, 2}, {2, 2}};
    for (int k = 0; k < 3; k++) {
        double a = 0.85 * sqrt(fabs(t[k]));
        const unsigned char *col = color(t[k]), *got = px(&c, L.map_x + at[k][0], L.panel_y + at[k][1]);
        for (int ch = 0; ch < 3; ch++) CHECK_NEAR(got[ch], (1 - a) * 124 + a * col[ch], 0.5);
    }
    CHECK(px(&c, L.map_x + 2, L.panel_y)[0] > px(&c, L.map_x + 2, L.panel_y)[2]);   // positive: red
    CHECK(px(&c, L.map_x, L.panel_y + 2)[2] > px(&c, L.map_x, L.panel_y + 2)[0]);   // negative: blue
    lrp_pixels_free(&c);
}

TEST(small_images_are_magnified_to_about_224_pixels) {
    unsigned char g[28 * 28] = {0};
    lrp_pixels img = {g, 28, 28, 1};
    float r[28 * 28] = {0};
    lrp_heatmap h = {r, 28, 28, &img, 0, 0};
    lrp_pixels c;
    lrp_heatmap_layout L;
    lrp_err err;
    CHECK(lrp_heatmap_render(&h, &c, &L, &err) == 0 && L.scale == 8 && L.panel_w == 224 && L.panel_h == 224);
    lrp_pixels_free(&c);
    unsigned char big[300 * 2] = {0};
    lrp_pixels wide = {big, 300, 2, 1};
    float r2[2 * 300] = {0};
    lrp_heatmap h2 = {r2, 2, 300, &wide, 0, 0};
    CHECK(lrp_heatmap_render(&h2, &c, &L, &err) == 0 && L.scale == 1 && L.height == 8 + 64 + 8);
    lrp_pixels_free(&c);
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

TEST(heatmap_png_file_reads_back_identical_with_libpng_and_pil) {
    char dir[] = "/tmp/attnlrp-png-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/heat.png", dir);
    unsigned char rgb[6 * 5 * 3];
    for (int i = 0; i < 90; i++) rgb[i] = (unsigned char)(i * 7);
    lrp_pixels img = {rgb, 6, 5, 3};
    float r[30];
    for (int i = 0; i < 30; i++) r[i] = (float)(i - 12) / 7;
    lrp_heatmap h = {r, 5, 6, &img, 0, 4};
    lrp_err err;
    CHECK(lrp_heatmap_write(path, &h, &err) == 0);
    CHECK(count_entries(dir) == 1);   // no temporary file left behind
    lrp_pixels canvas, back;
    lrp_heatmap_layout L;
    CHECK(lrp_heatmap_render(&h, &canvas, &L, &err) == 0);
    CHECK(lrp_image_decode(path, &back, &err) == 0);
    CHECK(back.width == canvas.width && back.height == canvas.height && back.channels == 3);
    if (back.data && back.width == canvas.width && back.height == canvas.height)
        CHECK(memcmp(back.data, canvas.data, (size_t)canvas.width * canvas.height * 3) == 0);
    // PIL sees the same size and the same pixel at the strongest positive patch.
    char cmd[512], line[128] = "";
    int x = L.map_x + 5 * 4 + 1, y = L.panel_y + 4 * 4 + 1;
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"from PIL import Image; im = Image.open('%s'); "
             "print(im.size[0], im.size[1], im.mode, *im.getpixel((%d, %d)))\"",
             path, x, y);
    FILE *p = popen(cmd, "r");
    CHECK(p && fgets(line, sizeof line, p));
    if (p) pclose(p);
    char want[128];
    const unsigned char *q = px(&canvas, x, y);
    snprintf(want, sizeof want, "%d %d RGB %d %d %d\n", canvas.width, canvas.height, q[0], q[1], q[2]);
    CHECK_STR(line, want);
    CHECK(same(q, color(1)));
    lrp_pixels_free(&canvas);
    lrp_pixels_free(&back);
    unlink(path);
    rmdir(dir);
}

TEST(heatmap_png_in_memory_is_a_png_and_base64_encodes_it) {
    float r[4] = {1, -1, 0, 0.5f};
    lrp_heatmap h = {r, 2, 2, NULL, 0, 1};
    unsigned char *png = NULL;
    size_t n = 0;
    lrp_err err;
    CHECK(lrp_heatmap_png(&h, &png, &n, &err) == 0);
    CHECK(png && n > 8 && memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0);
    lrp_pixels back;
    CHECK(lrp_image_decode_memory("mem.png", png, n, &back, &err) == 0 && back.channels == 3);
    lrp_pixels_free(&back);
    char *b64 = lrp_base64(png, n);
    CHECK(b64 && strlen(b64) == (n + 2) / 3 * 4 && strncmp(b64, "iVBORw0KGgo", 11) == 0);
    free(b64);
    free(png);
}

TEST(base64_matches_rfc_4648_vectors) {
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *s = lrp_base64((const unsigned char *)in[i], strlen(in[i]));
        CHECK_STR(s, out[i]);
        free(s);
    }
    const unsigned char bytes[3] = {0xFB, 0xFF, 0xBF};
    char *s = lrp_base64(bytes, 3);
    CHECK_STR(s, "+/+/");
    free(s);
}

TEST(bad_requests_and_unwritable_paths_are_errors_and_write_nothing) {
    float r[4] = {1, 0, 0, 0};
    unsigned char g[1] = {0};
    lrp_pixels tiny = {g, 1, 1, 1};
    lrp_pixels c;
    lrp_err err;
    lrp_heatmap bigger = {r, 2, 2, &tiny, 0, 1};
    CHECK(lrp_heatmap_render(&bigger, &c, NULL, &err) == -1 && c.data == NULL);
    CHECK_STR(err.msg, "heatmap: the relevance map (2 x 2) is larger than the image (1 x 1)");
    lrp_heatmap no_image = {r, 2, 2, NULL, 1, 1};
    CHECK(lrp_heatmap_render(&no_image, &c, NULL, &err) == -1);
    CHECK_STR(err.msg, "heatmap: overlay needs the input image");
    lrp_heatmap empty = {r, 0, 2, NULL, 0, 1};
    CHECK(lrp_heatmap_render(&empty, &c, NULL, &err) == -1);
    CHECK_STR(err.msg, "heatmap: the relevance map is empty (0 x 2)");
    lrp_heatmap ok = {r, 2, 2, NULL, 0, 1};
    CHECK(lrp_heatmap_write("/nonexistent-dir/heat.png", &ok, &err) == -1);
    CHECK_STR(err.msg, "/nonexistent-dir/heat.png: No such file or directory");
    CHECK(access("/nonexistent-dir/heat.png", F_OK) != 0);
    lrp_heatmap bad = {r, 0, 0, NULL, 0, 1};
    CHECK(lrp_heatmap_write("/tmp/never-written.png", &bad, &err) == -1);
    CHECK_STR(err.msg, "/tmp/never-written.png: heatmap: the relevance map is empty (0 x 0)");
    CHECK(access("/tmp/never-written.png", F_OK) != 0);
}

TEST_MAIN(T(colour_map_is_white_at_zero_red_above_and_blue_below), T(pixel_map_colours_each_value_on_a_symmetric_scale),
          T(colour_bar_runs_from_plus_max_to_minus_max_with_labels), T(all_zero_relevance_is_white_with_a_zero_scale),
          T(patch_map_is_drawn_as_blocks_beside_the_magnified_image),
          T(overlay_blends_the_colour_over_the_image_luma_by_strength),
          T(small_images_are_magnified_to_about_224_pixels), T(heatmap_png_file_reads_back_identical_with_libpng_and_pil),
          T(heatmap_png_in_memory_is_a_png_and_base64_encodes_it), T(base64_matches_rfc_4648_vectors),
          T(bad_requests_and_unwritable_paths_are_errors_and_write_nothing))
