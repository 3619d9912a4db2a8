// The pieces of attnlrp batch that are not explaining: SHA-256 against the FIPS 180-4 / NIST example
// digests, the shard spec, record ids (tests/test_batch.sh runs the command).
#include "harness.h"

#include "core/sha256.h"
#include "evaluate/batch.h"

static void digest(const char *s, size_t n, size_t chunk, char hex[65]) {
    lrp_sha256 h;
    lrp_sha256_init(&h);
    for (size_t i = 0; i < n; i += chunk) lrp_sha256_update(&h, s + i, n - i < chunk ? n - i : chunk);
    lrp_sha256_hex(&h, hex);
}

TEST(sha256_matches_the_nist_example_digests_whatever_the_chunking) {
    char hex[65];
    digest("", 0, 1, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    digest("abc", 3, 1, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";  // 56 bytes: padding spills
    for (size_t chunk = 1; chunk <= 64; chunk += 7) {
        digest(two, strlen(two), chunk, hex);
        CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    }
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    digest(a, 1000000, 4096, hex);
    CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

TEST(shard_specs_are_k_of_n_with_k_below_n) {
    int k = -1, n = -1;
    lrp_err err;
    CHECK(lrp_shard_parse("0/1", &k, &n, &err) == 0 && k == 0 && n == 1);
    CHECK(lrp_shard_parse("3/4", &k, &n, &err) == 0 && k == 3 && n == 4);
    CHECK(lrp_shard_parse("3/2", &k, &n, &err) == -1);
    CHECK_STR(err.msg, "shard 3/2: K must be less than N (shards are numbered 0 to 1)");
    CHECK(lrp_shard_parse("0/0", &k, &n, &err) == -1);
    CHECK_STR(err.msg, "shard 0/0: N must be at least 1");
    const char *bad[] = {"", "1", "1/", "/2", "-1/2", "1/-2", "a/b", "1/2x", "1/ 2", " 1/2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK(lrp_shard_parse(bad[i], &k, &n, &err) == -1);
}

TEST(a_records_id_is_its_string_or_integer_id_else_its_index) {
    lrp_err err;
    json_t *r = json_loads("{\"id\": \"a\\\"b\"}", 0, NULL);
    char *id = lrp_batch_record_id(r, 7, &err);
    CHECK_STR(id, "\"a\\\"b\"");
    free(id);
    json_decref(r);
    r = json_loads("{\"id\": 12}", 0, NULL);
    CHECK_STR((id = lrp_batch_record_id(r, 7, &err)), "12");
    free(id);
    json_decref(r);
    r = json_loads("{\"text\": \"x\"}", 0, NULL);
    CHECK_STR((id = lrp_batch_record_id(r, 7, &err)), "7");
    free(id);
    json_decref(r);
    r = json_loads("{\"id\": 1.5}", 0, NULL);
    CHECK(lrp_batch_record_id(r, 7, &err) == NULL);
    CHECK_STR(err.msg, "id: expected a string or an integer");
    json_decref(r);
}

TEST_MAIN(T(sha256_matches_the_nist_example_digests_whatever_the_chunking), T(shard_specs_are_k_of_n_with_k_below_n),
          T(a_records_id_is_its_string_or_integer_id_else_its_index))
