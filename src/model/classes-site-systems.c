/* SPDX-License-Identifier: MIT */

/* The classes scripts read first to find their way around a site (API.md §2, API 1.1): where the
 * SMS Provider is (SMS_ProviderLocation) and which site systems hold which roles
 * (SMS_SystemResourceList). Both are read-only views the database derives from the site, this
 * host and the distribution points (schema/0007-site-systems.sql); nothing writes them. */

#include <stdint.h>

#include "model/classes.h"
#include "smsprov/class.h"
#include "smsprov/macro.h"

#define RO SMS_PROP_READ
#define KEY (SMS_PROP_KEY | SMS_PROP_READ)

/* --- SMS_ProviderLocation (SDK: sms_providerlocation-server-wmi-class) ------------------------- */

/* The SDK keys the class by SiteCode alone; API.md keys it by (SiteCode, Machine), the shape a site
 * with several providers would need. */
static const SmsProperty provider_location_properties[] = {
        { .name = "Machine", .type = CIM_STRING, .flags = KEY,
          .doc = "Name of the computer the SMS Provider runs on: this host's name (gethostname()), as "
                 "smsprovd found it when it started." },
        { .name = "NamespacePath", .type = CIM_STRING, .flags = RO,
          .doc = "The provider's namespace as WMI scripts name it, \\\\Machine\\root\\sms\\site_SiteCode. "
                 "There is no WMI here: scripts use it as the prefix of WMI paths, which Site.GetObject "
                 "accepts and skips." },
        { .name = "ProviderForLocalSite", .type = CIM_BOOLEAN, .flags = RO,
          .doc = "Always true: this provider serves the local site (the only site smsprovd knows)." },
        { .name = "SiteCode", .type = CIM_STRING, .flags = KEY, .max_length = 3,
          .doc = "Site code of the site the provider serves (Site.SiteCode)." },
};

SmsClass sms_class_provider_location = {
        .name = "SMS_ProviderLocation",
        .read_only = true,
        .doc = "Where the SMS Provider of the site is: one instance, this host. Scripts read the site code "
               "here first.",
        .properties = provider_location_properties,
        .n_properties = ELEMENTSOF(provider_location_properties),
        .table = "provider_location",
        .key_kind = SMS_KEY_CALLER,
};

/* --- SMS_SystemResourceList (SDK: sms_systemresourcelist-server-wmi-class) --------------------- */

static const uint32_t ssl_state_values[] = { 0, 1, 2, 3, 4, UINT32_MAX };

/* The SDK also marks ResourceType and SiteCode as keys; API.md keys the class by (NALPath,
 * RoleName), which is unique here: one row per role of each site system. */
static const SmsProperty system_resource_list_properties[] = {
        { .name = "InternetEnabled", .type = CIM_BOOLEAN, .flags = RO,
          .doc = "Always false: no role of smsprovd's serves Internet clients." },
        { .name = "InternetShared", .type = CIM_BOOLEAN, .flags = RO,
          .doc = "Always false (it means something only with InternetEnabled)." },
        { .name = "NALPath", .type = CIM_STRING, .flags = KEY, .max_length = 1024,
          .doc = "NAL path of the site system: a distribution point's SMS_DistributionPointInfo.NALPath "
                 "(what AddDistributionPoints takes), or [\"Display=\\\\HOST\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\HOST\\ "
                 "for this host." },
        { .name = "ResourceType", .type = CIM_STRING, .flags = RO,
          .doc = "Type of the system resource: \"Windows NT Server\" for every row, as Configuration Manager "
                 "names a server." },
        { .name = "RoleName", .type = CIM_STRING, .flags = KEY,
          .doc = "The role: \"SMS Distribution Point\" for each distribution point; \"SMS Site Server\" and "
                 "\"SMS Provider\" for this host." },
        { .name = "ServerName", .type = CIM_STRING, .flags = RO,
          .doc = "The server, from the NAL path: a distribution point's ServerName, or this host's name." },
        { .name = "ServerRemoteName", .type = CIM_STRING, .flags = RO,
          .doc = "The server's name for intranet clients; the same as ServerName (smsprovd knows no other)." },
        { .name = "SiteCode", .type = CIM_STRING, .flags = RO, .max_length = 3,
          .doc = "Site that owns the system: a distribution point's SiteCode, or this site's." },
        { .name = "SslState", .type = CIM_UINT32, .flags = RO | SMS_PROP_ENUM, .values = ssl_state_values,
          .doc = "0 HTTP, 1 HTTPS, 2 not applicable, 3 always HTTPS, 4 always HTTP; always 2: no role here "
                 "talks HTTP to clients (distribution points are directories)." },
};

SmsClass sms_class_system_resource_list = {
        .name = "SMS_SystemResourceList",
        .read_only = true,
        .doc = "One row per role of each site system: each distribution point (SMS Distribution Point, "
               "following SMS_DistributionPointInfo as DPs are added and removed), and this host (SMS Site "
               "Server, SMS Provider). Scripts find DPs' NAL paths here.",
        .properties = system_resource_list_properties,
        .n_properties = ELEMENTSOF(system_resource_list_properties),
        .table = "system_resource_list",
        .key_kind = SMS_KEY_CALLER,
};
