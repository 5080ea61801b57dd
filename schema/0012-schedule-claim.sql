-- Refresh schedules on a site of several hosts (issue 16): every host arms the timers of every
-- package's RefreshSchedule, and each occurrence is refreshed by the host that claims it first.
-- The row holds the latest occurrence claimed (usec since the epoch); a host claims an
-- occurrence by moving Due up to it, which only one host can do.
CREATE TABLE schedule_claim (
        PackageID TEXT COLLATE NOCASE PRIMARY KEY NOT NULL REFERENCES package (PackageID) ON DELETE CASCADE,
        Due INTEGER NOT NULL
);
