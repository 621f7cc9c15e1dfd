// @ts-check
// The task detail dialog: a task's title, description and GitHub facts, and its
// thread, the comments a page at a time, oldest first. tasks.js opens it with the
// facts it already knows how to show; this module owns the dialog, the thread's paging and
// its texts, and compose.js the writing (the new-comment form, a board comment's Edit and
// Delete, settling a comment's conflict), which hands its answers back through useThread().
// It imports only api.js, dom.js, state.js and compose.js, so tasks.js can import it without
// an import cycle. A comment's text, GitHub's or the board's, goes in as text (textContent,
// white-space: pre-wrap) and is never parsed as HTML or Markdown.

import { ApiError, api, errorText } from './api.js';
import { commentControls, resetCompose, useThread } from './compose.js';
import { $, el, fmtRelative, fmtTime, show } from './dom.js';
import { state } from './state.js';

/** @typedef {import('../../../shared/types').TaskComment} TaskComment */
/** @typedef {import('../../../shared/types').TaskCommentPage} TaskCommentPage */
/** @typedef {import('../../../shared/types').TaskWithLink} TaskWithLink */
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
  li.append(...commentControls(li, c, `${m.author}, ${m.exact}`));
  return li;
}

/**
 * Adds a comment posted in the dialog to the end of the list, when the list reaches the end:
 * with pages left to read (or one being read), "Load more" brings it in its place.
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

/**
 * Puts the API's new version of a comment in place of its item (focus moves to it), or takes
 * the item out (focus moves to its neighbour, or to the new-comment form).
 * @param {HTMLElement} li
 * @param {string} id
 * @param {TaskComment | null} next
 */
function settle(li, id, next) {
  const thread = state.thread;
  if (!thread || !li.isConnected) return;
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

// compose.js's writes come back through these two (see its ThreadHooks).
useThread({ settle, append: appendPosted });

/** The dialog closed (✕, Escape): forget the thread, and focus goes back to the task's title. */
export function onDetailClose() {
  const thread = state.thread;
  state.thread = null;
  if (!thread) return;
  // The list or the board may have been re-rendered meanwhile: then the same task's title
  // button in the view shown (a row's or a card's), or the search box.
  const again = [...document.querySelectorAll(`[data-task="${CSS.escape(thread.task.id)}"] button.task-open`)]
    .find((b) => b instanceof HTMLElement && b.getClientRects().length > 0);
  if (thread.opener && thread.opener.isConnected) thread.opener.focus();
  else if (again instanceof HTMLElement) again.focus();
  else if (state.token) $('task-search').focus();
}
