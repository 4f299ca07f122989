-- Version 10: deleting a published post on the platforms (`DELETE /v1/posts/{id}` on a post that
-- was sent). Self-contained: it adds one table and one column and reads nothing of the others'
-- versions, so it can be renumbered by renaming the file.
--
-- post_deletions: what the last DELETE found for one delivery, one row per delivery once the
--   post was deleted. `deleted` (the platform deleted it, or no longer had it), `not_supported`
--   (the platform's API cannot delete it: the person deletes it in the app), `failed` (the call
--   failed: `error_code`, `error_message`; the next DELETE tries it again) or
--   `nothing_to_delete` (the delivery never published). `already_gone` marks a `deleted` row
--   whose platform answered that the post was gone already. `attempt_count` counts the calls.
-- post_requests.deletion_requested_at: when a DELETE of the sent post first began; a post with
--   one is never retried again (`POST /v1/posts/{id}/retry` answers 409), so a retry cannot
--   publish what is being deleted.
CREATE TABLE post_deletions (
    delivery_id    TEXT PRIMARY KEY REFERENCES post_deliveries(id) ON DELETE CASCADE,
    status         TEXT NOT NULL CHECK (status IN ('deleted', 'not_supported', 'failed', 'nothing_to_delete')),
    already_gone   INTEGER NOT NULL DEFAULT 0,
    error_code     TEXT,
    error_message  TEXT,
    attempt_count  INTEGER NOT NULL DEFAULT 0,
    deleted_at     TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
ALTER TABLE post_requests ADD COLUMN deletion_requested_at TEXT;
