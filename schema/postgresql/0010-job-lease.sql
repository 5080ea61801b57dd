-- schema/0010-job-lease.sql for PostgreSQL: quoted columns, BIGINT, COLLATE nocase (0001-site.sql).
-- Jobs carry their host and a lease (issue 16): several hosts may share one site database, and
-- each must fail only the jobs that are its own when it starts, and the jobs of a host that died
-- once that host stopped renewing their lease.

-- The host that runs the job (the name it records in provider: SMS_ProviderLocation's Machine),
-- and until when its lease holds (usec since the epoch); the host renews it while the job is
-- queued or running. Rows from before this migration have no host and a lease long gone.
ALTER TABLE job ADD COLUMN "Host" TEXT NOT NULL DEFAULT '';
ALTER TABLE job ADD COLUMN "LeaseExpires" BIGINT NOT NULL DEFAULT 0;

CREATE INDEX job_host ON job ("Host", "State");

-- Site-wide rules as rows: a job that must run alone on the site (one build of a package, one
-- ExportDefaultBootImage) holds the row of its name, taken in the transaction that records the
-- job. The row is free again once its job has ended, or its job's lease has run out.
CREATE TABLE site_lease (
        "Name" TEXT COLLATE nocase PRIMARY KEY NOT NULL,
        "JobId" BIGINT NOT NULL
);
