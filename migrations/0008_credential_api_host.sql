-- Version 8 (issue 11, Pinterest's Trial tier): which API host an app's OAuth client calls.
--
-- provider_credentials.api_host: 'production' (every platform) or 'sandbox' (only platforms
--   with a sandbox host: Pinterest's api-sandbox.pinterest.com, where apps with Trial access
--   must create their Pins; developers.pinterest.com/docs/key-concepts/access-tiers/). Rows of
--   earlier versions keep calling production. The managed clients' host is
--   MYPOSTSHARE_{PLATFORM}_API_HOST, not stored.
ALTER TABLE provider_credentials ADD COLUMN api_host TEXT NOT NULL DEFAULT 'production'
    CHECK (api_host IN ('production', 'sandbox'));
