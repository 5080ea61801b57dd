/* SPDX-License-Identifier: MIT */

/* The regf layout follows the format hivex reads (lib/hivex-internal.h there): a 4 KiB base block,
 * then hbins of 4 KiB multiples whose cells are an int32 size (negative = allocated, 8-byte
 * aligned) followed by the record. Every offset inside the hive is relative to the first hbin. */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "hive-gen.h"
#include "smsprov/macro.h"

#define HIVE_BASE_SIZE 0x1000
#define HBIN_SIZE 0x1000
#define HBIN_HEADER_SIZE 0x20
#define NK_NAME_OFFSET 0x50 /* where an nk cell's name starts, counted from its size field */
#define NO_OFFSET UINT32_MAX

#define NK_FLAG_HIVE_ENTRY 0x0004
#define NK_FLAG_NO_DELETE 0x0008
#define NK_FLAG_COMP_NAME 0x0020 /* the name is stored in Latin-1, not UTF-16 */

/* 2009-02-13 23:31:30 UTC as a FILETIME: fixed, so that two generated hives are identical. */
#define HIVE_TIMESTAMP UINT64_C(128790882900000000)

typedef struct HiveWriter {
        uint8_t file[HIVE_BASE_SIZE + HBIN_SIZE];
        size_t next; /* offset of the next free cell, relative to the first hbin */
} HiveWriter;

static void put16(uint8_t *p, uint16_t v) {
        v = htole16(v);
        memcpy(p, &v, sizeof v);
}

static void put32(uint8_t *p, uint32_t v) {
        v = htole32(v);
        memcpy(p, &v, sizeof v);
}

static void put64(uint8_t *p, uint64_t v) {
        v = htole64(v);
        memcpy(p, &v, sizeof v);
}

static uint32_t get32(const uint8_t *p) {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return le32toh(v);
}

static uint8_t *hbin(HiveWriter *w, size_t offset) {
        return w->file + HIVE_BASE_SIZE + offset;
}

/* Allocates a cell with `size` bytes of record after the size field; returns its offset. */
static size_t cell_alloc(HiveWriter *w, size_t size) {
        size_t len = (4 + size + 7) & ~(size_t) 7;
        size_t offset = w->next;

        if (offset + len > HBIN_SIZE - 8) /* keep room for the trailing free cell */
                return 0;
        put32(hbin(w, offset), (uint32_t) -(int32_t) len);
        w->next += len;
        return offset;
}

/* A self-relative security descriptor: owner BUILTIN\Administrators, group SYSTEM, one ACE
 * granting KEY_ALL_ACCESS to SYSTEM, inherited by subkeys. Plausible enough for any reader. */
static size_t security_descriptor(uint8_t *p) {
        static const uint8_t sid_admins[16] = { 1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 0x02, 0, 0 };
        static const uint8_t sid_system[12] = { 1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0 };
        const size_t owner = 20, group = owner + sizeof sid_admins, dacl = group + sizeof sid_system;
        const size_t ace_size = 8 + sizeof sid_system, acl_size = 8 + ace_size;

        p[0] = 1;                      /* revision */
        put16(p + 2, 0x8004);          /* SE_SELF_RELATIVE | SE_DACL_PRESENT */
        put32(p + 4, owner);
        put32(p + 8, group);
        put32(p + 12, 0);              /* no SACL */
        put32(p + 16, dacl);
        memcpy(p + owner, sid_admins, sizeof sid_admins);
        memcpy(p + group, sid_system, sizeof sid_system);
        p[dacl] = 2;                   /* ACL revision */
        put16(p + dacl + 2, acl_size);
        put16(p + dacl + 4, 1);        /* one ACE */
        p[dacl + 8] = 0;               /* ACCESS_ALLOWED_ACE_TYPE */
        p[dacl + 9] = 0x02;            /* CONTAINER_INHERIT_ACE */
        put16(p + dacl + 10, ace_size);
        put32(p + dacl + 12, 0x000F003F); /* KEY_ALL_ACCESS */
        memcpy(p + dacl + 16, sid_system, sizeof sid_system);
        return dacl + acl_size;
}

static size_t sk_cell(HiveWriter *w) {
        uint8_t sd[128] = {};
        size_t sd_len = security_descriptor(sd);
        size_t offset = cell_alloc(w, 20 + sd_len);
        uint8_t *p;

        if (offset == 0)
                return 0;
        p = hbin(w, offset);
        memcpy(p + 4, "sk", 2);
        put32(p + 8, offset);  /* the only sk: the circular list points at itself */
        put32(p + 12, offset);
        put32(p + 16, 0);      /* reference count, incremented per key */
        put32(p + 20, sd_len);
        memcpy(p + 24, sd, sd_len);
        return offset;
}

static size_t nk_cell(HiveWriter *w, const char *name, uint16_t flags, size_t parent, size_t sk) {
        size_t name_len = strlen(name);
        size_t offset = cell_alloc(w, NK_NAME_OFFSET - 4 + name_len);
        uint8_t *p, *s;

        if (offset == 0)
                return 0;
        p = hbin(w, offset);
        memcpy(p + 0x04, "nk", 2);
        put16(p + 0x06, flags);
        put64(p + 0x08, HIVE_TIMESTAMP);
        put32(p + 0x14, parent);
        put32(p + 0x18, 0);              /* subkeys */
        put32(p + 0x20, NO_OFFSET);      /* subkey list */
        put32(p + 0x24, NO_OFFSET);      /* volatile subkey list */
        put32(p + 0x28, 0);              /* values */
        put32(p + 0x2C, NO_OFFSET);      /* value list */
        put32(p + 0x30, sk);
        put32(p + 0x34, NO_OFFSET);      /* class name */
        put16(p + 0x4C, name_len);
        memcpy(p + NK_NAME_OFFSET, name, name_len);

        s = hbin(w, sk);
        put32(s + 16, get32(s + 16) + 1);
        return offset;
}

/* The hash of an lh list entry: h = h * 37 + toupper(c) over the name (ASCII names only here). */
static uint32_t lh_hash(const char *name) {
        uint32_t h = 0;
        for (const char *c = name; *c; c++)
                h = h * 37 + (uint32_t) (*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
        return h;
}

/* Makes `child` the single subkey of `parent` through a one-entry lh list. */
static int link_child(HiveWriter *w, size_t parent, size_t child, const char *child_name) {
        size_t list = cell_alloc(w, 4 + 8);
        size_t utf16_len = 2 * strlen(child_name);
        uint8_t *p, *n;

        if (list == 0)
                return -ENOSPC;
        p = hbin(w, list);
        memcpy(p + 4, "lh", 2);
        put16(p + 6, 1);
        put32(p + 8, child);
        put32(p + 12, lh_hash(child_name));

        n = hbin(w, parent);
        put32(n + 0x18, 1);
        put32(n + 0x20, list);
        put16(n + 0x38, utf16_len); /* largest subkey name, in UTF-16 bytes */
        return 0;
}

int test_make_system_hive(const char *path) {
        static const char file_name[] = "SYSTEM";
        _cleanup_close_ int fd = -1;
        HiveWriter w = { .next = HBIN_HEADER_SIZE };
        size_t sk, root, cs, services;
        uint8_t *base = w.file, *bin = hbin(&w, 0);
        uint32_t sum = 0;
        int r;

        sk = sk_cell(&w);
        root = nk_cell(&w, "ROOT", NK_FLAG_HIVE_ENTRY | NK_FLAG_NO_DELETE | NK_FLAG_COMP_NAME, 0, sk);
        cs = nk_cell(&w, "ControlSet001", NK_FLAG_COMP_NAME, root, sk);
        services = nk_cell(&w, "Services", NK_FLAG_COMP_NAME, cs, sk);
        if (sk == 0 || root == 0 || cs == 0 || services == 0)
                return -ENOSPC;
        r = link_child(&w, root, cs, "ControlSet001");
        if (r < 0)
                return r;
        r = link_child(&w, cs, services, "Services");
        if (r < 0)
                return r;
        /* The rest of the hbin is one free cell: cells must tile the bin exactly. */
        put32(hbin(&w, w.next), HBIN_SIZE - w.next);

        memcpy(bin, "hbin", 4);
        put32(bin + 4, 0);              /* offset of this bin from the first */
        put32(bin + 8, HBIN_SIZE);
        put64(bin + 0x14, HIVE_TIMESTAMP);

        memcpy(base, "regf", 4);
        put32(base + 0x04, 1);          /* primary and secondary sequence numbers match: clean */
        put32(base + 0x08, 1);
        put64(base + 0x0C, HIVE_TIMESTAMP);
        put32(base + 0x14, 1);          /* version 1.5 */
        put32(base + 0x18, 5);
        put32(base + 0x1C, 0);          /* primary file */
        put32(base + 0x20, 1);          /* direct memory load format */
        put32(base + 0x24, root);
        put32(base + 0x28, HBIN_SIZE);  /* size of all hbins */
        put32(base + 0x2C, 1);          /* clustering factor */
        for (size_t i = 0; i < sizeof file_name - 1; i++)
                put16(base + 0x30 + 2 * i, (uint16_t) file_name[i]);
        /* Checksum: XOR of the first 127 dwords. Windows maps 0 to 1 and ~0 to ~1; hivex does not,
         * and this fixed header gives neither value. */
        for (size_t i = 0; i < 0x1FC; i += 4)
                sum ^= get32(base + i);
        put32(base + 0x1FC, sum);

        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        for (size_t done = 0; done < sizeof w.file;) {
                ssize_t n = write(fd, w.file + done, sizeof w.file - done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t) n;
        }
        if (close(TAKE_FD(fd)) < 0)
                return -errno;
        return 0;
}
