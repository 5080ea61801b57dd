/* SPDX-License-Identifier: MIT */

/* Prints the documentation of every class interface from the descriptor tables, one line per
 * member: "<interface>\t<kind>\t<member>\t<text>". tools/interface-xml.py puts these lines into
 * the interface XML files in dbus/, so that the docs live in one place: the tables. */

#include <stdbool.h>
#include <stdio.h>

#include "smsprov/class.h"

int main(void) {
        if (sms_model_init() < 0)
                return 1;
        for (const SmsClass *const *c = sms_model_classes(); *c; c++) {
                const SmsClass *k = *c;
                printf("org.smsprov.Provider1.%s\tinterface\t\t%s\n", k->name, k->doc);
                for (size_t i = 0; i < k->n_properties; i++)
                        printf("org.smsprov.Provider1.%s\tproperty\t%s\t%s (%s)\n", k->name, k->properties[i].name,
                               k->properties[i].doc, cim_type_to_string(k->properties[i].type));
                bool has_static = false;
                for (size_t i = 0; i < k->n_methods; i++) {
                        has_static |= k->methods[i].is_static;
                        printf("org.smsprov.Provider1.%s%s\tmethod\t%s\t%s\n", k->name,
                               k->methods[i].is_static ? ".Static" : "", k->methods[i].name, k->methods[i].doc);
                }
                if (has_static)
                        printf("org.smsprov.Provider1.%s.Static\tinterface\t\tThe static methods of %s, on its "
                               "class object /org/smsprov/Provider1/class/%s.\n",
                               k->name, k->name, k->name);
                if (!k->parent && !k->read_only) {
                        printf("org.smsprov.Provider1.%s\tmethod\tPut\tWrites any set of the instance's writable "
                               "properties in one transaction, all or nothing; a SedoObjectVersion entry must equal "
                               "the stored one.\n",
                               k->name);
                        printf("org.smsprov.Provider1.%s\tmethod\tDelete\tDeletes the instance.\n", k->name);
                }
        }
        return 0;
}
