/*
 * Concurrency: several pthreads each aggregate the real 4-signer vector, prove and verify at
 * once; several threads verify one shared proof (single and batch); several threads add to one
 * shared aggregator concurrently and the result proves and verifies; several threads sign with
 * one shared keypair while two of them advance its prepared window and one signs past it.
 *
 * Slow: the keypair part generates a key of 3 bottom trees (about 27 s on a 2-core machine in a
 * release library) and advances it by one tree (about 8 s). Not run under valgrind.
 */
#include <pthread.h>
#include <time.h>

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

/* ---- one keypair, several signers ------------------------------------------------------ */

#define TREE (1ull << 16)
static msig_keypair *g_kp;
static uint8_t g_kp_pk[MSIG_PUBLIC_KEY_LEN];
static uint8_t g_msg[MSIG_MESSAGE_LEN];
static size_t g_built[2];

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Signs `epoch` with the shared key and checks the signature verifies. */
static void sign_and_verify(uint32_t epoch) {
    uint8_t sig[MSIG_SIGNATURE_LEN];
    size_t written = 0;
    CHECK_STATUS(msig_sign(g_kp, epoch, g_msg, sig, sizeof sig, &written), MSIG_OK);
    CHECK(written == MSIG_SIGNATURE_LEN);
    CHECK_STATUS(msig_verify(g_kp_pk, epoch, g_msg, sig, written), MSIG_OK);
}

/* Threads 0 and 1 advance the window to the third tree (one of them builds it, for several
 * seconds); thread 2 signs an epoch of the third tree (it needs that advance too); threads 3
 * and 4 sign epochs of the second tree, which every window of the test holds. Thread 4 starts
 * a second after the others, when the tree is being built, and must be done before the window
 * moves: signing inside the window does not wait for an advance (index 5: thread 4 without the
 * wait, for the second round). */
static void *key_worker(void *arg) {
    size_t i = (size_t)(uintptr_t)arg;
    double t0 = now_s();
    uint64_t start = 0, end = 0;
    switch (i) {
    case 0:
    case 1:
        CHECK_STATUS(msig_keypair_prepare_epoch(g_kp, (uint32_t)(2 * TREE + i), &g_built[i]),
                     MSIG_OK);
        break;
    case 2:
        sign_and_verify((uint32_t)(2 * TREE + 2));
        break;
    case 4: {
        struct timespec second = {1, 0};
        nanosleep(&second, NULL);
        t0 = now_s();
        for (uint32_t k = 0; k < 3; k++) sign_and_verify((uint32_t)(TREE + 40 + k));
        CHECK_STATUS(msig_keypair_prepared_interval(g_kp, &start, &end), MSIG_OK);
        CHECK(start == 0); /* signed while the advance was still building */
        break;
    }
    default:
        for (uint32_t k = 0; k < 3; k++) sign_and_verify((uint32_t)(TREE + 10 * i + k));
        break;
    }
    printf("key thread %zu: %.2f s\n", i, now_s() - t0);
    return NULL;
}

static void test_shared_keypair(void) {
    uint8_t seed[MSIG_SEED_LEN];
    for (size_t i = 0; i < sizeof seed; i++) seed[i] = (uint8_t)(0x5A ^ i);
    for (size_t i = 0; i < sizeof g_msg; i++) g_msg[i] = (uint8_t)(3 * i);
    CHECK_STATUS(msig_keypair_generate(seed, 0, 3 * TREE, &g_kp), MSIG_OK);
    if (!g_kp) return;
    CHECK_STATUS(msig_keypair_public_key(g_kp, g_kp_pk), MSIG_OK);

    pthread_t t[5];
    for (size_t i = 0; i < 5; i++) pthread_create(&t[i], NULL, key_worker, (void *)(uintptr_t)i);
    for (size_t i = 0; i < 5; i++) pthread_join(t[i], NULL);

    /* The window advanced exactly once, by whichever preparer (or the late signer) got there
     * first; the other calls found it done. */
    CHECK(g_built[0] + g_built[1] <= 1);
    uint64_t start = 0, end = 0;
    CHECK_STATUS(msig_keypair_prepared_interval(g_kp, &start, &end), MSIG_OK);
    CHECK(start == TREE && end == 3 * TREE);

    /* Several threads signing in the advanced window at once. */
    pthread_t s[3];
    for (size_t i = 0; i < 3; i++)
        pthread_create(&s[i], NULL, key_worker, (void *)(uintptr_t)(3 + 2 * (i % 2)));
    for (size_t i = 0; i < 3; i++) pthread_join(s[i], NULL);
    msig_keypair_free(g_kp);
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

    /* One keypair shared by signers and preparers. */
    test_shared_keypair();
    return finish("test_threads");
}
