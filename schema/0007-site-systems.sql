-- Where scripts find their way around the site (API 1.1): SMS_ProviderLocation and
-- SMS_SystemResourceList, read-only views of the site, this host and the distribution points.
-- Nothing writes them; their string columns compare without case, as WQL does.

-- The host the SMS Provider runs on: store_open() writes its name at every start, so that the
-- views name the host as it is now.
CREATE TABLE provider (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        Machine TEXT COLLATE NOCASE NOT NULL
);

-- SMS_ProviderLocation: one row, this host serving this site.
CREATE VIEW provider_location AS
SELECT provider.Machine AS Machine,
       ('\\' || provider.Machine || '\root\sms\site_' || site.site_code) COLLATE NOCASE AS NamespacePath,
       1 AS ProviderForLocalSite,
       site.site_code COLLATE NOCASE AS SiteCode
FROM site JOIN provider;

-- SMS_SystemResourceList: one row per role of each site system. Each distribution point is an
-- 'SMS Distribution Point' under its own NAL path; this host is the site server and the provider,
-- under the NAL path Configuration Manager gives a server. A compound SELECT's columns take the
-- collation of the first SELECT's.
CREATE VIEW system_resource_list AS
SELECT NALPath,
       0 AS InternetEnabled,
       0 AS InternetShared,
       'Windows NT Server' COLLATE NOCASE AS ResourceType,
       'SMS Distribution Point' COLLATE NOCASE AS RoleName,
       ServerName,
       ServerName AS ServerRemoteName,
       SiteCode,
       2 AS SslState
FROM distribution_point_info
UNION ALL
SELECT '["Display=\\' || provider.Machine || '\"]MSWNET:["SMS_SITE=' || site.site_code || '"]\\' ||
               provider.Machine || '\',
       0, 0, 'Windows NT Server', role.RoleName, provider.Machine, provider.Machine, site.site_code, 2
FROM site JOIN provider JOIN (SELECT 'SMS Site Server' AS RoleName UNION ALL SELECT 'SMS Provider') AS role;
