//! `ghsync`: runs the whole system on one machine (`serve`) and does an operator's work
//! without the API. Configuration comes from the environment (README.md, "Configuration").

mod local;
mod progress;
mod serve;

use std::io::Read;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use ghsync_shared::config::Config;
use ghsync_shared::contract::MergedContent;
use ghsync_shared::crypto::Pat;
use ghsync_shared::domain::{ConflictStatus, Content, RepoRef, Resolution, TaskStatus};
use ghsync_shared::manage::PutSyncConfig;
use ghsync_shared::paging::{ConflictPage, PageRequest, TaskPage};
use ghsync_shared::reconcile::{ReconcileOptions, Reconciler};
use ghsync_shared::store::TaskFilter;
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
    /// Lists a project's conflicts as JSON, newest first (pending ones unless --status says
    /// otherwise): all of them as an array, or one page with --limit.
    Conflicts {
        #[arg(long)]
        project: Uuid,
        /// pending, resolved or all.
        #[arg(long, default_value = "pending")]
        status: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Resolves a conflict: keep the local version, accept GitHub's, or merge.
    #[command(group(clap::ArgGroup::new("action").required(true).args(["keep_local", "accept_github", "merge"])))]
    Resolve {
        /// The conflict id.
        id: Uuid,
        #[arg(long)]
        keep_local: bool,
        #[arg(long)]
        accept_github: bool,
        /// A JSON file `{"title": …, "description": …}` with the merged content (`-`: stdin).
        #[arg(long, value_name = "FILE")]
        merge: Option<String>,
    },
    /// Prints a project's sync history summary as JSON.
    History {
        #[arg(long)]
        project: Uuid,
    },
    /// Lists a project's tasks with their GitHub links as JSON, oldest first: all of them as
    /// an array, or one page with --limit.
    Tasks {
        #[arg(long)]
        project: Uuid,
        /// Only tasks in this column (todo, inprogress, inreview, done, cancelled).
        #[arg(long)]
        status: Option<String>,
        /// Only tasks with a pending conflict.
        #[arg(long)]
        conflict_pending: bool,
        /// Only tasks whose title contains this text.
        #[arg(long, value_name = "TEXT")]
        q: Option<String>,
        /// Only tasks whose issue has this label.
        #[arg(long, value_name = "NAME")]
        label: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Polls GitHub for the due configs and applies what the webhooks missed.
    Reconcile {
        /// One pass, printing a JSON summary (without it: a pass every 15 seconds).
        #[arg(long)]
        once: bool,
        /// Only this project's config, now, due or not.
        #[arg(long)]
        project: Option<Uuid>,
        /// Stops after this many seconds as the Lambda deadline does: no config is started
        /// after it, and a config's run stops after the page it is applying (the next run
        /// continues there; the summary says `"complete": false`).
        #[arg(long, value_name = "SECONDS")]
        time_limit: Option<f64>,
    },
}

/// How much of a list to print.
#[derive(clap::Args)]
struct PageArgs {
    /// Print one page of at most this many items (1–500), as `{items, next_cursor}`.
    #[arg(long, conflicts_with = "all")]
    limit: Option<i64>,
    /// With --limit: the page after this `next_cursor`.
    #[arg(long, requires = "limit")]
    cursor: Option<String>,
    /// Print every item as one array (the default).
    #[arg(long)]
    all: bool,
}

impl PageArgs {
    /// The page asked for, or `None` for all of them.
    fn request(&self) -> Result<Option<PageRequest>> {
        match self.limit {
            None => Ok(None),
            Some(limit) => Ok(Some(PageRequest::new(Some(limit), self.cursor.as_deref())?)),
        }
    }
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
        /// Two-way sync: push local edits of linked tasks to GitHub (`true` or `false`;
        /// absent keeps the stored setting, one-way for a new config).
        #[arg(long, value_name = "BOOL")]
        two_way: Option<bool>,
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
        Command::Conflicts { project, status, page } => {
            let status = match status.as_str() {
                "all" => None,
                s => Some(
                    s.parse::<ConflictStatus>().map_err(|e| anyhow::anyhow!("--status: {}", e.message))?,
                ),
            };
            let store = open_store(&config).await?;
            match page.request()? {
                None => print_json(&store.list_conflicts(project, status).await?),
                Some(request) => {
                    let fetched = store.list_conflicts_page(project, status, &request).await?;
                    print_json(&ConflictPage::of(fetched, &request))
                }
            }
        }
        Command::Resolve { id, keep_local, accept_github, merge } => {
            let resolution = match (keep_local, accept_github, merge) {
                (true, _, _) => Resolution::KeepLocal,
                (_, true, _) => Resolution::AcceptGithub,
                (_, _, Some(file)) => Resolution::Merge(read_merged(&file)?),
                _ => unreachable!("clap requires one action"),
            };
            print_json(&open_store(&config).await?.resolve_conflict(id, &resolution).await?)
        }
        Command::History { project } => {
            print_json(&open_store(&config).await?.history_summary(project).await?)
        }
        Command::Tasks { project, status, conflict_pending, q, label, page } => {
            let filter = TaskFilter {
                status: status
                    .map(|s| s.parse::<TaskStatus>().map_err(|e| anyhow::anyhow!("--status: {}", e.message)))
                    .transpose()?,
                conflict_pending,
                title_contains: q,
                label,
            };
            let store = open_store(&config).await?;
            match page.request()? {
                Some(request) => {
                    let fetched = store.list_tasks_page(project, &filter, &request).await?;
                    print_json(&TaskPage::of(fetched, &request))
                }
                None => {
                    print_json(&store.list_tasks_page(project, &filter, &PageRequest::everything()).await?)
                }
            }
        }
        Command::Reconcile { once, project, time_limit } => {
            let mut reconciler =
                Reconciler::new(local::services(&config).await?, ReconcileOptions::for_config(&config));
            // Pages, issues and rate as they go, when a person watches.
            reconciler.progress = progress::on_terminal();
            let deadline = time_limit
                .map(|s| {
                    std::time::Duration::try_from_secs_f64(s)
                        .context("--time-limit must be a positive number")
                })
                .transpose()?
                .map(|limit| std::time::Instant::now() + limit);
            match (project, once) {
                (Some(project), _) => print_json(&reconciler.run_project_until(project, deadline).await?),
                (None, true) => print_json(&reconciler.run_due(deadline).await?),
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
        ConfigCommand::Set { project, repo, interval, two_way } => {
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
                two_way,
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

/// Reads merged content from a JSON file (or stdin for `-`).
fn read_merged(file: &str) -> Result<Content> {
    let text = if file == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        text
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?
    };
    let merged: MergedContent = serde_json::from_str(&text)
        .context("the merge file must be JSON {\"title\": …, \"description\": …}")?;
    Ok(Content::new(merged.title, merged.description)?)
}

/// Connects to the configured database and brings its schema up to date.
async fn open_store(config: &Config) -> Result<Store> {
    ghsync_shared::manage::open_store(config, &StoreOptions::default())
        .await
        .with_context(|| format!("cannot open the database ({})", local::redact_url(&config.database_url)))
}

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
