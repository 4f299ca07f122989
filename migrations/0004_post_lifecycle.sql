-- Version 4: the post lifecycle (cancel, edit, retry) and the attempt log it reads. The
-- statuses it needs (`cancelled` for posts and deliveries) are in version 1's CHECK lists
-- already, so no table is rebuilt.
--
-- delivery_attempts.step: which call the attempt made: `publish` (a new attempt at the
--   platform), `resume` (another look at media the platform is still processing), or `prepare`
--   (it ended before the platform was called: the connection, the credentials, the token).
--   NULL on attempts recorded before version 4, whose step was not kept.
-- post_deliveries.attempts_at_retry: `attempt_count` when the post was last retried by hand
--   (`POST /v1/posts/{id}/retry`), so a retried delivery gets the same automatic retries (429,
--   unreachable) and backoff as a new one, while attempt numbers keep counting.
-- delivery_attempts_by_finished: the prune job deletes attempts by age.
ALTER TABLE delivery_attempts ADD COLUMN step TEXT CHECK (step IN ('prepare', 'publish', 'resume'));
ALTER TABLE post_deliveries ADD COLUMN attempts_at_retry INTEGER NOT NULL DEFAULT 0;
CREATE INDEX delivery_attempts_by_finished ON delivery_attempts(finished_at);
