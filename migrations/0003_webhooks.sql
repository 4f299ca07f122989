-- Version 3: signed webhooks (Standard Webhooks) and their transactional outbox.
--
-- webhook_endpoints: where an app wants its events. The signing secret is sealed like client
--   secrets (crypto::Sealer); after a rotation the previous one keeps signing beside the new
--   one until previous_secret_expires_at. event_types is a JSON array of event types, NULL for
--   every event. failing_since is the first failed attempt since the last success: an endpoint
--   failing for long enough is disabled (disabled_reason says why, for the dashboard).
-- webhook_events: the outbox. One row per event and app, written in the transaction of the
--   state change it reports; id is the `webhook-id` (msg_..., never holding a '.'), payload the
--   exact body sent, so every retry sends the same bytes.
-- webhook_deliveries: one event for one endpoint, fanned out in the same transaction; the
--   sender works through the pending ones whose next_attempt_at has come. retry_step counts the
--   failed attempts of the current series (a manual resend starts a new one).
-- webhook_attempts: every HTTP attempt, for the dashboard and the API; pruned like the request
--   log.
CREATE TABLE webhook_endpoints (
    id                          TEXT PRIMARY KEY,
    app_id                      TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    url                         TEXT NOT NULL,
    description                 TEXT,
    event_types                 TEXT,
    status                      TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
    disabled_reason             TEXT,
    disabled_at                 TEXT,
    secret_enc                  BLOB NOT NULL,
    previous_secret_enc         BLOB,
    previous_secret_expires_at  TEXT,
    secret_rotated_at           TEXT,
    failing_since               TEXT,
    created_at                  TEXT NOT NULL,
    updated_at                  TEXT NOT NULL
);
CREATE INDEX webhook_endpoints_by_app ON webhook_endpoints(app_id, created_at);

CREATE TABLE webhook_events (
    id          TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    type        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX webhook_events_by_time ON webhook_events(created_at);

CREATE TABLE webhook_deliveries (
    id                TEXT PRIMARY KEY,
    event_id          TEXT NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
    endpoint_id       TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempt_count     INTEGER NOT NULL DEFAULT 0,
    retry_step        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TEXT,
    last_status_code  INTEGER,
    last_error        TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries(endpoint_id, created_at DESC);
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries(event_id);

CREATE TABLE webhook_attempts (
    id              INTEGER PRIMARY KEY,
    delivery_id     TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt_number  INTEGER NOT NULL,
    started_at      TEXT NOT NULL,
    duration_ms     INTEGER NOT NULL,
    status_code     INTEGER,
    error           TEXT
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts(delivery_id, attempt_number);
CREATE INDEX webhook_attempts_by_time ON webhook_attempts(started_at);

-- credits.low fires when a charge takes the balance below this (per organization).
ALTER TABLE organizations ADD COLUMN credits_low_threshold INTEGER NOT NULL DEFAULT 100;
-- The access-token expiry that connection.token_expiring was sent for, so it is sent once
-- per token (a reconnect brings a new expiry, and a new warning in time).
ALTER TABLE social_connections ADD COLUMN expiry_warned_for TEXT;
