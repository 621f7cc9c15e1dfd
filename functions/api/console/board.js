// @ts-check
// The board: the tasks card's Board view (issue 30), the view a project opens on. One column
// per status (To do … Cancelled), each a list of cards, newest-updated first, read a page at a
// time: one page per column when the board opens, the next one when the person scrolls that
// column near its end or presses its "Load more" (so a project of any size opens at once).
// The search form's filters (tasks.js) apply. A reload with the same project and filters (once
// a second while a sync runs, after a retry, a conflict action, a config change) refreshes the
// board in place: the first page of each column read again and merged, the later pages, the
// scroll, an open menu and the focus kept. A card shows the task as a row of the list does,
// with the list's own pieces (issue link, title button, label chips, sync cell from tasks.js),
// and moves to another column by drag and drop or with its "Move to…" menu: on screen at once,
// then PATCH with If-Match (the version the card shows), then the card read again; a refused
// move puts it back and the notice bar says why. A move on its way is kept here, not on the
// board, so a refresh or a new load shows it until it is saved; what the board learns about a
// card is numbered (columns.js's Sequence), so a late answer never undoes a newer one. A card
// of a two-way config has "Edit fields" (its labels, assignees and milestone): the form is
// fields.js's; the board keeps it open (and its focus) when the card is drawn again, and reads
// the card again once it saved. main.js wires the Board | List toggle.
// tasks.js loads the board through useBoard() (this module imports tasks.js, not the other
// way round). The columns as data (request paths, pages merged, cards placed and put back,
// the menu's focus) are columns.js; nothing here touches the document at load.

import { ApiError, api, report } from './api.js';
import { $, el, show, svg } from './dom.js';
import {
  boardIds, cardName, columnPath, COLUMNS, columnText, commentsText, dropCard, emptyColumns, isNews, locate, markShown, menuIndex,
  mergeFirstPage, movedText, nearEnd, newCards, newSequence, otherColumns, placeCard, placeMoves, putBack, sameFilters, settleCard,
  shortName, showsLater, startCard, startPages,
} from './columns.js';
import { closeFields, fieldsButton, keepFields, savedFieldsText, useCards } from './fields.js';
import { state } from './state.js';
import {
  STATUS, currentFilters, detailParts, isFiltered, issueLink, loadTasksAndConflicts, syncCell, titleButton, useBoard,
} from './tasks.js';

/** @typedef {import('../../../shared/types').Task} Task */
/** @typedef {import('../../../shared/types').TaskWithLink} TaskWithLink */
/** @typedef {import('../../../shared/types').TaskPage} TaskPage */
/** @typedef {import('../../../shared/types').TaskStatus} TaskStatus */
/** @typedef {import('./state.js').Board} Board */
/** @typedef {import('./state.js').Column} Column */
/** @typedef {import('./state.js').Filters} Filters */

/** @typedef {import('./columns.js').Placed} Placed */

/** While GitHub does not hold a moved card yet, it is read again this often, at most FOLLOW_TIMES times. */
const FOLLOW_EVERY_MS = 2000;
const FOLLOW_TIMES = 15;

/** The drag data's type: only the board's own cards can be dropped on a column. */
const DRAG_TYPE = 'application/x-ghsync-task';

// ---- moves on their way, and the order of answers ----------------------------------

/**
 * A move on its way: the project, the column the card goes to, where it was (to put it back).
 * @typedef {{ pid: string | null, to: TaskStatus, placed: Placed }} Move
 */

/** The moves on their way, by card id, oldest first. Not on a board: a refresh or a new load keeps showing them. */
/** @type {Map<string, Move>} */
const moves = new Map();

/** What the board learns about each card, in order: an answer older than the card's last move or read is dropped. */
const seq = newSequence();

/**
 * The moves of project `pid` on their way, oldest first, as placeMoves takes them.
 * @param {string | null} pid
 * @returns {Array<[string, TaskStatus]>}
 */
const movesOf = (pid) => [...moves].filter(([, m]) => m.pid === pid).map(([id, m]) => [id, m.to]);

/**
 * The board shown, when it is of project `pid` (whichever load of it): where a move's answer settles.
 * @param {string | null} pid
 */
const boardOf = (pid) => (state.board && state.board.pid === pid && state.projectId === pid ? state.board : null);

// ---- loading --------------------------------------------------------------------------

/**
 * Shows the board for the project and the filters: refreshed in place when it shows them
 * already, else read afresh (one page per column).
 */
async function loadBoard() {
  const shown = state.board;
  if (shown && shown.pid === state.projectId && sameFilters(shown.filters, currentFilters())) return refreshBoard(shown);
  closeMenu(false);
  closeFields(false);
  ensureColumns();
  /** @type {Board} */
  const board = { pid: state.projectId, filters: currentFilters(), columns: emptyColumns(), refreshing: null, again: false };
  state.board = board;
  await Promise.all(COLUMNS.map((s) => loadPage(board, s)));
  return undefined;
}

/**
 * Refreshes the board in place; a refresh asked for while one is under way runs once it ends
 * (never two at once, however often the console reloads). The board is aria-busy meanwhile.
 * @param {Board} board
 * @returns {Promise<void>}
 */
function refreshBoard(board) {
  if (board.refreshing) {
    board.again = true;
    return board.refreshing;
  }
  const run = async () => {
    do {
      board.again = false;
      await refreshOnce(board);
    } while (board.again && state.board === board);
  };
  $('board').setAttribute('aria-busy', 'true');
  board.refreshing = run().finally(() => {
    board.refreshing = null;
    if (!state.board || !state.board.refreshing) $('board').setAttribute('aria-busy', 'false');
  });
  return board.refreshing;
}

/**
 * One refresh: one request per column. A loaded column reads its first page again and merges
 * it (mergeFirstPage); a column whose first page failed reads it; one whose first page is on
 * its way waits for it.
 * @param {Board} board
 */
async function refreshOnce(board) {
  const n = startPages(seq);
  await Promise.all(COLUMNS.map(async (status) => {
    const column = board.columns[status];
    if (!column.loaded) return loadPage(board, status);
    /** @type {TaskPage | undefined} */
    let page;
    try {
      page = await api('GET', columnPath(board.pid, status, board.filters, null));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (state.board === board) report(err, 'tasks');
    }
    if (!page || state.board !== board) return undefined;
    // Held back: a card whose move is on its way, or that a later move or read (or page) showed.
    const keep = (/** @type {TaskWithLink} */ t) => moves.has(t.id) || !isNews(seq, t.id, n) || showsLater(board.columns, t);
    for (const id of mergeFirstPage(board.columns, status, page.items, keep)) markShown(seq, id, n);
    if (column.pages <= 1) column.cursor = page.next_cursor;
    placeMoves(board.columns, movesOf(board.pid));
    renderColumns(board);
    return undefined;
  }));
}

/**
 * Reads a column's next page (its first, on a new board) and shows it, unless a page of it is
 * being read already, none is left, or the board moved on meanwhile.
 * @param {Board} board
 * @param {TaskStatus} status
 */
async function loadPage(board, status) {
  const column = board.columns[status];
  if (column.loading || (column.loaded && !column.cursor)) return;
  column.loading = true;
  renderColumnState(board, status);
  /** @type {TaskPage | undefined} */
  let page;
  try {
    page = await api('GET', columnPath(board.pid, status, board.filters, column.cursor));
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (state.board === board) report(err, 'tasks');
  } finally {
    column.loading = false;
  }
  if (state.board !== board) return; // the project or the filters changed: a late answer
  column.failed = !page;
  if (page) addPage(board, status, page);
  else if (!column.loaded) columnList(status).replaceChildren(); // not the last board's cards
  renderColumnState(board, status);
}

/**
 * Shows a page at the end of its column (the first replaces the last board's cards), with
 * the moves on their way placed again (the page may have been read before one was saved).
 * @param {Board} board
 * @param {TaskStatus} status
 * @param {TaskPage} page
 */
function addPage(board, status, page) {
  const column = board.columns[status];
  const first = !column.loaded;
  column.items = column.items.concat(newCards(page.items, boardIds(board.columns)));
  column.cursor = page.next_cursor;
  column.pages += 1;
  column.loaded = true;
  placeMoves(board.columns, movesOf(board.pid));
  renderColumns(board);
  if (first) columnScroller(status).scrollTop = 0;
}

/**
 * The next page of a column, when the board shown has one ("Load more", or scrolled near its end).
 * @param {TaskStatus} status
 */
function loadMore(status) {
  const board = state.board;
  if (board && board.pid === state.projectId) loadPage(board, status);
}

/**
 * A column's scroll container came near its end: its next page, when one is due.
 * @param {TaskStatus} status
 * @param {IntersectionObserverEntry[]} entries
 */
function onColumnEnd(status, entries) {
  const scroller = columnScroller(status);
  // The entry may be older than the last page: the column's geometry now decides.
  if (state.view !== 'board' || !entries.some((e) => e.isIntersecting) || scroller.clientHeight === 0) return;
  if (nearEnd(scroller.scrollTop, scroller.clientHeight, scroller.scrollHeight)) loadMore(status);
}

// ---- rendering ------------------------------------------------------------------------

/** @param {TaskStatus} status */
const columnList = (status) => $(`col-${status}-cards`);
/** @param {TaskStatus} status */
const columnScroller = (status) => $(`col-${status}-scroll`);

/** Builds the five columns once (each load fills them), each watching its own end. */
function ensureColumns() {
  const boardEl = $('board');
  if (boardEl.childElementCount > 0) return;
  boardEl.replaceChildren(...COLUMNS.map(columnSection));
  for (const status of COLUMNS) {
    const scroller = columnScroller(status);
    const watcher = new IntersectionObserver((entries) => onColumnEnd(status, entries), { root: scroller, rootMargin: '0px 0px 200px 0px' });
    const sentinel = scroller.querySelector('.sentinel');
    if (sentinel) watcher.observe(sentinel);
  }
}

/**
 * One column: its heading, its count line, its scroll container (the cards, then the sentinel
 * whose coming into view loads the next page) and its "Load more". The column accepts drops.
 * @param {TaskStatus} status
 */
function columnSection(status) {
  const heading = `col-${status}-h`;
  return el('section', {
    class: 'column', 'data-status': status, 'aria-labelledby': heading,
    ondragover: (e) => onDragOver(e, e.currentTarget), ondragleave: (e) => onDragLeave(e, e.currentTarget),
    ondrop: (e) => onDrop(e, e.currentTarget, status),
  },
  el('h4', { id: heading, text: STATUS[status] }),
  el('p', { class: 'column-count muted', id: `col-${status}-count` }),
  el('div', { class: 'column-scroll', id: `col-${status}-scroll` },
    el('ul', { class: 'cards', id: `col-${status}-cards`, 'aria-labelledby': heading }),
    el('div', { class: 'sentinel', 'aria-hidden': 'true' })),
  el('button', {
    type: 'button', class: 'secondary more', id: `col-${status}-more`, 'aria-label': `Load more in ${STATUS[status]}`,
    text: 'Load more', onclick: () => loadMore(status),
  }));
}

/**
 * A column's count line, "Load more" (or "Try again") and busy state.
 * @param {Board} board
 * @param {TaskStatus} status
 */
function renderColumnState(board, status) {
  if (state.board !== board) return;
  const column = board.columns[status];
  $(`col-${status}-count`).textContent = columnText(column, isFiltered(board.filters));
  const more = $(`col-${status}-more`, HTMLButtonElement);
  more.disabled = column.loading;
  more.textContent = column.loading ? 'Loading…' : column.failed ? 'Try again' : 'Load more';
  show(more, Boolean(column.cursor) || column.failed);
  columnScroller(status).setAttribute('aria-busy', String(column.loading));
}

/**
 * One card: issue link and comment count, title (opens the detail dialog), labels, assignees
 * and milestone, then the sync state (or "Moving…"), "Edit fields" (fields.js: a linked card
 * of a two-way config) and the "Move to…" button; an open fields form comes along into the
 * card drawn again.
 * @param {TaskWithLink} t
 */
function card(t) {
  const moving = moves.has(t.id);
  const details = detailParts(t.github);
  const node = el('li', {
    class: moving ? 'task-card moving' : 'task-card', 'data-task': t.id, draggable: 'true', 'aria-busy': moving ? 'true' : false,
    ondragstart: (e) => onDragStart(e, e.currentTarget, t.id), ondragend: (e) => onDragEnd(e.currentTarget),
  },
  el('div', { class: 'card-head' }, issueLink(t.github), commentCount(t.comment_count)),
  el('div', { class: 'card-title' }, titleButton(t)),
  details.length ? el('div', { class: 'details' }, ...details) : null,
  el('div', { class: 'card-foot' },
    el('div', { class: 'card-sync' }, moving ? el('span', { class: 'badge warn', text: 'Moving…' }) : syncCell(t)),
    el('div', { class: 'card-actions' },
      fieldsButton(t),
      el('button', {
        type: 'button', class: 'secondary move', 'aria-haspopup': 'menu', 'aria-expanded': 'false',
        'aria-label': `Move to… (${cardName(t)})`, text: 'Move to…',
        onclick: (e) => toggleMenu(t.id, e.currentTarget, 0), onkeydown: (e) => onMoveKey(e, e.currentTarget, t.id),
      }))));
  keepFields(node, t);
  drawn.set(node, cardKey(t));
  return node;
}

/**
 * What each card element shows (cardKey): a refresh keeps the elements whose card is unchanged.
 * @type {WeakMap<Element, string>}
 */
const drawn = new WeakMap();

/**
 * Everything a card element shows of a task: the task, and whether its move is on its way.
 * @param {TaskWithLink} t
 */
const cardKey = (t) => `${moves.has(t.id) ? 'moving ' : ''}${JSON.stringify(t)}`;

/**
 * A card's comment count: a speech bubble and the number, named "3 comments" as a whole.
 * @param {number} n
 */
function commentCount(n) {
  const text = commentsText(n);
  const bubble = svg('svg', { viewBox: '0 0 16 16', width: '14', height: '14', 'aria-hidden': 'true', focusable: 'false' },
    svg('path', { d: 'M2.5 2.5h11a1 1 0 0 1 1 1v7a1 1 0 0 1-1 1H7l-3.5 3v-3h-1a1 1 0 0 1-1-1v-7a1 1 0 0 1 1-1z' }));
  return el('span', { class: 'comment-count', role: 'img', 'aria-label': text, title: text }, bubble, String(n));
}

/**
 * The card's element on the page, if shown.
 * @param {string} id
 * @returns {HTMLElement | null}
 */
function cardElement(id) {
  const node = $('board').querySelector(`li[data-task="${CSS.escape(id)}"]`);
  return node instanceof HTMLElement ? node : null;
}

/**
 * Shows a card as the board's model has it now: in its column at its place (or nowhere,
 * when it left the board). Focus inside the old card moves to the same control of the new
 * one; `focusMove` puts it on the card's "Move to…" button.
 * @param {Board} board
 * @param {string} id
 * @param {boolean} focusMove
 */
function drawCard(board, id, focusMove) {
  if (state.board !== board) return;
  const old = cardElement(id);
  const focused = old && old.contains(document.activeElement) ? focusTarget(document.activeElement) : null;
  if (old && openMenu && old.contains(openMenu.button)) closeMenu(false);
  if (old) old.remove();
  const at = locate(board.columns, id);
  if (at) {
    const node = card(board.columns[at.status].items[at.index]);
    const list = columnList(at.status);
    list.insertBefore(node, list.children[at.index] || null);
    const target = focusMove ? focusIn(node, 'button.move') : focused ? focusIn(node, focused) : null;
    if (target) target.focus();
  }
  for (const s of COLUMNS) renderColumnState(board, s);
}

/**
 * Which control of a card had the focus: a selector for its redrawn copy, or the control
 * itself when it is in the card's fields form (which moves into the redrawn copy).
 * @param {Element | null} active
 * @returns {string | HTMLElement}
 */
function focusTarget(active) {
  if (!active) return 'button.move';
  if (active instanceof HTMLElement && active.closest('form.fields-editor')) return active;
  if (active.matches('button.task-open')) return 'button.task-open';
  if (active.matches('button.edit-fields')) return 'button.edit-fields';
  if (active.matches('a')) return 'a';
  return 'button.move';
}

/**
 * The control of a redrawn card to focus: the one focusTarget named, else its "Move to…".
 * @param {HTMLElement} node
 * @param {string | HTMLElement} focused
 * @returns {HTMLElement | null}
 */
function focusIn(node, focused) {
  const found = typeof focused === 'string' ? node.querySelector(focused) : node.contains(focused) ? focused : null;
  const target = found || node.querySelector('button.move');
  return target instanceof HTMLElement ? target : null;
}

/**
 * Shows the loaded columns as the board's model has them, keeping what did not change: the
 * element of an unchanged card stays (with an open menu inside it), a changed card is drawn
 * again (its menu opened again, the focus on the same control), the cards are put in order
 * moving as few as needed, and the focus stays where it was. A column whose first page has not
 * come yet keeps what it shows.
 * @param {Board} board
 */
function renderColumns(board) {
  if (state.board !== board) return;
  const active = document.activeElement;
  /** @type {Map<string, HTMLElement>} */
  const nodes = new Map();
  for (const node of $('board').querySelectorAll('li.task-card')) {
    if (node instanceof HTMLElement && node.dataset.task) nodes.set(node.dataset.task, node);
  }
  /** @type {{ node: HTMLElement, id: string, focused: string | HTMLElement | null, menuAt: number } | null} */
  let refocus = null;
  for (const status of COLUMNS) {
    const column = board.columns[status];
    if (!column.loaded) continue;
    const list = columnList(status);
    for (let i = 0; i < column.items.length; i += 1) {
      const t = column.items[i];
      let node = nodes.get(t.id);
      if (!node || drawn.get(node) !== cardKey(t)) {
        const old = node;
        // Read before card(t): an open fields form moves into the new card, and the focus with it.
        const focused = old && old.contains(document.activeElement) ? focusTarget(document.activeElement) : null;
        node = card(t);
        if (old) {
          const menuAt = openMenu && old.contains(openMenu.button) ? menuFocus() : -1;
          if (menuAt >= 0) closeMenu(false);
          if (focused || menuAt >= 0) refocus = { node, id: t.id, focused, menuAt };
          old.replaceWith(node);
        }
        nodes.set(t.id, node);
      }
      const here = list.children[i];
      if (here !== node) list.insertBefore(node, here || null);
    }
    while (list.children.length > column.items.length) list.lastElementChild?.remove();
  }
  if (openMenu && !openMenu.button.isConnected) closeMenu(false);
  const button = refocus && refocus.node.isConnected ? refocus.node.querySelector('button.move') : null;
  if (refocus && refocus.menuAt >= 0 && button instanceof HTMLElement && !moves.has(refocus.id)) {
    toggleMenu(refocus.id, button, refocus.menuAt);
  } else if (refocus && refocus.node.isConnected) {
    const target = refocus.focused ? focusIn(refocus.node, refocus.focused) : button;
    if (target instanceof HTMLElement) target.focus({ preventScroll: true });
  } else if (active instanceof HTMLElement && active.isConnected && document.activeElement !== active) {
    active.focus({ preventScroll: true }); // a card moved in its list loses the focus: it gets it back
  }
  for (const s of COLUMNS) renderColumnState(board, s);
}

/** Shows every loaded card again (the config changed: a card's actions depend on it). */
function redrawCards() {
  const board = state.board;
  if (!board) return;
  for (const id of boardIds(board.columns)) drawCard(board, id, false);
}

/** @param {string} text */
function announce(text) {
  $('board-live').textContent = text;
}

// ---- moves ----------------------------------------------------------------------------

/**
 * Moves a card to column `to`: on screen at once, then PATCH with If-Match (the version the
 * card shows), then the card as the server has it. A refused move puts it back and says why.
 * The move is kept in `moves` until the PATCH answers, so a refresh or a new load of the
 * board (same project) shows it meanwhile, and its answer settles on whichever board of the
 * project is shown.
 * @param {string} id
 * @param {TaskStatus} to
 * @param {boolean} focusMove focus goes to the moved card's "Move to…" (a move from its menu)
 */
async function moveTask(id, to, focusMove) {
  const board = state.board;
  if (!board || moves.has(id)) return;
  const placed = placeCard(board.columns, id, to);
  if (!placed) return;
  const pid = board.pid;
  moves.set(id, { pid, to, placed });
  const n = startCard(seq, id);
  drawCard(board, id, focusMove);
  announce(`Moving ${shortName(placed.task)} to ${STATUS[to]}…`);
  /** @type {Task} */
  let saved;
  try {
    saved = await api('PATCH', `/tasks/${encodeURIComponent(id)}`, { status: to }, { 'If-Match': `"${placed.task.updated_at}"` });
  } catch (err) {
    moves.delete(id);
    if (!(err instanceof ApiError)) throw err;
    return refused(pid, placed, to, err);
  }
  moves.delete(id);
  const now = boardOf(pid);
  if (!now) return; // the person switched project meanwhile
  const at = locate(now.columns, id);
  /** @type {TaskWithLink | null} */
  let shown = null;
  if (at) {
    // The saved version at once (its version is the one a next move must name), then read again.
    shown = { ...now.columns[at.status].items[at.index], ...saved };
    if (isNews(seq, id, n)) settleCard(now.columns, shown);
  }
  drawCard(now, id, false);
  const task = await readCard(pid, id, shown);
  if (!boardOf(pid)) return;
  announce(movedText(placed.task, to, true));
  if (task && task.github && task.github.push_pending) followPush(pid, id);
}

/**
 * A refused move: the card goes back, the notice bar says why; after a 412 (the task changed
 * since the board read it) the card is read again, so the board shows the truth; after a 404
 * it leaves the board. Nothing is shown once the person switched project.
 * @param {string | null} pid
 * @param {Placed} placed
 * @param {TaskStatus} to
 * @param {ApiError} err
 */
async function refused(pid, placed, to, err) {
  const board = boardOf(pid);
  if (!board) return;
  const id = placed.task.id;
  if (err.status === 404) dropCard(board.columns, id);
  else if (locate(board.columns, id)) putBack(board.columns, placed);
  drawCard(board, id, false);
  announce(movedText(placed.task, to, false));
  report(err, 'move');
  if (err.status === 412) await readCard(pid, id, null);
}

/**
 * Reads a card again (GET /api/tasks/{id}) and shows it in place, when the board of project
 * `pid` shows it; `fallback` is shown when the read fails (the card as the move left it).
 * The answer is dropped when a later move or read of the card started meanwhile (or a page
 * showed it since), or a move of it is on its way. Resolves to the card read.
 * @param {string | null} pid
 * @param {string} id
 * @param {TaskWithLink | null} fallback
 * @returns {Promise<TaskWithLink | null>}
 */
async function readCard(pid, id, fallback) {
  const n = startCard(seq, id);
  /** @type {TaskWithLink | null} */
  let task = fallback;
  let gone = false;
  try {
    task = await api('GET', `/tasks/${encodeURIComponent(id)}`);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.status === 404) { gone = true; task = null; }
  }
  const board = boardOf(pid);
  if (!board || !isNews(seq, id, n) || moves.has(id)) return task;
  if (gone) dropCard(board.columns, id);
  else if (task && locate(board.columns, id)) settleCard(board.columns, task);
  drawCard(board, id, false);
  return task;
}

/**
 * Reads a card of the board shown again (its detail dialog closed: a comment may have been
 * written, edited or deleted there, which changes its comment count).
 * @param {string} id
 */
export function cardChanged(id) {
  const board = boardOf(state.projectId);
  if (board && locate(board.columns, id)) readCard(board.pid, id, null);
}

/**
 * After the task's detail view closed: the browser gives the focus back to the title that
 * opened it, unless that card was drawn again meanwhile (a refresh while the view was open):
 * then the focus would be lost, and goes to the card's title as it is drawn now.
 * @param {string} id
 */
export function refocusCard(id) {
  const active = document.activeElement;
  if (active && active !== document.body && active.isConnected) return;
  const title = document.querySelector(`#board li.task-card[data-task="${CSS.escape(id)}"] button.task-open`);
  if (title instanceof HTMLElement) title.focus();
}

/**
 * Reads a moved card again every FOLLOW_EVERY_MS while its move waits to reach GitHub (at
 * most FOLLOW_TIMES times), so it shows its sync state until GitHub holds it. Stops when the
 * person switches project, signs out or moves the card again.
 * @param {string | null} pid
 * @param {string} id
 */
async function followPush(pid, id) {
  for (let i = 0; i < FOLLOW_TIMES; i += 1) {
    await new Promise((resolve) => { setTimeout(resolve, FOLLOW_EVERY_MS); });
    if (!boardOf(pid) || !state.token || moves.has(id)) return;
    const task = await readCard(pid, id, null);
    if (!task || !task.github || !task.github.push_pending) return;
  }
}

// ---- drag and drop --------------------------------------------------------------------

/** The card being dragged (its id), while a drag is on. */
let dragging = /** @type {string | null} */ (null);

/**
 * @param {Event} e
 * @param {HTMLElement} li
 * @param {string} id
 */
function onDragStart(e, li, id) {
  if (e.target instanceof Node && li.querySelector('form.fields-editor')?.contains(e.target)) return; // text dragged out of the fields form
  if (!(e instanceof DragEvent) || !e.dataTransfer || !state.board || moves.has(id)) { e.preventDefault(); return; }
  closeMenu(false);
  dragging = id;
  e.dataTransfer.setData(DRAG_TYPE, id);
  e.dataTransfer.effectAllowed = 'move';
  li.classList.add('dragging');
}

/** @param {HTMLElement} li */
function onDragEnd(li) {
  dragging = null;
  li.classList.remove('dragging');
  for (const node of $('board').querySelectorAll('.drop-target')) node.classList.remove('drop-target');
}

/**
 * A card dragged over a column: the column accepts it (only the board's cards).
 * @param {Event} e
 * @param {HTMLElement} column
 */
function onDragOver(e, column) {
  if (!(e instanceof DragEvent) || !e.dataTransfer || !(dragging || e.dataTransfer.types.includes(DRAG_TYPE))) return;
  e.preventDefault();
  e.dataTransfer.dropEffect = 'move';
  column.classList.add('drop-target');
}

/**
 * @param {Event} e
 * @param {HTMLElement} column
 */
function onDragLeave(e, column) {
  if (!(e instanceof DragEvent)) return;
  if (!(e.relatedTarget instanceof Node && column.contains(e.relatedTarget))) column.classList.remove('drop-target');
}

/**
 * A card dropped on a column: it moves there.
 * @param {Event} e
 * @param {HTMLElement} column
 * @param {TaskStatus} status
 */
function onDrop(e, column, status) {
  column.classList.remove('drop-target');
  const data = e instanceof DragEvent && e.dataTransfer ? e.dataTransfer.getData(DRAG_TYPE) : '';
  const id = data || dragging;
  if (!id) return;
  e.preventDefault();
  dragging = null;
  moveTask(id, status, false);
}

// ---- the "Move to…" menu --------------------------------------------------------------

/** The open menu and the button that opened it (one at a time). */
let openMenu = /** @type {{ button: HTMLElement, menu: HTMLElement } | null} */ (null);

/**
 * Opens a card's menu with item `focusIndex` focused (-1: the last), or closes it when open.
 * @param {string} id
 * @param {HTMLElement} button
 * @param {number} focusIndex
 */
function toggleMenu(id, button, focusIndex) {
  if (openMenu && openMenu.button === button) { closeMenu(true); return; }
  const board = state.board;
  const at = board && locate(board.columns, id);
  if (!board || !at || moves.has(id)) return;
  closeMenu(false);
  const task = board.columns[at.status].items[at.index];
  const items = otherColumns(at.status).map((s) => el('button', {
    type: 'button', role: 'menuitem', tabindex: '-1', text: STATUS[s], onclick: () => chooseColumn(id, s),
  }));
  const menu = el('div', { class: 'move-menu', role: 'menu', id: `move-menu-${id}`, 'aria-label': `Move ${cardName(task)} to`, onkeydown: onMenuKey },
    ...items);
  button.closest('li')?.append(menu);
  button.setAttribute('aria-expanded', 'true');
  button.setAttribute('aria-controls', menu.id);
  openMenu = { button, menu };
  document.addEventListener('pointerdown', onPointerOutside, true);
  items[focusIndex < 0 ? items.length - 1 : focusIndex].focus();
  menu.scrollIntoView({ block: 'nearest' });
}

/**
 * Closes the open menu; `refocus` returns the focus to its button.
 * @param {boolean} refocus
 */
function closeMenu(refocus) {
  if (!openMenu) return;
  const { button, menu } = openMenu;
  openMenu = null;
  document.removeEventListener('pointerdown', onPointerOutside, true);
  menu.remove();
  button.setAttribute('aria-expanded', 'false');
  button.removeAttribute('aria-controls');
  if (refocus && button.isConnected) button.focus();
}

/** Which item of the open menu has the focus (0 when none does). */
function menuFocus() {
  if (!openMenu) return -1;
  const items = [...openMenu.menu.querySelectorAll('[role="menuitem"]')];
  return Math.max(0, items.indexOf(/** @type {Element} */ (document.activeElement)));
}

/**
 * A column chosen in the menu: the card moves there, and focus follows it.
 * @param {string} id
 * @param {TaskStatus} status
 */
function chooseColumn(id, status) {
  closeMenu(false);
  moveTask(id, status, true);
}

/**
 * The menu's keys: arrows, Home and End move the focus; Escape closes it (focus back on its
 * button); Tab closes it and moves on. Enter and Space choose (the items are buttons).
 * @param {Event} e
 */
function onMenuKey(e) {
  if (!openMenu || !(e instanceof KeyboardEvent)) return;
  const items = [...openMenu.menu.querySelectorAll('[role="menuitem"]')].filter((n) => n instanceof HTMLElement);
  const next = menuIndex(e.key, items.indexOf(/** @type {HTMLElement} */ (document.activeElement)), items.length);
  if (next >= 0) {
    e.preventDefault();
    items[next].focus();
  } else if (e.key === 'Escape') {
    e.preventDefault();
    e.stopPropagation();
    closeMenu(true);
  } else if (e.key === 'Tab') {
    closeMenu(false);
  }
}

/**
 * ArrowDown / ArrowUp on a closed "Move to…" opens its menu on the first / last item.
 * @param {Event} e
 * @param {HTMLElement} button
 * @param {string} id
 */
function onMoveKey(e, button, id) {
  if (!(e instanceof KeyboardEvent)) return;
  if ((e.key !== 'ArrowDown' && e.key !== 'ArrowUp') || (openMenu && openMenu.button === button)) return;
  e.preventDefault();
  toggleMenu(id, button, e.key === 'ArrowDown' ? 0 : -1);
}

/**
 * A press outside the open menu and its button closes it.
 * @param {PointerEvent} e
 */
function onPointerOutside(e) {
  if (!openMenu || !(e.target instanceof Node)) return;
  if (!openMenu.menu.contains(e.target) && !openMenu.button.contains(e.target)) closeMenu(false);
}

// ---- the view toggle ------------------------------------------------------------------

/**
 * Shows the board or the list (the Board | List toggle), read again with the filters (the
 * board refreshed in place when it shows them already; tasks.js never shows list rows read
 * for other filters).
 * @param {'board' | 'list'} view
 */
export function showView(view) {
  if (view === state.view) return undefined;
  closeMenu(false);
  closeFields(false);
  state.view = view;
  $('view-board').setAttribute('aria-pressed', String(view === 'board'));
  $('view-list').setAttribute('aria-pressed', String(view === 'list'));
  show($('board-view'), view === 'board');
  show($('list-view'), view === 'list');
  return loadTasksAndConflicts();
}

// tasks.js loads and re-renders the board through these (see its BoardView).
useBoard({ load: loadBoard, render: redrawCards });

// fields.js reads a card again through this (after a save, or a refused one): in place, and
// after a save followed until GitHub holds it, as a move is.
useCards({
  reread: async (id, saved) => {
    const pid = state.projectId;
    const task = await readCard(pid, id, null);
    if (saved && task && boardOf(pid)) {
      announce(savedFieldsText(task));
      if (task.github && task.github.push_pending) followPush(pid, id);
    }
    return task;
  },
});
