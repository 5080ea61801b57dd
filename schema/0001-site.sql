-- The site, its packages and its status messages.
-- Strings are COLLATE NOCASE: WQL compares strings without regard to case, and the indexes must
-- serve those comparisons. Booleans are 0/1, DateTime is microseconds since the epoch (UTC),
-- String[] and UInt32[] are JSON arrays, SMS_Driver_Details[] a JSON array of {"ID","SourcePath"},
-- SMS_ScheduleToken[] the SMS interval string.

CREATE TABLE site (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        site_code TEXT NOT NULL CHECK (length(site_code) = 3),
        site_name TEXT NOT NULL DEFAULT '',
        -- The next PackageID number; it only grows, so IDs are never reused.
        next_package_number INTEGER NOT NULL DEFAULT 1,
        created INTEGER NOT NULL
);

CREATE TABLE package (
        PackageID TEXT COLLATE NOCASE PRIMARY KEY NOT NULL,
        PackageType INTEGER NOT NULL,
        -- SMS_PackageBaseclass
        ActionInProgress INTEGER,
        AlternateContentProviders TEXT COLLATE NOCASE,
        Description TEXT COLLATE NOCASE,
        ExtendedData BLOB,
        ExtendedDataSize INTEGER,
        ForcedDisconnectDelay INTEGER,
        ForcedDisconnectEnabled INTEGER,
        ForcedDisconnectNumRetries INTEGER,
        Icon BLOB,
        IconSize INTEGER,
        IgnoreAddressSchedule INTEGER,
        ISVData BLOB,
        ISVDataSize INTEGER,
        ISVString TEXT COLLATE NOCASE,
        Language TEXT COLLATE NOCASE,
        LastRefreshTime INTEGER,
        LocalizedCategoryInstanceNames TEXT,
        Manufacturer TEXT COLLATE NOCASE,
        MIFFilename TEXT COLLATE NOCASE,
        MIFName TEXT COLLATE NOCASE,
        MIFPublisher TEXT COLLATE NOCASE,
        MIFVersion TEXT COLLATE NOCASE,
        Name TEXT COLLATE NOCASE,
        NumOfPrograms INTEGER,
        PackageSize INTEGER,
        PkgFlags INTEGER,
        PkgSourceFlag INTEGER,
        PkgSourcePath TEXT COLLATE NOCASE,
        PreferredAddressType TEXT COLLATE NOCASE,
        Priority INTEGER,
        RefreshPkgSourceFlag INTEGER,
        RefreshSchedule TEXT,
        SecuredScopeNames TEXT,
        SedoObjectVersion TEXT COLLATE NOCASE,
        ShareName TEXT COLLATE NOCASE,
        ShareType INTEGER,
        SourceDate INTEGER,
        SourceSite TEXT COLLATE NOCASE,
        SourceVersion INTEGER,
        StoredPkgPath TEXT COLLATE NOCASE,
        StoredPkgVersion INTEGER,
        Version TEXT COLLATE NOCASE,
        -- The image classes (SMS_BootImagePackage, SMS_ImagePackage, SMS_OperatingSystemInstallPackage)
        Architecture TEXT COLLATE NOCASE,
        BackgroundBitmapPath TEXT COLLATE NOCASE,
        ContextID TEXT COLLATE NOCASE,
        DefaultImage INTEGER,
        EnableLabShell INTEGER,
        ImageDiskLayout TEXT COLLATE NOCASE,
        ImageIndex INTEGER,
        ImageOSVersion TEXT COLLATE NOCASE,
        ImagePath TEXT COLLATE NOCASE,
        ImageProperty TEXT COLLATE NOCASE,
        InputLocale TEXT COLLATE NOCASE,
        OptionalComponents TEXT,
        PreExecCommandLine TEXT COLLATE NOCASE,
        PreExecSourceDirectory TEXT COLLATE NOCASE,
        ProductionClientVersion TEXT COLLATE NOCASE,
        ReferencedDrivers TEXT,
        ScratchSpace INTEGER
);

CREATE INDEX package_type ON package (PackageType);
CREATE INDEX package_name ON package (Name);

CREATE TABLE status_message (
        -- AUTOINCREMENT: a RecordID is never reused, even after the newest row is deleted.
        RecordID INTEGER PRIMARY KEY AUTOINCREMENT,
        Component TEXT COLLATE NOCASE,
        Description TEXT COLLATE NOCASE,
        InsStrings TEXT,
        MachineName TEXT COLLATE NOCASE,
        MessageID INTEGER,
        MessageType INTEGER,
        ModuleName TEXT COLLATE NOCASE,
        PerClient INTEGER,
        ProcessID INTEGER,
        ReportFunction INTEGER,
        Severity INTEGER,
        SiteCode TEXT COLLATE NOCASE,
        SuccessfulTransaction INTEGER,
        ThreadID INTEGER,
        Time INTEGER,
        TopLevelSiteCode TEXT COLLATE NOCASE,
        "Transaction" INTEGER,
        UserUID INTEGER,
        Win32Error INTEGER
);

CREATE INDEX status_message_time ON status_message (Time);
