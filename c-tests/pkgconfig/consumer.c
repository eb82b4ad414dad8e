/*
 * A minimal outside consumer, built only with `pkg-config --cflags --libs multisig` against an
 * installed prefix: prints the version and verifies one real signature given in hex on argv.
 * Usage: consumer <public_key hex> <epoch> <message hex> <signature hex>
 * Exit 0 iff the version matches the header and the signature verifies while a wrong epoch
 * does not.
 */
#include <multisig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t unhex(const char *s, uint8_t *out, size_t cap) {
    if (s[0] == '0' && s[1] == 'x') s += 2;
    size_t n = strlen(s) / 2;
    if (n > cap) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) return 0;
        out[i] = (uint8_t)v;
    }
    return n;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s <pk hex> <epoch> <message hex> <signature hex>\n", argv[0]);
        return 2;
    }
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", MSIG_VERSION_MAJOR, MSIG_VERSION_MINOR,
             MSIG_VERSION_PATCH);
    printf("libmultisig_glue %s (header %s)\n", msig_version(), want);
    if (strcmp(msig_version(), want) != 0) return 1;

    uint8_t pk[MSIG_PUBLIC_KEY_LEN], msg[MSIG_MESSAGE_LEN], sig[MSIG_SIGNATURE_LEN];
    uint32_t epoch = (uint32_t)strtoul(argv[2], NULL, 10);
    if (unhex(argv[1], pk, sizeof pk) != sizeof pk || unhex(argv[3], msg, sizeof msg) != sizeof msg ||
        unhex(argv[4], sig, sizeof sig) != sizeof sig) {
        fprintf(stderr, "bad hex input\n");
        return 2;
    }
    msig_status ok = msig_verify(pk, epoch, msg, sig, sizeof sig);
    msig_status wrong = msig_verify(pk, epoch + 1, msg, sig, sizeof sig);
    char text[128];
    size_t written;
    msig_status_message(ok, text, sizeof text, &written);
    printf("verify: %u (%s)\n", (unsigned)ok, text);
    msig_status_message(wrong, text, sizeof text, &written);
    printf("verify at epoch + 1: %u (%s)\n", (unsigned)wrong, text);
    return ok == MSIG_OK && wrong == MSIG_INVALID_SIGNATURE ? 0 : 1;
}
