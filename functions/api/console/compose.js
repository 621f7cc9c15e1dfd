// @ts-check
// Writing in the task detail dialog's thread (thread.js shows it): the form under the thread
// that posts a comment, and each board comment's own controls, Edit (a form in place of its
// body), Delete, and the conflict block with GitHub's text and the three ways to settle it.
// Kept apart so thread.js stays about reading. It imports only api.js, dom.js and state.js:
// thread.js hands over how to re-render an item through useThread(), so neither module
// imports the other. Every text goes in through textContent or a textarea's value.

import { ApiError, api, errorText } from './api.js';
import { $, el, show } from './dom.js';
import { state } from './state.js';

/** @typedef {import('../../../shared/types').TaskComment} TaskComment */
/** @typedef {import('../../../shared/types').CommentConflict} CommentConflict */
/** @typedef {import('../../../shared/types').NewComment} NewComment */
/** @typedef {import('../../../shared/types').CommentEdit} CommentEdit */
/** @typedef {import('../../../shared/types').ResolveCommentRequest} ResolveCommentRequest */
/** @typedef {import('../../../shared/types').ResolutionAction} ResolutionAction */
/** @typedef {import('./state.js').Thread} Thread */

/**
 * How a write of a comment ended: the API's answer (null: deleted), or why it failed as a
 * sentence ('' for a refused token: main.js has signed out) and the field at fault.
 * @typedef {{ answer: TaskComment | null } | { error: string, field: string | undefined }} Written
 */
/**
 * What thread.js does with an outcome: `settle` puts a comment's new version in place of its
 * item (or removes the item: null); `append` adds a posted comment, true when it is shown.
 * @typedef {object} ThreadHooks
 * @property {(li: HTMLElement, id: string, next: TaskComment | null) => void} settle
 * @property {(thread: Thread, c: TaskComment) => boolean} append
 */

/**
 * What the status says after a comment was posted (`isNew`) or edited: where it is now.
 * @param {TaskComment} c the API's answer
 * @param {boolean} isNew
 */
export function savedText(c, isNew) {
  if (c.push_pending) return 'Comment saved; waiting to reach GitHub.';
  if (c.push_error) return `Comment saved on the board; GitHub refused it: ${c.push_error}`;
  if (c.local_only) return 'Comment saved on the board (two-way sync is off).';
  if (c.github) return isNew ? 'Comment posted to GitHub.' : 'Comment saved on GitHub.';
  return 'Comment saved.';
}

/** @type {Record<ResolutionAction, string>} */
const RESOLVED = {
  keep_local: 'The board’s comment was kept.', accept_github: 'GitHub’s comment was taken.', merge: 'The merged comment was saved.',
};

/** @type {ThreadHooks} */
let hooks = { settle: () => {}, append: () => false };

/**
 * thread.js's renderers, kept as callbacks (see ThreadHooks).
 * @param {ThreadHooks} given
 */
export function useThread(given) {
  hooks = given;
}

// ---- the new-comment form -------------------------------------------------------------

/** The form under the thread that posts a comment, built on the dialog's first opening. */
function composeForm() {
  const built = document.getElementById('comment-form');
  if (built instanceof HTMLFormElement) return built;
  const form = el('form', { id: 'comment-form', class: 'compose', 'aria-label': 'Write a comment', novalidate: true, onsubmit: postComment },
    el('div', { class: 'stack' },
      el('label', { for: 'comment-body', text: 'Comment' }),
      el('textarea', { id: 'comment-body', name: 'body', rows: 4, required: true })),
    el('div', { class: 'stack' },
      el('label', { for: 'comment-author', text: 'Your name' }),
      el('input', { id: 'comment-author', name: 'author', type: 'text', placeholder: 'board', autocomplete: 'name', 'aria-describedby': 'comment-hint' }),
      el('p', { id: 'comment-hint', class: 'hint', text: 'Optional. GitHub shows the comment under this name, or “board”.' })),
    el('p', { id: 'comment-error', class: 'error-box', role: 'alert', hidden: true }),
    el('div', { class: 'row' },
      el('button', { type: 'submit', id: 'comment-post', text: 'Post comment' }),
      el('span', { id: 'comment-status', class: 'muted', role: 'status', 'aria-live': 'polite' })));
  ($('thread-list').closest('section') || $('task-dialog')).append(form);
  return form;
}

/** A new opening of the dialog: an empty comment (the name is kept), no status, no error. */
export function resetCompose() {
  composeForm();
  $('comment-body', HTMLTextAreaElement).value = '';
  $('comment-status').textContent = '';
  composeError('', null);
}

/**
 * Shows why the comment was not posted (an empty text hides the error) and marks the field.
 * @param {string} text
 * @param {HTMLElement | null} field
 */
function composeError(text, field) {
  $('comment-error').textContent = text;
  show($('comment-error'), Boolean(text));
  for (const id of ['comment-body', 'comment-author']) $(id).removeAttribute('aria-invalid');
  if (field) { field.setAttribute('aria-invalid', 'true'); field.focus(); }
}

/**
 * "Post comment": sends the text (and the name, when given) for the dialog's task, then shows
 * the comment at the thread's end and says where it went.
 * @param {Event} event
 */
async function postComment(event) {
  event.preventDefault();
  const thread = state.thread;
  if (!thread) return;
  const text = $('comment-body', HTMLTextAreaElement);
  const name = $('comment-author', HTMLInputElement);
  const button = $('comment-post', HTMLButtonElement);
  const status = $('comment-status');
  composeError('', null);
  if (!text.value.trim()) { composeError('Write the comment first.', text); return; }
  /** @type {NewComment} */
  const body = { body: text.value };
  if (name.value.trim()) body.author = name.value.trim();
  button.disabled = true;
  status.textContent = 'Posting…';
  const done = await write('POST', `/tasks/${encodeURIComponent(thread.task.id)}/comments`, body);
  button.disabled = false;
  if (state.thread !== thread) return; // closed, or opened on another task meanwhile
  if ('error' in done) {
    status.textContent = '';
    if (done.error) composeError(done.error, done.field === 'author' ? name : text);
    return;
  }
  if (!done.answer) return;
  text.value = '';
  const shown = hooks.append(thread, done.answer);
  status.textContent = savedText(done.answer, true) + (shown ? '' : ' It is at the end of the thread.');
}

// ---- a comment's own controls ---------------------------------------------------------

/**
 * What a comment gets under its body: the conflict block when it changed on both sides, and
 * Edit / Delete when it was written on the board (Edit waits while a conflict is open). The
 * buttons' names say whose comment and when, `who` ("Ana, 2 Mar 2026, 10:00:00").
 * @param {HTMLElement} li the comment's item
 * @param {TaskComment} c
 * @param {string} who
 * @returns {HTMLElement[]}
 */
export function commentControls(li, c, who) {
  const controls = c.conflict ? [conflictBlock(li, c, c.conflict, who)] : [];
  if (c.origin !== 'board') return controls;
  const edit = c.conflict ? null : el('button', {
    type: 'button', class: 'secondary', text: 'Edit', 'aria-label': `Edit comment by ${who}`,
    onclick: (event) => startEdit(li, c, event.currentTarget),
  });
  return controls.concat(el('div', { class: 'comment-actions' }, edit, el('button', {
    type: 'button', class: 'secondary danger', text: 'Delete', 'aria-label': `Delete comment by ${who}`,
    onclick: (event) => deleteComment(li, c, who, event.currentTarget),
  })));
}

/**
 * Replaces the comment's body with a form to edit it; Save re-renders the comment.
 * @param {HTMLElement} li
 * @param {TaskComment} c
 * @param {HTMLButtonElement} opener focus returns there on Cancel
 */
function startEdit(li, c, opener) {
  const replaced = [...li.children].filter((n) => n.classList.contains('comment-body') || n.classList.contains('comment-actions'));
  const path = `/comments/${encodeURIComponent(c.id)}`;
  const form = textForm('Edit comment', c.body, 'Save',
    (body) => change(li, c, 'PATCH', path, /** @type {CommentEdit} */ ({ body }), (next) => (next ? savedText(next, false) : 'Comment deleted.')),
    () => {
      form.remove();
      replaced.forEach((n) => { if (n instanceof HTMLElement) show(n, true); });
      opener.focus();
    });
  replaced.forEach((n) => { if (n instanceof HTMLElement) show(n, false); });
  li.insertBefore(form, replaced[0] || null);
  form.querySelector('textarea')?.focus();
}

/**
 * Deletes a board comment once confirmed; its item leaves the list.
 * @param {HTMLElement} li
 * @param {TaskComment} c
 * @param {string} who
 * @param {HTMLButtonElement} button
 */
async function deleteComment(li, c, who, button) {
  const onGitHub = c.github && !c.local_only ? ' It is deleted on GitHub too.' : '';
  if (!confirm(`Delete the comment by ${who}?${onGitHub}`)) return;
  button.disabled = true;
  const failure = await change(li, c, 'DELETE', `/comments/${encodeURIComponent(c.id)}`, undefined, () => 'Comment deleted.');
  button.disabled = false;
  if (failure) itemError(li, failure);
}

/**
 * A comment changed on both sides: GitHub's text (or that GitHub deleted it) and the three
 * ways to settle it, in a group named after the comment.
 * @param {HTMLElement} li
 * @param {TaskComment} c
 * @param {CommentConflict} conflict
 * @param {string} who
 */
function conflictBlock(li, c, conflict, who) {
  const theirs = conflict.github_body === null
    ? el('p', { class: 'comment-theirs deleted', text: 'Deleted on GitHub' })
    : el('div', { class: 'comment-theirs', text: conflict.github_body });
  const buttons = el('div', { class: 'row' },
    resolveButton(li, c, 'keep_local', 'Keep the board\'s'), resolveButton(li, c, 'accept_github', 'Accept GitHub\'s'));
  buttons.append(el('button', { type: 'button', class: 'secondary', text: 'Merge…', onclick: (event) => startMerge(li, c, buttons, event.currentTarget) }));
  return el('div', { class: 'comment-conflict', role: 'group', 'aria-label': `Conflict: comment by ${who}` },
    el('p', { class: 'comment-conflict-h', text: 'Changed on GitHub too. GitHub’s version:' }),
    theirs, buttons);
}

/**
 * A conflict button that settles it at once (keep the board's, accept GitHub's).
 * @param {HTMLElement} li
 * @param {TaskComment} c
 * @param {ResolutionAction} action
 * @param {string} text
 */
function resolveButton(li, c, action, text) {
  return el('button', { type: 'button', class: 'secondary', text, onclick: async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    const failure = await resolve(li, c, { action });
    button.disabled = false;
    if (failure) itemError(li, failure);
  } });
}

/**
 * "Merge…": the board's text in a form, to edit into the merged comment, in place of the buttons.
 * @param {HTMLElement} li
 * @param {TaskComment} c
 * @param {HTMLElement} buttons
 * @param {HTMLButtonElement} opener focus returns there on Cancel
 */
function startMerge(li, c, buttons, opener) {
  const form = textForm('Merged comment', c.body, 'Save merge', (body) => resolve(li, c, { action: 'merge', body }), () => {
    form.remove();
    show(buttons, true);
    opener.focus();
  });
  show(buttons, false);
  buttons.after(form);
  form.querySelector('textarea')?.focus();
}

/**
 * Settles a comment's conflict; the comment is re-rendered.
 * @param {HTMLElement} li
 * @param {TaskComment} c
 * @param {ResolveCommentRequest} request
 */
function resolve(li, c, request) {
  return change(li, c, 'POST', `/comments/${encodeURIComponent(c.id)}/resolve`, request,
    (next) => `${RESOLVED[request.action]}${next && next.push_pending ? ' It is waiting to reach GitHub.' : ''}`);
}

/** Numbers the textareas of the forms inside comments (their labels point at them by id). */
let formSeq = 0;

/**
 * A comment's text in a form inside the comment (editing it, merging its conflict): a
 * labelled textarea, its error line, and Save / Cancel.
 * @param {string} label the textarea's label
 * @param {string} value the text it starts with
 * @param {string} saveText the submit button's text
 * @param {(text: string) => Promise<string | null>} save sends the text: resolves to why it
 *   failed, or null once the comment was re-rendered (this form is gone then)
 * @param {() => void} cancel
 */
function textForm(label, value, saveText, save, cancel) {
  formSeq += 1;
  const id = `comment-text-${formSeq}`;
  const area = el('textarea', { id, rows: 5 });
  area.value = value;
  const error = el('p', { class: 'error-box', role: 'alert', hidden: true });
  const submit = el('button', { type: 'submit', text: saveText });
  /** @param {string} text */
  const fail = (text) => {
    error.textContent = text;
    show(error, true);
    area.setAttribute('aria-invalid', 'true');
    area.focus();
  };
  return el('form', { class: 'comment-edit', novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    if (!area.value.trim()) { fail('The comment cannot be empty.'); return; }
    submit.disabled = true;
    const failure = await save(area.value);
    submit.disabled = false;
    if (failure) fail(failure);
  } },
  el('label', { for: id, text: label }), area, error,
  el('div', { class: 'row' }, submit, el('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: cancel })));
}

// ---- requests and their outcome -------------------------------------------------------

/**
 * Sends one write of a comment (see Written).
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<Written>}
 */
async function write(method, path, body) {
  try {
    /** @type {TaskComment | null} */
    const answer = await api(method, path, body);
    return { answer };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { error: err.status === 401 ? '' : errorText(err, 'comment'), field: err.field };
  }
}

/**
 * Sends a change of one comment; once done, thread.js re-renders its item (or removes it: the
 * answer is null) and the status says `said(answer)`.
 * @param {HTMLElement} li
 * @param {TaskComment} c
 * @param {string} method
 * @param {string} path
 * @param {unknown} body
 * @param {(next: TaskComment | null) => string} said
 * @returns {Promise<string | null>} why it failed ('' after a refused token), or null
 */
async function change(li, c, method, path, body, said) {
  const thread = state.thread;
  const done = await write(method, path, body);
  if ('error' in done) return done.error;
  if (!thread || state.thread !== thread) return null; // the dialog closed or moved on meanwhile
  hooks.settle(li, c.id, done.answer);
  $('comment-status').textContent = said(done.answer);
  return null;
}

/**
 * Shows why a button of a comment failed, inside the comment.
 * @param {HTMLElement} li
 * @param {string} text
 */
function itemError(li, text) {
  const shown = li.querySelector(':scope > .comment-error');
  const box = shown instanceof HTMLElement ? shown : li.appendChild(el('p', { class: 'error-box comment-error', role: 'alert' }));
  box.textContent = text;
}
