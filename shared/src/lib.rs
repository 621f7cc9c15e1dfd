//! ghsync's library: everything the Lambda functions and the local runner share. One room
//! per role (docs/README.md, "The code, room by room"):
//!
//! - [`sync`]: every decision, as pure table-tested functions over values;
//! - [`domain`]: the board and GitHub's side as types, and the values they accept;
//! - [`contract`]: every request and answer shape of the management API;
//! - [`services`]: operations over the store, GitHub and the key provider (configs, the App,
//!   hooks, the pusher, the reconciler, the AWS fan-out, run requests);
//! - [`github`]: GitHub's REST API, the one place that speaks it;
//! - [`store`]: the one query layer over SQLite and PostgreSQL;
//! - [`webhook`]: deliveries verified, parsed and applied;
//! - [`startup`]: building a running ghsync from its configuration;
//! - [`config`], [`secrets`], [`crypto`]: configuration, the deployment's secrets, the KMS
//!   envelope;
//! - [`time`], [`paging`], [`metrics`], [`telemetry`]: timestamps and the run deadline, bounded
//!   lists, metrics, logging.
//!
//! It must not depend on Lambda crates (`lambda_*`, `aws_lambda_events`): the functions are
//! thin adapters over what is here, and the same code runs locally and in tests.

/// Makes a type a plain string in the API contract (TypeScript and OpenAPI), with
/// `$customise` adding the OpenAPI format and other details.
macro_rules! string_in_contract {
    ($t:ty, $customise:expr) => {
        impl ts_rs::TS for $t {
            type WithoutGenerics = Self;
            type OptionInnerType = Self;

            fn name(_: &ts_rs::Config) -> String {
                "string".into()
            }

            fn inline(_: &ts_rs::Config) -> String {
                "string".into()
            }
        }

        impl utoipa::PartialSchema for $t {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::{ObjectBuilder, Type};
                let customise: fn(ObjectBuilder) -> ObjectBuilder = $customise;
                customise(ObjectBuilder::new().schema_type(Type::String)).into()
            }
        }

        impl utoipa::ToSchema for $t {}
    };
}

pub mod config;
pub mod contract;
pub mod crypto;
pub mod domain;
pub mod github;
pub mod metrics;
pub mod paging;
pub mod secrets;
pub mod services;
pub mod startup;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod time;
pub mod webhook;

pub use store::{ApplyOutcome, Store, StoreError, StoreOptions};
