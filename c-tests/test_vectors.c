/*
 * Single signatures: every real leanSig vector in ../shared/vectors verifies through msig_verify,
 * and every alteration (epoch, message, key, bit flips, truncation, extension) is rejected with
 * the documented status.
 */
#include "common.h"

/* A rejected signature: well-formed but false, or no longer decodable after the alteration. */
#define CHECK_SIG_REJECTED(expr)                                                              \
    do {                                                                                      \
        uint32_t s_ = (uint32_t)(expr);                                                       \
        CHECK(s_ == MSIG_INVALID_SIGNATURE || s_ == MSIG_MALFORMED_SIGNATURE);                \
        if (s_ != MSIG_INVALID_SIGNATURE && s_ != MSIG_MALFORMED_SIGNATURE)                   \
            fprintf(stderr, "  got %u (%s)\n", s_, status_text(s_));                         \
    } while (0)

static void test_single(const single_vector *v, const single_vector *other) {
    CHECK(v->sig_len == MSIG_SIGNATURE_LEN);
    CHECK_STATUS(msig_verify(v->pk, v->epoch, v->message, v->sig, v->sig_len), MSIG_OK);

    /* Wrong epoch, wrong message, another key. */
    CHECK_STATUS(msig_verify(v->pk, v->epoch + 1, v->message, v->sig, v->sig_len),
                 MSIG_INVALID_SIGNATURE);
    uint8_t msg[MSIG_MESSAGE_LEN];
    memcpy(msg, v->message, sizeof msg);
    msg[31] ^= 0x01;
    CHECK_STATUS(msig_verify(v->pk, v->epoch, msg, v->sig, v->sig_len), MSIG_INVALID_SIGNATURE);
    if (memcmp(other->pk, v->pk, MSIG_PUBLIC_KEY_LEN) != 0) {
        CHECK_STATUS(msig_verify(other->pk, v->epoch, v->message, v->sig, v->sig_len),
                     MSIG_INVALID_SIGNATURE);
    }

    /* Bit flips across the signature: SSZ offset area, path, rho, chain hashes, last byte. */
    uint8_t *sig = malloc(v->sig_len);
    const size_t positions[] = {0, 8, 100, 1000, 1300, 1400, 2000, v->sig_len - 1};
    for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++) {
        memcpy(sig, v->sig, v->sig_len);
        sig[positions[i]] ^= 0x04;
        CHECK_SIG_REJECTED(msig_verify(v->pk, v->epoch, v->message, sig, v->sig_len));
    }
    /* Truncated and extended. */
    CHECK_STATUS(msig_verify(v->pk, v->epoch, v->message, v->sig, v->sig_len - 1),
                 MSIG_MALFORMED_SIGNATURE);
    CHECK_STATUS(msig_verify(v->pk, v->epoch, v->message, v->sig, 0), MSIG_MALFORMED_SIGNATURE);
    uint8_t *longer = calloc(v->sig_len + 4, 1);
    memcpy(longer, v->sig, v->sig_len);
    CHECK_STATUS(msig_verify(v->pk, v->epoch, v->message, longer, v->sig_len + 4),
                 MSIG_MALFORMED_SIGNATURE);
    free(longer);
    free(sig);

    /* A public key made of non-canonical field elements (0xffffffff >= p). */
    uint8_t bad_pk[MSIG_PUBLIC_KEY_LEN];
    memset(bad_pk, 0xff, sizeof bad_pk);
    CHECK_STATUS(msig_verify(bad_pk, v->epoch, v->message, v->sig, v->sig_len),
                 MSIG_MALFORMED_PUBLIC_KEY);
}

int main(int argc, char **argv) {
    const char *dir = vectors_dir(argc, argv);
    single_vector singles[8];
    size_t n = load_single_vectors(dir, singles, 8);
    CHECK(n == 5);
    for (size_t i = 0; i < n; i++) {
        test_single(&singles[i], &singles[(i + 2) % n]);
    }

    /* The aggregate vector's signers are ordinary valid signatures too. */
    aggregate_vector agg;
    load_aggregate_vector(dir, &agg);
    CHECK(agg.n == 4);
    for (size_t i = 0; i < agg.n; i++) {
        const signer *s = &agg.signers[i];
        CHECK_STATUS(msig_verify(s->pk, agg.epoch, agg.message, s->sig, s->sig_len), MSIG_OK);
        const signer *o = &agg.signers[(i + 1) % agg.n];
        CHECK_STATUS(msig_verify(o->pk, agg.epoch, agg.message, s->sig, s->sig_len),
                     MSIG_INVALID_SIGNATURE);
    }
    free_aggregate_vector(&agg);
    for (size_t i = 0; i < n; i++) free(singles[i].sig);
    return finish("test_vectors");
}
