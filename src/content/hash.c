/* SPDX-License-Identifier: MIT */
/* SHA-256 of content, through OpenSSL's EVP interface (which picks the CPU's SHA extensions). */

#include <errno.h>
#include <openssl/evp.h>

#include "content/content-internal.h"

struct ContentHasher {
        EVP_MD_CTX *ctx;
        bool started;
};

ContentHasher *content_hasher_new(void) {
        ContentHasher *h = calloc(1, sizeof *h);

        if (!h)
                return NULL;
        h->ctx = EVP_MD_CTX_new();
        if (!h->ctx)
                return content_hasher_free(h);
        return h;
}

ContentHasher *content_hasher_free(ContentHasher *h) {
        if (!h)
                return NULL;
        EVP_MD_CTX_free(h->ctx);
        free(h);
        return NULL;
}

static int hasher_start(ContentHasher *h) {
        if (h->started)
                return 0;
        if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
                return -EIO;
        h->started = true;
        return 0;
}

int content_hasher_update(ContentHasher *h, const void *data, size_t size) {
        int r = hasher_start(h);
        if (r < 0)
                return r;
        if (size > 0 && EVP_DigestUpdate(h->ctx, data, size) != 1)
                return -EIO;
        return 0;
}

int content_hasher_final(ContentHasher *h, char ret_hex[static CONTENT_HASH_HEX + 1]) {
        static const char hex[] = "0123456789abcdef";
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        int r;

        r = hasher_start(h); /* the hash of nothing */
        if (r < 0)
                return r;
        h->started = false;
        if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1 || n * 2 != CONTENT_HASH_HEX)
                return -EIO;
        for (unsigned i = 0; i < n; i++) {
                ret_hex[2 * i] = hex[md[i] >> 4];
                ret_hex[2 * i + 1] = hex[md[i] & 15];
        }
        ret_hex[CONTENT_HASH_HEX] = 0;
        return 0;
}

bool content_hash_is_valid(const char *s) {
        size_t i;

        if (!s)
                return false;
        for (i = 0; i < CONTENT_HASH_HEX; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return s[i] == 0;
}
