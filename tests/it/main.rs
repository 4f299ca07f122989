//! Integration tests: the real server on an ephemeral port, a temporary SQLite file, and the
//! platform simulator over HTTP.

mod support;
mod sandbox_linkedin;
