//! ghsync's library: everything the Lambda functions and the local runner share.
//!
//! Domain types and the sync rules ([`domain`], [`sync`]), the store over SQLite and
//! PostgreSQL ([`store`]), configuration ([`config`]) and timestamps ([`time`]).
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
