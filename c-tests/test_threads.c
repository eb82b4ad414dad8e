/*
 * Concurrency: several pthreads each aggregate the real 4-signer vector, prove and verify at
 * once; several threads verify one shared proof (single and batch); several threads add to one
 * shared aggregator concurrently and the result proves and verifies.
 */
#include <pthread.h>

#include "common.h"

#define THREADS 3

static aggregate_vector g_vec;
static uint8_t *g_proof;
static size_t g_proof_len;
static uint8_t g_pks[4 * MSIG_PUBLIC_KEY_LEN];
static msig_aggregator *g_shared;

static void *prove_and_verify(void *arg) {
    (void)arg;
    msig_aggregator *agg = NULL;
    CHECK_STATUS(msig_aggregator_new(g_vec.message, g_vec.epoch, &agg), MSIG_OK);
    for (size_t i = 0; i < g_vec.n; i++)
        CHECK_STATUS(msig_aggregator_add(agg, g_vec.signers[i].pk, g_vec.signers[i].sig,
                                         g_vec.signers[i].sig_len),
                     MSIG_OK);
    uint8_t pks[4 * MSIG_PUBLIC_KEY_LEN];
    size_t written = 0, proof_len = 0;
    CHECK_STATUS(msig_aggregator_public_keys(agg, pks, sizeof pks, &written), MSIG_OK);
    uint8_t probe[1];
    CHECK_STATUS(msig_aggregator_prove(agg, NULL, probe, 0, &proof_len), MSIG_BUFFER_TOO_SMALL);
    uint8_t *proof = malloc(proof_len);
    CHECK_STATUS(msig_aggregator_prove(agg, NULL, proof, proof_len, &written), MSIG_OK);
    CHECK_STATUS(msig_verify_aggregate(proof, written, pks, g_vec.n, g_vec.message, g_vec.epoch,
                                       NULL),
                 MSIG_OK);
    CHECK_STATUS(msig_verify_aggregate(proof, written, pks, g_vec.n, g_vec.message,
                                       g_vec.epoch + 1, NULL),
                 MSIG_PROOF_INVALID);
    free(proof);
    msig_aggregator_free(agg);
    return NULL;
}

static void *verify_shared(void *arg) {
    (void)arg;
    for (int r = 0; r < 2; r++) {
        CHECK_STATUS(msig_verify_aggregate(g_proof, g_proof_len, g_pks, g_vec.n, g_vec.message,
                                           g_vec.epoch, NULL),
                     MSIG_OK);
        msig_aggregate_statement st[2] = {
            {g_proof, g_proof_len, g_pks, g_vec.n, g_vec.message, g_vec.epoch},
            {g_proof, g_proof_len, g_pks, g_vec.n, g_vec.message, g_vec.epoch},
        };
        msig_status results[2];
        CHECK_STATUS(msig_verify_aggregates(st, 2, NULL, results), MSIG_OK);
        CHECK_STATUS(msig_verify(g_vec.signers[0].pk, g_vec.epoch, g_vec.message,
                                 g_vec.signers[0].sig, g_vec.signers[0].sig_len),
                     MSIG_OK);
    }
    return NULL;
}

static void *add_shared(void *arg) {
    size_t i = (size_t)(uintptr_t)arg;
    CHECK_STATUS(msig_aggregator_add(g_shared, g_vec.signers[i].pk, g_vec.signers[i].sig,
                                     g_vec.signers[i].sig_len),
                 MSIG_OK);
    return NULL;
}

static void run(void *(*fn)(void *), size_t n, int pass_index) {
    pthread_t t[8];
    for (size_t i = 0; i < n; i++)
        pthread_create(&t[i], NULL, fn, pass_index ? (void *)(uintptr_t)i : NULL);
    for (size_t i = 0; i < n; i++) pthread_join(t[i], NULL);
}

int main(int argc, char **argv) {
    load_aggregate_vector(vectors_dir(argc, argv), &g_vec);
    CHECK(g_vec.n == 4);

    /* Several threads proving and verifying at once, each with its own aggregator. */
    run(prove_and_verify, THREADS, 0);

    /* One aggregator shared by 4 threads adding concurrently. */
    CHECK_STATUS(msig_aggregator_new(g_vec.message, g_vec.epoch, &g_shared), MSIG_OK);
    run(add_shared, g_vec.n, 1);
    size_t len = 0, written = 0;
    CHECK_STATUS(msig_aggregator_len(g_shared, &len), MSIG_OK);
    CHECK(len == g_vec.n);
    CHECK_STATUS(msig_aggregator_public_keys(g_shared, g_pks, sizeof g_pks, &written), MSIG_OK);
    uint8_t probe[1];
    CHECK_STATUS(msig_aggregator_prove(g_shared, NULL, probe, 0, &g_proof_len),
                 MSIG_BUFFER_TOO_SMALL);
    g_proof = malloc(g_proof_len);
    CHECK_STATUS(msig_aggregator_prove(g_shared, NULL, g_proof, g_proof_len, &written), MSIG_OK);

    /* Several threads verifying the shared proof at once. */
    run(verify_shared, THREADS, 0);

    free(g_proof);
    msig_aggregator_free(g_shared);
    free_aggregate_vector(&g_vec);
    return finish("test_threads");
}
