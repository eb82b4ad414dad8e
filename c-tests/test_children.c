/*
 * Children: two overlapping child proofs of the real 4-signer vector (signers 0, 1 and 1, 2),
 * made under the recursion-ready backend, become one parent proof through
 * msig_aggregator_add_child and msig_aggregator_prove; msig_verify_aggregate verifies it for the
 * union (signers 0, 1, 2) in any order and for no other statement; so does the compact parent
 * (options naming WHIR at rate 1/4), within the default 512 KiB limit, and a compact parent over
 * children of different sizes (3 and 2 keys). Refused: NULL and oversized
 * arguments, malformed keys, a child for other keys or truncated, a Keccak child, a parent as a
 * child, options naming another preset and a byte limit below the parent's worst case. A
 * signature added beside a child is proved as one more child: the compact parent verifies for
 * the union. Not run under valgrind (a parent takes seconds natively).
 */
#include "common.h"

/* The proof of the signers `idx[0..n]` under `opts` (NULL: the defaults), their keys copied to
 * `pks`; its length in `*len`. */
static uint8_t *prove_signers(const aggregate_vector *v, const size_t *idx, size_t n,
                              const msig_prove_options *opts, size_t *len, uint8_t *pks) {
    msig_aggregator *agg = NULL;
    CHECK_STATUS(msig_aggregator_new(v->message, v->epoch, &agg), MSIG_OK);
    for (size_t i = 0; i < n; i++) {
        const signer *s = &v->signers[idx[i]];
        CHECK_STATUS(msig_aggregator_add(agg, s->pk, s->sig, s->sig_len), MSIG_OK);
        memcpy(pks + i * MSIG_PUBLIC_KEY_LEN, s->pk, MSIG_PUBLIC_KEY_LEN);
    }
    uint8_t small[8];
    size_t written = 0;
    CHECK_STATUS(msig_aggregator_prove(agg, opts, small, sizeof small, &written),
                 MSIG_BUFFER_TOO_SMALL);
    uint8_t *proof = malloc(written);
    CHECK_STATUS(msig_aggregator_prove(agg, opts, proof, written, len), MSIG_OK);
    msig_aggregator_free(agg);
    return proof;
}

/* The proof `agg` makes under `opts`, asked for first with too small a buffer (which reports the
 * length) and then with an exact one; its length in `*len`. */
static uint8_t *prove_parent_bytes(msig_aggregator *agg, const msig_prove_options *opts,
                                   size_t *len) {
    uint8_t small[8];
    size_t written = 0, again = 0;
    CHECK_STATUS(msig_aggregator_prove(agg, opts, small, sizeof small, &written),
                 MSIG_BUFFER_TOO_SMALL);
    uint8_t *proof = malloc(written);
    CHECK_STATUS(msig_aggregator_prove(agg, opts, proof, written, &again), MSIG_OK);
    CHECK(again == written);
    *len = written;
    return proof;
}

int main(int argc, char **argv) {
    const char *dir = vectors_dir(argc, argv);
    aggregate_vector v;
    load_aggregate_vector(dir, &v);
    CHECK(v.n == 4);
    const size_t K = MSIG_PUBLIC_KEY_LEN;
    msig_prove_options p1 = {.backend = MSIG_BACKEND_FRI_POSEIDON1};
    const size_t a_idx[2] = {0, 1}, b_idx[2] = {1, 2};
    uint8_t a_pks[2 * MSIG_PUBLIC_KEY_LEN], b_pks[2 * MSIG_PUBLIC_KEY_LEN];
    uint8_t k_pks[2 * MSIG_PUBLIC_KEY_LEN];
    size_t a_len = 0, b_len = 0, k_len = 0;
    uint8_t *a = prove_signers(&v, a_idx, 2, &p1, &a_len, a_pks);
    uint8_t *b = prove_signers(&v, b_idx, 2, &p1, &b_len, b_pks);
    uint8_t *keccak = prove_signers(&v, a_idx, 2, NULL, &k_len, k_pks);

    msig_aggregator *agg = NULL;
    CHECK_STATUS(msig_aggregator_new(v.message, v.epoch, &agg), MSIG_OK);
    if (!agg) return finish("test_children");
    size_t count = 99;

    /* Arguments, keys, children that do not verify or cannot be children: all refused, the
     * aggregator unchanged. */
    CHECK_STATUS(msig_aggregator_add_child(NULL, a, a_len, a_pks, 2), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_aggregator_add_child(agg, NULL, a_len, a_pks, 2), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_aggregator_add_child(agg, a, a_len, NULL, 2), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_aggregator_add_child(agg, a, a_len, a_pks, SIZE_MAX), MSIG_INVALID_ARGUMENT);
    uint8_t bad_pks[2 * MSIG_PUBLIC_KEY_LEN];
    memset(bad_pks, 0xff, sizeof bad_pks);
    CHECK_STATUS(msig_aggregator_add_child(agg, a, a_len, bad_pks, 2), MSIG_MALFORMED_PUBLIC_KEY);
    CHECK_STATUS(msig_aggregator_add_child(agg, a, a_len, b_pks, 2), MSIG_PROOF_INVALID);
    CHECK_STATUS(msig_aggregator_add_child(agg, a, a_len - 1, a_pks, 2), MSIG_PROOF_INVALID);
    CHECK_STATUS(msig_aggregator_add_child(agg, a, a_len, a_pks, 1), MSIG_PROOF_INVALID);
    CHECK_STATUS(msig_aggregator_add_child(agg, keccak, k_len, k_pks, 2), MSIG_PROOF_INVALID);
    CHECK_STATUS(msig_aggregator_num_children(agg, &count), MSIG_OK);
    CHECK(count == 0);
    CHECK_STATUS(msig_aggregator_num_children(agg, NULL), MSIG_NULL_ARGUMENT);

    /* Two overlapping children. */
    CHECK_STATUS(msig_aggregator_add_child(agg, a, a_len, a_pks, 2), MSIG_OK);
    CHECK_STATUS(msig_aggregator_add_child(agg, b, b_len, b_pks, 2), MSIG_OK);
    CHECK_STATUS(msig_aggregator_num_children(agg, &count), MSIG_OK);
    CHECK(count == 2);

    /* Options naming another preset than the children's; a limit below the parent's worst
     * case. Nothing is proved. */
    uint8_t small[8];
    size_t written = 0;
    CHECK_STATUS(msig_aggregator_prove(agg, NULL, small, sizeof small, &written),
                 MSIG_INVALID_OPTIONS);
    msig_prove_options tight = {.backend = MSIG_BACKEND_FRI_POSEIDON1, .max_proof_bytes = 1000};
    CHECK_STATUS(msig_aggregator_prove(agg, &tight, small, sizeof small, &written),
                 MSIG_PROOF_TOO_LARGE);

    /* The parent. */
    msig_prove_options roomy = {.backend = MSIG_BACKEND_FRI_POSEIDON1,
                                .max_proof_bytes = 4u << 20};
    CHECK_STATUS(msig_aggregator_prove(agg, &roomy, small, sizeof small, &written),
                 MSIG_BUFFER_TOO_SMALL);
    size_t len = written;
    uint8_t *parent = malloc(len);
    CHECK_STATUS(msig_aggregator_prove(agg, &roomy, parent, len, &written), MSIG_OK);
    CHECK(written == len);
    printf("parent over 2 children of 2: %zu bytes\n", len);

    /* It verifies for the union (signers 0, 1, 2), in any order, and for nothing else. */
    uint8_t u_pks[3 * MSIG_PUBLIC_KEY_LEN], r_pks[3 * MSIG_PUBLIC_KEY_LEN];
    for (size_t i = 0; i < 3; i++) {
        memcpy(u_pks + i * K, v.signers[i].pk, K);
        memcpy(r_pks + (2 - i) * K, v.signers[i].pk, K);
    }
    CHECK_STATUS(msig_verify_aggregate(parent, len, u_pks, 3, v.message, v.epoch, NULL), MSIG_OK);
    CHECK_STATUS(msig_verify_aggregate(parent, len, r_pks, 3, v.message, v.epoch, NULL), MSIG_OK);
    uint8_t other_msg[MSIG_MESSAGE_LEN];
    memcpy(other_msg, v.message, sizeof other_msg);
    other_msg[0] ^= 1;
    CHECK_PROOF_REJECTED(msig_verify_aggregate(parent, len, u_pks, 3, other_msg, v.epoch, NULL));
    CHECK_PROOF_REJECTED(
        msig_verify_aggregate(parent, len, u_pks, 3, v.message, v.epoch + 1, NULL));
    CHECK_PROOF_REJECTED(msig_verify_aggregate(parent, len, u_pks, 2, v.message, v.epoch, NULL));
    CHECK_PROOF_REJECTED(
        msig_verify_aggregate(parent, len - 1, u_pks, 3, v.message, v.epoch, NULL));
    uint8_t four[4 * MSIG_PUBLIC_KEY_LEN];
    memcpy(four, u_pks, 3 * K);
    memcpy(four + 3 * K, v.signers[3].pk, K);
    CHECK_PROOF_REJECTED(msig_verify_aggregate(parent, len, four, 4, v.message, v.epoch, NULL));
    uint8_t *flipped = malloc(len);
    const size_t fractions[] = {0, 1, 3, 7, 13, 16};
    for (size_t i = 0; i < sizeof fractions / sizeof fractions[0]; i++) {
        size_t pos = fractions[i] == 16 ? len - 1 : len * fractions[i] / 16;
        memcpy(flipped, parent, len);
        flipped[pos] ^= 0x10;
        CHECK_PROOF_REJECTED(
            msig_verify_aggregate(flipped, len, u_pks, 3, v.message, v.epoch, NULL));
    }
    free(flipped);

    /* The compact parent (the same verifier AIRs proved over WHIR at rate 1/4) under the default
     * byte limit: it fits the 512 KiB wire cap and verifies for the union, for nothing else. */
    msig_prove_options compact = {.backend = MSIG_BACKEND_WHIR, .log_inv_rate = 2};
    size_t clen = 0;
    uint8_t *cparent = prove_parent_bytes(agg, &compact, &clen);
    CHECK(clen <= 512u * 1024);
    printf("compact parent over 2 children of 2: %zu bytes\n", clen);
    CHECK_STATUS(msig_verify_aggregate(cparent, clen, r_pks, 3, v.message, v.epoch, NULL),
                 MSIG_OK);
    CHECK_PROOF_REJECTED(msig_verify_aggregate(cparent, clen, u_pks, 3, other_msg, v.epoch, NULL));
    CHECK_PROOF_REJECTED(
        msig_verify_aggregate(cparent, clen, u_pks, 3, v.message, v.epoch + 1, NULL));
    CHECK_PROOF_REJECTED(msig_verify_aggregate(cparent, clen, four, 4, v.message, v.epoch, NULL));
    CHECK_PROOF_REJECTED(
        msig_verify_aggregate(cparent, clen - 1, u_pks, 3, v.message, v.epoch, NULL));
    cparent[clen / 2] ^= 0x10;
    CHECK_PROOF_REJECTED(msig_verify_aggregate(cparent, clen, u_pks, 3, v.message, v.epoch, NULL));
    cparent[clen / 2] ^= 0x10;

    /* Children of different sizes (signers 1, 2, 3 and 0, 1): a compact parent for the union of
     * all four signers, and not for three of them or another message. */
    const size_t c_idx[3] = {1, 2, 3};
    uint8_t c_pks[3 * MSIG_PUBLIC_KEY_LEN];
    size_t c_len = 0;
    uint8_t *c = prove_signers(&v, c_idx, 3, &p1, &c_len, c_pks);
    msig_aggregator *mixed = NULL;
    CHECK_STATUS(msig_aggregator_new(v.message, v.epoch, &mixed), MSIG_OK);
    CHECK_STATUS(msig_aggregator_add_child(mixed, c, c_len, c_pks, 3), MSIG_OK);
    CHECK_STATUS(msig_aggregator_add_child(mixed, a, a_len, a_pks, 2), MSIG_OK);
    size_t mlen = 0;
    uint8_t *mparent = prove_parent_bytes(mixed, &compact, &mlen);
    CHECK(mlen <= 512u * 1024);
    printf("compact parent over children of 3 and 2: %zu bytes\n", mlen);
    CHECK_STATUS(msig_verify_aggregate(mparent, mlen, four, 4, v.message, v.epoch, NULL), MSIG_OK);
    CHECK_PROOF_REJECTED(msig_verify_aggregate(mparent, mlen, u_pks, 3, v.message, v.epoch, NULL));
    CHECK_PROOF_REJECTED(msig_verify_aggregate(mparent, mlen, four, 4, other_msg, v.epoch, NULL));
    free(mparent);
    free(c);
    msig_aggregator_free(mixed);

    /* A parent cannot be a child yet. A signature beside a child (signer 3 beside signers 0, 1)
     * is proved as one more child first: a compact parent for signers 0, 1, 3 only. */
    msig_aggregator *other = NULL;
    CHECK_STATUS(msig_aggregator_new(v.message, v.epoch, &other), MSIG_OK);
    CHECK_STATUS(msig_aggregator_add_child(other, parent, len, u_pks, 3), MSIG_PROOF_INVALID);
    CHECK_STATUS(msig_aggregator_add_child(other, cparent, clen, u_pks, 3), MSIG_PROOF_INVALID);
    CHECK_STATUS(msig_aggregator_add_child(other, a, a_len, a_pks, 2), MSIG_OK);
    const signer *s = &v.signers[3];
    CHECK_STATUS(msig_aggregator_add(other, s->pk, s->sig, s->sig_len), MSIG_OK);
    size_t olen = 0;
    uint8_t *oparent = prove_parent_bytes(other, &compact, &olen);
    uint8_t raw_pks[3 * MSIG_PUBLIC_KEY_LEN];
    memcpy(raw_pks, a_pks, 2 * K);
    memcpy(raw_pks + 2 * K, s->pk, K);
    CHECK_STATUS(msig_verify_aggregate(oparent, olen, raw_pks, 3, v.message, v.epoch, NULL),
                 MSIG_OK);
    CHECK_PROOF_REJECTED(msig_verify_aggregate(oparent, olen, a_pks, 2, v.message, v.epoch, NULL));
    CHECK_PROOF_REJECTED(msig_verify_aggregate(oparent, olen, four, 4, v.message, v.epoch, NULL));
    free(oparent);
    msig_aggregator_free(other);

    free(parent);
    free(cparent);
    msig_aggregator_free(agg);
    free(a);
    free(b);
    free(keccak);
    free_aggregate_vector(&v);
    return finish("test_children");
}
