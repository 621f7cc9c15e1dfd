// @ts-check
// The tasks card: its List view, the project's tasks a page at a time, each with its issue
// link, labels, GitHub state and sync state, and the actions of that row (review a conflict,
// publish to GitHub, retry a push); the search form's filters (title, label, assignee,
// milestone), which the Board view (board.js) uses too; and the new-task form. It loads the
// conflicts together with the tasks, since a row (or a card) shows its conflict; when the
// board is the view shown it has board.js load it (see useBoard: board.js imports this
// module, never the other way round). The list never shows rows read for another project or
// other filters. A task's pieces (issue link, title button, details: label chips, assignees,
// milestone; sync cell) are exported for the board's cards. A task's title opens its detail
// dialog (thread.js) with the same facts the row shows.

import { api, guard } from './api.js';
import { openConflictForTask, renderConflicts } from './conflicts.js';
import { $, el, fmtRelative, fmtTime, notify, show } from './dom.js';
import { noFilters, state } from './state.js';
import { openDetail } from './thread.js';

/** @typedef {import('../../../shared/types').Task} Task */
/** @typedef {import('../../../shared/types').TaskWithLink} TaskWithLink */
/** @typedef {import('../../../shared/types').TaskPage} TaskPage */
/** @typedef {import('../../../shared/types').TaskStatus} TaskStatus */
/** @typedef {import('../../../shared/types').ConflictPage} ConflictPage */
/** @typedef {import('../../../shared/types').GitHubLink} GitHubLink */
/** @typedef {import('../../../shared/types').PushWaiting} PushWaiting */
/** @typedef {import('../../../shared/types').Pushed} Pushed */
/** @typedef {import('./thread.js').Fact} Fact */
/** @typedef {import('./state.js').Filters} Filters */

/** Tasks per page the console asks for (the API pages every list). */
const TASK_PAGE = 100;

/** @type {Record<TaskStatus, string>} */
export const STATUS = { todo: 'To do', inprogress: 'In progress', inreview: 'In review', done: 'Done', cancelled: 'Cancelled' };

/**
 * Whether a string (a select's value) is a task's column.
 * @param {string} value
 * @returns {value is TaskStatus}
 */
export const isTaskStatus = (value) => Object.hasOwn(STATUS, value);

/**
 * The issue's state on GitHub: its text and badge class.
 * @type {Partial<Record<string, [string, string]>>}
 */
export const REMOTE = {
  open: ['Open', ''], completed: ['Closed (completed)', ''], not_planned: ['Closed (not planned)', ''],
  deleted: ['Deleted on GitHub', 'warn'], transferred: ['Transferred to another repository', 'warn'],
};

/** The search form's filters as the person last applied them (never changed in place). */
export const currentFilters = () => state.filters;

/**
 * Adds the filters that are set to a request's query, in a fixed order.
 * @param {URLSearchParams} query
 * @param {Filters} filters
 */
export function addFilters(query, filters) {
  for (const key of /** @type {const} */ (['q', 'label', 'assignee', 'milestone'])) {
    if (filters[key]) query.set(key, filters[key]);
  }
  return query;
}

/**
 * Whether any filter is set (an empty view then says that nothing matches).
 * @param {Filters} filters
 */
export const isFiltered = (filters) => Boolean(filters.q || filters.label || filters.assignee || filters.milestone);

/**
 * The first page of tasks (as the search form filters them), or the next one (`cursor`).
 * @param {string | null} pid
 * @param {string | null} cursor
 */
export function tasksPath(pid, cursor) {
  const q = addFilters(new URLSearchParams({ limit: String(TASK_PAGE) }), currentFilters());
  if (cursor) q.set('cursor', cursor);
  return `/projects/${pid}/tasks?${q}`;
}

/**
 * The Board view, which this module loads and re-renders when it is the view shown.
 * board.js hands it over through useBoard() when it loads.
 * @typedef {object} BoardView
 * @property {() => Promise<void>} load Shows the board for the project and the filters: refreshed in
 *   place when it shows them already (its pages, scroll, open menu, focus and moves on their way
 *   kept), else read afresh.
 * @property {() => void} render Shows the loaded cards again (the config changed).
 */

/** @type {BoardView} */
let boardView = { load: async () => {}, render: () => {} };

/** @param {BoardView} view */
export function useBoard(view) {
  boardView = view;
}

/** The view shown (board or list) and the conflicts, read afresh. */
export async function loadTasksAndConflicts() {
  const pid = state.projectId;
  /** @type {[Promise<void>, Promise<ConflictPage | undefined>]} */
  const reads = [
    state.view === 'board' ? boardView.load() : loadList(pid),
    guard('conflicts', () => api('GET', `/projects/${pid}/conflicts?status=${state.filter}`)),
  ];
  const [, conflicts] = await Promise.all(reads);
  if (pid !== state.projectId) return; // the person switched project meanwhile
  if (conflicts) { state.conflicts = conflicts.items; renderConflicts(); }
}

/** What the list's rows were read for (project and filters): rows read for others are never shown. */
let listFor = '';

/**
 * The project and the filters as one string, to compare with `listFor`.
 * @param {string | null} pid
 */
const listKey = (pid) => JSON.stringify([pid, currentFilters()]);

/**
 * The list's first page. Rows read for another project or other filters (changed while the
 * board was shown) are taken away at once, so they never show while the page is read.
 * @param {string | null} pid
 */
async function loadList(pid) {
  const key = listKey(pid);
  if (key !== listFor) {
    listFor = '';
    state.tasks = [];
    state.tasksCursor = null;
    renderList(true);
  }
  /** @type {TaskPage | undefined} */
  const tasks = await guard('tasks', () => api('GET', tasksPath(pid, null)));
  if (!tasks || pid !== state.projectId || listKey(pid) !== key) return;
  listFor = key;
  state.tasks = tasks.items;
  state.tasksCursor = tasks.next_cursor;
  renderList(false);
}

export async function loadMoreTasks() {
  const pid = state.projectId;
  const key = listKey(pid);
  /** @type {TaskPage | undefined} */
  const page = await guard('tasks', () => api('GET', tasksPath(pid, state.tasksCursor)));
  if (!page || pid !== state.projectId || key !== listFor) return;
  state.tasks = state.tasks.concat(page.items);
  state.tasksCursor = page.next_cursor;
  renderList(false);
}

/** The search form's inputs, by filter. */
const FILTER_INPUTS = /** @type {const} */ ([['q', 'task-search'], ['label', 'task-label'], ['assignee', 'task-assignee'], ['milestone', 'task-milestone']]);

/**
 * Puts filters into state (and into the form's inputs, when `fill`), then reloads the view shown.
 * @param {Filters} filters
 * @param {boolean} fill
 */
function applyFilters(filters, fill) {
  state.filters = filters;
  if (fill) for (const [key, id] of FILTER_INPUTS) $(id, HTMLInputElement).value = filters[key];
  return loadTasksAndConflicts();
}

/**
 * "Search": the form's filters apply to the board and to the list.
 * @param {SubmitEvent} event
 */
export function searchTasks(event) {
  event.preventDefault();
  const filters = noFilters();
  for (const [key, id] of FILTER_INPUTS) filters[key] = $(id, HTMLInputElement).value.trim();
  return applyFilters(filters, false);
}

/** "Clear filters": every task again. */
export function clearFilters() {
  return applyFilters(noFilters(), true);
}

/**
 * Filters the tasks by a label chip's name.
 * @param {string} name
 */
function filterByLabel(name) {
  return applyFilters({ ...currentFilters(), label: name }, true);
}

/** @param {SubmitEvent} event */
export async function createTask(event) {
  event.preventDefault();
  const input = $('new-task-title', HTMLInputElement);
  const title = input.value.trim();
  if (!title) { input.setAttribute('aria-invalid', 'true'); input.focus(); return; }
  input.removeAttribute('aria-invalid');
  /** @type {Task | undefined} */
  const task = await guard('task', () => api('POST', `/projects/${state.projectId}/tasks`, { title }));
  if (!task) return;
  $('task-form', HTMLFormElement).reset();
  notify(`Task “${task.title}” added.`, 'ok');
  await loadTasksAndConflicts();
}

/**
 * @param {TaskWithLink} t
 * @param {HTMLButtonElement} button
 */
async function publishTask(t, button) {
  button.disabled = true;
  button.textContent = 'Publishing…';
  /** @type {Task | undefined} */
  const task = await guard('publish', () => api('POST', `/tasks/${t.id}/github-issue`));
  if (!task) { button.disabled = false; button.textContent = 'Publish to GitHub'; return; }
  // 202: GitHub's answer did not come; the worker finishes it (never a second issue).
  notify(task.github_issue_url ? `Published as ${task.github_issue_url}.`
    : 'GitHub did not answer in time: the publication is finished in the background.', 'ok');
  await loadTasksAndConflicts();
}

/** Shows the loaded tasks again in the view shown (the config changed: a row's actions depend on it). */
export function renderTasks() {
  if (state.view === 'board') boardView.render();
  else renderList(!listFor);
}

/**
 * Shows the loaded tasks in the list, or (`loading`) no rows while its first page is read.
 * @param {boolean} loading
 */
function renderList(loading) {
  const tasks = state.tasks;
  $('tasks-body').replaceChildren(...tasks.map(taskRow));
  $('tasks-empty').textContent = isFiltered(currentFilters()) ? 'No task matches the search.'
    : 'No tasks yet. Run a sync to import the repository\'s issues.';
  show($('tasks-empty'), !loading && tasks.length === 0);
  show($('tasks-table'), tasks.length > 0);
  $('tasks-count').textContent = loading ? 'Loading…'
    : tasks.length ? `${tasks.length} task${tasks.length === 1 ? '' : 's'} shown${state.tasksCursor ? ', more to load' : ''}.` : '';
  show($('tasks-more'), Boolean(state.tasksCursor));
}

/**
 * A task's title as the button that opens its detail dialog (a row's, a card's): reachable
 * with Tab and announced as an action, not a clickable cell.
 * @param {TaskWithLink} t
 */
export const titleButton = (t) => el('button', { type: 'button', class: 'link task-open', 'aria-haspopup': 'dialog',
  title: 'Details and comments', text: t.title, onclick: (e) => openTask(t, e.currentTarget) });

/** @param {TaskWithLink} t */
function taskRow(t) {
  const gh = t.github;
  return el('tr', { 'data-task': t.id },
    el('td', { 'data-label': 'Issue' }, issueLink(gh)),
    el('td', { 'data-label': 'Title', class: 'title' }, titleButton(t)),
    el('td', { 'data-label': 'Labels' }, issueDetails(gh)),
    el('td', { 'data-label': 'Status', text: STATUS[t.status] || t.status }),
    el('td', { 'data-label': 'On GitHub' }, remoteBadge(gh)),
    el('td', { 'data-label': 'Sync' }, syncCell(t)));
}

/** @param {GitHubLink | null} gh */
export const issueLink = (gh) => (gh ? el('a', { href: gh.issue_url, target: '_blank', rel: 'noopener noreferrer', text: `#${gh.issue_number}` })
  : el('span', { class: 'muted', text: 'local' }));

/**
 * The issue's state on GitHub, as a badge when it is a warning.
 * @param {GitHubLink | null} gh
 */
function remoteBadge(gh) {
  const [text, badge] = gh ? REMOTE[gh.remote_state] || [gh.remote_state, ''] : ['—', ''];
  return badge ? el('span', { class: `badge ${badge}`, text }) : text;
}

/**
 * Opens a task's detail dialog: the row's facts, one per line, then its thread.
 * @param {TaskWithLink} t
 * @param {HTMLElement} opener
 */
function openTask(t, opener) {
  const gh = t.github;
  const none = () => el('span', { class: 'muted', text: '—' });
  /** @type {Fact[]} */
  const facts = [['Issue', issueLink(gh)], ['Column', STATUS[t.status] || t.status]];
  if (gh) {
    facts.push(['On GitHub', remoteBadge(gh)],
      ['Labels', gh.labels.length ? el('div', { class: 'details' }, ...labelChips(gh, false)) : none()],
      ['Assignees', gh.assignees.length ? gh.assignees.map((a) => `@${a}`).join(' ') : none()],
      ['Milestone', gh.milestone || none()],
      ['Last synced', el('time', { datetime: gh.last_synced_at, title: fmtTime(gh.last_synced_at), text: fmtRelative(gh.last_synced_at) })]);
  }
  facts.push(['Sync', syncText(t)]);
  return openDetail(t, facts, opener);
}

/**
 * Labels (as chips that filter the tasks), assignees and milestone of a linked task.
 * @param {GitHubLink | null} gh
 */
function issueDetails(gh) {
  const parts = detailParts(gh);
  return parts.length ? el('div', { class: 'details' }, ...parts) : el('span', { class: 'muted', text: '—' });
}

/**
 * A linked task's label chips (they filter the tasks), assignees (@login) and milestone (◷);
 * none for a local task.
 * @param {GitHubLink | null} gh
 * @returns {HTMLElement[]}
 */
export function detailParts(gh) {
  if (!gh) return [];
  const parts = labelChips(gh, true);
  if (gh.assignees.length) parts.push(el('span', { class: 'muted', text: gh.assignees.map((a) => `@${a}`).join(' ') }));
  if (gh.milestone) parts.push(el('span', { class: 'muted', text: `◷ ${gh.milestone}` }));
  return parts;
}

/**
 * The labels in their colours: buttons that filter the tasks (`filter`), or plain chips.
 * @param {GitHubLink} gh
 * @param {boolean} filter
 * @returns {HTMLElement[]}
 */
function labelChips(gh, filter) {
  return gh.labels.map((l) => {
    const chip = filter ? el('button', {
      type: 'button', class: 'chip', title: `Show tasks labelled ${l.name}`, onclick: () => filterByLabel(l.name), text: l.name,
    }) : el('span', { class: 'chip', text: l.name });
    // Through the CSSOM: the console's CSP allows no inline style attributes.
    chip.style.setProperty('--chip', `#${/^[0-9a-fA-F]{6}$/.test(l.color) ? l.color : '8b949e'}`);
    return chip;
  });
}

/**
 * A task's sync state in words (the Sync cell's text without its buttons).
 * @param {TaskWithLink} t
 */
export function syncText(t) {
  const gh = t.github;
  if (!gh) return 'Not linked to GitHub';
  if (gh.sync_conflict_status === 'pending') return 'Conflict: waits for review';
  if (gh.push_error) return `Not on GitHub: ${gh.push_error}`;
  if (gh.push_pending) return waitingText(gh.push_waiting);
  return gh.sync_conflict_status === 'resolved' ? 'Resolved' : 'In sync';
}

/**
 * A task's sync state with its action: the conflict to review, "Publish to GitHub" (a local
 * task of a two-way project), a refusal or a wait with "Retry push", or the state in words.
 * @param {TaskWithLink} t
 */
export function syncCell(t) {
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
    return el('div', { class: 'details' }, el('span', { class: 'error-text', text: syncText(t) }), gh.push_pending ? retry() : '');
  }
  if (gh.push_pending) return el('div', { class: 'details' }, el('span', { class: 'badge warn', text: syncText(t) }), retry());
  return el('span', { class: 'muted', text: syncText(t) });
}

/**
 * Why an edit waits, and until when.
 * @param {PushWaiting | null} w
 */
export function waitingText(w) {
  if (!w) return 'Waiting to reach GitHub';
  if (w.parked === 'one_way') return 'Waiting: two-way sync is off';
  const next = w.next_attempt_at ? ` (next try ${fmtRelative(w.next_attempt_at)})` : '';
  return w.reason ? `Waiting to reach GitHub: ${w.reason}${next}` : `Waiting to reach GitHub${next}`;
}

/** @type {Partial<Record<Pushed['pushed'], string>>} */
const PUSHED_TEXT = {
  sent: 'Sent to GitHub.', nothing: 'GitHub already holds it.', held: 'A conflict waits for you first.',
  pulled: 'GitHub had changed: its version was taken in first.', gone: 'The issue is gone from GitHub.',
  handed_over: 'GitHub is slow: it is sent in the background.', busy: 'It is being sent already.', waiting: 'It waits for its turn.',
};

/**
 * What a push retry did, in a sentence.
 * @param {Pushed} pushed
 */
export function pushedText(pushed) {
  return pushed.pushed === 'refused' ? `GitHub refused it again: ${pushed.message}`
    : pushed.pushed === 'retrying' ? `Not sent yet: ${pushed.message}` : PUSHED_TEXT[pushed.pushed] || 'Retried.';
}

/**
 * @param {TaskWithLink} t
 * @param {HTMLButtonElement} button
 */
async function retryPush(t, button) {
  button.disabled = true;
  /** @type {Pushed | undefined} */
  const pushed = await guard('retry', () => api('POST', `/tasks/${t.id}/push/retry`));
  if (pushed) notify(pushedText(pushed), pushed.pushed === 'refused' ? 'error' : 'ok');
  else button.disabled = false;
  await loadTasksAndConflicts();
}
