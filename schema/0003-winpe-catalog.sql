-- SMS_OSDeploymentKitWinPEOptionalComponent: the optional components the deployment kit holds.
-- Rebuilt from --adk-root at every start.
CREATE TABLE winpe_optional_component (
        UniqueID INTEGER PRIMARY KEY NOT NULL,
        LanguageID INTEGER NOT NULL,
        Architecture TEXT COLLATE NOCASE NOT NULL,
        DependentComponentNames TEXT,
        DependentIds TEXT,
        IsRequired INTEGER NOT NULL,
        Name TEXT COLLATE NOCASE NOT NULL,
        RelativePath TEXT COLLATE NOCASE NOT NULL,
        Size INTEGER NOT NULL,
        DeploymentKitVersion TEXT COLLATE NOCASE NOT NULL
);
