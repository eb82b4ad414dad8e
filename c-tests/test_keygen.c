/*
 * Keys made through the C ABI: generation (smallest real range), signing, verification, SSZ
 * secret-key round trip, and the key-specific errors (out-of-range epoch, bad ranges, truncated
 * secret keys, too-small buffers).
 */
#include "common.h"

/* Smallest real activation range; MSIG_TEST_KEYGEN_EPOCHS overrides it. */
static uint64_t keygen_epochs(void) {
    const char *e = getenv("MSIG_TEST_KEYGEN_EPOCHS");
    return e ? strtoull(e, NULL, 10) : (1u << 17);
}

int main(void) {
    uint8_t seed[MSIG_SEED_LEN];
    for (size_t i = 0; i < sizeof seed; i++) seed[i] = (uint8_t)(i * 7 + 1);
    uint8_t msg[MSIG_MESSAGE_LEN];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(0xA0 ^ i);
    const uint64_t epochs = keygen_epochs();

    msig_keypair *kp = NULL;
    CHECK_STATUS(msig_keypair_generate(seed, 0, 0, &kp), MSIG_INVALID_KEYGEN_ARGUMENTS);
    CHECK(kp == NULL);
    CHECK_STATUS(msig_keypair_generate(seed, 1ull << 33, epochs, &kp),
                 MSIG_INVALID_KEYGEN_ARGUMENTS);
    CHECK(kp == NULL);

    CHECK_STATUS(msig_keypair_generate(seed, 0, epochs, &kp), MSIG_OK);
    if (!kp) return finish("test_keygen");

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

    CHECK_STATUS(msig_sign(kp, 5, msg, sig, sizeof sig, &written), MSIG_OK);
    CHECK(written == MSIG_SIGNATURE_LEN);
    CHECK_STATUS(msig_verify(pk, 5, msg, sig, written), MSIG_OK);
    CHECK_STATUS(msig_verify(pk, 6, msg, sig, written), MSIG_INVALID_SIGNATURE);
    msg[0] ^= 1;
    CHECK_STATUS(msig_verify(pk, 5, msg, sig, written), MSIG_INVALID_SIGNATURE);
    msg[0] ^= 1;

    /* An epoch far outside the key's range. */
    CHECK_STATUS(msig_sign(kp, 0xF0000000u, msg, sig, sizeof sig, &written),
                 MSIG_EPOCH_OUT_OF_RANGE);

    /* Secret key SSZ round trip: same public key, same (deterministic) signature. */
    size_t sk_len = 0;
    uint8_t dummy[1];
    CHECK_STATUS(msig_keypair_secret_key_ssz(kp, dummy, 0, &sk_len), MSIG_BUFFER_TOO_SMALL);
    CHECK(sk_len > 0);
    uint8_t *sk = malloc(sk_len);
    CHECK_STATUS(msig_keypair_secret_key_ssz(kp, sk, sk_len, &written), MSIG_OK);
    CHECK(written == sk_len);

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
    free(sk);

    /* Our signature aggregates like any other. */
    msig_aggregator *agg = NULL;
    CHECK_STATUS(msig_aggregator_new(msg, 5, &agg), MSIG_OK);
    CHECK_STATUS(msig_aggregator_add(agg, pk, sig, MSIG_SIGNATURE_LEN), MSIG_OK);
    msig_aggregator_free(agg);

    msig_keypair_free(kp);
    return finish("test_keygen");
}
