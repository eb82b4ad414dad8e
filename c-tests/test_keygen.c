/*
 * Keys made through the C ABI: generation, signing, verification, SSZ secret-key round trip,
 * the key-specific errors (out-of-range epochs, bad ranges, truncated secret keys, too-small
 * buffers), and signing past the first prepared window: a key of 3 bottom trees signs an epoch
 * of its third tree (the window advances by one tree), and the advanced secret key read back
 * reloads and signs the same.
 *
 * Slow: key generation builds 3 bottom trees of 2^16 leaves and the advance one more (about
 * 27 s + 8 s on a 2-core machine in a release library). Not run under valgrind.
 */
#include "common.h"

#define TREE (1ull << 16) /* epochs per bottom tree */

static void check_interval(msig_status (*f)(const msig_keypair *, uint64_t *, uint64_t *),
                           const msig_keypair *kp, uint64_t want_start, uint64_t want_end) {
    uint64_t start = 0, end = 0;
    CHECK_STATUS(f(kp, &start, &end), MSIG_OK);
    CHECK(start == want_start && end == want_end);
    if (start != want_start || end != want_end)
        fprintf(stderr, "  interval [%llu, %llu), want [%llu, %llu)\n", (unsigned long long)start,
                (unsigned long long)end, (unsigned long long)want_start,
                (unsigned long long)want_end);
}

/* The secret key's SSZ bytes (malloc'd), its length in *len. */
static uint8_t *secret_key_bytes(const msig_keypair *kp, size_t *len) {
    uint8_t dummy[1];
    *len = 0;
    CHECK_STATUS(msig_keypair_secret_key_ssz(kp, dummy, 0, len), MSIG_BUFFER_TOO_SMALL);
    uint8_t *sk = malloc(*len ? *len : 1);
    size_t written = 0;
    CHECK_STATUS(msig_keypair_secret_key_ssz(kp, sk, *len, &written), MSIG_OK);
    CHECK(written == *len);
    return sk;
}

int main(void) {
    uint8_t seed[MSIG_SEED_LEN];
    for (size_t i = 0; i < sizeof seed; i++) seed[i] = (uint8_t)(i * 7 + 1);
    uint8_t msg[MSIG_MESSAGE_LEN];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(0xA0 ^ i);

    /* Invalid ranges are key-generation errors, not secret-key decoding errors. */
    msig_keypair *kp = NULL;
    CHECK_STATUS(msig_keypair_generate(seed, 0, 0, &kp), MSIG_INVALID_KEYGEN_ARGUMENTS);
    CHECK(kp == NULL);
    CHECK_STATUS(msig_keypair_generate(seed, 1ull << 33, 3 * TREE, &kp),
                 MSIG_INVALID_KEYGEN_ARGUMENTS);
    CHECK_STATUS(msig_keypair_generate(seed, (1ull << 32) - 1, 2, &kp),
                 MSIG_INVALID_KEYGEN_ARGUMENTS);
    CHECK(kp == NULL);

    /* A key for 3 bottom trees: active on [0, 3 * 2^16), prepared on the first two. */
    CHECK_STATUS(msig_keypair_generate(seed, 0, 3 * TREE, &kp), MSIG_OK);
    if (!kp) return finish("test_keygen");
    check_interval(msig_keypair_activation_interval, kp, 0, 3 * TREE);
    check_interval(msig_keypair_prepared_interval, kp, 0, 2 * TREE);
    uint64_t s64 = 0;
    CHECK_STATUS(msig_keypair_activation_interval(kp, NULL, &s64), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_keypair_prepared_interval(kp, &s64, NULL), MSIG_NULL_ARGUMENT);

    uint8_t pk[MSIG_PUBLIC_KEY_LEN];
    CHECK_STATUS(msig_keypair_public_key(kp, pk), MSIG_OK);
    CHECK_STATUS(msig_keypair_public_key(kp, NULL), MSIG_NULL_ARGUMENT);

    /* Too small: nothing written, *written = 2536. */
    uint8_t sig[MSIG_SIGNATURE_LEN + 8];
    memset(sig, 0x77, sizeof sig);
    size_t written = 0;
    CHECK_STATUS(msig_sign(kp, 5, msg, sig, 100, &written), MSIG_BUFFER_TOO_SMALL);
    CHECK(written == MSIG_SIGNATURE_LEN);
    CHECK(sig[0] == 0x77 && sig[99] == 0x77);
    CHECK_STATUS(msig_sign(kp, 5, NULL, sig, sizeof sig, &written), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_sign(kp, 5, msg, NULL, sizeof sig, &written), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_sign(kp, 5, msg, sig, sizeof sig, NULL), MSIG_NULL_ARGUMENT);
    /* A too-small buffer does not advance the window either. */
    CHECK_STATUS(msig_sign(kp, (uint32_t)(2 * TREE), msg, sig, 100, &written),
                 MSIG_BUFFER_TOO_SMALL);
    check_interval(msig_keypair_prepared_interval, kp, 0, 2 * TREE);

    CHECK_STATUS(msig_sign(kp, 5, msg, sig, sizeof sig, &written), MSIG_OK);
    CHECK(written == MSIG_SIGNATURE_LEN);
    CHECK_STATUS(msig_verify(pk, 5, msg, sig, written), MSIG_OK);
    CHECK_STATUS(msig_verify(pk, 6, msg, sig, written), MSIG_INVALID_SIGNATURE);
    msg[0] ^= 1;
    CHECK_STATUS(msig_verify(pk, 5, msg, sig, written), MSIG_INVALID_SIGNATURE);
    msg[0] ^= 1;

    /* Epochs outside the activation interval: signing and preparing refuse them, and the key
     * stays as it was. */
    size_t built = 99;
    CHECK_STATUS(msig_sign(kp, 0xF0000000u, msg, sig, sizeof sig, &written),
                 MSIG_EPOCH_OUT_OF_RANGE);
    CHECK_STATUS(msig_sign(kp, (uint32_t)(3 * TREE), msg, sig, sizeof sig, &written),
                 MSIG_EPOCH_OUT_OF_RANGE);
    CHECK_STATUS(msig_keypair_prepare_epoch(kp, (uint32_t)(3 * TREE), &built),
                 MSIG_EPOCH_OUT_OF_RANGE);
    CHECK(built == 99);
    CHECK_STATUS(msig_keypair_prepare_epoch(kp, 7, NULL), MSIG_NULL_ARGUMENT);
    /* An epoch already in the window: nothing to build. */
    CHECK_STATUS(msig_keypair_prepare_epoch(kp, (uint32_t)(2 * TREE - 1), &built), MSIG_OK);
    CHECK(built == 0);
    check_interval(msig_keypair_prepared_interval, kp, 0, 2 * TREE);

    /* Secret key SSZ round trip: same public key, same (deterministic) signature. */
    size_t sk_len = 0;
    uint8_t *sk = secret_key_bytes(kp, &sk_len);
    CHECK(sk_len > 0);
    msig_keypair *kp2 = NULL;
    CHECK_STATUS(msig_keypair_from_ssz(sk, sk_len - 1, &kp2), MSIG_MALFORMED_SECRET_KEY);
    CHECK(kp2 == NULL);
    CHECK_STATUS(msig_keypair_from_ssz(sk, sk_len, &kp2), MSIG_OK);
    if (kp2) {
        uint8_t pk2[MSIG_PUBLIC_KEY_LEN];
        CHECK_STATUS(msig_keypair_public_key(kp2, pk2), MSIG_OK);
        CHECK(memcmp(pk, pk2, sizeof pk) == 0);
        uint8_t sig2[MSIG_SIGNATURE_LEN];
        CHECK_STATUS(msig_sign(kp2, 5, msg, sig2, sizeof sig2, &written), MSIG_OK);
        CHECK(memcmp(sig, sig2, MSIG_SIGNATURE_LEN) == 0);
        msig_keypair_free(kp2);
    }

    /* Our signature aggregates like any other. */
    msig_aggregator *agg = NULL;
    CHECK_STATUS(msig_aggregator_new(msg, 5, &agg), MSIG_OK);
    CHECK_STATUS(msig_aggregator_add(agg, pk, sig, MSIG_SIGNATURE_LEN), MSIG_OK);
    msig_aggregator_free(agg);

    /* Past the first window: an epoch of the third bottom tree. msig_sign advances the window
     * by one tree, then signs; the signature verifies under the same public key. */
    const uint32_t late = (uint32_t)(2 * TREE + 7);
    uint8_t late_sig[MSIG_SIGNATURE_LEN];
    CHECK_STATUS(msig_sign(kp, late, msg, late_sig, sizeof late_sig, &written), MSIG_OK);
    CHECK(written == MSIG_SIGNATURE_LEN);
    CHECK_STATUS(msig_verify(pk, late, msg, late_sig, written), MSIG_OK);
    check_interval(msig_keypair_prepared_interval, kp, TREE, 3 * TREE);
    check_interval(msig_keypair_activation_interval, kp, 0, 3 * TREE);
    uint8_t pk_after[MSIG_PUBLIC_KEY_LEN];
    CHECK_STATUS(msig_keypair_public_key(kp, pk_after), MSIG_OK);
    CHECK(memcmp(pk, pk_after, sizeof pk) == 0);
    /* The window never moves back: the first tree's epochs are gone; the second's remain. */
    CHECK_STATUS(msig_sign(kp, 5, msg, sig, sizeof sig, &written), MSIG_EPOCH_OUT_OF_RANGE);
    CHECK_STATUS(msig_keypair_prepare_epoch(kp, 5, &built), MSIG_EPOCH_OUT_OF_RANGE);
    const uint32_t mid = (uint32_t)(TREE + 3);
    uint8_t mid_sig[MSIG_SIGNATURE_LEN];
    CHECK_STATUS(msig_sign(kp, mid, msg, mid_sig, sizeof mid_sig, &written), MSIG_OK);
    CHECK_STATUS(msig_verify(pk, mid, msg, mid_sig, written), MSIG_OK);

    /* The advanced secret key, read back: same length, other bytes (the window moved); it
     * reloads with the advanced window and signs exactly as the live key does. */
    size_t adv_len = 0;
    uint8_t *adv = secret_key_bytes(kp, &adv_len);
    CHECK(adv_len == sk_len);
    CHECK(adv_len != sk_len || memcmp(adv, sk, sk_len) != 0);
    msig_keypair *kp3 = NULL;
    CHECK_STATUS(msig_keypair_from_ssz(adv, adv_len, &kp3), MSIG_OK);
    if (kp3) {
        uint8_t pk3[MSIG_PUBLIC_KEY_LEN];
        CHECK_STATUS(msig_keypair_public_key(kp3, pk3), MSIG_OK);
        CHECK(memcmp(pk, pk3, sizeof pk) == 0);
        check_interval(msig_keypair_prepared_interval, kp3, TREE, 3 * TREE);
        check_interval(msig_keypair_activation_interval, kp3, 0, 3 * TREE);
        uint8_t sig3[MSIG_SIGNATURE_LEN];
        CHECK_STATUS(msig_sign(kp3, late, msg, sig3, sizeof sig3, &written), MSIG_OK);
        CHECK(memcmp(sig3, late_sig, MSIG_SIGNATURE_LEN) == 0);
        CHECK_STATUS(msig_sign(kp3, mid, msg, sig3, sizeof sig3, &written), MSIG_OK);
        CHECK(memcmp(sig3, mid_sig, MSIG_SIGNATURE_LEN) == 0);
        CHECK_STATUS(msig_sign(kp3, 5, msg, sig3, sizeof sig3, &written),
                     MSIG_EPOCH_OUT_OF_RANGE);
        msig_keypair_free(kp3);
    }
    /* The bytes read before the advance still hold the first window: a client restarted from
     * them would have to build the third tree again (why the advanced key is worth persisting). */
    kp2 = NULL;
    CHECK_STATUS(msig_keypair_from_ssz(sk, sk_len, &kp2), MSIG_OK);
    if (kp2) {
        check_interval(msig_keypair_prepared_interval, kp2, 0, 2 * TREE);
        msig_keypair_free(kp2);
    }
    printf("secret key: %zu bytes before and after the advance\n", adv_len);
    free(adv);
    free(sk);

    msig_keypair_free(kp);
    return finish("test_keygen");
}
