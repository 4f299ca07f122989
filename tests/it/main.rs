//! Integration tests: the real server on an ephemeral port, a temporary SQLite file, and the
//! platform simulator over HTTP. Nothing at the SQLite or provider boundary is mocked.

mod support;

mod adapter_calls;

mod all_platforms;
mod cli;
mod configuration;
mod connect_flow;
mod connections;
mod crash_reconcile;
mod credits_and_idempotency;
mod dash;
mod dashboard_browser;
mod dashboard_http;
mod delete_published;
mod delivery;
mod facebook;
mod idempotency_crash;
mod instagram;
mod interrupted_lease;
mod lifecycle;
mod media;
mod media_transfers;
mod observability;
mod openapi;

mod linkedin;
mod linkedin_media;
mod pinterest;
mod posts_api;
mod rate_limits;
mod recovery;
mod reddit;
mod replication;
mod safe_retry;
mod scenarios;
mod scheduling;
mod server_limits;
mod simulator_linkedin;
mod tenancy;
mod threads;
mod twitter;
mod validation;
mod webdriver;
mod webhooks;
mod youtube;
