-- Version 9 (issue 11, outcome unknown resolved): an interrupted delivery is read back from the
-- platform before anyone decides it is unknown.
--
-- post_deliveries.reconcile_since: set while the delivery is to be reconciled: a publishing
--   call was cut off (a crash, a kill, an expired lease, no answer in time), so the platform may
--   or may not have the post. The value is when the interrupted attempt started (the start of
--   the window the post, if it exists, was created in). The delivery stays `processing`, not
--   leased, due after the read-back delay; the dispatcher leases it like any due delivery and
--   the attempt reads the platform back (step `reconcile`) instead of publishing. NULL
--   otherwise.
-- post_deliveries.reconcile_reads: read-backs leased for the current interruption (a read that
--   fails, or one cut off itself, is tried again up to a bound); reset when one concludes.
-- delivery_attempts.step gains 'reconcile'. SQLite cannot change a CHECK in place, so the table
--   is rebuilt: renamed, created anew with the same columns, filled, the old one dropped, its
--   indexes made again. No other table refers to delivery_attempts.
ALTER TABLE post_deliveries ADD COLUMN reconcile_since TEXT;
ALTER TABLE post_deliveries ADD COLUMN reconcile_reads INTEGER NOT NULL DEFAULT 0;

ALTER TABLE delivery_attempts RENAME TO delivery_attempts_before_v9;
CREATE TABLE delivery_attempts (
    id              TEXT PRIMARY KEY,
    delivery_id     TEXT NOT NULL REFERENCES post_deliveries(id) ON DELETE CASCADE,
    attempt_number  INTEGER NOT NULL,
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    outcome         TEXT,
    http_status     INTEGER,
    duration_ms     INTEGER,
    error_code      TEXT,
    error_message   TEXT,
    step            TEXT CHECK (step IN ('prepare', 'publish', 'resume', 'reconcile'))
);
INSERT INTO delivery_attempts (id, delivery_id, attempt_number, started_at, finished_at, outcome,
        http_status, duration_ms, error_code, error_message, step)
    SELECT id, delivery_id, attempt_number, started_at, finished_at, outcome,
        http_status, duration_ms, error_code, error_message, step
    FROM delivery_attempts_before_v9;
DROP TABLE delivery_attempts_before_v9;
CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts(delivery_id, attempt_number);
CREATE INDEX delivery_attempts_by_finished ON delivery_attempts(finished_at);
