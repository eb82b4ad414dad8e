/*
 * ABI conventions that do not depend on the proof system: version, status messages, NULL
 * arguments, too-small buffers, invalid options, _free(NULL), and the thread-pool setter.
 * Every check here must pass even while the core's bodies are placeholders.
 */
#include <stddef.h>

#include "common.h"

static uint8_t zero32[32];

static void test_version(void) {
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", MSIG_VERSION_MAJOR, MSIG_VERSION_MINOR,
             MSIG_VERSION_PATCH);
    const char *v = msig_version();
    CHECK(v != NULL);
    CHECK(v && strcmp(v, want) == 0);
}

static void test_status_message(void) {
    char buf[128];
    size_t written = 0;
    /* Every documented code has its own non-empty text, distinct from every other code's. */
    static char texts[MSIG_SOME_PROOFS_INVALID + 1][128];
    for (uint32_t s = MSIG_OK; s <= MSIG_SOME_PROOFS_INVALID; s++) {
        CHECK_STATUS(msig_status_message(s, texts[s], sizeof texts[s], &written), MSIG_OK);
        CHECK(written >= 2 && written == strlen(texts[s]) + 1);
        CHECK(strstr(texts[s], "unknown") == NULL);
        for (uint32_t t = MSIG_OK; t < s; t++) CHECK(strcmp(texts[s], texts[t]) != 0);
    }
    /* The codes added after MSIG_PANIC keep their published numbers. */
    CHECK(MSIG_PRESET_NOT_ACCEPTED == 19 && MSIG_PROOF_TOO_LARGE == 20 &&
          MSIG_SOME_PROOFS_INVALID == 21);
    CHECK_STATUS(msig_status_message(MSIG_SOME_PROOFS_INVALID + 1, buf, sizeof buf, &written),
                 MSIG_OK);
    CHECK(strstr(buf, "unknown") != NULL);
    char ok_text[128], panic_text[128];
    msig_status_message(MSIG_OK, ok_text, sizeof ok_text, &written);
    msig_status_message(MSIG_PANIC, panic_text, sizeof panic_text, &written);
    CHECK(strcmp(ok_text, panic_text) != 0);
    /* Unknown code: a generic text, still MSIG_OK. */
    CHECK_STATUS(msig_status_message(0xdeadbeefu, buf, sizeof buf, &written), MSIG_OK);
    CHECK(strstr(buf, "unknown") != NULL);
    /* Too small: *written gets the size needed, the buffer stays untouched. */
    size_t needed = strlen(ok_text) + 1;
    memset(buf, 0xAA, sizeof buf);
    written = 0;
    CHECK_STATUS(msig_status_message(MSIG_OK, buf, needed - 1, &written), MSIG_BUFFER_TOO_SMALL);
    CHECK(written == needed);
    CHECK((uint8_t)buf[0] == 0xAA && (uint8_t)buf[needed - 2] == 0xAA);
    CHECK_STATUS(msig_status_message(MSIG_OK, buf, 0, &written), MSIG_BUFFER_TOO_SMALL);
    /* Exactly enough. */
    CHECK_STATUS(msig_status_message(MSIG_OK, buf, needed, &written), MSIG_OK);
    CHECK(written == needed && strcmp(buf, ok_text) == 0);
    /* NULLs. */
    CHECK_STATUS(msig_status_message(MSIG_OK, NULL, sizeof buf, &written), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_status_message(MSIG_OK, buf, sizeof buf, NULL), MSIG_NULL_ARGUMENT);
}

static void test_keypair_nulls(void) {
    msig_keypair *kp = (msig_keypair *)(uintptr_t)0x1; /* sentinel: must stay untouched */
    CHECK_STATUS(msig_keypair_generate(NULL, 0, 1u << 17, &kp), MSIG_NULL_ARGUMENT);
    CHECK(kp == (msig_keypair *)(uintptr_t)0x1);
    CHECK_STATUS(msig_keypair_generate(zero32, 0, 1u << 17, NULL), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_keypair_from_ssz(NULL, 10, &kp), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_keypair_from_ssz(NULL, 0, &kp), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_keypair_from_ssz(zero32, sizeof zero32, NULL), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_keypair_from_ssz(zero32, SIZE_MAX, &kp), MSIG_INVALID_ARGUMENT);
    CHECK(kp == (msig_keypair *)(uintptr_t)0x1);

    uint8_t pk[MSIG_PUBLIC_KEY_LEN];
    uint8_t buf[64];
    size_t written = 0, built = 77;
    uint64_t start = 11, end = 22;
    CHECK_STATUS(msig_keypair_public_key(NULL, pk), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_keypair_secret_key_ssz(NULL, buf, sizeof buf, &written), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_keypair_activation_interval(NULL, &start, &end), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_keypair_prepared_interval(NULL, &start, &end), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_keypair_prepare_epoch(NULL, 0, &built), MSIG_NULL_ARGUMENT);
    CHECK(start == 11 && end == 22 && built == 77);
    msig_keypair_free(NULL);
    CHECK(1); /* reached: _free(NULL) is a no-op */
}

static void test_sign_verify_nulls(void) {
    uint8_t sig[MSIG_SIGNATURE_LEN];
    uint8_t pk[MSIG_PUBLIC_KEY_LEN] = {0};
    size_t written = 0;
    CHECK_STATUS(msig_sign(NULL, 0, zero32, sig, sizeof sig, &written), MSIG_NULL_ARGUMENT);
    CHECK(written == 0);
    CHECK_STATUS(msig_verify(NULL, 0, zero32, sig, sizeof sig), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_verify(pk, 0, NULL, sig, sizeof sig), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_verify(pk, 0, zero32, NULL, sizeof sig), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_verify(pk, 0, zero32, NULL, 0), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_verify(pk, 0, zero32, sig, SIZE_MAX), MSIG_INVALID_ARGUMENT);
}

static void test_aggregator_nulls(void) {
    msig_aggregator *agg = NULL;
    uint8_t pk[MSIG_PUBLIC_KEY_LEN] = {0};
    uint8_t sig[16] = {0};
    uint8_t out[64];
    size_t written = 0, len = 99;

    CHECK_STATUS(msig_aggregator_new(NULL, 0, &agg), MSIG_NULL_ARGUMENT);
    CHECK(agg == NULL);
    CHECK_STATUS(msig_aggregator_new(zero32, 0, NULL), MSIG_NULL_ARGUMENT);
    /* Creating an aggregator does no cryptography. */
    CHECK_STATUS(msig_aggregator_new(zero32, 7, &agg), MSIG_OK);
    CHECK(agg != NULL);
    CHECK_STATUS(msig_aggregator_len(agg, &len), MSIG_OK);
    CHECK(len == 0);
    CHECK_STATUS(msig_aggregator_len(agg, NULL), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_aggregator_len(NULL, &len), MSIG_NULL_ARGUMENT);

    CHECK_STATUS(msig_aggregator_add(NULL, pk, sig, sizeof sig), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_aggregator_add(agg, NULL, sig, sizeof sig), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_aggregator_add(agg, pk, NULL, sizeof sig), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_aggregator_add(agg, pk, sig, SIZE_MAX), MSIG_INVALID_ARGUMENT);

    CHECK_STATUS(msig_aggregator_public_keys(NULL, out, sizeof out, &written), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_aggregator_public_keys(agg, NULL, sizeof out, &written), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_aggregator_public_keys(agg, out, sizeof out, NULL), MSIG_NULL_ARGUMENT);

    CHECK_STATUS(msig_aggregator_prove(NULL, NULL, out, sizeof out, &written), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_aggregator_prove(agg, NULL, NULL, sizeof out, &written), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_aggregator_prove(agg, NULL, out, sizeof out, NULL), MSIG_NULL_ARGUMENT);
    /* An unknown regime is rejected before any proving. */
    msig_prove_options bad = msig_prove_options_default();
    bad.regime = 7;
    written = 12345;
    CHECK_STATUS(msig_aggregator_prove(agg, &bad, out, sizeof out, &written), MSIG_INVALID_OPTIONS);
    CHECK(written == 12345);

    msig_aggregator_free(agg);
    agg = NULL;
    msig_aggregator_free(agg); /* the caller's "set to NULL after free" idiom is safe */
    CHECK(1);
}

static void test_options_defaults(void) {
    msig_prove_options d = msig_prove_options_default();
    CHECK(d.regime == MSIG_REGIME_PROVEN);
    CHECK(d.log_inv_rate == 0);
    CHECK(d.backend == MSIG_BACKEND_FRI);
    CHECK(d.max_proof_bytes == 0);
    /* Zeroed options are the defaults. */
    msig_prove_options zero;
    memset(&zero, 0, sizeof zero);
    CHECK(memcmp(&zero, &d, sizeof d) == 0);
    /* Layout: u32, u8, u8, padding, size_t. */
    CHECK(offsetof(msig_prove_options, log_inv_rate) == 4);
    CHECK(offsetof(msig_prove_options, backend) == 5);
    CHECK(offsetof(msig_prove_options, max_proof_bytes) == sizeof(size_t));
    CHECK(sizeof(msig_prove_options) == 2 * sizeof(size_t) || sizeof(size_t) == 4);

    msig_verify_options v = msig_verify_options_default();
    CHECK(v.require == NULL);
    CHECK(v.allow_conjectured == 0);
    CHECK(offsetof(msig_verify_options, allow_conjectured) == sizeof(void *));
}

static void test_verify_aggregate_nulls(void) {
    uint8_t proof[32] = {0};
    uint8_t pks[2 * MSIG_PUBLIC_KEY_LEN] = {0};
    CHECK_STATUS(msig_verify_aggregate(NULL, sizeof proof, pks, 2, zero32, 0, NULL),
                 MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_verify_aggregate(proof, sizeof proof, NULL, 2, zero32, 0, NULL),
                 MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_verify_aggregate(proof, sizeof proof, pks, 2, NULL, 0, NULL),
                 MSIG_NULL_ARGUMENT);
    /* num_public_keys * 52 overflows size_t. */
    CHECK_STATUS(msig_verify_aggregate(proof, sizeof proof, pks, SIZE_MAX / 8, zero32, 0, NULL),
                 MSIG_INVALID_ARGUMENT);
    /* Bad verifier options: an unknown regime in `require`, a flag that is neither 0 nor 1. */
    msig_prove_options bad = {.regime = 99, .log_inv_rate = 0};
    msig_verify_options bad_require = {.require = &bad};
    CHECK_STATUS(msig_verify_aggregate(proof, sizeof proof, pks, 2, zero32, 0, &bad_require),
                 MSIG_INVALID_OPTIONS);
    msig_prove_options bad_rate = {.log_inv_rate = 9};
    msig_verify_options bad_rate_require = {.require = &bad_rate};
    CHECK_STATUS(msig_verify_aggregate(proof, sizeof proof, pks, 2, zero32, 0, &bad_rate_require),
                 MSIG_INVALID_OPTIONS);
    msig_verify_options bad_flag = {.allow_conjectured = 2};
    CHECK_STATUS(msig_verify_aggregate(proof, sizeof proof, pks, 2, zero32, 0, &bad_flag),
                 MSIG_INVALID_OPTIONS);

    /* Batch: call-level errors leave results untouched. */
    msig_aggregate_statement st[2] = {
        {.proof = proof, .proof_len = sizeof proof, .public_keys = pks, .num_public_keys = 2,
         .message = zero32, .epoch = 0},
        {.proof = NULL, .proof_len = 0, .public_keys = pks, .num_public_keys = 2,
         .message = zero32, .epoch = 0},
    };
    msig_status results[2] = {0xAAAA, 0xAAAA};
    CHECK_STATUS(msig_verify_aggregates(NULL, 2, NULL, results), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_verify_aggregates(st, 2, NULL, NULL), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_verify_aggregates(st, 2, &bad_require, results), MSIG_INVALID_OPTIONS);
    CHECK_STATUS(msig_verify_aggregates(st, 2, &bad_flag, results), MSIG_INVALID_OPTIONS);
    CHECK_STATUS(msig_verify_aggregates(st, SIZE_MAX, NULL, results), MSIG_INVALID_ARGUMENT);
    CHECK(results[0] == 0xAAAA && results[1] == 0xAAAA);
    /* Zero statements: vacuously all valid, nothing written. */
    CHECK_STATUS(msig_verify_aggregates(st, 0, NULL, results), MSIG_OK);
    CHECK(results[0] == 0xAAAA);
    /* A NULL inside one statement is that statement's result, and the call reports that some
     * statement failed (statement 1 alone, so nothing reaches the proof system). */
    CHECK_STATUS(msig_verify_aggregates(&st[1], 1, NULL, results), MSIG_SOME_PROOFS_INVALID);
    CHECK_STATUS(results[0], MSIG_NULL_ARGUMENT);
    CHECK(results[1] == 0xAAAA);
}

static void test_prepare(void) {
    /* Options are checked exactly as msig_aggregator_prove checks them. */
    msig_prove_options bad_regime = {.regime = 99};
    CHECK_STATUS(msig_prepare(&bad_regime), MSIG_INVALID_OPTIONS);
    msig_prove_options bad_backend = {.backend = 7};
    CHECK_STATUS(msig_prepare(&bad_backend), MSIG_INVALID_OPTIONS);
    msig_prove_options bad_rate = {.log_inv_rate = 5};
    CHECK_STATUS(msig_prepare(&bad_rate), MSIG_INVALID_OPTIONS);
    msig_prove_options whir_rate3 = {.log_inv_rate = 3, .backend = MSIG_BACKEND_WHIR};
    CHECK_STATUS(msig_prepare(&whir_rate3), MSIG_INVALID_OPTIONS);
    msig_prove_options whir_conjectured = {.regime = MSIG_REGIME_CONJECTURED,
                                           .backend = MSIG_BACKEND_WHIR};
    CHECK_STATUS(msig_prepare(&whir_conjectured), MSIG_INVALID_OPTIONS);
    /* NULL means the defaults (FRI); repeating a call is harmless. */
    CHECK_STATUS(msig_prepare(NULL), MSIG_OK);
    msig_prove_options whir = {.backend = MSIG_BACKEND_WHIR};
    CHECK_STATUS(msig_prepare(&whir), MSIG_OK);
    CHECK_STATUS(msig_prepare(&whir), MSIG_OK);
    /* The byte limit plays no part in preparing. */
    msig_prove_options limited = {.max_proof_bytes = 1};
    CHECK_STATUS(msig_prepare(&limited), MSIG_OK);
}

static void test_proof_size_bound(void) {
    size_t bound = 0;
    CHECK_STATUS(msig_proof_size_bound(NULL, 1, NULL), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_proof_size_bound(NULL, 0, &bound), MSIG_INVALID_ARGUMENT);
    CHECK_STATUS(msig_proof_size_bound(NULL, 4097, &bound), MSIG_INVALID_ARGUMENT);
    msig_prove_options bad_rate = {.log_inv_rate = 5};
    CHECK_STATUS(msig_proof_size_bound(&bad_rate, 1, &bound), MSIG_INVALID_OPTIONS);
    /* The default preset fits the 512 KiB wire cap up to 4096 signatures. */
    CHECK_STATUS(msig_proof_size_bound(NULL, 4096, &bound), MSIG_OK);
    CHECK(bound > 256 * 1024 && bound <= 512 * 1024);
    size_t small = 0;
    CHECK_STATUS(msig_proof_size_bound(NULL, 1, &small), MSIG_OK);
    CHECK(small > 0 && small < bound);
    /* FRI at rate 1/2 exceeds it even for one signature. */
    msig_prove_options half = {.log_inv_rate = 1};
    CHECK_STATUS(msig_proof_size_bound(&half, 1, &bound), MSIG_OK);
    CHECK(bound > 512 * 1024);
    /* WHIR at rate 1/4 takes at most 256 signatures. */
    msig_prove_options whir4 = {.log_inv_rate = 2, .backend = MSIG_BACKEND_WHIR};
    CHECK_STATUS(msig_proof_size_bound(&whir4, 256, &bound), MSIG_OK);
    CHECK_STATUS(msig_proof_size_bound(&whir4, 257, &bound), MSIG_INVALID_ARGUMENT);
}

static void test_thread_pool(void) {
    /* First call builds the global pool; the second is too late. */
    CHECK_STATUS(msig_set_num_threads(2), MSIG_OK);
    CHECK_STATUS(msig_set_num_threads(4), MSIG_THREAD_POOL_ALREADY_INITIALIZED);
}

int main(void) {
    test_thread_pool();
    test_version();
    test_status_message();
    test_options_defaults();
    test_keypair_nulls();
    test_sign_verify_nulls();
    test_aggregator_nulls();
    test_verify_aggregate_nulls();
    test_prepare();
    test_proof_size_bound();
    return finish("test_abi");
}
