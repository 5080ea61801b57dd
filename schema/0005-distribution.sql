-- Distribution points and package assignments (reference §7.9, §7.10).

-- SMS_DistributionPointInfo: the site's distribution points.
CREATE TABLE distribution_point_info (
        NALPath TEXT COLLATE NOCASE PRIMARY KEY NOT NULL,
        ServerName TEXT COLLATE NOCASE NOT NULL,
        SiteCode TEXT COLLATE NOCASE NOT NULL,
        ContentRoot TEXT NOT NULL,
        IsPXE INTEGER NOT NULL DEFAULT 0,
        IsMulticast INTEGER NOT NULL DEFAULT 0,
        Description TEXT COLLATE NOCASE,
        ContentLinkMode INTEGER NOT NULL DEFAULT 0
);

-- One row per package and distribution point: SMS_DistributionPoint (the assignment) and
-- SMS_PackageStatusDistPointsSummarizer (its state) are two views of it.
CREATE TABLE distribution (
        PackageID TEXT COLLATE NOCASE NOT NULL REFERENCES package (PackageID),
        ServerNALPath TEXT COLLATE NOCASE NOT NULL REFERENCES distribution_point_info (NALPath),
        SiteCode TEXT COLLATE NOCASE NOT NULL,
        -- SMS_DistributionPoint
        BitsEnabled INTEGER,
        IsPeerDP INTEGER,
        IsProtected INTEGER,
        ISVData BLOB,
        ISVDataSize INTEGER,
        ISVString TEXT COLLATE NOCASE,
        LastRefreshTime INTEGER,
        ObjectTypeID INTEGER,
        PackageType INTEGER,
        RefreshNow INTEGER,
        ResourceType TEXT COLLATE NOCASE,
        SecureObjectID TEXT COLLATE NOCASE,
        SiteName TEXT COLLATE NOCASE,
        SourceSite TEXT COLLATE NOCASE,
        Status INTEGER,
        -- SMS_PackageStatusDistPointsSummarizer
        LastCopied INTEGER,
        SecuredTypeID INTEGER,
        SourceNALPath TEXT COLLATE NOCASE,
        -- A new assignment is pending until its first distribution ends.
        SourceVersion INTEGER NOT NULL DEFAULT 0,
        State INTEGER NOT NULL DEFAULT 1,
        SummaryDate INTEGER,
        RetryCount INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (PackageID, ServerNALPath, SiteCode)
);

CREATE INDEX distribution_dp ON distribution (ServerNALPath);
