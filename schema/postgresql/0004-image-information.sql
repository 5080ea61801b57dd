-- schema/0004-image-information.sql for PostgreSQL: quoted columns, BIGINT, BYTEA, COLLATE nocase (0001-site.sql).
-- SMS_ImageInformation: one row per image of a package's WIM (reference §7.4), keyed by the
-- package and the image index; it goes with its package.
CREATE TABLE image_information (
        "PackageID" TEXT COLLATE nocase NOT NULL REFERENCES package ("PackageID") ON DELETE CASCADE,
        "Index" BIGINT NOT NULL,
        "Architecture" TEXT COLLATE nocase,
        "CreatedBy" TEXT COLLATE nocase,
        "CreationDate" TEXT COLLATE nocase,
        "Description" TEXT COLLATE nocase,
        "EnableLabShell" BIGINT,
        "HALType" TEXT COLLATE nocase,
        "ImageOSVersion" TEXT COLLATE nocase,
        "ImagePath" TEXT COLLATE nocase,
        "Language" TEXT COLLATE nocase,
        "Name" TEXT COLLATE nocase,
        "ObjectType" BIGINT,
        "OSVersion" TEXT COLLATE nocase,
        "PackageType" BIGINT,
        "ProductType" TEXT COLLATE nocase,
        "Size" BIGINT,
        "Version" TEXT COLLATE nocase,
        PRIMARY KEY ("PackageID", "Index")
);
