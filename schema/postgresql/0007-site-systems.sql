-- schema/0007-site-systems.sql for PostgreSQL: quoted columns, BIGINT, COLLATE nocase (0001-site.sql).
-- Where scripts find their way around the site (API 1.1): SMS_ProviderLocation and
-- SMS_SystemResourceList, read-only views of the site, its providers and the distribution points.

-- The hosts that serve this site as its SMS Provider: each records its host name when it opens
-- the database. Unlike the SQLite table (one host), several hosts share a PostgreSQL site.
CREATE TABLE provider (
        "Machine" TEXT COLLATE nocase PRIMARY KEY NOT NULL
);

-- SMS_ProviderLocation: one row per host serving this site.
CREATE VIEW provider_location AS
SELECT provider."Machine" AS "Machine",
       ('\\' || provider."Machine" || '\root\sms\site_' || site.site_code) COLLATE nocase AS "NamespacePath",
       1::BIGINT AS "ProviderForLocalSite",
       site.site_code COLLATE nocase AS "SiteCode"
FROM site CROSS JOIN provider;

-- SMS_SystemResourceList: one row per role of each site system: each distribution point, and
-- each provider host as the site server and the provider.
CREATE VIEW system_resource_list AS
SELECT "NALPath" COLLATE nocase AS "NALPath",
       0::BIGINT AS "InternetEnabled",
       0::BIGINT AS "InternetShared",
       'Windows NT Server'::TEXT COLLATE nocase AS "ResourceType",
       'SMS Distribution Point'::TEXT COLLATE nocase AS "RoleName",
       "ServerName" COLLATE nocase AS "ServerName",
       "ServerName" COLLATE nocase AS "ServerRemoteName",
       "SiteCode" COLLATE nocase AS "SiteCode",
       2::BIGINT AS "SslState"
FROM distribution_point_info
UNION ALL
SELECT ('["Display=\\' || provider."Machine" || '\"]MSWNET:["SMS_SITE=' || site.site_code || '"]\\' ||
        provider."Machine" || '\') COLLATE nocase,
       0, 0, 'Windows NT Server'::TEXT COLLATE nocase, role."RoleName" COLLATE nocase,
       provider."Machine" COLLATE nocase, provider."Machine" COLLATE nocase, site.site_code COLLATE nocase, 2
FROM site CROSS JOIN provider CROSS JOIN (VALUES ('SMS Site Server'::TEXT), ('SMS Provider')) AS role ("RoleName");
