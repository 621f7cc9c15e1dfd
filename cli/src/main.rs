//! `ghsync`: runs the whole system on one machine (`serve`) and does an operator's work
//! without the API. Configuration comes from the environment (README.md, "Configuration").

mod local;
mod serve;

use std::io::Read;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use ghsync_shared::config::Config;
use ghsync_shared::crypto::Pat;
use ghsync_shared::domain::RepoRef;
use ghsync_shared::manage::PutSyncConfig;
use ghsync_shared::reconcile::{ReconcileOptions, Reconciler};
use ghsync_shared::{Store, StoreOptions};
use uuid::Uuid;
use zeroize::Zeroize;

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
    /// Manages a project's GitHub sync config.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Polls GitHub for the due configs and applies what the webhooks missed.
    Reconcile {
        /// One pass, printing a JSON summary (without it: a pass every 15 seconds).
        #[arg(long)]
        once: bool,
        /// Only this project's config, now, due or not.
        #[arg(long)]
        project: Option<Uuid>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Creates or changes the config; the PAT is read from standard input (empty input
    /// keeps the stored PAT). Checked against GitHub, encrypted, then stored.
    Set {
        #[arg(long)]
        project: Uuid,
        /// The repository as owner/name.
        #[arg(long)]
        repo: String,
        /// Seconds between scheduled syncs (30–3600).
        #[arg(long)]
        interval: Option<i64>,
    },
    /// Prints the config as JSON (never the PAT).
    Show {
        #[arg(long)]
        project: Uuid,
    },
    /// Stops syncing the project.
    Disable {
        #[arg(long)]
        project: Uuid,
    },
    /// Resumes syncing the project (due at once).
    Enable {
        #[arg(long)]
        project: Uuid,
    },
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
        Command::Config(command) => config_command(&config, command).await,
        Command::Reconcile { once, project } => {
            let reconciler = Reconciler::new(local::services(&config).await?, ReconcileOptions::default());
            match (project, once) {
                (Some(project), _) => print_json(&reconciler.run_project(project).await?),
                (None, true) => print_json(&reconciler.run_due(None).await?),
                (None, false) => {
                    serve::reconcile_loop(reconciler).await;
                    Ok(())
                }
            }
        }
    }
}

async fn config_command(config: &Config, command: ConfigCommand) -> Result<()> {
    match command {
        ConfigCommand::Set { project, repo, interval } => {
            let repo = RepoRef::parse(&repo)?;
            let services = local::services(config).await?;
            let mut input = String::new();
            std::io::stdin().read_to_string(&mut input).context("cannot read the PAT from standard input")?;
            let pat = Some(input.trim()).filter(|p| !p.is_empty()).map(Pat::new);
            input.zeroize();
            let request = PutSyncConfig {
                repo_owner: repo.owner.to_string(),
                repo_name: repo.name.to_string(),
                pat,
                sync_enabled: None,
                sync_interval_seconds: interval,
            };
            print_json(&services.put_sync_config(project, request).await?)
        }
        ConfigCommand::Show { project } => print_json(&open_store(config).await?.get_config(project).await?),
        ConfigCommand::Disable { project } => {
            print_json(&open_store(config).await?.set_sync_enabled(project, false).await?)
        }
        ConfigCommand::Enable { project } => {
            print_json(&open_store(config).await?.set_sync_enabled(project, true).await?)
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
