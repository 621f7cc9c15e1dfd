// @ts-check
// The project's GitHub sync card: the config's details (credential, what the token may do,
// its expiry), enable/disable and two-way toggles with the offer dialog, "Sync now" and its
// progress, the webhook panel, and the connect / edit form (a PAT or a GitHub App
// installation, with the App's installations to pick from).

import { ApiError, api, errorText, guard, report } from './api.js';
import { $, el, fmtInterval, fmtMs, fmtRelative, fmtTime, notify, sentence, show } from './dom.js';
import { loadHistory } from './history.js';
import { showFieldsButtons } from './fields.js';
import { state } from './state.js';
import { loadTasksAndConflicts, renderTasks } from './tasks.js';

/** @typedef {import('../../../shared/types').GitHubSyncConfig} GitHubSyncConfig */
/** @typedef {import('../../../shared/types').SavedSyncConfig} SavedSyncConfig */
/** @typedef {import('../../../shared/types').PutSyncConfig} PutSyncConfig */
/** @typedef {import('../../../shared/types').WebhookSetup} WebhookSetup */
/** @typedef {import('../../../shared/types').GitHubAppInfo} GitHubAppInfo */
/** @typedef {import('../../../shared/types').AppInstallation} AppInstallation */
/** @typedef {import('../../../shared/types').Offer} Offer */
/** @typedef {import('../../../shared/types').RunAccepted} RunAccepted */
/** @typedef {import('../../../shared/types').SyncRunPage} SyncRunPage */
/** @typedef {import('../../../shared/types').SyncHistory} SyncHistory */
/** @typedef {import('../../../shared/types').TokenSource} TokenSource */

// ---- webhook panel --------------------------------------------------------------------

/** The config's own webhook: what to give GitHub, and the hook ghsync installed. */
async function loadHook() {
  const pid = state.projectId;
  /** @type {WebhookSetup | undefined} */
  const setup = await guard('webhook', () => api('GET', `/projects/${pid}/github-sync/webhook`));
  if (setup && pid === state.projectId) renderHook(setup);
}

/** @param {WebhookSetup} setup */
function renderHook(setup) {
  state.hook = setup;
  $('hook-state').textContent = setup.hook_id ? 'installed by ghsync' : 'not installed by ghsync';
  $('hook-url').textContent = setup.url;
  $('hook-type').textContent = `application/${setup.content_type}`;
  $('hook-secret').textContent = '••••••••';
  $('hook-reveal').textContent = 'Show';
  $('hook-events').textContent = setup.events.join(', ');
  const last = setup.last_delivery;
  $('hook-last').textContent = !last ? 'unknown'
    : last.code ? `HTTP ${last.code} (${last.status || 'no status'})${last.message ? `: ${last.message}` : ''}` : (last.status || 'none yet');
  $('hook-message').textContent = setup.message || '';
  show($('hook-message'), Boolean(setup.message));
}

/** Shows or hides the webhook secret (nothing to show before the webhook values are read). */
export function revealSecret() {
  if (!state.hook) return;
  const shown = $('hook-reveal').textContent === 'Hide';
  $('hook-secret').textContent = shown ? '••••••••' : state.hook.secret;
  $('hook-reveal').textContent = shown ? 'Show' : 'Hide';
}

export async function installHook() {
  /** @type {WebhookSetup | undefined} */
  const setup = await guard('webhook', () => api('POST', `/projects/${state.projectId}/github-sync/webhook`));
  if (!setup) return;
  renderHook(setup);
  notify(setup.hook_id ? 'Webhook installed on GitHub.' : 'ghsync could not install the webhook: add it by hand with these values.', setup.hook_id ? 'ok' : 'error');
}

// ---- config details -------------------------------------------------------------------

/**
 * What of the config the task rows' and cards' actions depend on (publish, edit fields).
 * @param {GitHubSyncConfig | null} c
 */
const actionsKey = (c) => (c ? `${c.project_id} ${c.two_way}` : '');

/**
 * Reads the selected project's config (none: the connect form) and shows it. The cards may
 * have been drawn before it came (they load at the same time): their "Edit fields" is shown
 * or hidden in place when two-way changes.
 */
export async function loadConfig() {
  const pid = state.projectId;
  const before = actionsKey(state.config);
  try {
    /** @type {GitHubSyncConfig} */
    const config = await api('GET', `/projects/${pid}/github-sync`);
    if (pid !== state.projectId) return undefined;
    state.config = config;
  } catch (err) {
    if (pid !== state.projectId) return undefined;
    if (!(err instanceof ApiError) || err.status !== 404) return report(err, 'config');
    state.config = null;
  }
  if (actionsKey(state.config) !== before) showFieldsButtons();
  return renderConfig();
}

/** @type {Record<TokenSource, string>} */
const TOKEN_SOURCE = {
  classic: 'Personal access token (classic)', fine_grained: 'Personal access token (fine-grained)', app: 'GitHub App installation',
};

/**
 * How the config reaches GitHub: "Personal access token (fine-grained)", "GitHub App installation 77".
 * @param {GitHubSyncConfig} c
 */
export function credentialText(c) {
  if (c.installation_id) return `GitHub App installation ${c.installation_id}`;
  const p = c.token_permissions;
  return (p && TOKEN_SOURCE[p.source]) || 'Personal access token';
}

/**
 * What GitHub said the token may do when it was saved (webhooks matter only for PATs).
 * @param {GitHubSyncConfig} c
 */
export function permissionsText(c) {
  const p = c.token_permissions;
  if (!p) return 'not checked yet (it is checked when the token is saved again)';
  const issues = p.issues === 'write' ? 'Issues: read and write' : 'Issues: read-only';
  if (c.installation_id || p.source === 'app') return issues;
  return `${issues}, webhooks: ${p.hooks ? 'yes' : 'no'}`;
}

export function renderConfig() {
  const c = state.config;
  if (!c) state.editing = false;
  const form = $('sync-form');
  const formWanted = !c || state.editing;
  // Filled when it appears, never while the person types (a finished run re-renders the card).
  if (formWanted && form.hidden) fillForm(state.editing ? c : null);
  show(form, formWanted);
  $('sync-edit').setAttribute('aria-expanded', String(Boolean(c) && state.editing));
  show($('sync-details'), Boolean(c));
  if (!c) return;
  $('cfg-repo').textContent = `${c.repo_owner}/${c.repo_name}`;
  $('cfg-enabled').replaceChildren(c.paused_by_github
    ? el('span', { class: 'badge warn', text: 'Paused by GitHub' })
    : el('span', { class: `badge ${c.sync_enabled ? 'ok' : 'off'}`, text: c.sync_enabled ? 'Enabled' : 'Disabled' }));
  // sync_error says why (installation deleted, suspended, repository removed) and what to do.
  $('cfg-paused').textContent = `Paused by GitHub: ${sentence(c.sync_error || 'the repository is no longer reachable through the GitHub App installation')}`;
  show($('cfg-paused'), c.paused_by_github);
  $('cfg-token-warning').textContent = sentence(c.token_warning);
  show($('cfg-token-warning'), Boolean(c.token_warning));
  $('cfg-interval').textContent = fmtInterval(c.sync_interval_seconds);
  $('cfg-two-way').textContent = c.two_way ? 'Two-way: local edits are pushed to GitHub' : 'One-way: GitHub to the board';
  $('two-way-toggle').textContent = c.two_way ? 'Turn two-way sync off' : 'Turn two-way sync on';
  $('cfg-last').textContent = c.last_sync_at ? `${fmtTime(c.last_sync_at)} (${fmtRelative(c.last_sync_at)})` : 'never';
  $('cfg-next').textContent = !c.sync_enabled ? 'not scheduled (sync disabled)'
    : c.next_sync_at ? `${fmtTime(c.next_sync_at)} (${fmtRelative(c.next_sync_at)})` : 'as soon as possible';
  $('cfg-error').textContent = c.sync_error || 'none';
  $('cfg-error').className = c.sync_error ? 'error-text' : '';
  $('cfg-credential').textContent = credentialText(c);
  $('cfg-permissions').textContent = permissionsText(c);
  $('cfg-expires').textContent = c.token_expires_at ? `${fmtTime(c.token_expires_at)} (${fmtRelative(c.token_expires_at)})` : '';
  show($('cfg-expires-row'), Boolean(c.token_expires_at));
  $('cfg-api-url').textContent = c.api_url || '';
  show($('cfg-api-url-row'), Boolean(c.api_url));
  $('sync-toggle').textContent = c.sync_enabled ? 'Disable automatic sync' : 'Enable automatic sync';
  loadHook();
}

/**
 * Changes one setting of the config, then shows it and says what changed.
 * @param {GitHubSyncConfig} c the config shown
 * @param {Partial<PutSyncConfig>} change
 * @param {(saved: SavedSyncConfig) => string} message
 */
async function changeConfig(c, change, message) {
  /** @type {PutSyncConfig} */
  const body = { repo_owner: c.repo_owner, repo_name: c.repo_name, ...change };
  /** @type {SavedSyncConfig | undefined} */
  const updated = await guard('config', () => api('PUT', `/projects/${c.project_id}/github-sync`, body));
  if (updated) {
    const { offer, ...config } = updated;
    state.config = config;
    // An open edit form follows the change, so saving it later does not undo it.
    if (state.editing) { $('f-enabled', HTMLInputElement).checked = updated.sync_enabled; $('f-two-way', HTMLInputElement).checked = updated.two_way; }
    renderConfig();
    renderTasks();
    notify(message(updated), 'ok');
    if (offer && (offer.tasks > 0 || offer.comments > 0)) askOffer(offer);
  }
}

/**
 * "1 task", "2 comments", "no comments": a count and its noun.
 * @param {number} n
 * @param {string} noun
 */
const counted = (n, noun) => `${n === 0 ? 'no' : n} ${noun}${n === 1 ? '' : 's'}`;

/**
 * What the offer dialog says: both counts, "2 task edits and 1 comment were made on the
 * board while two-way sync was off."
 * @param {Offer} offer
 */
export function offerText(offer) {
  const what = `${counted(offer.tasks, 'task edit')} and ${counted(offer.comments || 0, 'comment')}`;
  return `${what.charAt(0).toUpperCase()}${what.slice(1)} were made on the board while two-way sync was off. They have not reached GitHub.`;
}

/**
 * Asks whether the task edits and comments made while two-way sync was off go to GitHub now.
 * @param {Offer} offer
 */
function askOffer(offer) {
  $('offer-text').textContent = offerText(offer);
  $('offer-dialog', HTMLDialogElement).showModal();
  $('offer-accept').focus();
}

/** @param {boolean} accept */
export async function answerOffer(accept) {
  $('offer-dialog', HTMLDialogElement).close();
  /** @type {Offer | undefined} */
  const answered = await guard('offer', () => api('POST', `/projects/${state.projectId}/github-sync/offer`, { accept }));
  if (!answered) return;
  const comments = answered.comments ? ` and ${counted(answered.comments, 'comment')}` : '';
  notify(accept ? `${answered.tasks} task${answered.tasks === 1 ? '' : 's'}${comments} queued for GitHub.` : 'The edits stay on the board.', 'ok');
  await loadTasksAndConflicts();
}

export const toggleTwoWay = () => state.config && changeConfig(state.config, { two_way: !state.config.two_way },
  (c) => (c.two_way ? 'Two-way sync on: local edits now reach GitHub.' : 'Two-way sync off: nothing is written to GitHub.'));

export const toggleSync = () => state.config && changeConfig(state.config, { sync_enabled: !state.config.sync_enabled },
  (c) => `Automatic sync ${c.sync_enabled ? 'enabled' : 'disabled'}.`);

// ---- sync now -------------------------------------------------------------------------

/** How often the console asks for a running sync's progress. */
const PROGRESS_EVERY_MS = 1000;

export async function syncNow() {
  const button = $('sync-now', HTMLButtonElement);
  button.disabled = true;
  button.textContent = 'Syncing…';
  /** @type {RunAccepted | undefined} */
  const accepted = await guard('run', () => api('POST', `/projects/${state.projectId}/github-sync/run`));
  if (!accepted) {
    button.disabled = false;
    button.textContent = 'Sync now';
    return;
  }
  followRun(state.projectId, accepted.history_id);
}

/**
 * Shows a queued or running sync's progress until it ends, then its result.
 * @param {string | null} pid
 * @param {string} runId
 */
export async function followRun(pid, runId) {
  const button = $('sync-now', HTMLButtonElement);
  const out = $('sync-result');
  // The run is the newest of the project's runs (or among the newest, when another ended meanwhile).
  /** @type {SyncRunPage | undefined} */
  const page = await guard('run', () => api('GET', `/projects/${pid}/sync-history/runs?limit=5`));
  if (pid !== state.projectId) return;
  const row = page && page.items.find((r) => r.id === runId);
  state.following = row && row.status === 'in_progress' ? runId : null;
  if (row && row.status === 'in_progress') {
    out.className = 'result';
    out.textContent = row.pages_fetched
      ? `Syncing: ${row.pages_fetched} page${row.pages_fetched === 1 ? '' : 's'}, ${row.issues_fetched} issues so far…`
      : 'Sync queued: waiting for the reconcile worker…';
    show(out, true);
    button.disabled = true;
    button.textContent = 'Syncing…';
    setTimeout(() => followRun(pid, runId), PROGRESS_EVERY_MS);
    if (row.pages_fetched) loadTasksAndConflicts();
    return;
  }
  button.disabled = false;
  button.textContent = 'Sync now';
  if (row) showRunResult(row);
  await Promise.all([loadConfig(), loadHistory(), loadTasksAndConflicts()]);
}

/** @param {SyncHistory} row */
function showRunResult(row) {
  const out = $('sync-result');
  if (row.status === 'failure') {
    out.className = 'result error-box';
    out.textContent = `Sync failed: ${row.error_message || 'unknown error'}`;
  } else {
    out.className = 'result ok-box';
    out.textContent = `Sync ${row.complete ? 'finished' : 'stopped for now (it continues with the next run)'} in ${fmtMs(row.duration_ms)}: `
      + `${row.issues_fetched} issues fetched, ${row.tasks_created} tasks created, `
      + `${row.tasks_updated} updated, ${row.conflicts_detected} conflicts.`;
  }
  show(out, true);
}

// ---- connect / edit form --------------------------------------------------------------
// The connect form creates the config (no config yet) or edits it ("Edit connection"). Without a
// new PAT or another installation id, an edit keeps the stored credential.

/** @returns {'pat' | 'installation'} */
function authMode() {
  return $('f-mode-installation', HTMLInputElement).checked ? 'installation' : 'pat';
}

/**
 * Empties the form (c: null) or fills it with the config's values, in the config's mode.
 * @param {GitHubSyncConfig | null} c
 */
function fillForm(c) {
  $('sync-form', HTMLFormElement).reset();
  clearFormErrors();
  $('sync-form-intro').textContent = c
    ? 'Change the repository, how ghsync connects to GitHub, or the settings. The stored credential is kept unless you give a new one.'
    : 'This project is not connected to a GitHub repository yet.';
  $('sync-submit').textContent = c ? 'Save connection' : 'Connect repository';
  show($('sync-cancel'), Boolean(c));
  if (c) {
    $('f-owner', HTMLInputElement).value = c.repo_owner;
    $('f-name', HTMLInputElement).value = c.repo_name;
    $('f-interval', HTMLInputElement).value = String(c.sync_interval_seconds);
    $('f-enabled', HTMLInputElement).checked = c.sync_enabled;
    $('f-two-way', HTMLInputElement).checked = c.two_way;
    $('f-api-url', HTMLInputElement).value = c.api_url || '';
    $('f-installation', HTMLInputElement).value = c.installation_id ? String(c.installation_id) : '';
    $(c.installation_id ? 'f-mode-installation' : 'f-mode-pat', HTMLInputElement).checked = true;
  }
  $('f-pat', HTMLInputElement).required = !c || Boolean(c.installation_id);
  $('f-pat-hint').textContent = !c
    ? 'A fine-grained token with the repository permission Issues: read-only (read and write for two-way sync), or a classic token with the repo scope.'
    : c.installation_id ? 'Needed to switch from the GitHub App installation to a token.'
      : 'Leave it empty to keep the stored token; a new one replaces it.';
  showMode();
}

/** Shows the credential field of the chosen mode; an installation needs the deployment's App. */
export function showMode() {
  const installation = authMode() === 'installation';
  show($('f-pat-row'), !installation);
  show($('f-installation-row'), installation);
  showAppNote();
  if (installation) loadAppInfo();
}

function showAppNote() {
  const installation = authMode() === 'installation';
  show($('f-app-note'), installation && Boolean(state.app && !state.app.configured));
  // What the App's own settings on GitHub lack (e.g. the "Issue comment" event), as text.
  const warnings = installation && state.app ? state.app.warnings : [];
  $('f-app-warnings').replaceChildren(...warnings.map((w) => el('li', { text: w })));
  show($('f-app-warnings'), warnings.length > 0);
}

/** Whether the deployment's GitHub App is set (the note stays hidden when this cannot be read),
 * and its installations to pick from (the id can always be typed). */
async function loadAppInfo() {
  try {
    state.app = await api('GET', '/github-app');
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    state.app = null;
  }
  showAppNote();
  const list = $('f-installations');
  list.replaceChildren();
  if (!state.app || !state.app.configured) return;
  try {
    /** @type {AppInstallation[]} */
    const installations = await api('GET', '/github-app/installations');
    for (const i of installations) {
      const option = document.createElement('option');
      option.value = String(i.id);
      option.label = `${i.account} (${i.repository_selection === 'all' ? 'all repositories' : 'selected repositories'})${i.suspended ? ', suspended' : ''}`;
      list.append(option);
    }
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
  }
}

export function openEdit() {
  state.editing = true;
  fillForm(state.config);
  show($('sync-form'), true);
  $('sync-edit').setAttribute('aria-expanded', 'true');
  $('f-owner').focus();
}

export function closeEdit() {
  state.editing = false;
  clearFormErrors();
  show($('sync-form'), false);
  $('sync-edit').setAttribute('aria-expanded', 'false');
  $('sync-edit').focus();
}

function clearFormErrors() {
  for (const input of $('sync-form').querySelectorAll('input')) input.removeAttribute('aria-invalid');
  show($('sync-form-error'), false);
}

/**
 * Shows a message above the form, marks the field at fault and moves focus to it.
 * @param {string} text
 * @param {HTMLElement | null} input
 */
function formError(text, input) {
  $('sync-form-error').textContent = text;
  show($('sync-form-error'), true);
  if (input && !input.closest('[hidden]')) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
}

/**
 * The credential part of the request: `pat` or `installation_id`, or neither to keep the stored
 * one; a string when the form cannot be sent as it is.
 * @param {GitHubSyncConfig | null} stored the config being edited; null for a new one
 * @returns {string | Pick<PutSyncConfig, 'pat' | 'installation_id'>}
 */
function credentialFields(stored) {
  if (authMode() === 'pat') {
    const pat = $('f-pat', HTMLInputElement).value;
    if (pat.trim()) return { pat };
    if (!stored) return 'Enter the personal access token.';
    if (stored.installation_id) return 'Enter a personal access token to connect with a token instead of the GitHub App installation.';
    return {};
  }
  const raw = $('f-installation', HTMLInputElement).value.trim();
  if (!raw) {
    return stored && stored.installation_id ? {} : 'Enter the installation id: the number at the end of the installation\'s settings page on GitHub.';
  }
  const id = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(id) || id < 1) return 'The installation id is a whole number greater than 0.';
  return stored && stored.installation_id === id ? {} : { installation_id: id };
}

/** @param {SubmitEvent} event */
export async function connectRepo(event) {
  event.preventDefault();
  const stored = state.editing ? state.config : null;
  const mode = authMode();
  clearFormErrors();
  const credential = credentialFields(stored);
  if (typeof credential === 'string') return formError(credential, $(mode === 'pat' ? 'f-pat' : 'f-installation'));
  /** @type {PutSyncConfig} */
  const body = {
    repo_owner: $('f-owner', HTMLInputElement).value.trim(), repo_name: $('f-name', HTMLInputElement).value.trim(), ...credential,
    sync_interval_seconds: Number($('f-interval', HTMLInputElement).value), sync_enabled: $('f-enabled', HTMLInputElement).checked,
    two_way: $('f-two-way', HTMLInputElement).checked,
  };
  // Sent only when changed: "" returns to the deployment's GitHub, absent keeps the stored URL.
  const apiUrl = $('f-api-url', HTMLInputElement).value.trim();
  if (apiUrl !== ((stored && stored.api_url) || '')) body.api_url = apiUrl;
  /** @type {SavedSyncConfig} */
  let saved;
  try {
    saved = await api('PUT', `/projects/${state.projectId}/github-sync`, body);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.status === 401) return undefined;
    if (err.code === 'no_github_app') { state.app = { app_id: null, configured: false, warnings: [] }; showAppNote(); }
    const text = err.code === 'pat_refused' && mode === 'installation'
      ? `GitHub refused the installation's token for this repository. ${sentence(err.message)}` : errorText(err, 'config');
    // A refusal names `pat` whatever the credential: point at the field in use.
    const field = (err.field === 'pat' && mode === 'installation') || err.code === 'no_github_app' ? 'installation_id' : err.field;
    const input = field ? $('sync-form').querySelector(`[name="${CSS.escape(field)}"]`) : null;
    return formError(text, input instanceof HTMLElement ? input : null);
  }
  state.config = saved;
  state.editing = false;
  show($('sync-form'), false);
  renderConfig();
  renderTasks();
  if (stored) {
    notify('Connection saved.', 'ok');
    $('sync-edit').focus();
  } else {
    notify('Repository connected. Use “Sync now” to import its issues.', 'ok');
  }
  return undefined;
}
