/*
 * Aggregation end to end on the real 4-signer leanSig vector: add, prove, verify (single and
 * batch), and every rejection: duplicate and foreign signatures, malformed inputs, empty
 * aggregate, invalid options, byte limits, too-small buffers, wrong message or epoch, other key
 * lists, truncated and bit-flipped proofs, and the verifier's preset policy (required presets,
 * conjectured presets refused by default and accepted when opted in).
 */
#include "common.h"

/* A proof of (pks, n keys, message, epoch) is rejected for another message, another epoch, the
 * last key dropped, its last byte dropped, and with one bit flipped at each of six positions
 * spread over it (first byte to last). */
static void check_statement_bound(const uint8_t *proof, size_t len, const uint8_t *pks, size_t n,
                                  const uint8_t *message, const uint8_t *other_msg,
                                  uint32_t epoch) {
    CHECK_PROOF_REJECTED(msig_verify_aggregate(proof, len, pks, n, other_msg, epoch, NULL));
    CHECK_PROOF_REJECTED(msig_verify_aggregate(proof, len, pks, n, message, epoch + 1, NULL));
    CHECK_PROOF_REJECTED(msig_verify_aggregate(proof, len, pks, n - 1, message, epoch, NULL));
    CHECK_PROOF_REJECTED(msig_verify_aggregate(proof, len - 1, pks, n, message, epoch, NULL));
    const size_t fractions[] = {0, 1, 3, 7, 13, 16};
    uint8_t *flipped = malloc(len);
    for (size_t i = 0; i < sizeof fractions / sizeof fractions[0]; i++) {
        size_t pos = fractions[i] == 16 ? len - 1 : len * fractions[i] / 16;
        memcpy(flipped, proof, len);
        flipped[pos] ^= 0x10;
        CHECK_PROOF_REJECTED(msig_verify_aggregate(flipped, len, pks, n, message, epoch, NULL));
    }
    free(flipped);
}

/* A proof made under `opts`, a preset other than the default: it verifies under the default
 * policy and when `opts` is required, and is refused when the default preset is required; the
 * default preset's proof `fri` is refused when `opts` is required. Then the statement checks of
 * check_statement_bound. */
static void check_other_preset(const uint8_t *proof, size_t len, const msig_prove_options *opts,
                               const uint8_t *fri, size_t fri_len, const uint8_t *pks, size_t n,
                               const uint8_t *message, const uint8_t *other_msg,
                               uint32_t epoch) {
    CHECK_STATUS(msig_verify_aggregate(proof, len, pks, n, message, epoch, NULL), MSIG_OK);
    msig_verify_options require_opts = {.require = opts};
    CHECK_STATUS(msig_verify_aggregate(proof, len, pks, n, message, epoch, &require_opts),
                 MSIG_OK);
    msig_prove_options defaults = msig_prove_options_default();
    msig_verify_options require_defaults = {.require = &defaults};
    CHECK_STATUS(msig_verify_aggregate(proof, len, pks, n, message, epoch, &require_defaults),
                 MSIG_PRESET_NOT_ACCEPTED);
    CHECK_STATUS(msig_verify_aggregate(fri, fri_len, pks, n, message, epoch, &require_opts),
                 MSIG_PRESET_NOT_ACCEPTED);
    check_statement_bound(proof, len, pks, n, message, other_msg, epoch);
}

int main(int argc, char **argv) {
    const char *dir = vectors_dir(argc, argv);
    aggregate_vector v;
    load_aggregate_vector(dir, &v);
    CHECK(v.n == 4);

    msig_aggregator *agg = NULL;
    CHECK_STATUS(msig_aggregator_new(v.message, v.epoch, &agg), MSIG_OK);
    if (!agg) return finish("test_aggregate");

    /* Empty aggregate. */
    uint8_t small[8];
    size_t written = 0;
    CHECK_STATUS(msig_aggregator_prove(agg, NULL, small, sizeof small, &written),
                 MSIG_EMPTY_AGGREGATE);

    /* Malformed inputs leave the aggregator unchanged. */
    uint8_t bad_pk[MSIG_PUBLIC_KEY_LEN];
    memset(bad_pk, 0xff, sizeof bad_pk);
    CHECK_STATUS(msig_aggregator_add(agg, bad_pk, v.signers[0].sig, v.signers[0].sig_len),
                 MSIG_MALFORMED_PUBLIC_KEY);
    CHECK_STATUS(msig_aggregator_add(agg, v.signers[0].pk, v.signers[0].sig, 100),
                 MSIG_MALFORMED_SIGNATURE);
    /* A valid signature under the wrong key. */
    CHECK_STATUS(msig_aggregator_add(agg, v.signers[1].pk, v.signers[0].sig, v.signers[0].sig_len),
                 MSIG_INVALID_SIGNATURE);
    size_t len = 99;
    CHECK_STATUS(msig_aggregator_len(agg, &len), MSIG_OK);
    CHECK(len == 0);

    for (size_t i = 0; i < v.n; i++) {
        CHECK_STATUS(msig_aggregator_add(agg, v.signers[i].pk, v.signers[i].sig,
                                         v.signers[i].sig_len),
                     MSIG_OK);
    }
    CHECK_STATUS(msig_aggregator_add(agg, v.signers[2].pk, v.signers[2].sig, v.signers[2].sig_len),
                 MSIG_DUPLICATE_PUBLIC_KEY);
    CHECK_STATUS(msig_aggregator_len(agg, &len), MSIG_OK);
    CHECK(len == v.n);

    /* A signature on another message cannot join. */
    msig_aggregator *other = NULL;
    uint8_t other_msg[MSIG_MESSAGE_LEN];
    memcpy(other_msg, v.message, sizeof other_msg);
    other_msg[0] ^= 0x80;
    CHECK_STATUS(msig_aggregator_new(other_msg, v.epoch, &other), MSIG_OK);
    CHECK_STATUS(msig_aggregator_add(other, v.signers[0].pk, v.signers[0].sig,
                                     v.signers[0].sig_len),
                 MSIG_INVALID_SIGNATURE);
    msig_aggregator_free(other);

    /* Public keys in the order of adds (the verifier may pass them in any order). */
    uint8_t pks[16 * MSIG_PUBLIC_KEY_LEN];
    CHECK_STATUS(msig_aggregator_public_keys(agg, pks, 10, &written), MSIG_BUFFER_TOO_SMALL);
    CHECK(written == v.n * MSIG_PUBLIC_KEY_LEN);
    CHECK_STATUS(msig_aggregator_public_keys(agg, pks, sizeof pks, &written), MSIG_OK);
    CHECK(written == v.n * MSIG_PUBLIC_KEY_LEN);
    for (size_t i = 0; i < v.n; i++)
        CHECK(memcmp(pks + i * MSIG_PUBLIC_KEY_LEN, v.signers[i].pk, MSIG_PUBLIC_KEY_LEN) == 0);

    /* Invalid rate. */
    msig_prove_options bad_rate = {.regime = MSIG_REGIME_PROVEN, .log_inv_rate = 200};
    CHECK_STATUS(msig_aggregator_prove(agg, &bad_rate, small, sizeof small, &written),
                 MSIG_INVALID_OPTIONS);

    /* Byte limits are checked before proving: nothing is written, not even *written. FRI at
     * rate 1/2 can exceed the default 512 KiB limit even for a few signatures. */
    msig_prove_options one_byte = {.max_proof_bytes = 1};
    msig_prove_options half = {.log_inv_rate = 1};
    memset(small, 0x5A, sizeof small);
    written = 4242;
    CHECK_STATUS(msig_aggregator_prove(agg, &one_byte, small, sizeof small, &written),
                 MSIG_PROOF_TOO_LARGE);
    CHECK_STATUS(msig_aggregator_prove(agg, &half, small, sizeof small, &written),
                 MSIG_PROOF_TOO_LARGE);
    CHECK(written == 4242 && small[0] == 0x5A && small[7] == 0x5A);

    /* Prove: first learn the size (the buffer must stay untouched), then fetch the proof. */
    memset(small, 0x5A, sizeof small);
    written = 0;
    CHECK_STATUS(msig_aggregator_prove(agg, NULL, small, sizeof small, &written),
                 MSIG_BUFFER_TOO_SMALL);
    CHECK(small[0] == 0x5A && small[7] == 0x5A);
    size_t proof_len = written;
    CHECK(proof_len > sizeof small);
    uint8_t *proof = malloc(proof_len ? proof_len : 1);
    CHECK_STATUS(msig_aggregator_prove(agg, NULL, proof, proof_len, &written), MSIG_OK);
    CHECK(written == proof_len);
    CHECK(proof_len <= 512 * 1024);
    printf("proof: %zu bytes for %zu signatures\n", proof_len, v.n);

    /* The kept proof answers only options with the same preset and limit. A limit below the
     * proof's size is refused before anything is copied (the limit bounds the worst case, which
     * is at least this proof), and nothing is written... */
    msig_prove_options below = {.max_proof_bytes = proof_len - 1};
    uint8_t *again = malloc(proof_len);
    memset(again, 0x33, proof_len);
    written = 4242;
    CHECK_STATUS(msig_aggregator_prove(agg, &below, again, proof_len, &written),
                 MSIG_PROOF_TOO_LARGE);
    CHECK(written == 4242 && again[0] == 0x33 && again[proof_len - 1] == 0x33);
    /* ...while the defaults spelled out (FRI rate 1/8, 512 KiB) are the same options: the kept
     * proof, byte for byte. */
    msig_prove_options spelled = {.regime = MSIG_REGIME_PROVEN, .log_inv_rate = 3,
                                  .backend = MSIG_BACKEND_FRI, .max_proof_bytes = 512 * 1024};
    CHECK_STATUS(msig_aggregator_prove(agg, &spelled, again, proof_len, &written), MSIG_OK);
    CHECK(written == proof_len && memcmp(again, proof, proof_len) == 0);
    free(again);

    size_t pk_bytes = v.n * MSIG_PUBLIC_KEY_LEN;
    CHECK_STATUS(msig_verify_aggregate(proof, proof_len, pks, v.n, v.message, v.epoch, NULL),
                 MSIG_OK);
    msig_verify_options policy = msig_verify_options_default();
    CHECK_STATUS(msig_verify_aggregate(proof, proof_len, pks, v.n, v.message, v.epoch, &policy),
                 MSIG_OK);
    msig_prove_options defaults = msig_prove_options_default();
    msig_verify_options require_defaults = {.require = &defaults};
    CHECK_STATUS(
        msig_verify_aggregate(proof, proof_len, pks, v.n, v.message, v.epoch, &require_defaults),
        MSIG_OK);
    /* Requiring another preset refuses it, with exactly MSIG_PRESET_NOT_ACCEPTED. */
    msig_prove_options conjectured = {.regime = MSIG_REGIME_CONJECTURED, .log_inv_rate = 0};
    msig_verify_options require_conjectured = {.require = &conjectured, .allow_conjectured = 1};
    CHECK_STATUS(
        msig_verify_aggregate(proof, proof_len, pks, v.n, v.message, v.epoch, &require_conjectured),
        MSIG_PRESET_NOT_ACCEPTED);
    msig_prove_options rate4 = {.log_inv_rate = 4};
    msig_verify_options require_rate4 = {.require = &rate4};
    CHECK_STATUS(
        msig_verify_aggregate(proof, proof_len, pks, v.n, v.message, v.epoch, &require_rate4),
        MSIG_PRESET_NOT_ACCEPTED);
    /* Opting into conjectured presets still accepts a proven proof. */
    msig_verify_options allow = {.allow_conjectured = 1};
    CHECK_STATUS(msig_verify_aggregate(proof, proof_len, pks, v.n, v.message, v.epoch, &allow),
                 MSIG_OK);

    /* Wrong statement (message, epoch, a key removed), truncated and bit-flipped proofs. */
    check_statement_bound(proof, proof_len, pks, v.n, v.message, other_msg, v.epoch);
    /* The statement is the key set: the keys in another order verify; a key listed twice,
     * replaced or added does not. */
    uint8_t *keys = malloc(pk_bytes + MSIG_PUBLIC_KEY_LEN);
    for (size_t i = 0; i < v.n; i++) /* reversed */
        memcpy(keys + i * MSIG_PUBLIC_KEY_LEN, pks + (v.n - 1 - i) * MSIG_PUBLIC_KEY_LEN,
               MSIG_PUBLIC_KEY_LEN);
    CHECK_STATUS(msig_verify_aggregate(proof, proof_len, keys, v.n, v.message, v.epoch, NULL),
                 MSIG_OK);
    memcpy(keys, pks, pk_bytes);
    memcpy(keys, pks + MSIG_PUBLIC_KEY_LEN, MSIG_PUBLIC_KEY_LEN); /* key 1 twice, key 0 gone */
    CHECK_PROOF_REJECTED(
        msig_verify_aggregate(proof, proof_len, keys, v.n, v.message, v.epoch, NULL));
    memcpy(keys, pks, pk_bytes);
    keys[3 * MSIG_PUBLIC_KEY_LEN] ^= 0x01; /* one key's root changes */
    CHECK_PROOF_REJECTED(
        msig_verify_aggregate(proof, proof_len, keys, v.n, v.message, v.epoch, NULL));
    memcpy(keys, pks, pk_bytes);
    memcpy(keys + pk_bytes, pks, MSIG_PUBLIC_KEY_LEN);
    CHECK_PROOF_REJECTED(
        msig_verify_aggregate(proof, proof_len, keys, v.n + 1, v.message, v.epoch, NULL));
    free(keys);

    /* Shorter truncations. */
    CHECK_PROOF_REJECTED(
        msig_verify_aggregate(proof, proof_len / 2, pks, v.n, v.message, v.epoch, NULL));
    CHECK_PROOF_REJECTED(msig_verify_aggregate(proof, 0, pks, v.n, v.message, v.epoch, NULL));
    uint8_t *flipped = malloc(proof_len); /* its last byte flipped, for the batch below */
    memcpy(flipped, proof, proof_len);
    flipped[proof_len - 1] ^= 0x10;

    /* The WHIR backend: the same statement, a smaller proof, the same checks. */
    msig_prove_options whir = {.regime = MSIG_REGIME_PROVEN, .log_inv_rate = 0,
                               .backend = MSIG_BACKEND_WHIR};
    /* Keys built ahead of the first WHIR proof are the ones it and the verifier use. */
    CHECK_STATUS(msig_prepare(&whir), MSIG_OK);
    CHECK_STATUS(msig_aggregator_prove(agg, &whir, small, sizeof small, &written),
                 MSIG_BUFFER_TOO_SMALL);
    size_t whir_len = written;
    uint8_t *whir_proof = malloc(whir_len);
    CHECK_STATUS(msig_aggregator_prove(agg, &whir, whir_proof, whir_len, &written), MSIG_OK);
    CHECK(written == whir_len);
    CHECK(whir_len < proof_len);
    printf("WHIR proof: %zu bytes for %zu signatures\n", whir_len, v.n);
    check_other_preset(whir_proof, whir_len, &whir, proof, proof_len, pks, v.n, v.message,
                       other_msg, v.epoch);
    free(whir_proof);
    /* WHIR has proven presets only, at log_inv_rate 1..2; unknown backends are refused. */
    msig_prove_options whir_bad = whir;
    whir_bad.regime = MSIG_REGIME_CONJECTURED;
    CHECK_STATUS(msig_aggregator_prove(agg, &whir_bad, small, sizeof small, &written),
                 MSIG_INVALID_OPTIONS);
    whir_bad = whir;
    whir_bad.log_inv_rate = 3;
    CHECK_STATUS(msig_aggregator_prove(agg, &whir_bad, small, sizeof small, &written),
                 MSIG_INVALID_OPTIONS);
    whir_bad = whir;
    whir_bad.backend = 3;
    CHECK_STATUS(msig_aggregator_prove(agg, &whir_bad, small, sizeof small, &written),
                 MSIG_INVALID_OPTIONS);

    /* The recursion-ready backend (FRI over Poseidon1-24 trees and transcript): the same
     * statement and checks; proven presets only. */
    msig_prove_options p1 = {.backend = MSIG_BACKEND_FRI_POSEIDON1};
    size_t p1_len = 0;
    CHECK_STATUS(msig_aggregator_prove(agg, &p1, small, 0, &p1_len), MSIG_BUFFER_TOO_SMALL);
    uint8_t *p1_proof = malloc(p1_len);
    CHECK_STATUS(msig_aggregator_prove(agg, &p1, p1_proof, p1_len, &written), MSIG_OK);
    CHECK(written == p1_len && p1_len <= 512 * 1024);
    printf("FRI-Poseidon1 proof: %zu bytes for %zu signatures\n", p1_len, v.n);
    check_other_preset(p1_proof, p1_len, &p1, proof, proof_len, pks, v.n, v.message, other_msg,
                       v.epoch);
    free(p1_proof);
    msig_prove_options p1_bad = p1;
    p1_bad.regime = MSIG_REGIME_CONJECTURED;
    CHECK_STATUS(msig_aggregator_prove(agg, &p1_bad, small, sizeof small, &written),
                 MSIG_INVALID_OPTIONS);

    /* A conjectured-regime proof: made on request, refused by the default verifier (NULL or
     * zeroed options) with MSIG_PRESET_NOT_ACCEPTED, accepted only when the verifier opts in. */
    size_t conj_len = 0;
    CHECK_STATUS(msig_aggregator_prove(agg, &conjectured, small, 0, &conj_len),
                 MSIG_BUFFER_TOO_SMALL);
    uint8_t *conj = malloc(conj_len);
    CHECK_STATUS(msig_aggregator_prove(agg, &conjectured, conj, conj_len, &written), MSIG_OK);
    CHECK(written == conj_len && conj_len < proof_len);
    printf("conjectured proof: %zu bytes for %zu signatures\n", conj_len, v.n);
    CHECK_STATUS(msig_verify_aggregate(conj, conj_len, pks, v.n, v.message, v.epoch, NULL),
                 MSIG_PRESET_NOT_ACCEPTED);
    CHECK_STATUS(msig_verify_aggregate(conj, conj_len, pks, v.n, v.message, v.epoch, &policy),
                 MSIG_PRESET_NOT_ACCEPTED);
    CHECK_STATUS(msig_verify_aggregate(conj, conj_len, pks, v.n, v.message, v.epoch, &allow),
                 MSIG_OK);
    CHECK_STATUS(msig_verify_aggregate(conj, conj_len, pks, v.n, v.message, v.epoch,
                                       &require_conjectured),
                 MSIG_OK);
    /* Requiring the conjectured preset without opting in does not accept it... */
    msig_verify_options require_only = {.require = &conjectured};
    CHECK_STATUS(msig_verify_aggregate(conj, conj_len, pks, v.n, v.message, v.epoch,
                                       &require_only),
                 MSIG_PRESET_NOT_ACCEPTED);
    /* ...opting in while requiring the proven default refuses it, and an opted-in verifier
     * still rejects a false statement. */
    msig_verify_options allow_require_defaults = {.require = &defaults, .allow_conjectured = 1};
    CHECK_STATUS(msig_verify_aggregate(conj, conj_len, pks, v.n, v.message, v.epoch,
                                       &allow_require_defaults),
                 MSIG_PRESET_NOT_ACCEPTED);
    CHECK_PROOF_REJECTED(
        msig_verify_aggregate(conj, conj_len, pks, v.n, v.message, v.epoch + 1, &allow));

    /* Batch verification: MSIG_OK with every result written, or MSIG_SOME_PROOFS_INVALID with
     * every result written; the failing statements name their own reason. */
    msig_aggregate_statement st[4];
    for (int i = 0; i < 4; i++) {
        st[i] = (msig_aggregate_statement){.proof = proof, .proof_len = proof_len,
                                           .public_keys = pks, .num_public_keys = v.n,
                                           .message = v.message, .epoch = v.epoch};
    }
    msig_status results[4];
    memset(results, 0xAA, sizeof results);
    CHECK_STATUS(msig_verify_aggregates(st, 4, NULL, results), MSIG_OK);
    for (int i = 0; i < 4; i++) CHECK_STATUS(results[i], MSIG_OK);
    st[1].epoch = v.epoch + 1;
    st[2].proof = flipped; /* its last byte flipped */
    st[3].proof = conj;
    st[3].proof_len = conj_len;
    memset(results, 0xAA, sizeof results);
    CHECK_STATUS(msig_verify_aggregates(st, 4, NULL, results), MSIG_SOME_PROOFS_INVALID);
    CHECK_STATUS(results[0], MSIG_OK);
    CHECK_PROOF_REJECTED(results[1]);
    CHECK_PROOF_REJECTED(results[2]);
    CHECK_STATUS(results[3], MSIG_PRESET_NOT_ACCEPTED);
    /* The same batch with conjectured presets allowed: only the false statements fail. */
    memset(results, 0xAA, sizeof results);
    CHECK_STATUS(msig_verify_aggregates(st, 4, &allow, results), MSIG_SOME_PROOFS_INVALID);
    CHECK_STATUS(results[0], MSIG_OK);
    CHECK_PROOF_REJECTED(results[1]);
    CHECK_PROOF_REJECTED(results[2]);
    CHECK_STATUS(results[3], MSIG_OK);
    /* The conjectured proof alone, opted in: the call succeeds. */
    CHECK_STATUS(msig_verify_aggregates(&st[3], 1, &allow, results), MSIG_OK);
    CHECK_STATUS(results[0], MSIG_OK);
    /* A call-level failure leaves results untouched. */
    msig_verify_options bad_policy = {.allow_conjectured = 7};
    memset(results, 0xAA, sizeof results);
    CHECK_STATUS(msig_verify_aggregates(st, 4, &bad_policy, results), MSIG_INVALID_OPTIONS);
    CHECK(results[0] == 0xAAAAAAAAu && results[3] == 0xAAAAAAAAu);
    free(conj);

    /* The aggregator stays usable: one more prove gives a proof that verifies. A new proof may
     * be a few KiB longer than the first (query overlap varies): a buffer of the size bound
     * always holds it. */
    size_t bound = 0;
    CHECK_STATUS(msig_proof_size_bound(NULL, v.n, &bound), MSIG_OK);
    CHECK(bound >= proof_len && bound <= 512 * 1024);
    uint8_t *fresh = malloc(bound);
    CHECK_STATUS(msig_aggregator_prove(agg, NULL, fresh, bound, &written), MSIG_OK);
    CHECK(written <= bound);
    CHECK_STATUS(msig_verify_aggregate(fresh, written, pks, v.n, v.message, v.epoch, NULL),
                 MSIG_OK);
    free(fresh);

    free(flipped);
    free(proof);
    msig_aggregator_free(agg);
    free_aggregate_vector(&v);
    return finish("test_aggregate");
}
