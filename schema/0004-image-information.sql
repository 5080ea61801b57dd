-- SMS_ImageInformation: one row per image of a package's WIM (reference §7.4), keyed by the
-- package and the image index; it goes with its package.
CREATE TABLE image_information (
        PackageID TEXT COLLATE NOCASE NOT NULL REFERENCES package (PackageID) ON DELETE CASCADE,
        "Index" INTEGER NOT NULL,
        Architecture TEXT COLLATE NOCASE,
        CreatedBy TEXT COLLATE NOCASE,
        CreationDate TEXT COLLATE NOCASE,
        Description TEXT COLLATE NOCASE,
        EnableLabShell INTEGER,
        HALType TEXT COLLATE NOCASE,
        ImageOSVersion TEXT COLLATE NOCASE,
        ImagePath TEXT COLLATE NOCASE,
        Language TEXT COLLATE NOCASE,
        Name TEXT COLLATE NOCASE,
        ObjectType INTEGER,
        OSVersion TEXT COLLATE NOCASE,
        PackageType INTEGER,
        ProductType TEXT COLLATE NOCASE,
        Size INTEGER,
        Version TEXT COLLATE NOCASE,
        PRIMARY KEY (PackageID, "Index")
);
