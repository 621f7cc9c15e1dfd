// The management API's JSON types, generated from the Rust definitions by
// `cargo run --bin generate_types`. Do not edit: CI fails when this file is stale.

export type TaskStatus = "todo" | "inprogress" | "inreview" | "done" | "cancelled";

export type TaskOrder = "created" | "updated";

export type ConflictStatus = "pending" | "resolved";

export type RemoteState = "open" | "completed" | "not_planned" | "deleted" | "transferred";

export type SyncStatus = "success" | "failure" | "in_progress";

export type ResolutionAction = "keep_local" | "accept_github" | "merge";

export type Milestone = { number: number, title: string, };

export type Content = { title: string, description: string | null, 
/**
 * Absent in snapshots stored before milestones were synced (read as none).
 */
milestone?: Milestone, };

export type Label = { name: string, 
/**
 * GitHub's colour: six hex digits, without `#`.
 */
color: string, };

export type RepositoryChoices = { 
/**
 * The repository's labels (`null` until listed once).
 */
labels: Array<Label> | null, 
/**
 * The logins the repository can assign (`null` until listed once).
 */
assignees: Array<string> | null, 
/**
 * The repository's milestones, open and closed (`null` until listed once).
 */
milestones: Array<Milestone> | null, 
/**
 * The older of the two lists' last refresh.
 */
refreshed_at: string | null, };

export type Project = { id: string, name: string, created_at: string, updated_at: string, };

export type Task = { id: string, project_id: string, title: string, description: string | null, status: TaskStatus, 
/**
 * The linked issue's URL, when the task came from GitHub.
 */
github_issue_url: string | null, 
/**
 * The task's milestone (a linked task's; docs/fields.md).
 */
milestone: Milestone | null, created_at: string, updated_at: string, };

export type Parked = "refused" | "one_way";

export type PushWaiting = { 
/**
 * When it is tried next (a parked refusal: its hourly retry; one-way: whenever two-way
 * sync is turned on again).
 */
next_attempt_at: string | null, 
/**
 * Why the last attempt did not deliver it (a transient failure, a lagging read, GitHub's
 * refusal).
 */
reason: string | null, 
/**
 * Parked: `refused` (waits for its cause to change) or `one_way` (waits for two-way sync).
 */
parked: Parked | null, };

export type GitHubLink = { 
/**
 * The issue's GraphQL node id (`github_issue_id`).
 */
node_id: string, issue_number: number, issue_url: string, sync_conflict_status: ConflictStatus | null, 
/**
 * The newest state seen, or the issue's disappearance (`deleted`, `transferred`).
 */
remote_state: RemoteState, 
/**
 * GitHub's `updated_at` of the newest snapshot applied.
 */
remote_updated_at: string, last_synced_at: string, 
/**
 * When the link ended because its config moved to another repository (the task stays).
 */
unlinked_at: string | null, 
/**
 * A local edit waits to be pushed to GitHub (two-way configs).
 */
push_pending: boolean, 
/**
 * Why GitHub refused the last push (its status and message), or why a waiting edit was
 * ended (a repository switch), until GitHub holds the task again.
 */
push_error: string | null, 
/**
 * The waiting edit's state: when it goes next, and why it has not gone yet.
 */
push_waiting: PushWaiting | null, labels: Array<Label>, 
/**
 * The assignees' logins.
 */
assignees: Array<string>, 
/**
 * The milestone's title.
 */
milestone: string | null, };

export type TaskWithLink = { github: GitHubLink | null, 
/**
 * The comments its thread shows (GitHub's and the board's).
 */
comment_count: number, id: string, project_id: string, title: string, description: string | null, status: TaskStatus, 
/**
 * The linked issue's URL, when the task came from GitHub.
 */
github_issue_url: string | null, 
/**
 * The task's milestone (a linked task's; docs/fields.md).
 */
milestone: Milestone | null, created_at: string, updated_at: string, };

export type TaskPatch = { title?: string, 
/**
 * `null` clears the description; an absent field keeps it.
 */
description?: string | null, status?: TaskStatus, 
/**
 * The task's labels, by name (a linked task of a two-way config; docs/fields.md). A
 * name the repository lacks is created on GitHub before it is added.
 */
labels?: Array<string>, 
/**
 * The task's assignees, by login (a linked task of a two-way config): at most ten, each
 * one the repository can assign.
 */
assignees?: Array<string>, 
/**
 * The task's milestone by number, `null` for none (a linked task of a two-way config);
 * one of the repository's milestones.
 */
milestone?: number | null, };

export type TokenSource = "classic" | "fine_grained" | "app";

export type IssuesAccess = "read" | "write";

export type TokenPermissions = { source: TokenSource, issues: IssuesAccess, 
/**
 * May manage the repository's webhooks.
 */
hooks: boolean, };

export type GitHubSyncConfig = { id: string, project_id: string, repo_owner: string, repo_name: string, last_sync_at: string | null, next_sync_at: string | null, sync_enabled: boolean, sync_interval_seconds: number, sync_error: string | null, created_at: string, updated_at: string, 
/**
 * Local edits of linked tasks are pushed to GitHub (off by default).
 */
two_way: boolean, 
/**
 * GitHub's id of the repository webhook ghsync installed for this config, if it did.
 */
hook_id: number | null, 
/**
 * Why installing that webhook failed last (the person adds it by hand then).
 */
hook_error: string | null, 
/**
 * The GitHub App installation the config works through instead of a PAT.
 */
installation_id: number | null, 
/**
 * The config's own REST API base (GitHub Enterprise Server); `None`: the deployment's.
 */
api_url: string | null, 
/**
 * When the PAT expires, as GitHub last said (`None`: it does not, or GitHub has not said).
 */
token_expires_at: string | null, 
/**
 * What the token may do, as checked when it was saved.
 */
token_permissions: TokenPermissions | null, 
/**
 * The token expires within [`TOKEN_WARNING_DAYS`] days, or has expired: what to do.
 */
token_warning: string | null, 
/**
 * Off because the repository left the App's installation (or the installation was
 * deleted or suspended); its return turns the config on again.
 */
paused_by_github: boolean, 
/**
 * Which secret the config's own webhook takes (docs/trust.md, "Tenant secrets"): the
 * generation, one more at each rotation and each move to another repository or host.
 */
secret_generation: number, 
/**
 * When the current generation began (`None`: the config's first).
 */
secret_rotated_at: string | null, 
/**
 * When a delivery first verified with the current generation (`None`: none yet).
 */
secret_used_at: string | null, 
/**
 * Off because its `api_url` is not among the hosts the operator allows (`sync_error`
 * says so); on again when it is, or when the config moves to one that is.
 */
paused_for_host: boolean, };

export type PutSyncConfig = { repo_owner: string, repo_name: string, 
/**
 * A PAT (or `installation_id`) is required to create; neither on an update keeps the
 * stored credential.
 */
pat?: string, 
/**
 * The GitHub App installation to work through instead of a PAT (the deployment's App
 * must be set: `PUT /api/github-app`).
 */
installation_id?: number, sync_enabled?: boolean, sync_interval_seconds?: number, 
/**
 * Push local edits of linked tasks to GitHub (absent keeps the stored value; a new
 * config is one-way). Needs a token that can write issues.
 */
two_way?: boolean, 
/**
 * The REST API of a GitHub Enterprise Server (`https://host/api/v3`); `""` returns to
 * the deployment's; absent keeps the stored one.
 */
api_url?: string, };

export type PutGitHubApp = { 
/**
 * The App's id ("App ID" on its settings page).
 */
app_id: number, 
/**
 * The App's private key: the PEM file GitHub generates (stored sealed, never returned).
 */
private_key: string, 
/**
 * The App's webhook secret (stored sealed, never returned).
 */
webhook_secret: string, };

export type GitHubAppInfo = { app_id: number | null, configured: boolean, 
/**
 * What the App's own settings on GitHub lack for ghsync (e.g. not subscribed to "Issue
 * comment" events), or why they could not be checked. Empty when all is well.
 */
warnings: Array<string>, };

export type AppInstallation = { id: number, 
/**
 * The account (organisation or user) it is installed on.
 */
account: string, 
/**
 * `all` or `selected` repositories.
 */
repository_selection: string, suspended: boolean, };

export type GhHookResponse = { 
/**
 * The HTTP status the receiver answered (none before the first delivery).
 */
code: number | null, 
/**
 * `active`, `unused`, or what went wrong.
 */
status: string | null, message: string | null, };

export type WebhookSetup = { 
/**
 * Payload URL (a path when ghsync does not know its public URL).
 */
url: string, 
/**
 * The config's own secret: only this config's deliveries verify with it.
 */
secret: string, 
/**
 * The events to send.
 */
events: Array<string>, 
/**
 * Content type: `json` (GitHub's default, form-encoded, is refused).
 */
content_type: string, 
/**
 * ghsync installed the hook and keeps it (its GitHub id).
 */
hook_id: number | null, 
/**
 * The secret's generation: one more at each rotation and each move to another
 * repository or host (the secrets of earlier generations are refused).
 */
secret_generation: number, 
/**
 * When the current secret replaced the one before (`None`: the config's first).
 */
secret_rotated_at: string | null, 
/**
 * Why ghsync did not install it (the values above are then added by hand).
 */
message: string | null, 
/**
 * GitHub's record of the hook's last delivery, when the token can read it.
 */
last_delivery: GhHookResponse | null, };

export type CommentCounts = { fetched: number, created: number, updated: number, deleted: number, };

export type SyncHistory = { id: string, project_id: string, sync_config_id: string, started_at: string, completed_at: string | null, duration_ms: number | null, issues_fetched: number, tasks_created: number, tasks_updated: number, conflicts_detected: number, 
/**
 * Issues left out as malformed (named in `error_message`).
 */
issues_skipped: number, 
/**
 * List pages applied so far (a running sync's progress).
 */
pages_fetched: number, 
/**
 * Whether the run reached the end of what was due; `false`: the deadline cut it and
 * the next run continues where it stopped.
 */
complete: boolean, 
/**
 * What the run's comments did (docs/comments.md).
 */
comments: CommentCounts, status: SyncStatus, error_message: string | null, };

export type GitHubComment = { comment_id: number, 
/**
 * `https://github.com/{owner}/{repo}/issues/{n}#issuecomment-{id}`.
 */
url: string, author_login: string, };

export type CommentOrigin = "github" | "board";

export type CommentConflict = { 
/**
 * The text GitHub shows (without ghsync's attribution and marker); `null`: GitHub
 * deleted the comment.
 */
github_body: string | null, found_at: string, };

export type TaskComment = { id: string, task_id: string, 
/**
 * Markdown text, shown as text (never rendered as HTML by the console).
 */
body: string, 
/**
 * Who wrote it: the GitHub login of a GitHub comment.
 */
author: string, created_at: string, updated_at: string, 
/**
 * Where it lives on GitHub; `null` for a comment not (yet) on GitHub.
 */
github: GitHubComment | null, 
/**
 * Where it was written: GitHub comments are read-only on the board.
 */
origin: CommentOrigin, 
/**
 * A post, edit or deletion of it waits to reach GitHub (also while it is paced under
 * GitHub's limits: waiting is not failing).
 */
push_pending: boolean, 
/**
 * Why GitHub refused its last push, or why it will not go (its entry ended).
 */
push_error: string | null, 
/**
 * A board comment that stays on the board: its project is one-way (or has no sync
 * config). Turning two-way on offers it.
 */
local_only: boolean, 
/**
 * Changed on both sides since the last sync: GitHub's side, waiting for a person.
 */
conflict: CommentConflict | null, };

export type TaskCommentPage = { items: Array<TaskComment>, 
/**
 * The `cursor` of the next page; `null` on the last.
 */
next_cursor: string | null, };

export type SyncHistorySummary = { 
/**
 * Newest first.
 */
last_100_syncs: Array<SyncHistory>, 
/**
 * Tasks created from issues, over the kept history.
 */
total_issues_imported: number, total_conflicts: number, 
/**
 * Mean duration of finished runs (0 when none finished).
 */
avg_duration_ms: number, 
/**
 * Successful runs among finished runs, in percent (0–100; 0 when none finished).
 */
success_rate: number, };

export type TaskPage = { items: Array<TaskWithLink>, 
/**
 * The `cursor` of the next page; `null` on the last.
 */
next_cursor: string | null, };

export type ConflictPage = { items: Array<ConflictResolution>, 
/**
 * The `cursor` of the next page; `null` on the last.
 */
next_cursor: string | null, };

export type SyncRunPage = { items: Array<SyncHistory>, 
/**
 * The `cursor` of the next page; `null` on the last.
 */
next_cursor: string | null, };

export type ConflictResolution = { id: string, task_id: string, metadata_id: string, detected_at: string, resolved_at: string | null, resolution_action: ResolutionAction | null, 
/**
 * The task when the conflict was detected: its content and column.
 */
local_content_snapshot: LocalSnapshot, 
/**
 * The issue as GitHub last showed it while the conflict waits: content and state.
 */
remote_content_snapshot: RemoteSnapshot, merged_content: Merged | null, };

export type CreateProject = { name: string, };

export type CreateTask = { title: string, description?: string, 
/**
 * `todo` when absent.
 */
status?: TaskStatus, };

export type ResolveRequest = { action: ResolutionAction, 
/**
 * Required with `merge`, refused with the other actions.
 */
merged_content?: MergedContent, };

export type NewComment = { 
/**
 * Markdown text, at most `MAX_BOARD_COMMENT_CHARS` characters (GitHub's limit less
 * ghsync's attribution line and marker).
 */
body: string, 
/**
 * Who wrote it, as the attribution line on GitHub names them; "board" when absent.
 */
author?: string, };

export type CommentEdit = { body: string, };

export type ResolveCommentRequest = { action: ResolutionAction, 
/**
 * The merged text: required with `merge`, refused with the other actions.
 */
body?: string, };

export type RunAccepted = { 
/**
 * The run's history row: `GET …/sync-history/runs` shows its progress and outcome.
 */
history_id: string, status: SyncStatus, };

export type MergedContent = { title: string, description?: string, 
/**
 * The task's column after the merge; absent: what only one side changed is kept from it,
 * and when both changed the state the board's column stays.
 */
status?: TaskStatus, 
/**
 * The milestone after the merge, by number (`null`: none); absent: the task's stays.
 */
milestone?: number | null, };

export type Offer = { 
/**
 * Linked tasks whose content or column differs from what GitHub held at their last sync
 * (edited while the config was one-way), with nothing queued for them.
 */
tasks: number, 
/**
 * Board comments written, edited or deleted while the config was one-way.
 */
comments: number, };

export type SavedSyncConfig = { 
/**
 * Present when this `PUT` turned two-way sync on: the tasks edited while it was off. The
 * console asks before it accepts them (`POST …/github-sync/offer`).
 */
offer?: Offer, id: string, project_id: string, repo_owner: string, repo_name: string, last_sync_at: string | null, next_sync_at: string | null, sync_enabled: boolean, sync_interval_seconds: number, sync_error: string | null, created_at: string, updated_at: string, 
/**
 * Local edits of linked tasks are pushed to GitHub (off by default).
 */
two_way: boolean, 
/**
 * GitHub's id of the repository webhook ghsync installed for this config, if it did.
 */
hook_id: number | null, 
/**
 * Why installing that webhook failed last (the person adds it by hand then).
 */
hook_error: string | null, 
/**
 * The GitHub App installation the config works through instead of a PAT.
 */
installation_id: number | null, 
/**
 * The config's own REST API base (GitHub Enterprise Server); `None`: the deployment's.
 */
api_url: string | null, 
/**
 * When the PAT expires, as GitHub last said (`None`: it does not, or GitHub has not said).
 */
token_expires_at: string | null, 
/**
 * What the token may do, as checked when it was saved.
 */
token_permissions: TokenPermissions | null, 
/**
 * The token expires within [`TOKEN_WARNING_DAYS`] days, or has expired: what to do.
 */
token_warning: string | null, 
/**
 * Off because the repository left the App's installation (or the installation was
 * deleted or suspended); its return turns the config on again.
 */
paused_by_github: boolean, 
/**
 * Which secret the config's own webhook takes (docs/trust.md, "Tenant secrets"): the
 * generation, one more at each rotation and each move to another repository or host.
 */
secret_generation: number, 
/**
 * When the current generation began (`None`: the config's first).
 */
secret_rotated_at: string | null, 
/**
 * When a delivery first verified with the current generation (`None`: none yet).
 */
secret_used_at: string | null, 
/**
 * Off because its `api_url` is not among the hosts the operator allows (`sync_error`
 * says so); on again when it is, or when the config moves to one that is.
 */
paused_for_host: boolean, };

export type OfferAnswer = { 
/**
 * `true` queues a push of each offered task; `false` leaves them as they are (a later
 * GitHub edit of one becomes a conflict).
 */
accept: boolean, };

export type Pushed = { "pushed": "sent" } | { "pushed": "nothing" } | { "pushed": "held" } | { "pushed": "pulled" } | { "pushed": "gone" } | { "pushed": "refused", "message": string } | { "pushed": "retrying", "message": string } | { "pushed": "handed_over" } | { "pushed": "busy" } | { "pushed": "waiting" };

export type LocalSnapshot = { status?: TaskStatus, title: string, description: string | null, 
/**
 * Absent in snapshots stored before milestones were synced (read as none).
 */
milestone?: Milestone, };

export type RemoteSnapshot = { 
/**
 * `open` or `closed`.
 */
state?: string, 
/**
 * `completed` or `not_planned` for a closed issue.
 */
state_reason?: string, title: string, description: string | null, 
/**
 * Absent in snapshots stored before milestones were synced (read as none).
 */
milestone?: Milestone, };

export type Merged = { status?: TaskStatus, title: string, description: string | null, 
/**
 * Absent in snapshots stored before milestones were synced (read as none).
 */
milestone?: Milestone, };

export type ErrorBody = { error: ErrorDetail, };

export type ErrorDetail = { 
/**
 * `bad_request`, `unauthenticated`, `not_found`, `conflict`, `too_large`, `invalid`,
 * `pat_refused`, `github_unavailable`, `kms_unavailable`, `unavailable`, `internal`.
 */
code: string, message: string, 
/**
 * The field at fault, for `invalid` and `pat_refused`.
 */
field?: string, };
