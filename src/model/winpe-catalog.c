/* SPDX-License-Identifier: MIT */

/* Scanning the deployment kit's optional components into catalog rows. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/classes.h"
#include "smsprov/macro.h"
#include "smsprov/winpe-catalog.h"

const char *const winpe_always_added[4] = { "WinPE-WMI", "WinPE-Scripting", "WinPE-WDS-Tools", "WinPE-SecureStartup" };

/* Reference §4.4: x86 IDs; amd64 is x86 + 26. */
static const struct {
        const char *name;
        uint32_t x86_id;
        const char *depends[4];
} known_components[] = {
        { "WinPE-DismCmdlets", 1, { "WinPE-WMI", "WinPE-NetFx4", "WinPE-Scripting", "WinPE-PowerShell3" } },
        { "WinPE-Dot3Svc", 2, {} },
        { "WinPE-EnhancedStorage", 3, {} },
        { "WinPE-FMAPI", 4, {} },
        { "WinPE-FontSupport-JA-JP", 5, {} },
        { "WinPE-FontSupport-KO-KR", 6, {} },
        { "WinPE-FontSupport-ZH-CN", 7, {} },
        { "WinPE-FontSupport-ZH-HK", 8, {} },
        { "WinPE-FontSupport-ZH-TW", 9, {} },
        { "WinPE-HTA", 10, { "WinPE-Scripting" } },
        { "WinPE-StorageWMI", 11, { "WinPE-WMI", "WinPE-NetFx4", "WinPE-Scripting", "WinPE-PowerShell3" } },
        { "WinPE-LegacySetup", 12, {} },
        { "WinPE-MDAC", 13, {} },
        { "WinPE-NetFx4", 14, { "WinPE-WMI" } },
        { "WinPE-PowerShell3", 15, { "WinPE-WMI", "WinPE-NetFx4", "WinPE-Scripting" } },
        { "WinPE-PPPoE", 16, {} },
        { "WinPE-RNDIS", 17, {} },
        { "WinPE-Scripting", 18, {} },
        { "WinPE-SecureStartup", 19, { "WinPE-WMI" } },
        { "WinPE-Setup", 20, {} },
        { "WinPE-Setup-Client", 21, { "WinPE-Setup" } },
        { "WinPE-Setup-Server", 22, { "WinPE-Setup" } },
        { "WinPE-WDS-Tools", 24, {} },
        { "WinPE-WinReCfg", 25, {} },
        { "WinPE-WMI", 26, {} },
        { "WinPE-SecureBootCmdlets", 57, { "WinPE-WMI", "WinPE-NetFx4", "WinPE-Scripting", "WinPE-PowerShell3" } },
        /* Current kits name these without the version digit. */
        { "WinPE-NetFx", 14, { "WinPE-WMI" } },
        { "WinPE-PowerShell", 15, { "WinPE-WMI", "WinPE-NetFx", "WinPE-Scripting" } },
};

static int known_index(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(known_components); i++)
                if (strcasecmp(known_components[i].name, name) == 0)
                        return (int) i;
        return -1;
}

uint32_t winpe_component_id(const char *name, const char *adk_arch) {
        int k = known_index(name);

        if (k >= 0) {
                uint32_t id = known_components[k].x86_id;
                if (streq(adk_arch, "amd64"))
                        return id == 57 ? 58 : id + 26;
                if (streq(adk_arch, "arm64"))
                        return 1000 + id;
                return id;
        }
        /* FNV-1a of the lower-case name: stable across scans and machines. */
        uint32_t h = 2166136261u;
        for (const char *p = name; *p; p++) {
                h ^= (uint8_t) (*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
                h *= 16777619u;
        }
        uint32_t arch_offset = streq(adk_arch, "amd64") ? 100000u : streq(adk_arch, "arm64") ? 200000u : 0;
        return 20000u + arch_offset + h % 50000u;
}

static uint64_t tree_size(int dirfd) {
        DIR *d = fdopendir(dirfd);
        struct dirent *de;
        uint64_t total = 0;

        if (!d) {
                close(dirfd);
                return 0;
        }
        while ((de = readdir(d))) {
                struct stat st;
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                        if (sub >= 0)
                                total += tree_size(sub);
                } else if (S_ISREG(st.st_mode))
                        total += (uint64_t) st.st_size;
        }
        closedir(d);
        return total;
}

static int set_string(SmsObject *o, const char *name, const char *value) {
        int i = sms_class_find_property(o->class, name);
        cim_value_clear(&o->values[i]);
        return cim_value_set_string(&o->values[i], value);
}

static void set_uint(SmsObject *o, const char *name, uint64_t value) {
        int i = sms_class_find_property(o->class, name);
        o->values[i] = value == UINT64_MAX ? cim_value_null(o->class->all[i]->type)
                                           : o->class->all[i]->type == CIM_BOOLEAN ? cim_value_bool(value != 0)
                                                                                   : cim_value_uint(o->class->all[i]->type, value);
}

static int set_dependencies(SmsObject *o, const char *name, const char *adk_arch) {
        int k = known_index(name), names = sms_class_find_property(o->class, "DependentComponentNames"),
            ids = sms_class_find_property(o->class, "DependentIds");
        size_t n = 0;

        if (k < 0)
                return 0;
        while (n < ELEMENTSOF(known_components[k].depends) && known_components[k].depends[n])
                n++;
        if (n == 0)
                return 0;
        char **l = calloc(n + 1, sizeof(char *));
        uint32_t *u = calloc(n, sizeof(uint32_t));
        if (!l || !u) {
                free(l);
                free(u);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                l[i] = strdup(known_components[k].depends[i]);
                u[i] = winpe_component_id(known_components[k].depends[i], adk_arch);
                if (!l[i]) {
                        strv_free(l);
                        free(u);
                        return -ENOMEM;
                }
        }
        o->values[names] = (CimValue) { .type = CIM_STRING_ARRAY, .strv = l };
        o->values[ids] = (CimValue) { .type = CIM_UINT32_ARRAY, .u32s = { u, n } };
        return 0;
}

void winpe_catalog_free(SmsObject **objects, size_t n) {
        for (size_t i = 0; i < n; i++)
                sms_object_free(objects[i]);
        free(objects);
}

static char *read_kit_version(const char *adk_root) {
        char path[4096], buf[64] = "";
        FILE *f;

        snprintf(path, sizeof path, "%s/version", adk_root);
        f = fopen(path, "re");
        if (f) {
                if (!fgets(buf, sizeof buf, f))
                        buf[0] = 0;
                fclose(f);
        }
        buf[strcspn(buf, "\r\n")] = 0;
        return utf8_sanitize(buf);
}

int winpe_catalog_scan(const char *adk_root, SmsObject ***ret, size_t *ret_n, SmsError *e) {
        static const struct {
                const char *dir;
                const char *arch;
        } arches[] = { { "x86", "X86" }, { "amd64", "X64" }, { "arm64", "ARM64" } };
        SmsObject **objects = NULL;
        size_t n = 0;
        _cleanup_free_ char *version = NULL;
        int r;

        *ret = NULL;
        *ret_n = 0;
        if (!adk_root)
                return 0;
        version = read_kit_version(adk_root);
        if (!version)
                return -ENOMEM;

        for (size_t a = 0; a < ELEMENTSOF(arches); a++) {
                char path[4096];
                DIR *d;
                struct dirent *de;

                snprintf(path, sizeof path, "%s/%s/WinPE_OCs", adk_root, arches[a].dir);
                d = opendir(path);
                if (!d)
                        continue;
                while ((de = readdir(d))) {
                        char rel[600];
                        int sub;

                        if (de->d_name[0] == '.' || !utf8_is_valid(de->d_name))
                                continue;
                        sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                        if (sub < 0)
                                continue;

                        SmsObject *o = sms_object_new(&sms_class_winpe_optional_component);
                        SmsObject **grown = o ? realloc(objects, (n + 1) * sizeof(SmsObject *)) : NULL;
                        if (!grown) {
                                close(sub);
                                sms_object_free(o);
                                closedir(d);
                                winpe_catalog_free(objects, n);
                                return -ENOMEM;
                        }
                        objects = grown;
                        objects[n++] = o;

                        uint32_t id = winpe_component_id(de->d_name, arches[a].dir);
                        bool required = false;
                        for (size_t i = 0; i < ELEMENTSOF(winpe_always_added); i++)
                                required |= strcasecmp(winpe_always_added[i], de->d_name) == 0;
                        snprintf(rel, sizeof rel, "%s/WinPE_OCs/%s", arches[a].dir, de->d_name);
                        set_uint(o, "UniqueID", id);
                        set_uint(o, "LanguageID", 1033);
                        set_uint(o, "IsRequired", required);
                        set_uint(o, "Size", tree_size(sub));
                        r = set_string(o, "Name", de->d_name);
                        r = r < 0 ? r : set_string(o, "Architecture", arches[a].arch);
                        r = r < 0 ? r : set_string(o, "RelativePath", rel);
                        r = r < 0 ? r : set_string(o, "DeploymentKitVersion", version);
                        r = r < 0 ? r : set_dependencies(o, de->d_name, arches[a].dir);
                        if (r < 0 || asprintf(&o->key, "%u", id) < 0) {
                                closedir(d);
                                winpe_catalog_free(objects, n);
                                return r < 0 ? r : -ENOMEM;
                        }
                        /* Two names hashing to one ID: keep the first, a duplicate key would fail. */
                        for (size_t i = 0; i + 1 < n; i++)
                                if (streq(objects[i]->key, o->key)) {
                                        sms_object_free(objects[--n]);
                                        break;
                                }
                }
                closedir(d);
        }
        *ret = objects;
        *ret_n = n;
        (void) e;
        return 0;
}
