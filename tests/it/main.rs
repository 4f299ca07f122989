//! Integration tests: the real server on an ephemeral port, a temporary SQLite file, and the
//! platform simulator over HTTP. Nothing at the SQLite or provider boundary is mocked.

mod support;

mod cli;
mod connect_flow;
mod credits_and_idempotency;
mod delivery;
mod linkedin_media;
mod posts_api;
mod sandbox_linkedin;
mod scheduling;
mod server_limits;
mod tenancy;
mod validation;
