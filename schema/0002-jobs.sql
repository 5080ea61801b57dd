-- Long operations and the status queues that QueryOSDBinaryInjectionStatus reads.

-- Every job, kept after it ends: its outcome outlives its 60 seconds on the bus.
CREATE TABLE job (
        Id INTEGER PRIMARY KEY AUTOINCREMENT,
        Operation TEXT NOT NULL,
        Target TEXT NOT NULL DEFAULT '',
        ContextID TEXT NOT NULL DEFAULT '',
        StartedByUID INTEGER NOT NULL,
        -- 0 queued, 1 running, 2 completed, 3 failed, 4 canceled
        State INTEGER NOT NULL,
        SubmitTime INTEGER NOT NULL,
        StartTime INTEGER NOT NULL DEFAULT 0,
        EndTime INTEGER NOT NULL DEFAULT 0,
        ErrorName TEXT NOT NULL DEFAULT '',
        ErrorMessage TEXT NOT NULL DEFAULT '',
        ErrorCode INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX job_state ON job (State);

-- The status queue of a ContextID (SMS_BootImagePackage.QueryOSDBinaryInjectionStatus).
CREATE TABLE injection_status (
        ContextID TEXT COLLATE NOCASE PRIMARY KEY NOT NULL,
        -- 0 complete, 1 in progress, 2 error (3 "no status" is the absence of a row)
        Status INTEGER NOT NULL,
        Progress INTEGER NOT NULL DEFAULT 0,
        MaxProgress INTEGER NOT NULL DEFAULT 0,
        ProgressText TEXT NOT NULL DEFAULT '',
        ErrorCode INTEGER NOT NULL DEFAULT 0,
        ExtendedErrorInfo TEXT NOT NULL DEFAULT '',
        Updated INTEGER NOT NULL
);
