//! `ghsync`: runs the whole system on one machine (`serve`) and does an operator's work
//! without the API. Configuration comes from the environment (README.md, "Configuration").

mod local;
mod serve;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use ghsync_shared::config::Config;
use ghsync_shared::{Store, StoreOptions};

#[derive(Parser)]
#[command(name = "ghsync", version, about = "Keeps a task board in sync with GitHub Issues")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the webhook endpoint, the management API and the reconcile loop (migrates first).
    Serve,
    /// Applies pending database migrations.
    Migrate,
    /// Manages projects.
    #[command(subcommand)]
    Project(ProjectCommand),
}

#[derive(Subcommand)]
enum ProjectCommand {
    /// Creates a project and prints it as JSON.
    Create {
        #[arg(long)]
        name: String,
    },
    /// Lists projects as JSON.
    List,
}

#[tokio::main]
async fn main() -> Result<()> {
    ghsync_shared::telemetry::init();
    let cli = Cli::parse();
    let config = Config::from_env()?;
    match cli.command {
        Command::Serve => serve::run(config).await,
        Command::Migrate => {
            open_store(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Project(ProjectCommand::Create { name }) => {
            let store = open_store(&config).await?;
            print_json(&store.create_project(&name).await?)
        }
        Command::Project(ProjectCommand::List) => {
            print_json(&open_store(&config).await?.list_projects().await?)
        }
    }
}

/// Connects to the configured database and brings its schema up to date.
async fn open_store(config: &Config) -> Result<Store> {
    let store = Store::connect(&config.database_url, &StoreOptions::default())
        .await
        .with_context(|| format!("cannot open the database ({})", local::redact_url(&config.database_url)))?;
    store.migrate().await.context("cannot migrate the database")?;
    Ok(store)
}

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
