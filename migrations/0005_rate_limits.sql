-- Version 5 (issue 10, rate limits): an app's own rate limits, and the client's address in the
-- API request log.
--
-- app_rate_limits: one row per app that has at least one number of its own; NULL means the
--   instance's setting (MYPOSTSHARE_RATE_LIMIT_PER_MINUTE, ..._BURST,
--   MYPOSTSHARE_PUBLISH_RATE_LIMIT_PER_MINUTE, ..._BURST). A rate of 0 turns that limit off.
--   The buckets themselves are in the process's memory, never stored.
-- api_request_log.client_ip: the socket's peer, or behind a trusted proxy the right-most
--   untrusted address of X-Forwarded-For (src/client_ip.rs). NULL on rows of earlier versions.
CREATE TABLE app_rate_limits (
    app_id                       TEXT PRIMARY KEY REFERENCES apps(id) ON DELETE CASCADE,
    requests_per_minute          INTEGER CHECK (requests_per_minute BETWEEN 0 AND 1000000),
    burst                        INTEGER CHECK (burst BETWEEN 1 AND 100000),
    publish_requests_per_minute  INTEGER CHECK (publish_requests_per_minute BETWEEN 0 AND 1000000),
    publish_burst                INTEGER CHECK (publish_burst BETWEEN 1 AND 100000),
    updated_at                   TEXT NOT NULL
);

ALTER TABLE api_request_log ADD COLUMN client_ip TEXT;
