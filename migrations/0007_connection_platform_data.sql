-- What an adapter keeps about a connection besides its tokens, read once at connect time and
-- sealed like them (a JSON document): Facebook's Page tokens, which do not expire when read
-- with a long-lived user token, so publishing no longer depends on the 60-day user token.
ALTER TABLE social_connections ADD COLUMN platform_data_enc BLOB;
