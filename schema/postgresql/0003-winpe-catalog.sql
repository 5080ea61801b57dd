-- schema/0003-winpe-catalog.sql for PostgreSQL: quoted columns, BIGINT, BYTEA, COLLATE nocase (0001-site.sql).
-- SMS_OSDeploymentKitWinPEOptionalComponent: the optional components the deployment kit holds.
-- Rebuilt from --adk-root at every start.
CREATE TABLE winpe_optional_component (
        "UniqueID" BIGINT PRIMARY KEY NOT NULL,
        "LanguageID" BIGINT NOT NULL,
        "Architecture" TEXT COLLATE nocase NOT NULL,
        "DependentComponentNames" TEXT,
        "DependentIds" TEXT,
        "IsRequired" BIGINT NOT NULL,
        "Name" TEXT COLLATE nocase NOT NULL,
        "RelativePath" TEXT COLLATE nocase NOT NULL,
        "Size" BIGINT NOT NULL,
        "DeploymentKitVersion" TEXT COLLATE nocase NOT NULL
);
