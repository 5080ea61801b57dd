-- schema/0005-distribution.sql for PostgreSQL: quoted columns, BIGINT, BYTEA, COLLATE nocase (0001-site.sql).
-- Distribution points and package assignments (reference §7.9, §7.10).

-- SMS_DistributionPointInfo: the site's distribution points.
CREATE TABLE distribution_point_info (
        "NALPath" TEXT COLLATE nocase PRIMARY KEY NOT NULL,
        "ServerName" TEXT COLLATE nocase NOT NULL,
        "SiteCode" TEXT COLLATE nocase NOT NULL,
        "ContentRoot" TEXT NOT NULL,
        "IsPXE" BIGINT NOT NULL DEFAULT 0,
        "IsMulticast" BIGINT NOT NULL DEFAULT 0,
        "Description" TEXT COLLATE nocase,
        "ContentLinkMode" BIGINT NOT NULL DEFAULT 0
);

-- One row per package and distribution point: SMS_DistributionPoint (the assignment) and
-- SMS_PackageStatusDistPointsSummarizer (its state) are two views of it.
CREATE TABLE distribution (
        "PackageID" TEXT COLLATE nocase NOT NULL REFERENCES package ("PackageID"),
        "ServerNALPath" TEXT COLLATE nocase NOT NULL REFERENCES distribution_point_info ("NALPath"),
        "SiteCode" TEXT COLLATE nocase NOT NULL,
        -- SMS_DistributionPoint
        "BitsEnabled" BIGINT,
        "IsPeerDP" BIGINT,
        "IsProtected" BIGINT,
        "ISVData" BYTEA,
        "ISVDataSize" BIGINT,
        "ISVString" TEXT COLLATE nocase,
        "LastRefreshTime" BIGINT,
        "ObjectTypeID" BIGINT,
        "PackageType" BIGINT,
        "RefreshNow" BIGINT,
        "ResourceType" TEXT COLLATE nocase,
        "SecureObjectID" TEXT COLLATE nocase,
        "SiteName" TEXT COLLATE nocase,
        "SourceSite" TEXT COLLATE nocase,
        "Status" BIGINT,
        -- SMS_PackageStatusDistPointsSummarizer
        "LastCopied" BIGINT,
        "SecuredTypeID" BIGINT,
        "SourceNALPath" TEXT COLLATE nocase,
        -- A new assignment is pending until its first distribution ends.
        "SourceVersion" BIGINT NOT NULL DEFAULT 0,
        "State" BIGINT NOT NULL DEFAULT 1,
        "SummaryDate" BIGINT,
        "RetryCount" BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY ("PackageID", "ServerNALPath", "SiteCode")
);

CREATE INDEX distribution_dp ON distribution ("ServerNALPath");
