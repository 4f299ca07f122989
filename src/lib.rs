//! mypostshare: a self-hosted social posting API in one binary with one SQLite file.
//! `app::start` is the seam that `serve` and every integration test use.

pub mod api;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connect;
pub mod crypto;
pub mod dashboard;
pub mod db;
pub mod demo;
pub mod engine;
pub mod error;
pub mod http;
pub mod instance;
pub mod providers;
pub mod scheduler;
pub mod services;
pub mod simulator;
pub mod web;

pub use app::{Running, StartError, start};
