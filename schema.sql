-- The whole schema of mypostshare, version 1. Timestamps are TEXT in the wire format
-- (`2026-03-21T08:00:00.000Z`, UTC, milliseconds), which sorts chronologically. Ids are UUIDs.
-- Secrets are stored sealed (BLOB, see crypto::Sealer) or as one-way hashes, never in clear.

CREATE TABLE organizations (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    credit_balance  INTEGER NOT NULL DEFAULT 0 CHECK (credit_balance >= 0),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE apps (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX apps_by_org ON apps(org_id);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    app_id        TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT,
    revoked_at    TEXT
);
CREATE INDEX api_keys_by_app ON api_keys(app_id);

CREATE TABLE redirect_uris (
    id          TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    uri         TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (app_id, uri)
);

CREATE TABLE provider_credentials (
    id                 TEXT PRIMARY KEY,
    app_id             TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    platform           TEXT NOT NULL,
    client_id          TEXT NOT NULL,
    client_secret_enc  BLOB NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    UNIQUE (app_id, platform)
);

CREATE TABLE end_users (
    id                TEXT PRIMARY KEY,
    app_id            TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    external_user_id  TEXT NOT NULL,
    display_name      TEXT,
    email             TEXT,
    metadata          TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (app_id, external_user_id)
);

CREATE TABLE social_connections (
    id                        TEXT PRIMARY KEY,
    app_id                    TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    end_user_id               TEXT NOT NULL REFERENCES end_users(id) ON DELETE CASCADE,
    platform                  TEXT NOT NULL,
    status                    TEXT NOT NULL CHECK (status IN ('connected', 'disconnected', 'error')),
    remote_account_id         TEXT,
    remote_username           TEXT,
    account_type              TEXT,
    access_token_enc          BLOB,
    refresh_token_enc         BLOB,
    access_token_expires_at   TEXT,
    refresh_token_expires_at  TEXT,
    scopes                    TEXT,
    credential_source         TEXT NOT NULL CHECK (credential_source IN ('app', 'managed')),
    needs_reconnect           INTEGER NOT NULL DEFAULT 0,
    last_error_code           TEXT,
    last_error_message        TEXT,
    last_synced_at            TEXT,
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL,
    UNIQUE (end_user_id, platform)
);

CREATE TABLE connect_sessions (
    id                 TEXT PRIMARY KEY,
    app_id             TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    end_user_id        TEXT NOT NULL REFERENCES end_users(id) ON DELETE CASCADE,
    platform           TEXT NOT NULL,
    redirect_uri       TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'redirected', 'connected', 'failed', 'expired')),
    display_name       TEXT,
    email              TEXT,
    metadata           TEXT,
    state_hash         TEXT UNIQUE,
    state_consumed_at  TEXT,
    pkce_verifier_enc  BLOB,
    credential_source  TEXT NOT NULL CHECK (credential_source IN ('app', 'managed')),
    connection_id      TEXT REFERENCES social_connections(id) ON DELETE SET NULL,
    error_code         TEXT,
    error_message      TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    completed_at       TEXT,
    expires_at         TEXT NOT NULL
);
CREATE INDEX connect_sessions_open ON connect_sessions(status, expires_at);

CREATE TABLE post_requests (
    id             TEXT PRIMARY KEY,
    app_id         TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    end_user_id    TEXT NOT NULL REFERENCES end_users(id) ON DELETE CASCADE,
    mode           TEXT NOT NULL CHECK (mode IN ('immediate', 'scheduled')),
    status         TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'published', 'failed', 'partial_success', 'scheduled', 'cancelled')),
    title          TEXT,
    content        TEXT NOT NULL,
    media_url      TEXT,
    media_kind     TEXT CHECK (media_kind IN ('image', 'video')),
    thumbnail_url  TEXT,
    metadata       TEXT,
    platform_options TEXT,
    credit_cost    INTEGER NOT NULL,
    schedule_at    TEXT,
    processed_at   TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX post_requests_by_app ON post_requests(app_id, created_at DESC, id DESC);

CREATE TABLE post_deliveries (
    id                TEXT PRIMARY KEY,
    post_id           TEXT NOT NULL REFERENCES post_requests(id) ON DELETE CASCADE,
    platform          TEXT NOT NULL,
    connection_id     TEXT REFERENCES social_connections(id) ON DELETE SET NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'published', 'failed', 'cancelled')),
    external_id       TEXT,
    external_url      TEXT,
    error_code        TEXT,
    error_message     TEXT,
    attempt_count     INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TEXT,
    lease_expires_at  TEXT,
    -- What the platform adapter needs to continue a publish that is still processing at the
    -- platform (a media container, a video); NULL otherwise.
    resume_state      TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (post_id, platform)
);
CREATE INDEX post_deliveries_due ON post_deliveries(status, next_attempt_at);
CREATE INDEX post_deliveries_by_platform ON post_deliveries(platform, post_id);

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
    error_message   TEXT
);
CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts(delivery_id, attempt_number);

CREATE TABLE credit_ledger (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    app_id         TEXT,
    post_id        TEXT,
    kind           TEXT NOT NULL CHECK (kind IN ('grant', 'charge', 'refund')),
    amount         INTEGER NOT NULL,
    balance_after  INTEGER NOT NULL,
    note           TEXT,
    created_at     TEXT NOT NULL
);
CREATE INDEX credit_ledger_by_org ON credit_ledger(org_id, created_at DESC);

CREATE TABLE idempotency_keys (
    app_id         TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    key            TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    status_code    INTEGER,
    response_body  TEXT,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (app_id, key)
);

CREATE TABLE api_request_log (
    id           INTEGER PRIMARY KEY,
    app_id       TEXT,
    key_prefix   TEXT,
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    status       INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL,
    request_id   TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX api_request_log_by_app ON api_request_log(app_id, created_at DESC);

CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    target_type  TEXT NOT NULL,
    target_id    TEXT,
    details      TEXT,
    created_at   TEXT NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log(created_at DESC);

-- The dashboard: operators (instance-wide admins), their sessions, sign-in attempts (for
-- throttling) and the one-time setup links of an instance without operators. Passwords are
-- argon2id hashes; session and setup tokens are stored as SHA-256 hashes.

CREATE TABLE operators (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash   TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    last_sign_in_at TEXT
);

CREATE TABLE operator_sessions (
    id            TEXT PRIMARY KEY,
    operator_id   TEXT NOT NULL REFERENCES operators(id) ON DELETE CASCADE,
    token_hash    TEXT NOT NULL UNIQUE,
    csrf_token    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);
CREATE INDEX operator_sessions_by_operator ON operator_sessions(operator_id);

CREATE TABLE sign_in_attempts (
    id          INTEGER PRIMARY KEY,
    email       TEXT NOT NULL COLLATE NOCASE,
    ip          TEXT NOT NULL,
    succeeded   INTEGER NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX sign_in_attempts_by_email ON sign_in_attempts(email, created_at);
CREATE INDEX sign_in_attempts_by_ip ON sign_in_attempts(ip, created_at);

CREATE TABLE operator_setup_tokens (
    token_hash  TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);
