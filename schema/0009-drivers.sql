-- The driver catalog is migration 0009: 0007 is the site systems, 0008 the change notification.
-- The driver catalog (issue 15): SMS_Driver, one row per driver imported from an INF file
-- (CreateFromINF), and SMS_BootImagePackage_DriverRef, the boot images' ReferencedDrivers as rows.

CREATE TABLE driver (
        -- AUTOINCREMENT: a CI_ID is never reused, so that a boot image's ReferencedDrivers entry
        -- never comes to name another driver.
        CI_ID INTEGER PRIMARY KEY AUTOINCREMENT,
        -- "<SiteCode>/Driver_<SHA-256 of the INF>": the same INF imported again is this row.
        CI_UniqueID TEXT COLLATE NOCASE NOT NULL UNIQUE,
        CategoryInstance_UniqueIDs TEXT,
        CIType_ID INTEGER,
        CIVersion INTEGER,
        ContentSourcePath TEXT COLLATE NOCASE,
        CreatedBy TEXT COLLATE NOCASE,
        DateCreated INTEGER,
        DateLastModified INTEGER,
        DriverBootCritical INTEGER,
        DriverClass TEXT COLLATE NOCASE,
        DriverDate INTEGER,
        DriverINFFile TEXT COLLATE NOCASE,
        DriverProvider TEXT COLLATE NOCASE,
        DriverSigned INTEGER,
        DriverSigner TEXT COLLATE NOCASE,
        DriverType TEXT COLLATE NOCASE,
        DriverVersion TEXT COLLATE NOCASE,
        IsEnabled INTEGER,
        IsExpired INTEGER,
        IsHidden INTEGER,
        IsLatest INTEGER,
        IsQuarantined INTEGER,
        IsSuperseded INTEGER,
        IsUserDefined INTEGER,
        LastModifiedBy TEXT COLLATE NOCASE,
        LocalizedDescription TEXT COLLATE NOCASE,
        LocalizedDisplayName TEXT COLLATE NOCASE,
        LocalizedPropertyLocaleID INTEGER,
        -- Built when read (site/drivers.c), never stored: always NULL here.
        SDMPackageXML TEXT,
        SecuredScopeNames TEXT,
        SedoObjectVersion TEXT COLLATE NOCASE,
        SourceSite TEXT COLLATE NOCASE,
        -- smsprovd: what the INF says the driver is for (JSON arrays of strings)
        HardwareIDs TEXT,
        CompatibleIDs TEXT,
        Architectures TEXT
);

CREATE INDEX driver_class ON driver (DriverClass);

-- ReferencedDrivers of every boot image, one row per entry. A view: the package row stays the one
-- place the list is written, so the two can never disagree.
CREATE VIEW boot_image_driver_ref AS
        SELECT p.PackageID AS PkgID,
               CAST(json_extract(d.value, '$.ID') AS INTEGER) AS CI_ID,
               json_extract(d.value, '$.SourcePath') AS SourcePath
        FROM package AS p, json_each(p.ReferencedDrivers) AS d
        WHERE p.PackageType = 258 AND p.ReferencedDrivers IS NOT NULL AND json_valid(p.ReferencedDrivers);
