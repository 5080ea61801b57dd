-- schema/0012-schedule-claim.sql for PostgreSQL: each occurrence of a package's RefreshSchedule
-- is refreshed by the host that claims it first.
CREATE TABLE schedule_claim (
        "PackageID" TEXT COLLATE nocase PRIMARY KEY NOT NULL REFERENCES package ("PackageID") ON DELETE CASCADE,
        "Due" BIGINT NOT NULL
);
