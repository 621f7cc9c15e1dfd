// ghsync web console. No framework and no build step; every API value reaches the page
// through textContent or attributes, never through innerHTML.
//
// Structure:
//   1. state and DOM helpers (el, svg, show)
//   2. api(): fetch with the bearer token; ApiError; errorText() turns errors into sentences
//   3. session: sign in / sign out (token in sessionStorage), 401 returns to sign-in
//   4. projects: list, select, create
//   5. sync config: details (credential, what the token may do, its expiry), enable/disable,
//      "Sync now", the connect / edit form (a PAT or a GitHub App installation)
//   6. sync history: summary figures, SVG chart (small multiples), table alternative
//   7. tasks table
//   8. conflicts: list, dialog with word diff, keep local / accept GitHub / merge
//   9. boot: wire the static elements
'use strict';

// ---- 1. state and DOM helpers -------------------------------------------------------
const TOKEN_KEY = 'ghsync.token';
const PROJECT_KEY = 'ghsync.project';
const state = {
  token: null, projects: [], projectId: null, config: null, history: null,
  tasks: [], tasksCursor: null, taskQuery: '', taskLabel: '', conflicts: [], filter: 'pending', conflict: null, opener: null,
  following: null, hook: null, editing: false, app: null,
};

/** Tasks per page the console asks for (the API pages every list). */
const TASK_PAGE = 100;

const $ = (id) => document.getElementById(id);
const show = (node, visible) => { node.hidden = !visible; };

/** Creates an HTML element: attrs go through setAttribute ("text" sets textContent). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/** Same for SVG elements. */
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  setAttrs(node, attrs);
  node.append(...children);
  return node;
}

function setAttrs(node, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== false && v !== null && v !== undefined) node.setAttribute(k, String(v));
  }
}

function fmtTime(iso) {
  if (!iso) return '—';
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

function fmtRelative(iso) {
  const seconds = Math.round((new Date(iso) - Date.now()) / 1000);
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  const abs = Math.abs(seconds);
  if (abs < 90) return rtf.format(seconds, 'second');
  if (abs < 7200) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 172800) return rtf.format(Math.round(seconds / 3600), 'hour');
  return rtf.format(Math.round(seconds / 86400), 'day');
}

function fmtInterval(seconds) {
  if (seconds % 3600 === 0) return `every ${seconds / 3600} h`;
  if (seconds % 60 === 0) return `every ${seconds / 60} min`;
  return `every ${seconds} s`;
}

/** The API's messages start in lower case, without a full stop (they also go to logs): a sentence. */
function sentence(text) {
  if (!text) return '';
  const s = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

function fmtMs(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

// ---- 2. API ---------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    Object.assign(this, { status, code, field });
  }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(`/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'network', 'The ghsync server could not be reached. Check that it is running.');
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (res.ok) return data;
  const e = (data && data.error) || {};
  const err = new ApiError(res.status, e.code || `http_${res.status}`, e.message || res.statusText, e.field);
  if (res.status === 401) expireSession();
  throw err;
}

const FIELD_LABELS = {
  name: 'project name', repo_owner: 'repository owner', repo_name: 'repository name',
  pat: 'personal access token', sync_interval_seconds: 'interval', title: 'title',
  description: 'description', merged_content: 'merged content', action: 'action',
  installation_id: 'installation id', api_url: 'GitHub Enterprise API URL', two_way: 'two-way sync',
};

/** 409 answers whose message says what to do (no App set, an expired or unreadable token). */
const SELF_EXPLAINING_CONFLICTS = new Set(['no_github_app', 'token_expired', 'stored_pat_unreadable']);

/** A sentence for an error; `what` says which request failed ("run", "resolve", …). */
function errorText(err, what) {
  const field = err.field ? FIELD_LABELS[err.field] || err.field : null;
  switch (err.status) {
    case 0: return err.message;
    case 401: return 'Your API token was refused: it is wrong or has expired. Sign in again.';
    case 404: return `Not found: ${err.message}`;
    case 409:
      if (SELF_EXPLAINING_CONFLICTS.has(err.code)) return sentence(err.message);
      if (what === 'run') return 'A sync is already running for this project. Try again when it has finished.';
      if (what === 'resolve') return 'This conflict was already resolved (perhaps in another window). The lists have been refreshed.';
      return `Conflict: ${err.message}`;
    case 413: return 'That request is too large.';
    case 422:
      if (err.code === 'pat_refused') return `Personal access token refused. ${err.message}`;
      return field ? `Invalid ${field}: ${err.message}` : `Invalid value: ${err.message}`;
    case 502:
      if (err.code === 'kms_unavailable') return `The key service could not be reached: ${err.message}`;
      return `GitHub could not be reached: ${err.message}`;
    case 503: return 'The ghsync database is unavailable right now. Try again in a moment.';
    default: return `Request failed (${err.status}): ${err.message}`;
  }
}

function notify(text, kind = 'error') {
  $('notice-text').textContent = text;
  $('notice').className = `notice ${kind}`;
  $('notice').setAttribute('role', kind === 'error' ? 'alert' : 'status');
  show($('notice'), true);
}

/** Runs an async action; a failure becomes a message (a 401 has already signed out). */
async function guard(what, fn) {
  try {
    return await fn();
  } catch (err) {
    return report(err, what);
  }
}

function report(err, what) {
  if (!(err instanceof ApiError)) throw err;
  if (err.status !== 401) notify(errorText(err, what));
  return undefined;
}

// ---- 3. session -----------------------------------------------------------------------
function showSignIn(message) {
  state.projectId = null;
  state.history = null;
  show($('project-view'), false);
  show($('no-project'), true);
  show($('app-view'), false);
  show($('session-bar'), false);
  show($('notice'), false);
  show($('signin-view'), true);
  $('signin-error').textContent = message || '';
  show($('signin-error'), Boolean(message));
  $('token').value = '';
  $('token').focus();
}

function expireSession() {
  if (!state.token) return;
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  if ($('conflict-dialog').open) $('conflict-dialog').close();
  showSignIn('Your API token was refused: it is wrong or has expired. Sign in again.');
}

async function signIn(event) {
  event.preventDefault();
  const token = $('token').value.trim();
  if (!token) return showSignIn('Enter the API token.');
  state.token = token;
  try {
    state.projects = await api('GET', '/projects');
  } catch (err) {
    if (err.status !== 401) showSignIn(errorText(err));
    state.token = null;
    return undefined;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  return enterApp();
}

function signOut() {
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(PROJECT_KEY);
  showSignIn();
}

async function enterApp() {
  show($('signin-view'), false);
  show($('session-bar'), true);
  show($('app-view'), true);
  renderProjects();
  const remembered = sessionStorage.getItem(PROJECT_KEY);
  const first = state.projects.find((p) => p.id === remembered) || state.projects[0];
  if (first) await selectProject(first.id);
}

// ---- 4. projects ----------------------------------------------------------------------
function renderProjects() {
  const list = $('project-list');
  list.replaceChildren(...state.projects.map((p) => el('li', {}, el('button', {
    type: 'button', class: 'project', 'aria-current': p.id === state.projectId ? 'true' : false,
    text: p.name, onclick: () => selectProject(p.id),
  }))));
  show($('projects-empty'), state.projects.length === 0);
}

async function selectProject(id) {
  state.projectId = id;
  sessionStorage.setItem(PROJECT_KEY, id);
  const project = state.projects.find((p) => p.id === id);
  renderProjects();
  show($('no-project'), false);
  show($('project-view'), true);
  $('project-name-h').textContent = project ? project.name : '';
  show($('sync-result'), false);
  // The form is filled afresh for this project when its config has been read.
  state.editing = false;
  show($('sync-form'), false);
  await Promise.all([loadConfig(), loadHistory(), loadTasksAndConflicts()]);
}

async function createProject(event) {
  event.preventDefault();
  const name = $('project-name').value.trim();
  if (!name) return notify('Enter a name for the new project.');
  const project = await guard('create', () => api('POST', '/projects', { name }));
  if (!project) return undefined;
  $('project-name').value = '';
  state.projects.push(project);
  return selectProject(project.id);
}

// ---- 5. sync config -------------------------------------------------------------------
/** The config's own webhook: what to give GitHub, and the hook ghsync installed. */
async function loadHook() {
  const pid = state.projectId;
  const setup = await guard('webhook', () => api('GET', `/projects/${pid}/github-sync/webhook`));
  if (setup && pid === state.projectId) renderHook(setup);
}

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

function revealSecret() {
  const shown = $('hook-reveal').textContent === 'Hide';
  $('hook-secret').textContent = shown ? '••••••••' : state.hook.secret;
  $('hook-reveal').textContent = shown ? 'Show' : 'Hide';
}

async function installHook() {
  const setup = await guard('webhook', () => api('POST', `/projects/${state.projectId}/github-sync/webhook`));
  if (!setup) return;
  renderHook(setup);
  notify(setup.hook_id ? 'Webhook installed on GitHub.' : 'ghsync could not install the webhook: add it by hand with these values.', setup.hook_id ? 'ok' : 'error');
}

async function loadConfig() {
  const pid = state.projectId;
  try {
    const config = await api('GET', `/projects/${pid}/github-sync`);
    if (pid !== state.projectId) return undefined;
    state.config = config;
  } catch (err) {
    if (pid !== state.projectId) return undefined;
    if (err.status !== 404) return report(err, 'config');
    state.config = null;
  }
  return renderConfig();
}

const TOKEN_SOURCE = {
  classic: 'Personal access token (classic)', fine_grained: 'Personal access token (fine-grained)', app: 'GitHub App installation',
};

/** How the config reaches GitHub: "Personal access token (fine-grained)", "GitHub App installation 77". */
function credentialText(c) {
  if (c.installation_id) return `GitHub App installation ${c.installation_id}`;
  const p = c.token_permissions;
  return (p && TOKEN_SOURCE[p.source]) || 'Personal access token';
}

/** What GitHub said the token may do when it was saved (webhooks matter only for PATs). */
function permissionsText(c) {
  const p = c.token_permissions;
  if (!p) return 'not checked yet (it is checked when the token is saved again)';
  const issues = p.issues === 'write' ? 'Issues: read and write' : 'Issues: read-only';
  if (c.installation_id || p.source === 'app') return issues;
  return `${issues}, webhooks: ${p.hooks ? 'yes' : 'no'}`;
}

function renderConfig() {
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

/** Changes one setting of the config, then shows it and says what changed. */
async function changeConfig(change, message) {
  const c = state.config;
  const body = { repo_owner: c.repo_owner, repo_name: c.repo_name, ...change };
  const updated = await guard('config', () => api('PUT', `/projects/${c.project_id}/github-sync`, body));
  if (updated) {
    const { offer, ...config } = updated;
    state.config = config;
    // An open edit form follows the change, so saving it later does not undo it.
    if (state.editing) { $('f-enabled').checked = updated.sync_enabled; $('f-two-way').checked = updated.two_way; }
    renderConfig();
    renderTasks();
    notify(message(updated), 'ok');
    if (offer && offer.tasks > 0) askOffer(offer.tasks);
  }
}

/** Asks whether the edits made while two-way sync was off go to GitHub now. */
function askOffer(count) {
  $('offer-text').textContent = count === 1
    ? '1 task was edited on the board while two-way sync was off. It has not reached GitHub.'
    : `${count} tasks were edited on the board while two-way sync was off. They have not reached GitHub.`;
  $('offer-dialog').showModal();
  $('offer-accept').focus();
}

async function answerOffer(accept) {
  $('offer-dialog').close();
  const answered = await guard('offer', () => api('POST', `/projects/${state.projectId}/github-sync/offer`, { accept }));
  if (!answered) return;
  notify(accept ? `${answered.tasks} task${answered.tasks === 1 ? '' : 's'} queued for GitHub.` : 'The edits stay on the board.', 'ok');
  await loadTasksAndConflicts();
}

const toggleTwoWay = () => changeConfig({ two_way: !state.config.two_way },
  (c) => (c.two_way ? 'Two-way sync on: local edits now reach GitHub.' : 'Two-way sync off: nothing is written to GitHub.'));

const toggleSync = () => changeConfig({ sync_enabled: !state.config.sync_enabled },
  (c) => `Automatic sync ${c.sync_enabled ? 'enabled' : 'disabled'}.`);

/** How often the console asks for a running sync's progress. */
const PROGRESS_EVERY_MS = 1000;

async function syncNow() {
  const button = $('sync-now');
  button.disabled = true;
  button.textContent = 'Syncing…';
  const accepted = await guard('run', () => api('POST', `/projects/${state.projectId}/github-sync/run`));
  if (!accepted) {
    button.disabled = false;
    button.textContent = 'Sync now';
    return;
  }
  followRun(state.projectId, accepted.history_id);
}

/** Shows a queued or running sync's progress until it ends, then its result. */
async function followRun(pid, runId) {
  const button = $('sync-now');
  const out = $('sync-result');
  // The run is the newest of the project's runs (or among the newest, when another ended meanwhile).
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

// The connect form creates the config (no config yet) or edits it ("Edit connection"). Without a
// new PAT or another installation id, an edit keeps the stored credential.
function authMode() {
  return $('f-mode-installation').checked ? 'installation' : 'pat';
}

/** Empties the form (c: null) or fills it with the config's values, in the config's mode. */
function fillForm(c) {
  $('sync-form').reset();
  clearFormErrors();
  $('sync-form-intro').textContent = c
    ? 'Change the repository, how ghsync connects to GitHub, or the settings. The stored credential is kept unless you give a new one.'
    : 'This project is not connected to a GitHub repository yet.';
  $('sync-submit').textContent = c ? 'Save connection' : 'Connect repository';
  show($('sync-cancel'), Boolean(c));
  if (c) {
    $('f-owner').value = c.repo_owner;
    $('f-name').value = c.repo_name;
    $('f-interval').value = String(c.sync_interval_seconds);
    $('f-enabled').checked = c.sync_enabled;
    $('f-two-way').checked = c.two_way;
    $('f-api-url').value = c.api_url || '';
    $('f-installation').value = c.installation_id ? String(c.installation_id) : '';
    $(c.installation_id ? 'f-mode-installation' : 'f-mode-pat').checked = true;
  }
  $('f-pat').required = !c || Boolean(c.installation_id);
  $('f-pat-hint').textContent = !c
    ? 'A fine-grained token with the repository permission Issues: read-only (read and write for two-way sync), or a classic token with the repo scope.'
    : c.installation_id ? 'Needed to switch from the GitHub App installation to a token.'
      : 'Leave it empty to keep the stored token; a new one replaces it.';
  showMode();
}

/** Shows the credential field of the chosen mode; an installation needs the deployment's App. */
function showMode() {
  const installation = authMode() === 'installation';
  show($('f-pat-row'), !installation);
  show($('f-installation-row'), installation);
  showAppNote();
  if (installation) loadAppInfo();
}

function showAppNote() {
  show($('f-app-note'), authMode() === 'installation' && Boolean(state.app) && !state.app.configured);
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
    for (const i of await api('GET', '/github-app/installations')) {
      const option = document.createElement('option');
      option.value = String(i.id);
      option.label = `${i.account} (${i.repository_selection === 'all' ? 'all repositories' : 'selected repositories'})${i.suspended ? ', suspended' : ''}`;
      list.append(option);
    }
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
  }
}

function openEdit() {
  state.editing = true;
  fillForm(state.config);
  show($('sync-form'), true);
  $('sync-edit').setAttribute('aria-expanded', 'true');
  $('f-owner').focus();
}

function closeEdit() {
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

/** Shows a message above the form, marks the field at fault and moves focus to it. */
function formError(text, input) {
  $('sync-form-error').textContent = text;
  show($('sync-form-error'), true);
  if (input && !input.closest('[hidden]')) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
}

/**
 * The credential part of the request: `pat` or `installation_id`, or neither to keep the stored
 * one; a string when the form cannot be sent as it is.
 */
function credentialFields(stored) {
  if (authMode() === 'pat') {
    const pat = $('f-pat').value;
    if (pat.trim()) return { pat };
    if (!stored) return 'Enter the personal access token.';
    if (stored.installation_id) return 'Enter a personal access token to connect with a token instead of the GitHub App installation.';
    return {};
  }
  const raw = $('f-installation').value.trim();
  if (!raw) {
    return stored && stored.installation_id ? {} : 'Enter the installation id: the number at the end of the installation\'s settings page on GitHub.';
  }
  const id = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(id) || id < 1) return 'The installation id is a whole number greater than 0.';
  return stored && stored.installation_id === id ? {} : { installation_id: id };
}

async function connectRepo(event) {
  event.preventDefault();
  const stored = state.editing ? state.config : null;
  const mode = authMode();
  clearFormErrors();
  const credential = credentialFields(stored);
  if (typeof credential === 'string') return formError(credential, $(mode === 'pat' ? 'f-pat' : 'f-installation'));
  const body = {
    repo_owner: $('f-owner').value.trim(), repo_name: $('f-name').value.trim(), ...credential,
    sync_interval_seconds: Number($('f-interval').value), sync_enabled: $('f-enabled').checked,
    two_way: $('f-two-way').checked,
  };
  // Sent only when changed: "" returns to the deployment's GitHub, absent keeps the stored URL.
  const apiUrl = $('f-api-url').value.trim();
  if (apiUrl !== ((stored && stored.api_url) || '')) body.api_url = apiUrl;
  let saved;
  try {
    saved = await api('PUT', `/projects/${state.projectId}/github-sync`, body);
  } catch (err) {
    if (err.status === 401) return undefined;
    if (err.code === 'no_github_app') { state.app = { app_id: null, configured: false }; showAppNote(); }
    const text = err.code === 'pat_refused' && mode === 'installation'
      ? `GitHub refused the installation's token for this repository. ${sentence(err.message)}` : errorText(err, 'config');
    // A refusal names `pat` whatever the credential: point at the field in use.
    const field = (err.field === 'pat' && mode === 'installation') || err.code === 'no_github_app' ? 'installation_id' : err.field;
    return formError(text, field ? $('sync-form').querySelector(`[name="${CSS.escape(field)}"]`) : null);
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

// ---- 6. sync history ------------------------------------------------------------------
const SERIES = [
  { key: 'duration_ms', label: 'Duration', unit: ' ms', height: 64 },
  { key: 'issues_fetched', label: 'Issues fetched', unit: '', height: 30 },
  { key: 'tasks_created', label: 'Tasks created', unit: '', height: 30 },
  { key: 'tasks_updated', label: 'Tasks updated', unit: '', height: 30 },
  { key: 'conflicts_detected', label: 'Conflicts', unit: '', height: 30 },
];

async function loadHistory() {
  const pid = state.projectId;
  const summary = await guard('history', () => api('GET', `/projects/${pid}/sync-history`));
  if (!summary || pid !== state.projectId) return;
  state.history = summary;
  renderSummary(summary);
  renderChart();
  renderRunsTable(summary.last_100_syncs);
  // A sync running (or queued) when the page opened: follow its progress too.
  const running = summary.last_100_syncs.find((r) => r.status === 'in_progress');
  if (running && state.following !== running.id) followRun(pid, running.id);
}

function renderSummary(s) {
  const runs = s.last_100_syncs;
  const failed = runs.filter((r) => r.status === 'failure').length;
  const finished = runs.some((r) => r.status !== 'in_progress');
  const pct = Number.isInteger(s.success_rate) ? s.success_rate : s.success_rate.toFixed(1);
  const figures = [
    ['Success rate', finished ? `${pct}%` : '—'], ['Average duration', finished ? fmtMs(s.avg_duration_ms) : '—'],
    ['Issues imported', String(s.total_issues_imported)], ['Conflicts', String(s.total_conflicts)],
    ['Runs shown', `${runs.length}${failed ? ` (${failed} failed)` : ''}`],
  ];
  $('summary').replaceChildren(...figures.map(([k, v]) => el('div', {}, el('dt', { text: k }), el('dd', { text: v }))));
  show($('history-empty'), runs.length === 0);
  show($('chart-legend'), runs.length > 0);
}

function runLabel(r, i, n) {
  const result = { success: 'succeeded', failure: 'FAILED', in_progress: 'running' }[r.status];
  return `Run ${i + 1} of ${n}, ${fmtTime(r.started_at)}: ${result}, ${fmtMs(r.duration_ms)}, `
    + `${r.issues_fetched} fetched, ${r.tasks_created} created, ${r.tasks_updated} updated, `
    + `${r.conflicts_detected} conflicts${r.error_message ? `. Error: ${r.error_message}` : ''}`;
}

/** Draws one row of bars per series, runs oldest to newest, at the container's width. */
function renderChart() {
  const box = $('chart');
  const runs = state.history ? [...state.history.last_100_syncs].reverse() : [];
  if (runs.length === 0) return box.replaceChildren();
  const width = Math.max(300, box.clientWidth || 600);
  const left = width < 520 ? 112 : 128;
  const plot = width - left - 8;
  const slot = Math.min(plot / runs.length, 28);
  const barW = Math.max(1, slot * 0.7);
  const top = 16;
  const height = top + SERIES.reduce((h, s) => h + s.height + 10, 0) + 18;
  const failed = runs.filter((r) => r.status === 'failure').length;
  const chart = svg('svg', {
    width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': 'chart-t chart-d', class: 'history-chart',
  }, svg('title', { id: 'chart-t' }), svg('desc', { id: 'chart-d' }));
  chart.querySelector('title').textContent = 'Sync history, oldest run on the left';
  chart.querySelector('desc').textContent = `${runs.length} runs from ${fmtTime(runs[0].started_at)} to `
    + `${fmtTime(runs[runs.length - 1].started_at)}; ${failed} failed. One row of bars each for duration, `
    + 'issues fetched, tasks created, tasks updated and conflicts. The table below lists the same runs.';
  runs.forEach((r, i) => {
    if (r.status === 'failure') chart.append(svg('rect', { class: 'fail-band', x: left + i * slot, y: top, width: slot, height: height - top - 18 }));
  });
  let y = top;
  for (const series of SERIES) {
    chart.append(drawSeries(runs, series, { left, y, slot, barW, width }));
    y += series.height + 10;
  }
  runs.forEach((r, i) => chart.append(drawRunMarker(r, i, runs.length, { left, slot, barW, top, height })));
  if (runs.length * slot > 200) {
    chart.append(
      svg('text', { class: 'axis', x: left, y: height - 4, text: '← oldest' }),
      svg('text', { class: 'axis', x: left + runs.length * slot, y: height - 4, 'text-anchor': 'end', text: 'newest →' }),
    );
  } else {
    chart.append(svg('text', { class: 'axis', x: left, y: height - 4, text: 'oldest → newest' }));
  }
  box.replaceChildren(chart);
}

function drawSeries(runs, series, g) {
  const top = Math.max(0, ...runs.map((r) => r[series.key] || 0));
  const max = Math.max(1, top);
  const base = g.y + series.height;
  const group = svg('g', { class: 'series' },
    svg('text', { class: 'label', x: g.left - 8, y: g.y + series.height / 2, 'text-anchor': 'end', text: series.label }),
    svg('text', { class: 'axis', x: g.left - 8, y: g.y + series.height / 2 + 12, 'text-anchor': 'end', text: `max ${Math.round(top)}${series.unit}` }),
    svg('line', { class: 'baseline', x1: g.left, x2: g.width - 8, y1: base, y2: base }));
  runs.forEach((r, i) => {
    const v = r[series.key] || 0;
    if (v <= 0) return;
    const h = Math.max(2, (v / max) * (series.height - 2));
    group.append(svg('rect', { class: `bar ${r.status}`, x: g.left + i * g.slot + (g.slot - g.barW) / 2, y: base - h, width: g.barW, height: h }));
  });
  return group;
}

/** A transparent column with the run's description (hover tooltip), plus ✕ over failures. */
function drawRunMarker(r, i, n, g) {
  const x = g.left + i * g.slot;
  const group = svg('g', {}, svg('title', { text: runLabel(r, i, n) }),
    svg('rect', { class: 'hit', x, y: g.top, width: g.slot, height: g.height - g.top - 18 }));
  if (r.status === 'failure') group.append(svg('text', { class: 'fail-mark', x: x + g.slot / 2, y: g.top - 3, 'text-anchor': 'middle', text: '✕' }));
  if (r.status === 'in_progress') group.append(svg('text', { class: 'axis', x: x + g.slot / 2, y: g.top - 3, 'text-anchor': 'middle', text: '…' }));
  return group;
}

function renderRunsTable(runs) {
  const result = { success: 'Success', failure: 'Failed', in_progress: 'Running' };
  $('runs-body').replaceChildren(...runs.map((r) => el('tr', { class: r.status === 'failure' ? 'failed' : false },
    el('td', { text: fmtTime(r.started_at) }), el('td', { text: result[r.status] }), el('td', { text: fmtMs(r.duration_ms) }),
    el('td', { text: r.issues_fetched }), el('td', { text: r.tasks_created }), el('td', { text: r.tasks_updated }),
    el('td', { text: r.conflicts_detected }), el('td', { text: r.error_message || '' }))));
}

// ---- 7. tasks -------------------------------------------------------------------------
const STATUS = { todo: 'To do', inprogress: 'In progress', inreview: 'In review', done: 'Done', cancelled: 'Cancelled' };
const REMOTE = {
  open: ['Open', ''], completed: ['Closed (completed)', ''], not_planned: ['Closed (not planned)', ''],
  deleted: ['Deleted on GitHub', 'warn'], transferred: ['Transferred to another repository', 'warn'],
};

/** The first page of tasks (as the search box filters them), or the next one (`more`). */
function tasksPath(pid, cursor) {
  const q = new URLSearchParams({ limit: String(TASK_PAGE) });
  if (state.taskQuery) q.set('q', state.taskQuery);
  if (state.taskLabel) q.set('label', state.taskLabel);
  if (cursor) q.set('cursor', cursor);
  return `/projects/${pid}/tasks?${q}`;
}

async function loadTasksAndConflicts() {
  const pid = state.projectId;
  const [tasks, conflicts] = await Promise.all([
    guard('tasks', () => api('GET', tasksPath(pid, null))),
    guard('conflicts', () => api('GET', `/projects/${pid}/conflicts?status=${state.filter}`)),
  ]);
  if (pid !== state.projectId) return; // the person switched project meanwhile
  if (tasks) { state.tasks = tasks.items; state.tasksCursor = tasks.next_cursor; renderTasks(); }
  if (conflicts) { state.conflicts = conflicts.items; renderConflicts(); }
}

async function loadMoreTasks() {
  const pid = state.projectId;
  const page = await guard('tasks', () => api('GET', tasksPath(pid, state.tasksCursor)));
  if (!page || pid !== state.projectId) return;
  state.tasks = state.tasks.concat(page.items);
  state.tasksCursor = page.next_cursor;
  renderTasks();
}

function searchTasks(event) {
  event.preventDefault();
  state.taskQuery = $('task-search').value.trim();
  state.taskLabel = $('task-label').value.trim();
  return loadTasksAndConflicts();
}

/** Filters the task list by a label chip's name. */
function filterByLabel(name) {
  $('task-label').value = name;
  state.taskLabel = name;
  return loadTasksAndConflicts();
}

async function createTask(event) {
  event.preventDefault();
  const input = $('new-task-title');
  const title = input.value.trim();
  if (!title) { input.setAttribute('aria-invalid', 'true'); input.focus(); return; }
  input.removeAttribute('aria-invalid');
  const task = await guard('task', () => api('POST', `/projects/${state.projectId}/tasks`, { title }));
  if (!task) return;
  $('task-form').reset();
  notify(`Task “${task.title}” added.`, 'ok');
  await loadTasksAndConflicts();
}

async function publishTask(t, button) {
  button.disabled = true;
  button.textContent = 'Publishing…';
  const task = await guard('publish', () => api('POST', `/tasks/${t.id}/github-issue`));
  if (!task) { button.disabled = false; button.textContent = 'Publish to GitHub'; return; }
  // 202: GitHub's answer did not come; the worker finishes it (never a second issue).
  notify(task.github_issue_url ? `Published as ${task.github_issue_url}.`
    : 'GitHub did not answer in time: the publication is finished in the background.', 'ok');
  await loadTasksAndConflicts();
}

function renderTasks() {
  const tasks = state.tasks;
  $('tasks-body').replaceChildren(...tasks.map(taskRow));
  $('tasks-empty').textContent = state.taskQuery || state.taskLabel ? 'No task matches the search.'
    : 'No tasks yet. Run a sync to import the repository\'s issues.';
  show($('tasks-empty'), tasks.length === 0);
  show($('tasks-table'), tasks.length > 0);
  $('tasks-count').textContent = tasks.length ? `${tasks.length} task${tasks.length === 1 ? '' : 's'} shown${state.tasksCursor ? ', more to load' : ''}.` : '';
  show($('tasks-more'), Boolean(state.tasksCursor));
}

function taskRow(t) {
  const gh = t.github;
  const link = gh ? el('a', { href: gh.issue_url, target: '_blank', rel: 'noopener noreferrer', text: `#${gh.issue_number}` })
    : el('span', { class: 'muted', text: 'local' });
  const [remoteText, remoteClass] = gh ? REMOTE[gh.remote_state] || [gh.remote_state, ''] : ['—', ''];
  return el('tr', { 'data-task': t.id },
    el('td', { 'data-label': 'Issue' }, link),
    el('td', { 'data-label': 'Title', class: 'title', text: t.title }),
    el('td', { 'data-label': 'Labels' }, issueDetails(gh)),
    el('td', { 'data-label': 'Status', text: STATUS[t.status] || t.status }),
    el('td', { 'data-label': 'On GitHub' }, remoteClass ? el('span', { class: `badge ${remoteClass}`, text: remoteText }) : remoteText),
    el('td', { 'data-label': 'Sync' }, syncCell(t)));
}

/** Labels (as chips that filter the list), assignees and milestone of a linked task. */
function issueDetails(gh) {
  if (!gh) return el('span', { class: 'muted', text: '—' });
  const parts = gh.labels.map((l) => {
    const chip = el('button', {
      type: 'button', class: 'chip', title: `Show tasks labelled ${l.name}`, onclick: () => filterByLabel(l.name), text: l.name,
    });
    // Through the CSSOM: the console's CSP allows no inline style attributes.
    chip.style.setProperty('--chip', `#${/^[0-9a-fA-F]{6}$/.test(l.color) ? l.color : '8b949e'}`);
    return chip;
  });
  if (gh.assignees.length) parts.push(el('span', { class: 'muted', text: gh.assignees.map((a) => `@${a}`).join(' ') }));
  if (gh.milestone) parts.push(el('span', { class: 'muted', text: `◷ ${gh.milestone}` }));
  return parts.length ? el('div', { class: 'details' }, ...parts) : el('span', { class: 'muted', text: '—' });
}

function syncCell(t) {
  const gh = t.github;
  const status = gh && gh.sync_conflict_status;
  if (status === 'pending') {
    return el('button', { type: 'button', class: 'badge conflict', onclick: (e) => openConflictForTask(t.id, e.currentTarget), text: 'Conflict: review' });
  }
  if (!gh) {
    if (state.config && state.config.two_way) {
      return el('button', { type: 'button', class: 'secondary', onclick: (e) => publishTask(t, e.currentTarget), text: 'Publish to GitHub' });
    }
    return el('span', { class: 'muted', text: 'not linked' });
  }
  const retry = () => el('button', { type: 'button', class: 'link', onclick: (e) => retryPush(t, e.currentTarget), text: 'Retry push' });
  if (gh.push_error) {
    return el('div', { class: 'details' }, el('span', { class: 'error-text', text: `Not on GitHub: ${gh.push_error}` }),
      gh.push_pending ? retry() : '');
  }
  if (gh.push_pending) return el('div', { class: 'details' }, el('span', { class: 'badge warn', text: waitingText(gh.push_waiting) }), retry());
  return el('span', { class: 'muted', text: status === 'resolved' ? 'Resolved' : 'In sync' });
}

/** Why an edit waits, and until when. */
function waitingText(w) {
  if (!w) return 'Waiting to reach GitHub';
  if (w.parked === 'one_way') return 'Waiting: two-way sync is off';
  const next = w.next_attempt_at ? ` (next try ${fmtRelative(w.next_attempt_at)})` : '';
  return w.reason ? `Waiting to reach GitHub: ${w.reason}${next}` : `Waiting to reach GitHub${next}`;
}

const PUSHED_TEXT = {
  sent: 'Sent to GitHub.', nothing: 'GitHub already holds it.', held: 'A conflict waits for you first.',
  pulled: 'GitHub had changed: its version was taken in first.', gone: 'The issue is gone from GitHub.',
  handed_over: 'GitHub is slow: it is sent in the background.', busy: 'It is being sent already.', waiting: 'It waits for its turn.',
};

async function retryPush(t, button) {
  button.disabled = true;
  const pushed = await guard('retry', () => api('POST', `/tasks/${t.id}/push/retry`));
  if (pushed) {
    const text = pushed.pushed === 'refused' ? `GitHub refused it again: ${pushed.message}`
      : pushed.pushed === 'retrying' ? `Not sent yet: ${pushed.message}` : PUSHED_TEXT[pushed.pushed] || 'Retried.';
    notify(text, pushed.pushed === 'refused' ? 'error' : 'ok');
  } else button.disabled = false;
  await loadTasksAndConflicts();
}

// ---- 8. conflicts ---------------------------------------------------------------------
function setFilter(filter) {
  state.filter = filter;
  $('show-pending').setAttribute('aria-pressed', String(filter === 'pending'));
  $('show-resolved').setAttribute('aria-pressed', String(filter === 'resolved'));
  return loadTasksAndConflicts();
}

const ACTION_TEXT = { keep_local: 'kept the local version', accept_github: 'accepted the GitHub version', merge: 'merged' };

function taskLabel(taskId, fallback) {
  const t = state.tasks.find((x) => x.id === taskId);
  if (!t) return fallback;
  return t.github ? `#${t.github.issue_number} ${t.title}` : t.title;
}

function renderConflicts() {
  const pending = state.filter === 'pending';
  $('conflict-list').replaceChildren(...state.conflicts.map((c) => el('li', { class: 'conflict-item' },
    el('div', {},
      el('strong', { text: taskLabel(c.task_id, c.local_content_snapshot.title) }),
      el('span', { class: 'muted', text: pending ? ` detected ${fmtTime(c.detected_at)}`
        : ` resolved ${fmtTime(c.resolved_at)}: ${ACTION_TEXT[c.resolution_action] || ''}` })),
    el('button', { type: 'button', class: pending ? '' : 'secondary', text: pending ? 'Review' : 'View',
      onclick: (e) => openConflict(c, e.currentTarget) }))));
  $('conflicts-empty').textContent = pending ? 'No pending conflicts.' : 'No resolved conflicts yet.';
  show($('conflicts-empty'), state.conflicts.length === 0);
}

async function openConflictForTask(taskId, opener) {
  const list = await guard('conflicts', () => api('GET', `/projects/${state.projectId}/conflicts?status=pending`));
  const conflict = list && list.items.find((c) => c.task_id === taskId);
  if (conflict) openConflict(conflict, opener);
  else if (list) { notify('That conflict is no longer pending.', 'ok'); loadTasksAndConflicts(); }
}

function openConflict(c, opener) {
  state.conflict = c;
  state.opener = opener;
  const local = c.local_content_snapshot;
  const remote = c.remote_content_snapshot;
  const pending = !c.resolved_at;
  $('dlg-title').textContent = `Conflict: ${taskLabel(c.task_id, local.title)}`;
  $('dlg-meta').textContent = pending
    ? `Detected ${fmtTime(c.detected_at)}. The task and its GitHub issue both changed since the last sync.`
    : `Detected ${fmtTime(c.detected_at)}, resolved ${fmtTime(c.resolved_at)}: ${ACTION_TEXT[c.resolution_action] || ''}.`;
  renderDiff(diffWords(local.title, remote.title), $('local-title'), $('remote-title'));
  renderDiff(diffWords(local.description || '', remote.description || ''), $('local-desc'), $('remote-desc'));
  markEmpty($('local-desc'), local.description);
  markEmpty($('remote-desc'), remote.description);
  $('local-status').textContent = local.status ? STATUS[local.status] || local.status : '—';
  $('remote-state').textContent = remote.state ? (REMOTE[remote.state === 'open' ? 'open' : remote.state_reason] || [remote.state])[0] : '—';
  renderResolvedBox(c);
  show($('dlg-actions'), pending);
  show($('merge-form'), false);
  show($('dlg-error'), false);
  $('conflict-dialog').showModal();
  (pending ? $('conflict-dialog').querySelector('[data-action]') : $('dlg-close')).focus();
}

function markEmpty(node, text) {
  if (!text) node.replaceChildren(el('em', { class: 'muted', text: '(no description)' }));
}

function renderResolvedBox(c) {
  const box = $('dlg-resolved');
  const m = c.merged_content;
  box.replaceChildren(...(m ? [el('h3', { text: 'Merged version' }), el('p', { class: 'title', text: m.title }),
    el('p', { class: 'desc', text: m.description || '(no description)' })] : []));
  show(box, Boolean(m));
}

/** Splits text into words and runs of whitespace. */
function tokenize(text) {
  return text.match(/\s+|[^\s]+/g) || [];
}

/** Word-level diff (LCS after trimming the common prefix and suffix): [{op, text}]. */
function diffWords(a, b) {
  const A = tokenize(a);
  const B = tokenize(b);
  let pre = 0;
  while (pre < A.length && pre < B.length && A[pre] === B[pre]) pre += 1;
  let suf = 0;
  while (suf < A.length - pre && suf < B.length - pre && A[A.length - 1 - suf] === B[B.length - 1 - suf]) suf += 1;
  const midA = A.slice(pre, A.length - suf);
  const midB = B.slice(pre, B.length - suf);
  const mid = midA.length * midB.length > 400000
    ? [{ op: 'del', text: midA.join('') }, { op: 'ins', text: midB.join('') }]
    : lcsOps(midA, midB);
  return coalesce([{ op: 'same', text: A.slice(0, pre).join('') }, ...mid, { op: 'same', text: A.slice(A.length - suf).join('') }]);
}

/** Joins each run of changes (and the bare spaces inside it) into one deletion + one insertion. */
function coalesce(ops) {
  const out = [];
  const push = (op, text) => {
    const last = out[out.length - 1];
    if (!text) return;
    if (last && last.op === op) last.text += text; else out.push({ op, text });
  };
  let del = '';
  let ins = '';
  const flush = () => { push('del', del); push('ins', ins); del = ''; ins = ''; };
  ops.forEach((o, k) => {
    const next = ops[k + 1];
    const bridge = o.op === 'same' && !o.text.trim() && (del || ins) && next && next.op !== 'same';
    if (o.op === 'del') del += o.text;
    else if (o.op === 'ins') ins += o.text;
    else if (bridge) { del += o.text; ins += o.text; }
    else { flush(); push('same', o.text); }
  });
  flush();
  return out;
}

function lcsOps(a, b) {
  const n = a.length;
  const m = b.length;
  const dp = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) {
      dp[i][j] = a[i] === b[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
    }
  }
  const ops = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { ops.push({ op: 'same', text: a[i] }); i += 1; j += 1; }
    else if (dp[i + 1][j] >= dp[i][j + 1]) { ops.push({ op: 'del', text: a[i] }); i += 1; }
    else { ops.push({ op: 'ins', text: b[j] }); j += 1; }
  }
  while (i < n) { ops.push({ op: 'del', text: a[i] }); i += 1; }
  while (j < m) { ops.push({ op: 'ins', text: b[j] }); j += 1; }
  return ops;
}

/** Local side: common text plus <del>; GitHub side: common text plus <ins>. */
function renderDiff(ops, localNode, remoteNode) {
  const part = (o, tag) => (o.text.trim() ? el(tag, { text: o.text }) : document.createTextNode(o.text));
  localNode.replaceChildren(...ops.filter((o) => o.op !== 'ins').map((o) => (o.op === 'same' ? o.text : part(o, 'del'))));
  remoteNode.replaceChildren(...ops.filter((o) => o.op !== 'del').map((o) => (o.op === 'same' ? o.text : part(o, 'ins'))));
}

function combinedDescription(local, remote) {
  const l = local || '';
  const r = remote || '';
  if (l === r || !r) return l;
  if (!l) return r;
  return `----- Local version -----\n${l.trimEnd()}\n----- GitHub version -----\n${r.trimEnd()}\n----- end -----`;
}

function openMerge() {
  const c = state.conflict;
  $('merge-title').value = c.local_content_snapshot.title;
  $('merge-remote-title').textContent = c.remote_content_snapshot.title;
  $('merge-desc').value = combinedDescription(c.local_content_snapshot.description, c.remote_content_snapshot.description);
  const current = state.tasks.find((x) => x.id === c.task_id);
  $('merge-status').value = (current && current.status) || c.local_content_snapshot.status || 'todo';
  show($('dlg-actions'), false);
  show($('merge-form'), true);
  $('merge-title').focus();
}

function closeMerge() {
  show($('merge-form'), false);
  show($('dlg-actions'), true);
  $('merge-open').focus();
}

function submitMerge(event) {
  event.preventDefault();
  const title = $('merge-title').value.trim();
  if (!title) return showDialogError('The merged title cannot be empty.', $('merge-title'));
  return resolveConflict('merge', { title, description: $('merge-desc').value, status: $('merge-status').value });
}

function showDialogError(text, field) {
  $('dlg-error').textContent = text;
  show($('dlg-error'), true);
  if (field) { field.setAttribute('aria-invalid', 'true'); field.focus(); }
}

async function resolveConflict(action, merged) {
  const c = state.conflict;
  const body = merged ? { action, merged_content: merged } : { action };
  const buttons = $('conflict-dialog').querySelectorAll('button');
  buttons.forEach((b) => { b.disabled = true; });
  try {
    await api('POST', `/conflicts/${c.id}/resolve`, body);
  } catch (err) {
    if (err.status === 401) return;
    const field = err.field === 'description' ? $('merge-desc') : err.field ? $('merge-title') : null;
    showDialogError(errorText(err, 'resolve'), merged ? field : null);
    if (err.status === 409) loadTasksAndConflicts();
    return;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
  $('conflict-dialog').close();
  notify(`Conflict resolved: ${ACTION_TEXT[action]}.`, 'ok');
  await loadTasksAndConflicts();
}

function onDialogClose() {
  $('merge-title').removeAttribute('aria-invalid');
  const opener = state.opener;
  state.conflict = null;
  state.opener = null;
  // The opener may have been re-rendered; fall back to the conflicts heading's section.
  if (opener && opener.isConnected) opener.focus();
  else if (state.token) $('show-pending').focus();
}

// ---- 9. boot --------------------------------------------------------------------------
function wire() {
  $('signin-form').addEventListener('submit', signIn);
  $('signout').addEventListener('click', signOut);
  $('notice-close').addEventListener('click', () => show($('notice'), false));
  $('project-form').addEventListener('submit', createProject);
  $('sync-form').addEventListener('submit', connectRepo);
  for (const radio of $('sync-form').querySelectorAll('[name="auth_mode"]')) radio.addEventListener('change', showMode);
  $('sync-edit').addEventListener('click', openEdit);
  $('sync-cancel').addEventListener('click', closeEdit);
  $('sync-now').addEventListener('click', syncNow);
  $('sync-toggle').addEventListener('click', toggleSync);
  $('two-way-toggle').addEventListener('click', toggleTwoWay);
  $('offer-accept').addEventListener('click', () => answerOffer(true));
  $('offer-decline').addEventListener('click', () => answerOffer(false));
  $('task-form').addEventListener('submit', createTask);
  $('hook-reveal').addEventListener('click', revealSecret);
  $('hook-install').addEventListener('click', installHook);
  $('show-pending').addEventListener('click', () => setFilter('pending'));
  $('show-resolved').addEventListener('click', () => setFilter('resolved'));
  $('task-search-form').addEventListener('submit', searchTasks);
  $('tasks-more').addEventListener('click', loadMoreTasks);
  const dialog = $('conflict-dialog');
  dialog.querySelectorAll('[data-action]').forEach((b) => b.addEventListener('click', () => resolveConflict(b.dataset.action)));
  $('merge-open').addEventListener('click', openMerge);
  $('merge-back').addEventListener('click', closeMerge);
  $('merge-form').addEventListener('submit', submitMerge);
  $('use-remote-title').addEventListener('click', () => { $('merge-title').value = state.conflict.remote_content_snapshot.title; });
  $('resolve-later').addEventListener('click', () => dialog.close());
  $('dlg-close').addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', onDialogClose);
  let pending = 0;
  window.addEventListener('resize', () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(renderChart);
  });
}

function boot() {
  wire();
  state.token = sessionStorage.getItem(TOKEN_KEY);
  if (!state.token) return showSignIn();
  return api('GET', '/projects').then((projects) => {
    state.projects = projects;
    return enterApp();
  }, (err) => {
    if (err.status !== 401) showSignIn(errorText(err));
  });
}

document.addEventListener('DOMContentLoaded', boot);
