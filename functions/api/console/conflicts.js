// @ts-check
// The conflicts card and the conflict dialog: the pending or resolved list, the dialog
// with both versions side by side (word diff from diff.js), and its three resolutions:
// keep local, accept GitHub, or a merged version edited in the merge form.

import { ApiError, api, errorText, guard } from './api.js';
import { combinedDescription, diffWords } from './diff.js';
import { $, el, fmtTime, notify, show } from './dom.js';
import { knownTask, state } from './state.js';
import { REMOTE, STATUS, isTaskStatus, loadTasksAndConflicts } from './tasks.js';

/** @typedef {import('../../../shared/types').ConflictResolution} ConflictResolution */
/** @typedef {import('../../../shared/types').ConflictPage} ConflictPage */
/** @typedef {import('../../../shared/types').ConflictStatus} ConflictStatus */
/** @typedef {import('../../../shared/types').ResolutionAction} ResolutionAction */
/** @typedef {import('../../../shared/types').ResolveRequest} ResolveRequest */
/** @typedef {import('../../../shared/types').MergedContent} MergedContent */
/** @typedef {import('./diff.js').DiffOp} DiffOp */

/**
 * Lists the pending or the resolved conflicts.
 * @param {ConflictStatus} filter
 */
export function setFilter(filter) {
  state.filter = filter;
  $('show-pending').setAttribute('aria-pressed', String(filter === 'pending'));
  $('show-resolved').setAttribute('aria-pressed', String(filter === 'resolved'));
  return loadTasksAndConflicts();
}

/** @type {Record<ResolutionAction, string>} */
const ACTION_TEXT = { keep_local: 'kept the local version', accept_github: 'accepted the GitHub version', merge: 'merged' };

/**
 * Whether a string (a button's data-action) is a resolution.
 * @param {string | undefined} value
 * @returns {value is ResolutionAction}
 */
export const isAction = (value) => value !== undefined && Object.hasOwn(ACTION_TEXT, value);

/**
 * What a resolved conflict's resolution did ("" before it is resolved).
 * @param {ConflictResolution} c
 */
const actionText = (c) => (c.resolution_action && ACTION_TEXT[c.resolution_action]) || '';

/**
 * The task as the board and the list show it ("#12 Title"), or `fallback` when it is not loaded.
 * @param {string} taskId
 * @param {string} fallback
 */
function taskLabel(taskId, fallback) {
  const t = knownTask(taskId);
  if (!t) return fallback;
  return t.github ? `#${t.github.issue_number} ${t.title}` : t.title;
}

export function renderConflicts() {
  const pending = state.filter === 'pending';
  $('conflict-list').replaceChildren(...state.conflicts.map((c) => el('li', { class: 'conflict-item' },
    el('div', {},
      el('strong', { text: taskLabel(c.task_id, c.local_content_snapshot.title) }),
      el('span', { class: 'muted', text: pending ? ` detected ${fmtTime(c.detected_at)}`
        : ` resolved ${fmtTime(c.resolved_at)}: ${actionText(c)}` })),
    el('button', { type: 'button', class: pending ? '' : 'secondary', text: pending ? 'Review' : 'View',
      onclick: (e) => openConflict(c, e.currentTarget) }))));
  $('conflicts-empty').textContent = pending ? 'No pending conflicts.' : 'No resolved conflicts yet.';
  show($('conflicts-empty'), state.conflicts.length === 0);
}

/**
 * Opens the pending conflict of a task (from its row's badge).
 * @param {string} taskId
 * @param {HTMLElement} opener
 */
export async function openConflictForTask(taskId, opener) {
  /** @type {ConflictPage | undefined} */
  const list = await guard('conflicts', () => api('GET', `/projects/${state.projectId}/conflicts?status=pending`));
  const conflict = list && list.items.find((c) => c.task_id === taskId);
  if (conflict) openConflict(conflict, opener);
  else if (list) { notify('That conflict is no longer pending.', 'ok'); loadTasksAndConflicts(); }
}

/**
 * @param {ConflictResolution} c
 * @param {HTMLElement} opener focus returns there when the dialog closes
 */
function openConflict(c, opener) {
  state.conflict = c;
  state.opener = opener;
  const local = c.local_content_snapshot;
  const remote = c.remote_content_snapshot;
  const pending = !c.resolved_at;
  $('dlg-title').textContent = `Conflict: ${taskLabel(c.task_id, local.title)}`;
  $('dlg-meta').textContent = pending
    ? `Detected ${fmtTime(c.detected_at)}. The task and its GitHub issue both changed since the last sync.`
    : `Detected ${fmtTime(c.detected_at)}, resolved ${fmtTime(c.resolved_at)}: ${actionText(c)}.`;
  renderDiff(diffWords(local.title, remote.title), $('local-title'), $('remote-title'));
  renderDiff(diffWords(local.description || '', remote.description || ''), $('local-desc'), $('remote-desc'));
  markEmpty($('local-desc'), local.description);
  markEmpty($('remote-desc'), remote.description);
  $('local-status').textContent = local.status ? STATUS[local.status] || local.status : '—';
  const remoteKey = remote.state === 'open' ? 'open' : remote.state_reason;
  $('remote-state').textContent = remote.state ? ((remoteKey && REMOTE[remoteKey]) || [remote.state])[0] : '—';
  renderResolvedBox(c);
  show($('dlg-actions'), pending);
  show($('merge-form'), false);
  show($('dlg-error'), false);
  const dialog = $('conflict-dialog', HTMLDialogElement);
  dialog.showModal();
  const first = pending ? dialog.querySelector('[data-action]') : $('dlg-close');
  if (first instanceof HTMLElement) first.focus();
}

/**
 * @param {HTMLElement} node
 * @param {string | null} text
 */
function markEmpty(node, text) {
  if (!text) node.replaceChildren(el('em', { class: 'muted', text: '(no description)' }));
}

/** @param {ConflictResolution} c */
function renderResolvedBox(c) {
  const box = $('dlg-resolved');
  const m = c.merged_content;
  box.replaceChildren(...(m ? [el('h3', { text: 'Merged version' }), el('p', { class: 'title', text: m.title }),
    el('p', { class: 'desc', text: m.description || '(no description)' })] : []));
  show(box, Boolean(m));
}

/**
 * Local side: common text plus <del>; GitHub side: common text plus <ins>.
 * @param {DiffOp[]} ops
 * @param {HTMLElement} localNode
 * @param {HTMLElement} remoteNode
 */
function renderDiff(ops, localNode, remoteNode) {
  /**
   * @param {DiffOp} o
   * @param {'del' | 'ins'} tag
   */
  const part = (o, tag) => (o.text.trim() ? el(tag, { text: o.text }) : document.createTextNode(o.text));
  localNode.replaceChildren(...ops.filter((o) => o.op !== 'ins').map((o) => (o.op === 'same' ? o.text : part(o, 'del'))));
  remoteNode.replaceChildren(...ops.filter((o) => o.op !== 'del').map((o) => (o.op === 'same' ? o.text : part(o, 'ins'))));
}

/** Opens the merge form, filled with the local version and both descriptions. */
export function openMerge() {
  const c = state.conflict;
  if (!c) return;
  $('merge-title', HTMLInputElement).value = c.local_content_snapshot.title;
  $('merge-remote-title').textContent = c.remote_content_snapshot.title;
  $('merge-desc', HTMLTextAreaElement).value = combinedDescription(c.local_content_snapshot.description, c.remote_content_snapshot.description);
  const current = knownTask(c.task_id);
  $('merge-status', HTMLSelectElement).value = (current && current.status) || c.local_content_snapshot.status || 'todo';
  show($('dlg-actions'), false);
  show($('merge-form'), true);
  $('merge-title').focus();
}

export function closeMerge() {
  show($('merge-form'), false);
  show($('dlg-actions'), true);
  $('merge-open').focus();
}

/** "Use it": the GitHub title into the merge form. */
export function useRemoteTitle() {
  if (state.conflict) $('merge-title', HTMLInputElement).value = state.conflict.remote_content_snapshot.title;
}

/** @param {SubmitEvent} event */
export function submitMerge(event) {
  event.preventDefault();
  const title = $('merge-title', HTMLInputElement).value.trim();
  if (!title) return showDialogError('The merged title cannot be empty.', $('merge-title'));
  const status = $('merge-status', HTMLSelectElement).value;
  return resolveConflict('merge', {
    title, description: $('merge-desc', HTMLTextAreaElement).value, status: isTaskStatus(status) ? status : undefined,
  });
}

/**
 * @param {string} text
 * @param {HTMLElement | null} field the form field at fault, if any
 */
function showDialogError(text, field) {
  $('dlg-error').textContent = text;
  show($('dlg-error'), true);
  if (field) { field.setAttribute('aria-invalid', 'true'); field.focus(); }
}

/**
 * Resolves the dialog's conflict; `merged` goes with `merge`.
 * @param {ResolutionAction} action
 * @param {MergedContent} [merged]
 */
export async function resolveConflict(action, merged) {
  const c = state.conflict;
  if (!c) return;
  /** @type {ResolveRequest} */
  const body = merged ? { action, merged_content: merged } : { action };
  const buttons = $('conflict-dialog').querySelectorAll('button');
  buttons.forEach((b) => { b.disabled = true; });
  try {
    await api('POST', `/conflicts/${c.id}/resolve`, body);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.status === 401) return;
    const field = err.field === 'description' ? $('merge-desc') : err.field ? $('merge-title') : null;
    showDialogError(errorText(err, 'resolve'), merged ? field : null);
    if (err.status === 409) loadTasksAndConflicts();
    return;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
  $('conflict-dialog', HTMLDialogElement).close();
  notify(`Conflict resolved: ${ACTION_TEXT[action]}.`, 'ok');
  await loadTasksAndConflicts();
}

/** The dialog closed (resolved, "Resolve later", Escape): focus goes back where it came from. */
export function onDialogClose() {
  $('merge-title').removeAttribute('aria-invalid');
  const opener = state.opener;
  state.conflict = null;
  state.opener = null;
  // The opener may have been re-rendered; fall back to the conflicts heading's section.
  if (opener && opener.isConnected) opener.focus();
  else if (state.token) $('show-pending').focus();
}
