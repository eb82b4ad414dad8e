/*
 * Shared helpers of the C tests: a tiny check framework, hex decoding, and a minimal reader for
 * the JSON test vectors in ../shared/vectors (flat objects of hex strings and integers).
 */
#ifndef MSIG_C_TESTS_COMMON_H
#define MSIG_C_TESTS_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "multisig.h"

static int g_passed = 0;
static int g_failed = 0;

static inline const char *status_text(uint32_t s) {
    static __thread char buf[128];
    size_t written = 0;
    if (msig_status_message(s, buf, sizeof buf, &written) != MSIG_OK) {
        snprintf(buf, sizeof buf, "(no message)");
    }
    return buf;
}

/* Checks that `expr` (an msig_status) equals `want`; records and reports the outcome. */
#define CHECK_STATUS(expr, want)                                                              \
    do {                                                                                      \
        uint32_t got_ = (uint32_t)(expr);                                                     \
        uint32_t want_ = (uint32_t)(want);                                                    \
        if (got_ == want_) {                                                                  \
            __atomic_fetch_add(&g_passed, 1, __ATOMIC_SEQ_CST);                               \
        } else {                                                                              \
            __atomic_fetch_add(&g_failed, 1, __ATOMIC_SEQ_CST);                               \
            fprintf(stderr, "FAIL %s:%d: %s\n  got %u (%s), want %u\n", __FILE__, __LINE__,   \
                    #expr, got_, status_text(got_), want_);                                   \
        }                                                                                     \
    } while (0)

/* Checks a boolean condition. */
#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (cond) {                                                                           \
            __atomic_fetch_add(&g_passed, 1, __ATOMIC_SEQ_CST);                               \
        } else {                                                                              \
            __atomic_fetch_add(&g_failed, 1, __ATOMIC_SEQ_CST);                               \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                   \
        }                                                                                     \
    } while (0)

/* A rejected proof: false for the statement, or not decodable. */
#define CHECK_PROOF_REJECTED(expr)                                                            \
    do {                                                                                      \
        uint32_t s_ = (uint32_t)(expr);                                                       \
        CHECK(s_ == MSIG_PROOF_INVALID || s_ == MSIG_MALFORMED_PROOF);                        \
        if (s_ != MSIG_PROOF_INVALID && s_ != MSIG_MALFORMED_PROOF)                           \
            fprintf(stderr, "  got %u (%s)\n", s_, status_text(s_));                         \
    } while (0)

/* Prints the closing line the test drivers look for and returns the process exit code. */
static inline int finish(const char *name) {
    printf("%s: %d passed, %d failed\n", name, g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}

/* ---- files and hex ---------------------------------------------------------------------- */

static inline char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static inline int hex_nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes a "0x..." hex string of `n` characters into a fresh buffer; *len gets the byte count. */
static inline uint8_t *hex_decode(const char *s, size_t n, size_t *len) {
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        n -= 2;
    }
    if (n % 2 != 0) {
        fprintf(stderr, "odd hex length\n");
        exit(2);
    }
    uint8_t *out = malloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_nibble(s[2 * i]), lo = hex_nibble(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            fprintf(stderr, "bad hex digit\n");
            exit(2);
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return out;
}

/* ---- minimal JSON access (the vectors are flat objects of strings and integers) ---------- */

/* Finds `"key"` followed by ':' inside [begin, end); returns a pointer to the value or NULL. */
static inline const char *json_find(const char *begin, const char *end, const char *key) {
    size_t klen = strlen(key);
    for (const char *p = begin; p + klen + 2 <= end; p++) {
        if (p[0] == '"' && strncmp(p + 1, key, klen) == 0 && p[1 + klen] == '"') {
            const char *q = p + 2 + klen;
            while (q < end && (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t')) q++;
            if (q < end && *q == ':') {
                q++;
                while (q < end && (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t')) q++;
                return q;
            }
        }
    }
    return NULL;
}

/* The hex string value of `key` in [begin, end), decoded; exits on absence. */
static inline uint8_t *json_hex(const char *begin, const char *end, const char *key, size_t *len) {
    const char *v = json_find(begin, end, key);
    if (!v || *v != '"') {
        fprintf(stderr, "vector: missing string %s\n", key);
        exit(2);
    }
    const char *close = strchr(v + 1, '"');
    return hex_decode(v + 1, (size_t)(close - v - 1), len);
}

/* The unsigned integer value of `key` in [begin, end); exits on absence. */
static inline uint64_t json_u64(const char *begin, const char *end, const char *key) {
    const char *v = json_find(begin, end, key);
    if (!v) {
        fprintf(stderr, "vector: missing integer %s\n", key);
        exit(2);
    }
    return strtoull(v, NULL, 10);
}

/* The next flat object "{...}" at or after *cursor (before end); returns 0 when there is none. */
static inline int json_next_object(const char **cursor, const char *end, const char **ob,
                            const char **oe) {
    const char *b = *cursor;
    while (b < end && *b != '{') b++;
    if (b >= end) return 0;
    const char *e = b + 1;
    while (e < end && *e != '}') e++;
    if (e >= end) return 0;
    *ob = b;
    *oe = e + 1;
    *cursor = e + 1;
    return 1;
}

/* ---- the shared vectors -------------------------------------------------------------------- */

typedef struct {
    uint8_t pk[MSIG_PUBLIC_KEY_LEN];
    uint8_t *sig;
    size_t sig_len;
} signer;

/* leansig_devnet4_aggregate_4.json: 4 signers on one message at one epoch. */
typedef struct {
    uint32_t epoch;
    uint8_t message[MSIG_MESSAGE_LEN];
    size_t n;
    signer signers[16];
} aggregate_vector;

static inline void load_aggregate_vector(const char *dir, aggregate_vector *v) {
    char path[4096];
    snprintf(path, sizeof path, "%s/leansig_devnet4_aggregate_4.json", dir);
    char *text = read_file(path);
    const char *end = text + strlen(text);
    const char *signers = json_find(text, end, "signers");
    if (!signers) {
        fprintf(stderr, "vector: no signers\n");
        exit(2);
    }
    /* Top-level fields: search only before the signers array. */
    v->epoch = (uint32_t)json_u64(text, signers, "epoch");
    size_t len;
    uint8_t *msg = json_hex(text, signers, "message", &len);
    if (len != MSIG_MESSAGE_LEN) exit(2);
    memcpy(v->message, msg, len);
    free(msg);
    v->n = 0;
    const char *cur = signers, *ob, *oe;
    while (v->n < 16 && json_next_object(&cur, end, &ob, &oe)) {
        signer *s = &v->signers[v->n++];
        uint8_t *pk = json_hex(ob, oe, "public_key", &len);
        if (len != MSIG_PUBLIC_KEY_LEN) exit(2);
        memcpy(s->pk, pk, len);
        free(pk);
        s->sig = json_hex(ob, oe, "signature_ssz", &s->sig_len);
    }
    free(text);
}

static inline void free_aggregate_vector(aggregate_vector *v) {
    for (size_t i = 0; i < v->n; i++) free(v->signers[i].sig);
}

/* One single-signature vector (leansig_devnet4_single.json entries, the leanMultisig vector). */
typedef struct {
    uint8_t pk[MSIG_PUBLIC_KEY_LEN];
    uint32_t epoch;
    uint8_t message[MSIG_MESSAGE_LEN];
    uint8_t *sig;
    size_t sig_len;
} single_vector;

static inline void parse_single(const char *ob, const char *oe, const char *epoch_key, single_vector *v) {
    size_t len;
    uint8_t *pk = json_hex(ob, oe, "public_key", &len);
    if (len != MSIG_PUBLIC_KEY_LEN) exit(2);
    memcpy(v->pk, pk, len);
    free(pk);
    v->epoch = (uint32_t)json_u64(ob, oe, epoch_key);
    uint8_t *msg = json_hex(ob, oe, "message", &len);
    if (len != MSIG_MESSAGE_LEN) exit(2);
    memcpy(v->message, msg, len);
    free(msg);
    v->sig = json_hex(ob, oe, "signature_ssz", &v->sig_len);
}

/* Loads every single-signature vector (4 from leanSig, 1 from leanMultisig); returns the count. */
static inline size_t load_single_vectors(const char *dir, single_vector *out, size_t cap) {
    char path[4096];
    size_t n = 0;
    snprintf(path, sizeof path, "%s/leansig_devnet4_single.json", dir);
    char *text = read_file(path);
    const char *end = text + strlen(text), *cur = text, *ob, *oe;
    while (n < cap && json_next_object(&cur, end, &ob, &oe)) {
        parse_single(ob, oe, "epoch", &out[n++]);
    }
    free(text);
    snprintf(path, sizeof path, "%s/leanmultisig_devnet4_prod_vector.json", dir);
    text = read_file(path);
    end = text + strlen(text);
    cur = text;
    if (n < cap && json_next_object(&cur, end, &ob, &oe)) {
        parse_single(ob, oe, "slot", &out[n++]);
    }
    free(text);
    return n;
}

static inline const char *vectors_dir(int argc, char **argv) {
    if (argc > 1) return argv[1];
    const char *env = getenv("MSIG_VECTORS");
    return env ? env : "../../shared/vectors";
}

#endif /* MSIG_C_TESTS_COMMON_H */
