/*
 * Type-2: Type-1 proofs of real signatures made by other clients, on three different (message,
 * epoch) pairs (signers 0 and 1 of the leanSig 4-signer vector, one valid leanSig single
 * signature of another message or epoch, and leanMultisig's vector), each proved under the
 * recursion-ready backend, become one Type-2 proof through msig_type2_merge, within the 512 KiB
 * wire cap. msig_verify_type2 verifies it for the three components in any order and for nothing
 * else: another message, epoch or key in any component, a component left out, twice or added
 * all fail. Refused before proving: NULL and oversized arguments, no component, two components
 * of one message and epoch, malformed keys, options other than WHIR, a byte limit below the
 * worst case; a component whose proof is not its statement's is refused (MSIG_PROOF_INVALID).
 * Each component split out (msig_type2_split) verifies through msig_verify_aggregate for that
 * component only, and is refused as a child and as a component; a split is refused for components the Type-2 does not verify for.
 * Not run under valgrind (a merge takes seconds natively).
 */
#include "common.h"

/* A Type-1 proof (recursion-ready backend) of the signatures `sigs[0..n]` by `pks` (n x 52
 * bytes) on `message` at `epoch`; its length in `*len`. */
static uint8_t *prove_type1(const uint8_t *message, uint32_t epoch, const uint8_t *pks,
                            uint8_t *const *sigs, const size_t *sig_lens, size_t n, size_t *len) {
    msig_prove_options p1 = {.backend = MSIG_BACKEND_FRI_POSEIDON1};
    msig_aggregator *agg = NULL;
    CHECK_STATUS(msig_aggregator_new(message, epoch, &agg), MSIG_OK);
    for (size_t i = 0; i < n; i++) {
        CHECK_STATUS(msig_aggregator_add(agg, pks + i * MSIG_PUBLIC_KEY_LEN, sigs[i], sig_lens[i]),
                     MSIG_OK);
    }
    size_t cap = 512u * 1024;
    uint8_t *proof = malloc(cap);
    CHECK_STATUS(msig_aggregator_prove(agg, &p1, proof, cap, len), MSIG_OK);
    msig_aggregator_free(agg);
    return proof;
}

int main(int argc, char **argv) {
    const char *dir = vectors_dir(argc, argv);
    const size_t K = MSIG_PUBLIC_KEY_LEN;
    aggregate_vector v;
    load_aggregate_vector(dir, &v);
    single_vector singles[8];
    size_t ns = load_single_vectors(dir, singles, 8);
    CHECK(v.n == 4 && ns == 5);

    /* Component a: signers 0 and 1 of the aggregate vector. */
    uint8_t a_pks[2 * MSIG_PUBLIC_KEY_LEN];
    uint8_t *a_sigs[2] = {v.signers[0].sig, v.signers[1].sig};
    size_t a_sig_lens[2] = {v.signers[0].sig_len, v.signers[1].sig_len};
    memcpy(a_pks, v.signers[0].pk, K);
    memcpy(a_pks + K, v.signers[1].pk, K);
    /* Component b: the first valid leanSig single signature of another (message, epoch) than
     * a's; component c: leanMultisig's vector (the last single). */
    const single_vector *b = NULL, *c = &singles[ns - 1];
    for (size_t i = 0; i + 1 < ns && !b; i++) {
        const single_vector *s = &singles[i];
        int same = s->epoch == v.epoch && memcmp(s->message, v.message, MSIG_MESSAGE_LEN) == 0;
        if (!same && msig_verify(s->pk, s->epoch, s->message, s->sig, s->sig_len) == MSIG_OK) b = s;
    }
    CHECK(b != NULL);
    if (!b) return finish("test_type2");
    CHECK(!(c->epoch == b->epoch && memcmp(c->message, b->message, MSIG_MESSAGE_LEN) == 0));

    size_t a_len = 0, b_len = 0, c_len = 0;
    uint8_t *a = prove_type1(v.message, v.epoch, a_pks, a_sigs, a_sig_lens, 2, &a_len);
    uint8_t *bp = prove_type1(b->message, b->epoch, b->pk, &b->sig, &b->sig_len, 1, &b_len);
    uint8_t *cp = prove_type1(c->message, c->epoch, c->pk, &c->sig, &c->sig_len, 1, &c_len);

    msig_aggregate_statement st[3] = {
        {a, a_len, a_pks, 2, v.message, v.epoch},
        {bp, b_len, b->pk, 1, b->message, b->epoch},
        {cp, c_len, c->pk, 1, c->message, c->epoch},
    };

    /* Refused before proving. */
    size_t cap = 512u * 1024, written = 0;
    uint8_t *proof = malloc(cap);
    CHECK_STATUS(msig_type2_merge(NULL, 3, NULL, proof, cap, &written), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_type2_merge(st, 3, NULL, NULL, cap, &written), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_type2_merge(st, 3, NULL, proof, cap, NULL), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_type2_merge(st, 0, NULL, proof, cap, &written), MSIG_INVALID_ARGUMENT);
    CHECK_STATUS(msig_type2_merge(st, SIZE_MAX, NULL, proof, cap, &written),
                 MSIG_INVALID_ARGUMENT);
    msig_aggregate_statement twice[2] = {st[0], st[0]};
    CHECK_STATUS(msig_type2_merge(twice, 2, NULL, proof, cap, &written), MSIG_INVALID_ARGUMENT);
    msig_aggregate_statement bad = st[1];
    uint8_t bad_pk[MSIG_PUBLIC_KEY_LEN];
    memset(bad_pk, 0xff, sizeof bad_pk);
    bad.public_keys = bad_pk;
    msig_aggregate_statement with_bad[3] = {st[0], bad, st[2]};
    CHECK_STATUS(msig_type2_merge(with_bad, 3, NULL, proof, cap, &written),
                 MSIG_MALFORMED_PUBLIC_KEY);
    msig_prove_options fri = {.backend = MSIG_BACKEND_FRI_POSEIDON1};
    CHECK_STATUS(msig_type2_merge(st, 3, &fri, proof, cap, &written), MSIG_INVALID_OPTIONS);
    msig_prove_options tight = {.backend = MSIG_BACKEND_WHIR, .max_proof_bytes = 1000};
    CHECK_STATUS(msig_type2_merge(st, 3, &tight, proof, cap, &written), MSIG_PROOF_TOO_LARGE);
    /* b's proof named as c's statement: it does not verify for it. */
    msig_aggregate_statement swapped[2] = {st[0], st[2]};
    swapped[1].proof = bp;
    swapped[1].proof_len = b_len;
    CHECK_STATUS(msig_type2_merge(swapped, 2, NULL, proof, cap, &written), MSIG_PROOF_INVALID);

    /* The merge, the caller's order not the canonical one. */
    msig_aggregate_statement order[3] = {st[2], st[0], st[1]};
    CHECK_STATUS(msig_type2_merge(order, 3, NULL, proof, cap, &written), MSIG_OK);
    size_t len = written;
    CHECK(len > 0 && len <= 512u * 1024);
    printf("Type-2 of 3 components (2, 1, 1 keys): %zu bytes\n", len);

    msig_type2_component comp[3] = {
        {a_pks, 2, v.message, v.epoch},
        {b->pk, 1, b->message, b->epoch},
        {c->pk, 1, c->message, c->epoch},
    };
    CHECK_STATUS(msig_verify_type2(proof, len, comp, 3, NULL), MSIG_OK);
    msig_type2_component permuted[3] = {comp[1], comp[2], comp[0]};
    CHECK_STATUS(msig_verify_type2(proof, len, permuted, 3, NULL), MSIG_OK);
    uint8_t a_rev[2 * MSIG_PUBLIC_KEY_LEN];
    memcpy(a_rev, a_pks + K, K);
    memcpy(a_rev + K, a_pks, K);
    msig_type2_component reordered[3] = {{a_rev, 2, v.message, v.epoch}, comp[1], comp[2]};
    CHECK_STATUS(msig_verify_type2(proof, len, reordered, 3, NULL), MSIG_OK);

    /* Nothing else verifies. */
    uint8_t other_msg[MSIG_MESSAGE_LEN];
    uint8_t e_msg_bytes[MSIG_MESSAGE_LEN];
    memcpy(e_msg_bytes, comp[1].message, MSIG_MESSAGE_LEN);
    e_msg_bytes[3] ^= 1;
    msig_type2_component e_msg[3] = {comp[0], {b->pk, 1, e_msg_bytes, b->epoch}, comp[2]};
    for (size_t i = 0; i < 3; i++) {
        msig_type2_component e[3] = {comp[0], comp[1], comp[2]};
        memcpy(other_msg, comp[i].message, MSIG_MESSAGE_LEN);
        other_msg[7] ^= 1;
        e[i].message = other_msg;
        CHECK_PROOF_REJECTED(msig_verify_type2(proof, len, e, 3, NULL));
        msig_type2_component f[3] = {comp[0], comp[1], comp[2]};
        f[i].epoch += 1000;
        CHECK_PROOF_REJECTED(msig_verify_type2(proof, len, f, 3, NULL));
        msig_type2_component g[2] = {comp[i], comp[(i + 1) % 3]};
        CHECK_PROOF_REJECTED(msig_verify_type2(proof, len, g, 2, NULL));
    }
    uint8_t a_other[2 * MSIG_PUBLIC_KEY_LEN];
    memcpy(a_other, a_pks, K);
    memcpy(a_other + K, v.signers[2].pk, K);
    msig_type2_component other_key[3] = {{a_other, 2, v.message, v.epoch}, comp[1], comp[2]};
    CHECK_PROOF_REJECTED(msig_verify_type2(proof, len, other_key, 3, NULL));
    msig_type2_component one_key[3] = {{a_pks, 1, v.message, v.epoch}, comp[1], comp[2]};
    CHECK_PROOF_REJECTED(msig_verify_type2(proof, len, one_key, 3, NULL));
    msig_type2_component four[4] = {comp[0], comp[1], comp[2], comp[1]};
    CHECK_PROOF_REJECTED(msig_verify_type2(proof, len, four, 4, NULL));
    msig_type2_component b_as_c[3] = {comp[0], comp[1], {b->pk, 1, c->message, c->epoch}};
    CHECK_PROOF_REJECTED(msig_verify_type2(proof, len, b_as_c, 3, NULL));
    CHECK_PROOF_REJECTED(msig_verify_type2(proof, len - 1, comp, 3, NULL));
    uint8_t *flipped = malloc(len);
    for (size_t k = 0; k < 8; k++) {
        memcpy(flipped, proof, len);
        flipped[16 + k * (len - 16) / 8] ^= 0x10;
        CHECK_PROOF_REJECTED(msig_verify_type2(flipped, len, comp, 3, NULL));
    }
    free(flipped);
    CHECK_STATUS(msig_verify_type2(NULL, len, comp, 3, NULL), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_verify_type2(proof, len, NULL, 3, NULL), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_verify_type2(proof, len, comp, SIZE_MAX, NULL), MSIG_INVALID_ARGUMENT);
    msig_type2_component bad_comp[3] = {comp[0], {bad_pk, 1, b->message, b->epoch}, comp[2]};
    CHECK_STATUS(msig_verify_type2(proof, len, bad_comp, 3, NULL), MSIG_MALFORMED_PUBLIC_KEY);
    /* A Type-2 proof is not a Type-1 proof of any component, nor the other way round. */
    CHECK_STATUS(msig_verify_aggregate(proof, len, a_pks, 2, v.message, v.epoch, NULL),
                 MSIG_MALFORMED_PROOF);
    CHECK_STATUS(msig_verify_type2(a, a_len, comp, 1, NULL), MSIG_MALFORMED_PROOF);

    /* Split each component out (the components named in another order): msig_verify_aggregate
     * takes the split for that component (keys in any order) and for nothing else. */
    uint8_t *split = malloc(cap);
    size_t split_len = 0;
    for (size_t t = 0; t < 3; t++) {
        CHECK_STATUS(msig_type2_split(proof, len, permuted, 3, t, NULL, split, cap, &split_len),
                     MSIG_OK);
        CHECK(split_len == len + 20 + 76 * 2 && split_len <= 512u * 1024);
        const msig_type2_component *own = &permuted[t];
        CHECK_STATUS(msig_verify_aggregate(split, split_len, own->public_keys,
                                           own->num_public_keys, own->message, own->epoch, NULL),
                     MSIG_OK);
        for (size_t j = 0; j < 3; j++) {
            if (j == t) continue;
            const msig_type2_component *o = &permuted[j];
            CHECK_PROOF_REJECTED(msig_verify_aggregate(split, split_len, o->public_keys,
                                                       o->num_public_keys, o->message, o->epoch,
                                                       NULL));
        }
        memcpy(other_msg, own->message, MSIG_MESSAGE_LEN);
        other_msg[7] ^= 1;
        CHECK_PROOF_REJECTED(msig_verify_aggregate(split, split_len, own->public_keys,
                                                   own->num_public_keys, other_msg, own->epoch,
                                                   NULL));
        CHECK_PROOF_REJECTED(msig_verify_aggregate(split, split_len, own->public_keys,
                                                   own->num_public_keys, own->message,
                                                   own->epoch + 1000, NULL));
    }
    /* The last split is of comp[0] (component a, two keys): in the other key order it verifies;
     * with another key, one key, a byte flipped or cut, it does not. */
    CHECK_STATUS(msig_verify_aggregate(split, split_len, a_rev, 2, v.message, v.epoch, NULL),
                 MSIG_OK);
    CHECK_PROOF_REJECTED(msig_verify_aggregate(split, split_len, a_other, 2, v.message, v.epoch,
                                               NULL));
    CHECK_PROOF_REJECTED(msig_verify_aggregate(split, split_len, a_pks, 1, v.message, v.epoch,
                                               NULL));
    CHECK_PROOF_REJECTED(msig_verify_aggregate(split, split_len - 1, a_pks, 2, v.message, v.epoch,
                                               NULL));
    flipped = malloc(split_len);
    for (size_t k = 0; k < 8; k++) {
        memcpy(flipped, split, split_len);
        flipped[16 + k * (split_len - 16) / 8] ^= 0x10;
        CHECK_PROOF_REJECTED(msig_verify_aggregate(flipped, split_len, a_pks, 2, v.message,
                                                   v.epoch, NULL));
    }
    free(flipped);
    /* Not yet a child. */
    msig_aggregator *parent = NULL;
    CHECK_STATUS(msig_aggregator_new(v.message, v.epoch, &parent), MSIG_OK);
    CHECK_STATUS(msig_aggregator_add_child(parent, split, split_len, a_pks, 2), MSIG_PROOF_INVALID);
    msig_aggregator_free(parent);
    /* Nor a component. */
    msig_aggregate_statement with_split[2] = {st[1], st[0]};
    with_split[1].proof = split;
    with_split[1].proof_len = split_len;
    uint8_t *merged = malloc(cap);
    size_t merged_len = 0;
    CHECK_STATUS(msig_type2_merge(with_split, 2, NULL, merged, cap, &merged_len),
                 MSIG_PROOF_INVALID);
    free(merged);
    /* Refused: a Type-2 that does not verify for the components named, `take` out of range, a
     * split as a Type-2, NULL arguments, a buffer too small (its size in `written`). */
    size_t w = 0;
    CHECK_STATUS(msig_type2_split(proof, len, e_msg, 3, 0, NULL, split, cap, &w),
                 MSIG_PROOF_INVALID);
    CHECK_STATUS(msig_type2_split(proof, len, comp, 3, 3, NULL, split, cap, &w),
                 MSIG_INVALID_ARGUMENT);
    CHECK_STATUS(msig_type2_split(proof, len, comp, 2, 0, NULL, split, cap, &w),
                 MSIG_PROOF_INVALID);
    CHECK_STATUS(msig_type2_split(NULL, len, comp, 3, 0, NULL, split, cap, &w), MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_type2_split(proof, len, comp, 3, 0, NULL, NULL, cap, &w),
                 MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_type2_split(proof, len, comp, 3, 0, NULL, split, cap, NULL),
                 MSIG_NULL_ARGUMENT);
    CHECK_STATUS(msig_type2_split(proof, len, comp, 3, 0, NULL, split, 100, &w),
                 MSIG_BUFFER_TOO_SMALL);
    CHECK(w == split_len);
    uint8_t *split2 = malloc(cap);
    CHECK_STATUS(msig_type2_split(split, split_len, comp, 3, 0, NULL, split2, cap, &w),
                 MSIG_MALFORMED_PROOF);
    free(split2);
    free(split);

    free(proof);
    free(a);
    free(bp);
    free(cp);
    for (size_t i = 0; i < ns; i++) free(singles[i].sig);
    free_aggregate_vector(&v);
    return finish("test_type2");
}
