//! `ghsync`: runs the whole system on one machine (`serve`) and does an operator's work
//! without the API. Settings come from flags or their environment variables (clap reads
//! both; README.md, "Configuration"); secrets only from the environment, never a flag that
//! `ps` would show.

mod local;
mod progress;
mod serve;

use std::io::Read;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use ghsync_shared::config::Config;
use ghsync_shared::contract::MergedContent;
use ghsync_shared::contract::PutSyncConfig;
use ghsync_shared::crypto::Secret;
use ghsync_shared::domain::{
    ConflictStatus, Merged, Nullable, RepoRef, Resolution, TaskOrder, TaskPatch, TaskStatus, ValidationError,
};
use ghsync_shared::paging::{ConflictPage, PageRequest, TaskPage};
use ghsync_shared::services::reconcile::{ReconcileOptions, Reconciler};
use ghsync_shared::store::{Backoff, TaskFilter};
use ghsync_shared::{Store, StoreOptions};
use uuid::Uuid;
use zeroize::Zeroize;

#[derive(Parser)]
#[command(
    name = "ghsync",
    version,
    about = "Keeps a task board in sync with GitHub Issues",
    after_help = "Secrets come only from the environment: GHSYNC_WEBHOOK_SECRET (comma-separated \
                  during a rotation), GHSYNC_API_TOKEN and GHSYNC_LOCAL_KEY; `ghsync serve` generates \
                  and keeps any that is unset beside the SQLite database."
)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Command,
}

/// The settings every command shares; each flag also reads its environment variable (the
/// same names the Lambda functions use).
#[derive(clap::Args, Debug)]
struct Settings {
    /// The database: sqlite://FILE?mode=rwc (local) or postgres://USER:PASSWORD@HOST:PORT/DB
    /// (with a password, prefer the variable: a flag shows in `ps`).
    #[arg(long, global = true, env = "GHSYNC_DATABASE_URL", hide_env_values = true, value_name = "URL")]
    database_url: Option<String>,
    /// The address `ghsync serve` listens on [default: 127.0.0.1:3000].
    #[arg(long, global = true, env = "GHSYNC_LISTEN", value_name = "HOST:PORT")]
    listen: Option<String>,
    /// GitHub's REST API (GitHub Enterprise Server: https://HOST/api/v3) [default: https://api.github.com].
    #[arg(long, global = true, env = "GITHUB_API_URL", value_name = "URL")]
    github_api_url: Option<String>,
    /// The AWS KMS key (id, ARN or alias) that wraps each PAT; unset: the local key
    /// (GHSYNC_LOCAL_KEY, or a generated ghsync.key beside the database).
    #[arg(long, global = true, env = "GHSYNC_KMS_KEY_ID", value_name = "KEY")]
    kms_key_id: Option<String>,
    /// Where GitHub reaches this ghsync (https); with it ghsync installs each repository's
    /// webhook itself.
    #[arg(long, global = true, env = "GHSYNC_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    /// Configs one process syncs at once (1–1024) [default: 16].
    #[arg(long, global = true, env = "GHSYNC_RECONCILE_CONCURRENCY", value_name = "N")]
    reconcile_concurrency: Option<String>,
}

impl Settings {
    /// The configuration: these settings, and the secrets from the environment.
    fn config(&self) -> Result<Config> {
        let flag = |name: &str| match name {
            "GHSYNC_DATABASE_URL" => self.database_url.clone(),
            "GHSYNC_LISTEN" => self.listen.clone(),
            "GITHUB_API_URL" => self.github_api_url.clone(),
            "GHSYNC_KMS_KEY_ID" => self.kms_key_id.clone(),
            "GHSYNC_PUBLIC_URL" => self.public_url.clone(),
            "GHSYNC_RECONCILE_CONCURRENCY" => self.reconcile_concurrency.clone(),
            _ => None,
        };
        Ok(Config::from_lookup(|name| flag(name).or_else(|| std::env::var(name).ok()))?)
    }
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
    /// Manages the deployment's GitHub App (configs may work through its installations).
    #[command(subcommand)]
    App(AppCommand),
    /// Lists a project's conflicts as JSON, newest first (pending ones unless --status says
    /// otherwise): all of them as an array, or one page with --limit.
    Conflicts {
        /// The project's id.
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
        /// Keep the task as it is on the board (two-way configs send it to GitHub).
        #[arg(long)]
        keep_local: bool,
        /// Take the issue as GitHub has it.
        #[arg(long)]
        accept_github: bool,
        /// A JSON file `{"title": …, "description": …, "status"?: …}` with the merged content,
        /// and the column when you choose one (`-`: stdin).
        #[arg(long, value_name = "FILE")]
        merge: Option<String>,
    },
    /// Prints a project's sync history summary as JSON.
    History {
        /// The project's id.
        #[arg(long)]
        project: Uuid,
    },
    /// Lists a project's tasks with their GitHub links as JSON, oldest first: all of them as
    /// an array, or one page with --limit.
    Tasks {
        /// The project's id.
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
        /// Only tasks that show this label.
        #[arg(long, value_name = "NAME")]
        label: Option<String>,
        /// Only tasks assigned to this login.
        #[arg(long, value_name = "LOGIN")]
        assignee: Option<String>,
        /// Only tasks in the milestone with this title.
        #[arg(long, value_name = "TITLE")]
        milestone: Option<String>,
        /// created (oldest first) or updated (newest-updated first, as the board's columns).
        #[arg(long, default_value = "created")]
        sort: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Lists a task's comments (its issue's conversation) as JSON, oldest first: all of them
    /// as an array, or one page with --limit.
    Comments {
        /// The task's id.
        #[arg(long)]
        task: Uuid,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Writes, edits or deletes a comment on the board (sent to GitHub with two-way sync).
    #[command(subcommand)]
    Comment(CommentCommand),
    /// Two-way sync's waiting edits.
    #[command(subcommand)]
    Push(PushCommand),
    /// Edits a task on the board.
    #[command(subcommand)]
    Task(TaskCommand),
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
        self.request_in(None)
    }

    /// The same for a list in `order` (its cursors name the order; `None`: the default).
    fn request_in(&self, order: Option<&str>) -> Result<Option<PageRequest>> {
        match self.limit {
            None => Ok(None),
            Some(limit) => Ok(Some(PageRequest::new_in(Some(limit), self.cursor.as_deref(), order)?)),
        }
    }
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Creates or changes the config. Without --installation-id the PAT is asked for (hidden)
    /// on a terminal, else read from standard input; empty keeps the stored credential.
    /// Checked against GitHub (what the token may do), encrypted, then stored.
    Set {
        /// The project's id.
        #[arg(long)]
        project: Uuid,
        /// The repository as owner/name.
        #[arg(long)]
        repo: String,
        /// Work through this installation of the deployment's GitHub App instead of a PAT
        /// (no PAT is read).
        #[arg(long, value_name = "ID")]
        installation_id: Option<i64>,
        /// A GitHub Enterprise Server's REST API, https://HOST/api/v3 (`""`: back to the
        /// deployment's GitHub).
        #[arg(long, value_name = "URL")]
        api_url: Option<String>,
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
        /// The project's id.
        #[arg(long)]
        project: Uuid,
    },
    /// Stops syncing the project.
    Disable {
        /// The project's id.
        #[arg(long)]
        project: Uuid,
    },
    /// Resumes syncing the project (due at once).
    Enable {
        /// The project's id.
        #[arg(long)]
        project: Uuid,
    },
    /// Prints what turning two-way sync on offers to push (`{"tasks": N, "comments": M}`:
    /// linked tasks edited and board comments written while it was off); with --accept, queues
    /// them.
    Offer {
        /// The project's id.
        #[arg(long)]
        project: Uuid,
        /// Queue a push of each offered task.
        #[arg(long)]
        accept: bool,
    },
}

#[derive(Subcommand)]
enum PushCommand {
    /// Sends a task's waiting edit again now (one GitHub refused, once its cause is fixed; one
    /// backing off; one a repository switch ended, once the task is linked again) and prints
    /// what the push did as JSON.
    Retry {
        /// The task's id.
        #[arg(long)]
        task: Uuid,
    },
}

#[derive(Subcommand)]
enum TaskCommand {
    /// Sets a linked task's labels, assignees or milestone (a two-way config; docs/fields.md),
    /// pushes them as the API does, and prints the task with what the push did as JSON.
    Edit {
        /// The task's id.
        #[arg(long)]
        task: Uuid,
        /// Its labels, comma-separated (`""`: none); absent keeps them.
        #[arg(long, value_name = "NAMES")]
        labels: Option<String>,
        /// Its assignees' logins, comma-separated (`""`: none); absent keeps them.
        #[arg(long, value_name = "LOGINS")]
        assignees: Option<String>,
        /// Its milestone's number, or `none`; absent keeps it.
        #[arg(long, value_name = "NUMBER|none")]
        milestone: Option<String>,
    },
}

/// A comma-separated list (`""`: empty).
fn comma_list(list: Option<String>) -> Option<Vec<String>> {
    list.map(|l| l.split(',').map(str::trim).filter(|e| !e.is_empty()).map(str::to_string).collect())
}

#[derive(Subcommand)]
enum CommentCommand {
    /// Writes a comment on a task's thread, its text read from standard input; prints it as
    /// JSON once pushed (or waiting to be).
    Add {
        /// The task's id.
        #[arg(long)]
        task: Uuid,
        /// Who wrote it, as GitHub's copy names them ("board" when absent).
        #[arg(long, value_name = "NAME")]
        author: Option<String>,
    },
    /// Replaces a board comment's text with standard input.
    Edit {
        /// The comment's id.
        #[arg(long)]
        id: Uuid,
    },
    /// Deletes a board comment (from GitHub too, once it was posted).
    Delete {
        /// The comment's id.
        #[arg(long)]
        id: Uuid,
    },
}

#[derive(Subcommand)]
enum AppCommand {
    /// Sets the GitHub App: its id and private key; its webhook secret is read from standard
    /// input (asked for, hidden, on a terminal). Both are stored sealed.
    Set {
        /// The App's id (its settings page, "App ID").
        #[arg(long, value_name = "N")]
        app_id: i64,
        /// The App's private key, the PEM file GitHub generated.
        #[arg(long, value_name = "PEM")]
        key_file: std::path::PathBuf,
    },
    /// Prints whether an App is set, and its id, as JSON.
    Show,
    /// Removes the App (configs naming an installation fail until one is set again).
    Remove,
}

#[derive(Subcommand)]
enum ProjectCommand {
    /// Creates a project and prints it as JSON.
    Create {
        /// The project's name (1–255 characters).
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
    let config = cli.settings.config()?;
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
        Command::App(command) => app_command(&config, command).await,
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
        Command::Comment(command) => {
            let services = local::services(&config).await?;
            let (store, options) = (&services.store, services.push_options);
            let id = match command {
                CommentCommand::Add { task, author } => {
                    store.add_comment(task, &read_stdin("the comment")?, author.as_deref()).await?.id
                }
                CommentCommand::Edit { id } => store.edit_comment(id, &read_stdin("the comment")?).await?.id,
                CommentCommand::Delete { id } => {
                    store.delete_comment(id).await?;
                    services.push_comment(id, &options, Backoff::Respect, &mut 0).await?;
                    return print_json(&serde_json::json!({ "deleted": id }));
                }
            };
            services.push_comment(id, &options, Backoff::Respect, &mut 0).await?;
            print_json(&store.get_comment(id).await?)
        }
        Command::Task(TaskCommand::Edit { task, labels, assignees, milestone }) => {
            let milestone = match milestone.as_deref() {
                None => Nullable::Keep,
                Some("none") => Nullable::Clear,
                Some(n) => {
                    Nullable::Set(n.parse().context("--milestone takes a milestone's number or none")?)
                }
            };
            let patch = TaskPatch {
                labels: comma_list(labels),
                assignees: comma_list(assignees),
                milestone,
                ..Default::default()
            };
            let services = local::services(&config).await?;
            services.store.update_task(task, &patch).await?;
            let pushed = services.push_task(task).await?;
            let task = services.store.get_task_with_link(task).await?;
            print_json(&serde_json::json!({ "task": task, "pushed": pushed }))
        }
        Command::Push(PushCommand::Retry { task }) => {
            let services = local::services(&config).await?;
            services.store.retry_push(task).await?;
            print_json(&services.push_task(task).await?)
        }
        Command::History { project } => {
            print_json(&open_store(&config).await?.history_summary(project).await?)
        }
        Command::Tasks { project, status, conflict_pending, q, label, assignee, milestone, sort, page } => {
            let filter = TaskFilter {
                status: status
                    .map(|s| s.parse::<TaskStatus>().map_err(|e| anyhow::anyhow!("--status: {}", e.message)))
                    .transpose()?,
                conflict_pending,
                title_contains: q,
                label,
                assignee,
                milestone,
            };
            let order: TaskOrder =
                sort.parse().map_err(|e: ValidationError| anyhow::anyhow!("--sort: {}", e.message))?;
            let store = open_store(&config).await?;
            match page.request_in(order.cursor_tag())? {
                Some(request) => {
                    let fetched = store.list_tasks_page(project, &filter, order, &request).await?;
                    print_json(&TaskPage::in_order(fetched, &request, order))
                }
                None => print_json(
                    &store.list_tasks_page(project, &filter, order, &PageRequest::everything()).await?,
                ),
            }
        }
        Command::Comments { task, page } => {
            let store = open_store(&config).await?;
            match page.request()? {
                Some(request) => {
                    let fetched = store.task_comments(task, &request).await?;
                    print_json(&ghsync_shared::paging::TaskCommentPage::of(fetched, &request))
                }
                None => print_json(&store.task_comments(task, &PageRequest::everything()).await?),
            }
        }
        Command::Reconcile { once, project, time_limit } => {
            let mut reconciler =
                Reconciler::new(local::services(&config).await?, ReconcileOptions::for_config(&config));
            // Pages, issues and rate as they go, when a person watches.
            reconciler.progress = progress::on_terminal();
            let deadline: ghsync_shared::time::Deadline = time_limit
                .map(|s| {
                    std::time::Duration::try_from_secs_f64(s)
                        .context("--time-limit must be a positive number")
                })
                .transpose()?
                .map(|limit| std::time::Instant::now() + limit)
                .into();
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
        ConfigCommand::Set { project, repo, installation_id, api_url, interval, two_way } => {
            let repo = RepoRef::parse(&repo)?;
            let services = local::services(config).await?;
            let pat = match installation_id {
                Some(_) => None,
                None => read_secret("GitHub token (input hidden; empty keeps the stored one): ")?,
            };
            let request = PutSyncConfig {
                repo_owner: repo.owner.to_string(),
                repo_name: repo.name.to_string(),
                pat,
                installation_id,
                sync_enabled: None,
                sync_interval_seconds: interval,
                two_way,
                api_url,
            };
            let installs_hook = config.public_url.is_some();
            print_json(&services.put_sync_config(project, request, installs_hook).await?.config)
        }
        ConfigCommand::Show { project } => print_json(&open_store(config).await?.get_config(project).await?),
        ConfigCommand::Disable { project } => {
            print_json(&open_store(config).await?.set_sync_enabled(project, false).await?)
        }
        ConfigCommand::Enable { project } => {
            print_json(&open_store(config).await?.set_sync_enabled(project, true).await?)
        }
        ConfigCommand::Offer { project, accept } => {
            let store = open_store(config).await?;
            store.get_config(project).await?;
            let offer =
                if accept { store.accept_offer(project).await? } else { store.offer(project).await? };
            print_json(&offer)
        }
    }
}

async fn app_command(config: &Config, command: AppCommand) -> Result<()> {
    let services = local::services(config).await?;
    match command {
        AppCommand::Set { app_id, key_file } => {
            let mut pem = std::fs::read_to_string(&key_file)
                .with_context(|| format!("cannot read the private key {}", key_file.display()))?;
            let private_key = Secret::new(pem.as_str());
            pem.zeroize();
            let webhook_secret = read_secret("The App's webhook secret (input hidden): ")?
                .context("the App's webhook secret is empty")?;
            let request = ghsync_shared::contract::PutGitHubApp { app_id, private_key, webhook_secret };
            print_json(&services.put_github_app(request).await?)
        }
        AppCommand::Show => print_json(&services.github_app_info().await?),
        AppCommand::Remove => {
            services.delete_github_app().await?;
            println!("GitHub App removed");
            Ok(())
        }
    }
}

/// A secret: asked for without echo when a person is at a terminal, else all of standard
/// input (a pipe, a file). `None` when empty.
fn read_secret(prompt: &str) -> Result<Option<Secret>> {
    use std::io::IsTerminal;
    let mut input = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).context("cannot read the secret from the terminal")?
    } else {
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input).context("cannot read the secret from standard input")?;
        input
    };
    let pat = Some(input.trim()).filter(|p| !p.is_empty()).map(Secret::new);
    input.zeroize();
    Ok(pat)
}

/// Reads merged content (and perhaps a column) from a JSON file (or stdin for `-`).
fn read_merged(file: &str) -> Result<Merged> {
    let text = if file == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        text
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?
    };
    let merged: MergedContent = serde_json::from_str(&text)
        .context("the merge file must be JSON {\"title\": …, \"description\": …, \"status\"?: …}")?;
    Ok(merged.parse()?)
}

/// Connects to the configured database and brings its schema up to date.
async fn open_store(config: &Config) -> Result<Store> {
    ghsync_shared::startup::open_store(config, &StoreOptions::default()).await.with_context(|| {
        format!("cannot open the database ({})", ghsync_shared::config::redact_url(&config.database_url))
    })
}

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// All of standard input, as `what` (a comment's text).
fn read_stdin(what: &str) -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {what} from standard input"))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument of every command, with the path to it.
    fn arguments(command: &clap::Command, path: String, out: &mut Vec<(String, clap::Arg)>) {
        for arg in command.get_arguments() {
            out.push((format!("{path} {}", arg.get_id()), arg.clone()));
        }
        for sub in command.get_subcommands() {
            arguments(sub, format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_argument_and_command_has_help() {
        let command = Cli::command();
        command.clone().debug_assert();
        let mut all = Vec::new();
        arguments(&command, "ghsync".into(), &mut all);
        let missing: Vec<&str> =
            all.iter().filter(|(_, a)| a.get_help().is_none()).map(|(path, _)| path.as_str()).collect();
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
        fn commands(c: &clap::Command, out: &mut Vec<String>) {
            for sub in c.get_subcommands() {
                if sub.get_about().is_none() {
                    out.push(sub.get_name().to_string());
                }
                commands(sub, out);
            }
        }
        let mut bare = Vec::new();
        commands(&command, &mut bare);
        assert!(bare.is_empty(), "commands without help: {bare:?}");
    }

    #[test]
    fn settings_come_from_flags_before_the_environment() {
        let cli = Cli::try_parse_from([
            "ghsync",
            "migrate",
            "--database-url",
            "sqlite://elsewhere.db",
            "--listen",
            "127.0.0.1:4000",
            "--reconcile-concurrency",
            "3",
        ])
        .unwrap();
        let config = cli.settings.config().unwrap();
        assert_eq!(config.database_url, "sqlite://elsewhere.db");
        assert_eq!(config.listen.to_string(), "127.0.0.1:4000");
        assert_eq!(config.reconcile_concurrency, 3);
        let bad = Cli::try_parse_from(["ghsync", "migrate", "--reconcile-concurrency", "0"]).unwrap();
        assert!(
            bad.settings
                .config()
                .unwrap_err()
                .to_string()
                .starts_with("GHSYNC_RECONCILE_CONCURRENCY is invalid")
        );
    }
}
