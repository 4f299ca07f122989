//! mypostshare: a self-hosted social posting API in one binary with one SQLite file.
//! `app::start` is the seam that `serve` and every integration test use.

pub mod api;
pub mod app;
pub mod cli;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod dashboard;
pub mod db;
pub mod deletion;
pub mod delivery;
pub mod demo;
pub mod error;
pub mod hosted_connect;
pub mod http;
pub mod instance;
pub mod jobs;
pub mod metrics;
pub mod openapi;
pub mod providers;
pub mod rate_limit;
pub mod recovery;
pub mod scheduler;
pub mod services;
pub mod simulator;
pub mod web;
pub mod webhooks;

pub use app::{Running, StartError, start};
