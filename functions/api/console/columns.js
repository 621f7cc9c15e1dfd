// @ts-check
// The board's columns as data (board.js draws them): the request path of a column's page,
// merging a page into the columns (each card once), refreshing a column from its first page
// read again, placing a moved card and putting it back (and placing the moves still on their
// way again after a refresh), settling a card read again, the order of what the board learns
// about a card (a late answer is dropped), the Move menu's focus, and the board's sentences.
// Pure functions over values, so the unit tests run them in Node
// (console-test/unit/board.test.mjs).

import { STATUS, addFilters } from './tasks.js';

/** @typedef {import('../../../shared/types').TaskWithLink} TaskWithLink */
/** @typedef {import('../../../shared/types').TaskStatus} TaskStatus */
/** @typedef {import('./state.js').Board} Board */
/** @typedef {import('./state.js').Column} Column */
/** @typedef {import('./state.js').Filters} Filters */

/**
 * Where a moved card was before its move (to put it back), and the card as it was.
 * @typedef {{ from: TaskStatus, index: number, task: TaskWithLink }} Placed
 */

/** A column loads its next page when its end is this close (pixels) below what it shows. */
const NEAR_END_PX = 250;

/** Cards per page each column asks for. */
export const BOARD_PAGE = 50;

/** The columns, in the board's order. */
export const COLUMNS = /** @type {TaskStatus[]} */ (Object.keys(STATUS));

/**
 * A column's page of tasks, newest-updated first: the first (`cursor` null) or the next one.
 * @param {string | null} pid
 * @param {TaskStatus} status
 * @param {Filters} filters
 * @param {string | null} cursor
 */
export function columnPath(pid, status, filters, cursor) {
  const q = addFilters(new URLSearchParams({ status, sort: 'updated', limit: String(BOARD_PAGE) }), filters);
  if (cursor) q.set('cursor', cursor);
  return `/projects/${pid}/tasks?${q}`;
}

/**
 * The tasks of a page the board does not show yet, once each (a task updated while the
 * columns page on can arrive twice).
 * @param {TaskWithLink[]} incoming
 * @param {Iterable<string>} shown the ids the board shows
 * @returns {TaskWithLink[]}
 */
export function newCards(incoming, shown) {
  const seen = new Set(shown);
  /** @type {TaskWithLink[]} */
  const fresh = [];
  for (const t of incoming) {
    if (seen.has(t.id)) continue;
    seen.add(t.id);
    fresh.push(t);
  }
  return fresh;
}

/**
 * The ids of every card on the board.
 * @param {Record<TaskStatus, Column>} columns
 */
export const boardIds = (columns) => new Set(COLUMNS.flatMap((s) => columns[s].items.map((t) => t.id)));

/**
 * Five empty columns, before their first page.
 * @returns {Record<TaskStatus, Column>}
 */
export function emptyColumns() {
  /** @type {Partial<Record<TaskStatus, Column>>} */
  const columns = {};
  for (const s of COLUMNS) columns[s] = { items: [], cursor: null, pages: 0, loading: false, loaded: false, failed: false };
  return /** @type {Record<TaskStatus, Column>} */ (columns);
}

/**
 * Where a card is: its column and its place in it, or null when the board does not show it.
 * @param {Record<TaskStatus, Column>} columns
 * @param {string} id
 * @returns {{ status: TaskStatus, index: number } | null}
 */
export function locate(columns, id) {
  for (const status of COLUMNS) {
    const index = columns[status].items.findIndex((t) => t.id === id);
    if (index >= 0) return { status, index };
  }
  return null;
}

/**
 * Moves a card to the top of column `to`, with that status (the move shown before the
 * server answers). Null when the board does not show it, or it is in `to` already.
 * @param {Record<TaskStatus, Column>} columns changed in place
 * @param {string} id
 * @param {TaskStatus} to
 * @returns {Placed | null}
 */
export function placeCard(columns, id, to) {
  const at = locate(columns, id);
  if (!at || at.status === to) return null;
  const [task] = columns[at.status].items.splice(at.index, 1);
  columns[to].items.unshift({ ...task, status: to });
  return { from: at.status, index: at.index, task };
}

/**
 * Undoes placeCard: the card as it was, where it was.
 * @param {Record<TaskStatus, Column>} columns changed in place
 * @param {Placed} placed
 */
export function putBack(columns, placed) {
  dropCard(columns, placed.task.id);
  const items = columns[placed.from].items;
  items.splice(Math.min(placed.index, items.length), 0, placed.task);
}

/**
 * Takes a card off the board (its task is gone).
 * @param {Record<TaskStatus, Column>} columns changed in place
 * @param {string} id
 */
export function dropCard(columns, id) {
  const at = locate(columns, id);
  if (at) columns[at.status].items.splice(at.index, 1);
}

/**
 * Puts a task read again where it belongs: in place when its column is unchanged, else on
 * top of its column (it was just updated, so it is the newest there).
 * @param {Record<TaskStatus, Column>} columns changed in place
 * @param {TaskWithLink} task
 */
export function settleCard(columns, task) {
  const at = locate(columns, task.id);
  if (at && at.status === task.status) {
    columns[at.status].items[at.index] = task;
    return;
  }
  dropCard(columns, task.id);
  columns[task.status].items.unshift(task);
}

/**
 * Whether two sets of filters are the same (the board is then refreshed in place, not read afresh).
 * @param {Filters} a
 * @param {Filters} b
 */
export const sameFilters = (a, b) => a.q === b.q && a.label === b.label && a.assignee === b.assignee && a.milestone === b.milestone;

/**
 * Whether the board shows a later version of a task than `task` (a page read before the task
 * last changed).
 * @param {Record<TaskStatus, Column>} columns
 * @param {TaskWithLink} task
 */
export function showsLater(columns, task) {
  const at = locate(columns, task.id);
  return at !== null && Date.parse(columns[at.status].items[at.index].updated_at) > Date.parse(task.updated_at);
}

/**
 * Refreshes column `status` in place from its first page read again: the page's tasks, in its
 * order, then the column's other cards as they were (the pages loaded after the first stay).
 * A task of the page shown in another column moves here; a task that `keep` holds back (a
 * move of it is on its way, or the board knows a later version) stays as and where the board
 * shows it: at the page's place when it is in this column, else where it is. Returns the ids
 * taken from the page.
 * @param {Record<TaskStatus, Column>} columns changed in place
 * @param {TaskStatus} status
 * @param {TaskWithLink[]} page
 * @param {(task: TaskWithLink) => boolean} keep
 * @returns {string[]}
 */
export function mergeFirstPage(columns, status, page, keep) {
  /** @type {TaskWithLink[]} */
  const top = [];
  /** @type {string[]} */
  const taken = [];
  const seen = new Set();
  for (const t of page) {
    if (seen.has(t.id)) continue;
    seen.add(t.id);
    if (keep(t)) {
      const here = columns[status].items.find((c) => c.id === t.id);
      if (here) top.push(here);
      continue;
    }
    top.push(t);
    taken.push(t.id);
  }
  const moved = new Set(taken);
  for (const s of COLUMNS) if (s !== status) columns[s].items = columns[s].items.filter((c) => !moved.has(c.id));
  const ids = new Set(top.map((t) => t.id));
  columns[status].items = top.concat(columns[status].items.filter((c) => !ids.has(c.id)));
  return taken;
}

/**
 * Shows the moves still on their way (oldest first: card id, column it goes to) as placeCard
 * did: each card the board shows goes to the top of its new column, the newest move on top.
 * A refresh or a new load of the board may have read a card before its move was saved.
 * @param {Record<TaskStatus, Column>} columns changed in place
 * @param {Array<[string, TaskStatus]>} moves
 */
export function placeMoves(columns, moves) {
  for (const [id, to] of moves) {
    const at = locate(columns, id);
    if (!at) continue;
    const [task] = columns[at.status].items.splice(at.index, 1);
    columns[to].items.unshift(at.status === to ? task : { ...task, status: to });
  }
}

/**
 * The order of what the board learns about its cards. Each move or read of a card, and each
 * refresh of the columns (their first pages read again), takes the next number when it starts;
 * a card remembers the number of the last move or read of it, and of the last refresh that
 * showed it. An answer numbered `n` is news for a card only when nothing about that card
 * started after it: an older read answering late, or out of order, is dropped.
 * @typedef {{ last: number, cards: Map<string, number> }} Sequence
 */

/** @returns {Sequence} */
export const newSequence = () => ({ last: 0, cards: new Map() });

/**
 * A move or a read of one card starts: its number, which makes every older answer about the card old.
 * @param {Sequence} seq changed in place
 * @param {string} id
 */
export function startCard(seq, id) {
  seq.last += 1;
  seq.cards.set(id, seq.last);
  return seq.last;
}

/**
 * A refresh (pages of many cards) starts: its number. The cards it shows take it (markShown).
 * @param {Sequence} seq changed in place
 */
export function startPages(seq) {
  seq.last += 1;
  return seq.last;
}

/**
 * Whether an answer numbered `n` is news for card `id`.
 * @param {Sequence} seq
 * @param {string} id
 * @param {number} n
 */
export const isNews = (seq, id, n) => (seq.cards.get(id) || 0) <= n;

/**
 * A refresh numbered `n` showed card `id`: an older read of it now answers too late.
 * @param {Sequence} seq changed in place
 * @param {string} id
 * @param {number} n
 */
export function markShown(seq, id, n) {
  if (isNews(seq, id, n)) seq.cards.set(id, n);
}

/**
 * The four columns a card can move to from `status`.
 * @param {TaskStatus} status
 */
export const otherColumns = (status) => COLUMNS.filter((s) => s !== status);

/**
 * Which menu item a key moves the focus to (-1: the key is not a menu key). From none
 * (`current` -1), ArrowDown goes to the first item and ArrowUp to the last; both wrap.
 * @param {string} key
 * @param {number} current
 * @param {number} count
 */
export function menuIndex(key, current, count) {
  if (count === 0) return -1;
  switch (key) {
    case 'ArrowDown': return current < 0 ? 0 : (current + 1) % count;
    case 'ArrowUp': return current <= 0 ? count - 1 : current - 1;
    case 'Home': return 0;
    case 'End': return count - 1;
    default: return -1;
  }
}

/**
 * Whether a column scrolled this far is near its end (its next page is due).
 * @param {number} scrollTop
 * @param {number} clientHeight
 * @param {number} scrollHeight
 */
export const nearEnd = (scrollTop, clientHeight, scrollHeight) => scrollTop + clientHeight >= scrollHeight - NEAR_END_PX;

/**
 * A card's name for buttons: "#12 Title", or the title of a local task.
 * @param {TaskWithLink} t
 */
export const cardName = (t) => (t.github ? `#${t.github.issue_number} ${t.title}` : t.title);

/**
 * A card in an announcement: "#12", or the quoted title of a local task.
 * @param {TaskWithLink} t
 */
export const shortName = (t) => (t.github ? `#${t.github.issue_number}` : `“${t.title}”`);

/**
 * What the live region says when a move ends.
 * @param {TaskWithLink} t
 * @param {TaskStatus} to
 * @param {boolean} done
 */
export const movedText = (t, to, done) => (done ? `Moved ${shortName(t)} to ${STATUS[to]}.`
  : `${shortName(t)} was not moved to ${STATUS[to]}; it is back in ${STATUS[t.status]}.`);

/**
 * A comment count in words: "No comments", "1 comment", "3 comments".
 * @param {number} n
 */
export const commentsText = (n) => (n === 0 ? 'No comments' : `${n} comment${n === 1 ? '' : 's'}`);

/**
 * The line under a column's heading.
 * @param {Column} column
 * @param {boolean} filtered
 */
export function columnText(column, filtered) {
  if (!column.loaded) return column.failed ? 'This column could not be loaded.' : 'Loading…';
  const n = column.items.length;
  if (n === 0) return column.cursor ? 'More to load.' : filtered ? 'No task matches the filters.' : 'No tasks.';
  return `${n} task${n === 1 ? '' : 's'}${column.cursor ? ', more to load' : ''}.`;
}
