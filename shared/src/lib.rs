//! ghsync's library: everything the Lambda functions and the local runner share.
//!
//! Domain types and the sync rules ([`domain`], [`sync`]), the store over SQLite and
//! PostgreSQL ([`store`]), configuration ([`config`]) and timestamps ([`time`]).
//!
//! It must not depend on Lambda crates (`lambda_*`, `aws_lambda_events`): the functions are
//! thin adapters over what is here, and the same code runs locally and in tests.

pub mod config;
pub mod contract;
pub mod crypto;
pub mod domain;
pub mod github;
pub mod manage;
pub mod reconcile;
pub mod secret;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod time;
pub mod webhook;

pub use store::{ApplyOutcome, Store, StoreError, StoreOptions};
