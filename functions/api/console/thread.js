// @ts-check
// The task detail dialog: a task's title, description and GitHub facts, and its
// thread, the comments a page at a time, oldest first, with a form under it to write
// one. tasks.js opens it with the facts it already knows how to show; this module owns the
// dialog, the thread's paging, its texts and its writes: posting a comment, editing or
// deleting one written on the board, and settling one that changed on both sides. It imports
// only api.js, dom.js and state.js, so tasks.js can import it without an import cycle. A
// comment's text, GitHub's or the board's, goes in as text (textContent, white-space:
// pre-wrap) and is never parsed as HTML or Markdown. index.html holds only the thread's list:
// the forms are built here.

import { ApiError, api, errorText } from './api.js';
import { $, el, fmtRelative, fmtTime, show } from './dom.js';
import { state } from './state.js';

/** @typedef {import('../../../shared/types').TaskComment} TaskComment */
/** @typedef {import('../../../shared/types').TaskCommentPage} TaskCommentPage */
/** @typedef {import('../../../shared/types').TaskWithLink} TaskWithLink */
/** @typedef {import('../../../shared/types').NewComment} NewComment */
/** @typedef {import('../../../shared/types').CommentEdit} CommentEdit */
/** @typedef {import('../../../shared/types').ResolveCommentRequest} ResolveCommentRequest */
/** @typedef {import('../../../shared/types').ResolutionAction} ResolutionAction */
/** @typedef {import('./state.js').Thread} Thread */

/**
 * A fact of the dialog's list: its term, and its value as text or an element.
 * @typedef {[string, Node | string]} Fact
 */
/**
 * What a comment's header line shows, as plain values: who (a GitHub comment's login with
 * "@", a board comment's author), where the login links (null: not linkable), when (relative,
 * and the exact time for its title), and whether it was edited (the edit's time, or null).
 * @typedef {{ author: string, href: string | null, when: string, exact: string, edited: string | null }} CommentMeta
 */
/**
 * How a write of a comment ended: the API's answer (null: deleted), or why it failed as a
 * sentence ('' for a refused token: main.js has signed out) and the field at fault.
 * @typedef {{ answer: TaskComment | null } | { error: string, field: string | undefined }} Written
 */

/** Comments per page the console asks for. */
export const COMMENT_PAGE = 50;

/**
 * The first page of a task's comments (`cursor` null), or the page after `cursor`.
 * @param {string} taskId
 * @param {string | null} cursor
 */
export function commentsPath(taskId, cursor) {
  const q = new URLSearchParams({ limit: String(COMMENT_PAGE) });
  if (cursor) q.set('cursor', cursor);
  return `/tasks/${encodeURIComponent(taskId)}/comments?${q}`;
}

/**
 * The URL to link to, or null when it should stay text: only an absolute https URL becomes
 * an href (a `javascript:` or `data:` URL stored on GitHub's side must never be clickable).
 * @param {string | null | undefined} url
 * @returns {string | null}
 */
export function linkableUrl(url) {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' && parsed.hostname ? parsed.href : null;
  } catch {
    return null;
  }
}

/**
 * Whether a comment was changed after it was written (the two times as instants, since the
 * API may spell the same instant two ways).
 * @param {TaskComment} c
 */
export function isEdited(c) {
  const created = Date.parse(c.created_at);
  const updated = Date.parse(c.updated_at);
  return Number.isFinite(created) && Number.isFinite(updated) ? updated !== created : c.updated_at !== c.created_at;
}

/**
 * A comment's header line (see CommentMeta).
 * @param {TaskComment} c
 * @returns {CommentMeta}
 */
export function commentMeta(c) {
  // A board comment that reached GitHub is posted by the token's account: its author is the board's.
  const gh = c.origin === 'board' ? null : c.github;
  return {
    author: gh ? `@${gh.author_login}` : c.author,
    href: gh ? linkableUrl(gh.url) : null,
    when: fmtRelative(c.created_at),
    exact: fmtTime(c.created_at),
    edited: isEdited(c) ? `Edited ${fmtTime(c.updated_at)}` : null,
  };
}

/**
 * The thread's count line: "2 comments", with "more to load" while pages remain.
 * @param {number} n
 * @param {boolean} more
 */
export function countText(n, more) {
  if (n === 0) return more ? 'More comments to load.' : '';
  return `${n} comment${n === 1 ? '' : 's'} shown${more ? ', more to load' : ''}.`;
}

/**
 * A comment's state line ("" for none): whether it waits to reach GitHub, stays on the
 * board, or was refused by GitHub (and why).
 * @param {TaskComment} c
 */
export function stateText(c) {
  const parts = [];
  if (c.push_pending) parts.push('Waiting to reach GitHub');
  if (c.local_only) parts.push('Only on the board');
  if (c.push_error) parts.push(`GitHub refused: ${c.push_error}`);
  return parts.join(' · ');
}

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

/** What the status says after a conflict of a comment was settled, by action. */
const RESOLVED = {
  keep_local: 'The board\'s comment was kept.', accept_github: 'GitHub\'s comment was taken.', merge: 'The merged comment was saved.',
};

// ---- the dialog -----------------------------------------------------------------------

/**
 * Opens the detail dialog on a task and loads the first page of its thread.
 * @param {TaskWithLink} task
 * @param {Fact[]} facts the GitHub facts tasks.js renders (issue, state, labels, sync, …)
 * @param {HTMLElement} opener focus returns there (or to the task's row) when it closes
 */
export function openDetail(task, facts, opener) {
  /** @type {Thread} */
  const thread = { task, comments: [], cursor: null, opener };
  state.thread = thread;
  $('task-dlg-title').textContent = task.title;
  $('task-facts').replaceChildren(...facts.map(([k, v]) => el('div', {}, el('dt', { text: k }), el('dd', {}, v))));
  $('task-desc').replaceChildren(task.description ? task.description : el('em', { class: 'muted', text: '(no description)' }));
  $('thread-list').replaceChildren();
  show($('thread-empty'), false);
  show($('thread-more'), false);
  $('thread-count').textContent = 'Loading comments…';
  resetCompose();
  const dialog = $('task-dialog', HTMLDialogElement);
  if (!dialog.open) dialog.showModal();
  $('task-dlg-close').focus();
  return loadPage(thread);
}

/** "Load more comments": the next page, after the ones shown. */
export function loadMoreComments() {
  const thread = state.thread;
  return thread && thread.cursor ? loadPage(thread) : undefined;
}

/** The threads whose next page is being read (a posted comment waits for it, see appendPosted). */
const loading = new WeakSet();

/**
 * Reads the page after `thread.cursor` and shows it, unless the dialog moved on meanwhile.
 * Errors are shown inside the dialog: the notice bar is behind its backdrop.
 * @param {Thread} thread
 */
async function loadPage(thread) {
  const more = $('thread-more', HTMLButtonElement);
  show($('thread-error'), false); // a retry clears the last failure
  more.disabled = true;
  more.textContent = 'Loading…';
  const first = thread.comments.length;
  /** @type {TaskCommentPage | undefined} */
  let page;
  loading.add(thread);
  try {
    page = await api('GET', commentsPath(thread.task.id, thread.cursor));
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.status === 401 || state.thread !== thread) return; // signed out, or closed
    $('thread-error').textContent = errorText(err, 'comments');
    show($('thread-error'), true);
  } finally {
    loading.delete(thread);
    more.disabled = false;
    more.textContent = 'Load more comments';
  }
  if (state.thread !== thread) return; // closed, or opened on another task meanwhile
  if (page) {
    thread.comments = thread.comments.concat(page.items);
    thread.cursor = page.next_cursor;
    $('thread-list').append(...page.items.map(commentItem));
  }
  renderStatus(thread, !page);
  // After "Load more", reading goes on at the first new comment (the button may be gone).
  const added = first > 0 ? $('thread-list').children[first] : null;
  if (added instanceof HTMLElement) added.focus();
}

/**
 * The count line, "No comments yet." and the "Load more" button, after a page (or a failure).
 * @param {Thread} thread
 * @param {boolean} failed the read failed: an empty list says nothing about the thread
 */
function renderStatus(thread, failed) {
  const n = thread.comments.length;
  show($('thread-empty'), n === 0 && !thread.cursor && !failed);
  show($('thread-more'), Boolean(thread.cursor));
  $('thread-count').textContent = countText(n, Boolean(thread.cursor));
}

/**
 * One comment: its header (author, time, edited, where it is on GitHub), its body as text,
 * its state line, the conflict to settle, and Edit / Delete for a comment written on the board.
 * @param {TaskComment} c
 */
function commentItem(c) {
  const m = commentMeta(c);
  const author = m.href
    ? el('a', { class: 'comment-author', href: m.href, target: '_blank', rel: 'noopener noreferrer', text: m.author })
    : el('span', { class: 'comment-author', text: m.author });
  const copy = c.origin === 'board' && c.github ? linkableUrl(c.github.url) : null;
  const note = stateText(c);
  const li = el('li', { class: 'comment', tabindex: '-1', 'data-comment': c.id },
    el('p', { class: 'comment-meta' }, author, ' commented ',
      el('time', { datetime: c.created_at, title: m.exact, text: m.when }),
      m.edited ? el('span', { class: 'edited', title: m.edited, text: ' · edited' }) : null,
      copy ? ' · ' : null,
      copy ? el('a', { href: copy, target: '_blank', rel: 'noopener noreferrer', text: 'on GitHub' }) : null),
    el('div', { class: 'comment-body', text: c.body }),
    note ? el('p', { class: c.push_error ? 'comment-state error' : 'comment-state', text: note }) : null);
  const who = `${m.author}, ${m.exact}`;
  if (c.conflict) li.append(conflictBlock(li, c, c.conflict, who));
  if (c.origin === 'board') li.append(commentActions(li, c, who));
  return li;
}

/** The dialog closed (✕, Escape): forget the thread, and focus goes back to the task's title. */
export function onDetailClose() {
  const thread = state.thread;
  state.thread = null;
  if (!thread) return;
  // The list may have been re-rendered meanwhile: then the same task's title button, or the search box.
  const row = [...$('tasks-body').querySelectorAll('tr')].find((r) => r instanceof HTMLElement && r.dataset.task === thread.task.id);
  const again = row && row.querySelector('button.task-open');
  if (thread.opener && thread.opener.isConnected) thread.opener.focus();
  else if (again instanceof HTMLElement) again.focus();
  else if (state.token) $('task-search').focus();
}

// ---- writing: the new-comment form ------------------------------------------------------

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
function resetCompose() {
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
    composeError(done.error, done.error ? (done.field === 'author' ? name : text) : null);
    return;
  }
  if (!done.answer) return;
  text.value = '';
  const shown = appendPosted(thread, done.answer);
  status.textContent = savedText(done.answer, true) + (shown ? '' : ' It is at the end of the thread.');
}

/**
 * Adds a posted comment to the end of the list, when the list reaches the end: with pages
 * left to read (or one being read), "Load more" brings it in its place.
 * @param {Thread} thread
 * @param {TaskComment} c
 * @returns {boolean} whether it is shown
 */
function appendPosted(thread, c) {
  if (thread.cursor || loading.has(thread)) return false;
  thread.comments.push(c);
  $('thread-list').append(commentItem(c));
  renderStatus(thread, false);
  return true;
}

// ---- writing: a comment's own controls ----------------------------------------------------

/**
 * Edit and Delete for a comment written on the board (Edit waits while a conflict is open:
 * the conflict's own buttons settle it first). Their names say whose comment, and when.
 * @param {HTMLElement} li
 * @param {TaskComment} c
 * @param {string} who "Ana, 2 Mar 2026, 10:00:00"
 */
function commentActions(li, c, who) {
  const edit = c.conflict ? null : el('button', {
    type: 'button', class: 'secondary', text: 'Edit', 'aria-label': `Edit comment by ${who}`,
    onclick: (event) => startEdit(li, c, event.currentTarget),
  });
  return el('div', { class: 'comment-actions' }, edit, el('button', {
    type: 'button', class: 'secondary danger', text: 'Delete', 'aria-label': `Delete comment by ${who}`,
    onclick: (event) => deleteComment(li, c, event.currentTarget),
  }));
}

/**
 * Replaces the comment's body with a form to edit it; Save re-renders the comment.
 * @param {HTMLElement} li
 * @param {TaskComment} c
 * @param {HTMLButtonElement} opener focus returns there on Cancel
 */
function startEdit(li, c, opener) {
  const hidden = [...li.querySelectorAll(':scope > .comment-body, :scope > .comment-actions')];
  /** @type {CommentEdit} */
  const form = textForm('Edit comment', c.body, 'Save', (body) => change(li, c, 'PATCH', `/comments/${encodeURIComponent(c.id)}`,
    /** @type {CommentEdit} */ ({ body }), (next) => (next ? savedText(next, false) : 'Comment deleted.')), () => {
    form.remove();
    hidden.forEach((node) => { if (node instanceof HTMLElement) show(node, true); });
    opener.focus();
  });
  hidden.forEach((node) => { if (node instanceof HTMLElement) show(node, false); });
  li.querySelector(':scope > .comment-meta')?.after(form);
  form.querySelector('textarea')?.focus();
}

/**
 * Deletes a board comment once confirmed; the item leaves the list.
 * @param {HTMLElement} li
 * @param {TaskComment} c
 * @param {HTMLButtonElement} button
 */
async function deleteComment(li, c, button) {
  const onGitHub = c.github && !c.local_only ? ' It is deleted on GitHub too.' : '';
  if (!confirm(`Delete this comment by ${commentMeta(c).author}?${onGitHub}`)) return;
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
 * @param {NonNullable<TaskComment['conflict']>} conflict
 * @param {string} who
 */
function conflictBlock(li, c, conflict, who) {
  const theirs = conflict.github_body === null
    ? el('p', { class: 'comment-theirs', text: 'Deleted on GitHub' })
    : el('div', { class: 'comment-body comment-theirs', text: conflict.github_body });
  const buttons = el('div', { class: 'row' },
    resolveButton(li, c, 'keep_local', 'Keep the board\'s'),
    resolveButton(li, c, 'accept_github', 'Accept GitHub\'s'),
    el('button', { type: 'button', class: 'secondary', text: 'Merge…', onclick: (event) => startMerge(li, c, buttons, event.currentTarget) }));
  return el('div', { class: 'comment-conflict', role: 'group', 'aria-label': `Conflict: comment by ${who}` },
    el('p', { class: 'comment-conflict-h', title: `Found ${fmtTime(conflict.found_at)}`, text: 'Changed on GitHub too. GitHub’s version:' }),
    theirs, buttons);
}

/**
 * One of the conflict's buttons that settles it at once (keep the board's, accept GitHub's).
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
 * "Merge…": a form with the board's text to edit into the merged comment, in place of the buttons.
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
 * Settles a comment's conflict and re-renders it.
 * @param {HTMLElement} li
 * @param {TaskComment} c
 * @param {ResolveCommentRequest} request
 */
function resolve(li, c, request) {
  return change(li, c, 'POST', `/comments/${encodeURIComponent(c.id)}/resolve`, request, (next) => {
    const waiting = next && next.push_pending ? ' It is waiting to reach GitHub.' : '';
    return `${RESOLVED[request.action]}${waiting}`;
  });
}

/** Distinct ids for the textareas of the forms inside comments. */
let formSeq = 0;

/**
 * A comment's text in a form of its own inside the comment (editing it, merging its conflict):
 * a labelled textarea, its error line, and Save / Cancel.
 * @param {string} label the textarea's label
 * @param {string} value the text it starts with
 * @param {string} saveText the submit button's text
 * @param {(text: string) => Promise<string | null>} save sends the text: resolves to why it
 *   failed, or null once the comment was re-rendered (the form is gone then)
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
    show(error, Boolean(text));
    area.setAttribute('aria-invalid', 'true');
    area.focus();
  };
  return el('form', { class: 'comment-edit', novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    if (!area.value.trim()) { fail('The comment cannot be empty.'); return; }
    submit.disabled = true;
    const failure = await save(area.value);
    submit.disabled = false;
    if (failure !== null) fail(failure);
  } },
  el('label', { for: id, text: label }), area, error,
  el('div', { class: 'row' }, submit, el('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: cancel })));
}

// ---- writing: requests and their outcome ------------------------------------------------

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
 * Sends a change of one comment; once done, re-renders its item (or removes it: the answer is
 * null) and announces `said(answer)`.
 * @param {HTMLElement} li
 * @param {TaskComment} c
 * @param {string} method
 * @param {string} path
 * @param {unknown} body
 * @param {(next: TaskComment | null) => string} said
 * @returns {Promise<string | null>} why it failed, or null
 */
async function change(li, c, method, path, body, said) {
  const done = await write(method, path, body);
  if ('error' in done) return done.error;
  settle(li, c.id, done.answer);
  if (li.isConnected || state.thread) $('comment-status').textContent = said(done.answer);
  return null;
}

/**
 * Puts the API's new version of a comment in place of its item (focus moves to it), or takes
 * the item out (focus moves to its neighbour, or to the new-comment form).
 * @param {HTMLElement} li
 * @param {string} id
 * @param {TaskComment | null} next
 */
function settle(li, id, next) {
  const thread = state.thread;
  if (!thread || !li.isConnected) return; // the dialog closed or moved on meanwhile
  const at = thread.comments.findIndex((x) => x.id === id);
  if (next) {
    if (at >= 0) thread.comments[at] = next;
    const item = commentItem(next);
    li.replaceWith(item);
    item.focus();
    return;
  }
  if (at >= 0) thread.comments.splice(at, 1);
  const neighbour = li.nextElementSibling || li.previousElementSibling;
  li.remove();
  renderStatus(thread, false);
  (neighbour instanceof HTMLElement ? neighbour : $('comment-body')).focus();
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
