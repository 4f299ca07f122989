-- Version 2: an Idempotency-Key reservation says which process holds it and which post it
-- created, so a request cut off by a crash neither pins its key nor runs twice.
--
-- instance_id: the incarnation (a random id drawn at each start) whose request holds the
--   reservation. A later start releases reservations of other incarnations that created nothing.
--   NULL on a reservation whose holder gave it up with a post linked (it is replayed), and on
--   rows from version 1, whose outcome is unknown: those keep answering 409 until the 24 h
--   retention window forgets them, since releasing them could post twice.
-- post_id: the post created under the key, set in the transaction that creates the post, so a
--   retry after a crash replays that post instead of creating another.
ALTER TABLE idempotency_keys ADD COLUMN instance_id TEXT;
ALTER TABLE idempotency_keys ADD COLUMN post_id TEXT REFERENCES post_requests(id) ON DELETE SET NULL;
