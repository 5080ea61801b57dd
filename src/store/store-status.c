/* SPDX-License-Identifier: MIT */

/* SMS_StatusMessage rows: the audit trail of every change, and job outcomes. Written through the
 * same descriptor-driven insert as every other class, so the class table stays the one truth. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/classes.h"
#include "smsprov/macro.h"
#include "store/store-internal.h"
#include "util/time-util.h"

static int set_string(SmsObject *o, const char *name, const char *value) {
        int i = sms_class_find_property(o->class, name);
        if (i < 0 || !value)
                return i < 0 ? i : 0;
        cim_value_clear(&o->values[i]);
        return cim_value_set_string(&o->values[i], value);
}

static void set_uint(SmsObject *o, const char *name, uint64_t value) {
        int i = sms_class_find_property(o->class, name);
        if (i >= 0)
                o->values[i] = cim_value_uint(o->class->all[i]->type, value);
}

int store_status_message_object(const StoreStatusMessage *m, const char *site_code, const char *machine_name,
                                SmsObject **ret) {
        _cleanup_(sms_object_freep) SmsObject *o = sms_object_new(&sms_class_status_message);
        size_t n_ins = 0;
        int r, ins;

        if (!o)
                return -ENOMEM;

        r = set_string(o, "Component", m->component ? m->component : "SMS Provider");
        r = r < 0 ? r : set_string(o, "ModuleName", "SMS Provider");
        r = r < 0 ? r : set_string(o, "Description", m->description);
        r = r < 0 ? r : set_string(o, "MachineName", machine_name);
        r = r < 0 ? r : set_string(o, "SiteCode", site_code);
        r = r < 0 ? r : set_string(o, "TopLevelSiteCode", site_code);
        if (r < 0)
                return r;
        set_uint(o, "MessageID", m->message_id);
        set_uint(o, "MessageType", m->message_type ? m->message_type : 768);
        set_uint(o, "Severity", m->severity ? m->severity : 0x40000000u);
        set_uint(o, "PerClient", 0);
        set_uint(o, "ProcessID", (uint64_t) getpid());
        set_uint(o, "ThreadID", (uint64_t) gettid());
        set_uint(o, "ReportFunction", 0);
        set_uint(o, "SuccessfulTransaction", 8);
        set_uint(o, "Transaction", 0);
        set_uint(o, "Time", now_usec());
        set_uint(o, "UserUID", m->uid);
        set_uint(o, "Win32Error", m->win32_error);

        while (n_ins < ELEMENTSOF(m->ins_strings) && m->ins_strings[n_ins])
                n_ins++;
        ins = sms_class_find_property(o->class, "InsStrings");
        if (ins >= 0 && n_ins > 0) {
                char **l = calloc(n_ins + 1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
                o->values[ins] = (CimValue) { .type = CIM_STRING_ARRAY, .strv = l };
                for (size_t i = 0; i < n_ins; i++)
                        if (!(l[i] = utf8_sanitize(m->ins_strings[i])))
                                return -ENOMEM;
        }

        *ret = TAKE_PTR(o);
        return 0;
}

int sqlite_store_status_message_add(Store *s, const StoreStatusMessage *m, int64_t *ret_record_id, SmsError *e) {
        _cleanup_(sms_object_freep) SmsObject *o = NULL;
        int r;

        r = store_status_message_object(m, s->site_code, s->machine_name, &o);
        if (r < 0)
                return r;
        r = sqlite_store_object_insert(s, o, e);
        if (r < 0)
                return r;
        if (ret_record_id)
                *ret_record_id = o->values[o->class->key_index].i;
        return 0;
}
