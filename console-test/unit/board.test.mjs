// Unit tests of the board's pure parts (functions/api/console/columns.js) in Node, without a
// DOM: a column's request path (status, order, page size, filters, cursor), merging a page
// without showing a card twice, refreshing a column from its first page read again (later
// pages kept, cards moved between columns, cards held back), placing a moved card and putting
// it back, placing the moves on their way again, settling a card read again, the order of
// answers about a card (a late read is dropped), when filters are the same, the "Move to…"
// menu's columns and focus keys, when a column is near its end, and the texts (card names,
// announcements, comment counts, a column's count line).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BOARD_PAGE, COLUMNS, boardIds, cardName, columnPath, columnText, commentsText, dropCard, emptyColumns, isNews, locate, markShown,
  menuIndex, mergeFirstPage, movedText, nearEnd, newCards, newSequence, otherColumns, placeCard, placeMoves, putBack, sameFilters,
  settleCard, showsLater, startCard, startPages,
} from '../../functions/api/console/columns.js';
import { knownTask, noFilters, state } from '../../functions/api/console/state.js';

const NO_FILTERS = noFilters();

/** A task as the API lists it, with `over` changed. */
const task = (id, over = {}) => ({
  id, project_id: 'p1', title: `Task ${id}`, description: null, status: 'todo', github_issue_url: null, comment_count: 0,
  created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-02T00:00:00Z', github: null, ...over,
});
const linked = (id, number, over = {}) => task(id, {
  github: {
    node_id: `I_${number}`, issue_number: number, issue_url: `https://github.com/acme/widgets/issues/${number}`,
    sync_conflict_status: null, remote_state: 'open', remote_updated_at: '2026-01-01T00:00:00Z', last_synced_at: '2026-01-01T00:00:00Z',
    unlinked_at: null, push_pending: false, push_error: null, push_waiting: null, labels: [], assignees: [], milestone: null,
  },
  ...over,
});

/** Columns holding these tasks (by their status), in this order. */
function columnsOf(...tasks) {
  const columns = emptyColumns();
  for (const t of tasks) columns[t.status].items.push(t);
  return columns;
}
const ids = (column) => column.items.map((t) => t.id);

describe('COLUMNS', () => {
  test('the five statuses in the board\'s order', () => {
    assert.deepEqual(COLUMNS, ['todo', 'inprogress', 'inreview', 'done', 'cancelled']);
  });
});

describe('columnPath', () => {
  test('the first page: its status, newest-updated first, one page', () => {
    assert.equal(columnPath('p1', 'todo', NO_FILTERS, null), `/projects/p1/tasks?status=todo&sort=updated&limit=${BOARD_PAGE}`);
    assert.equal(BOARD_PAGE, 50);
  });
  test('the filters that are set, encoded, then the cursor', () => {
    const filters = { q: 'login bug', label: 'good first issue', assignee: 'ana', milestone: 'v1.0 & later' };
    assert.equal(columnPath('p1', 'inreview', filters, 'c/2+x'), '/projects/p1/tasks?status=inreview&sort=updated&limit=50'
      + '&q=login+bug&label=good+first+issue&assignee=ana&milestone=v1.0+%26+later&cursor=c%2F2%2Bx');
  });
  test('empty filters are left out', () => {
    assert.equal(columnPath('p1', 'done', { ...NO_FILTERS, milestone: 'v2' }, null),
      '/projects/p1/tasks?status=done&sort=updated&limit=50&milestone=v2');
  });
});

describe('newCards (a page merged into the board)', () => {
  test('the tasks not shown yet, in the page\'s order', () => {
    const page = [task('a'), task('b'), task('c')];
    assert.deepEqual(newCards(page, ['b']).map((t) => t.id), ['a', 'c']);
  });
  test('a task that arrives twice is shown once, even within one page', () => {
    assert.deepEqual(newCards([task('a'), task('a'), task('b')], []).map((t) => t.id), ['a', 'b']);
  });
  test('boardIds covers every column', () => {
    const columns = columnsOf(task('a'), task('b', { status: 'done' }), task('c', { status: 'cancelled' }));
    assert.deepEqual([...boardIds(columns)].sort(), ['a', 'b', 'c']);
    assert.deepEqual(newCards([task('b', { status: 'todo' }), task('d')], boardIds(columns)).map((t) => t.id), ['d']);
  });
});

describe('placeCard, putBack, dropCard, settleCard', () => {
  test('a moved card goes to the top of its new column, with that status', () => {
    const columns = columnsOf(task('a'), task('b'), task('c'), task('x', { status: 'done' }));
    const placed = placeCard(columns, 'b', 'done');
    assert.deepEqual(ids(columns.todo), ['a', 'c']);
    assert.deepEqual(ids(columns.done), ['b', 'x']);
    assert.equal(columns.done.items[0].status, 'done');
    assert.deepEqual({ from: placed.from, index: placed.index, status: placed.task.status }, { from: 'todo', index: 1, status: 'todo' });
    assert.deepEqual(locate(columns, 'b'), { status: 'done', index: 0 });
  });
  test('a refused move puts the card back where it was, as it was', () => {
    const columns = columnsOf(task('a'), task('b'), task('c'));
    const before = structuredClone(columns);
    putBack(columns, placeCard(columns, 'b', 'inreview'));
    assert.deepEqual(columns, before);
  });
  test('putting back after the column shrank keeps the card in it', () => {
    const columns = columnsOf(task('a'), task('b'));
    const placed = placeCard(columns, 'b', 'done');
    dropCard(columns, 'a');
    putBack(columns, placed);
    assert.deepEqual(ids(columns.todo), ['b']);
    assert.deepEqual(ids(columns.done), []);
  });
  test('no move to the column it is in, none of a card the board does not show', () => {
    const columns = columnsOf(task('a'));
    assert.equal(placeCard(columns, 'a', 'todo'), null);
    assert.equal(placeCard(columns, 'zz', 'done'), null);
    assert.deepEqual(ids(columns.todo), ['a']);
  });
  test('a card read again stays in place in its column, or goes on top of its new one', () => {
    const columns = columnsOf(task('a'), task('b'), task('x', { status: 'done' }));
    settleCard(columns, task('b', { title: 'Renamed' }));
    assert.deepEqual(ids(columns.todo), ['a', 'b']);
    assert.equal(columns.todo.items[1].title, 'Renamed');
    settleCard(columns, task('a', { status: 'done' }));
    assert.deepEqual(ids(columns.todo), ['b']);
    assert.deepEqual(ids(columns.done), ['a', 'x']);
    settleCard(columns, task('new', { status: 'cancelled' }));
    assert.deepEqual(ids(columns.cancelled), ['new']);
  });
});

describe('mergeFirstPage (a column refreshed in place)', () => {
  const never = () => false;
  test('the page\'s cards in its order, then the cards loaded beyond the first page as they were', () => {
    const columns = columnsOf(task('a'), task('b'), task('c'), task('d'));
    const taken = mergeFirstPage(columns, 'todo', [task('n'), task('b', { title: 'New title' }), task('a')], never);
    assert.deepEqual(taken, ['n', 'b', 'a']);
    assert.deepEqual(ids(columns.todo), ['n', 'b', 'a', 'c', 'd']);
    assert.equal(columns.todo.items[1].title, 'New title', 'a card that came back shows its new state');
  });
  test('a card whose status changed moves from its old column to the one whose page has it', () => {
    const columns = columnsOf(task('a'), task('b'), task('x', { status: 'done' }));
    mergeFirstPage(columns, 'done', [task('b', { status: 'done' }), task('x', { status: 'done' })], never);
    assert.deepEqual(ids(columns.todo), ['a']);
    assert.deepEqual(ids(columns.done), ['b', 'x']);
    assert.equal(columns.done.items[0].status, 'done');
  });
  test('a card held back stays as the board shows it: at the page\'s place in this column, else where it is', () => {
    const moving = task('m', { status: 'inprogress' });
    const kept = task('k', { title: 'as the board has it' });
    const columns = columnsOf(task('a'), kept, moving);
    const keep = (t) => t.id === 'm' || t.id === 'k';
    // Read before the move of m was saved: the page still has m in To do.
    const taken = mergeFirstPage(columns, 'todo', [task('m'), task('k', { title: 'older' }), task('a')], keep);
    assert.deepEqual(taken, ['a']);
    assert.deepEqual(ids(columns.todo), ['k', 'a']);
    assert.equal(columns.todo.items[0].title, 'as the board has it');
    assert.deepEqual(ids(columns.inprogress), ['m'], 'the move stays on screen');
    assert.equal(columns.inprogress.items[0].status, 'inprogress');
  });
  test('an empty page changes nothing; a card twice in a page shows once', () => {
    const columns = columnsOf(task('a'), task('b'));
    mergeFirstPage(columns, 'todo', [], never);
    assert.deepEqual(ids(columns.todo), ['a', 'b']);
    mergeFirstPage(columns, 'todo', [task('b'), task('b')], never);
    assert.deepEqual(ids(columns.todo), ['b', 'a']);
  });
  test('showsLater: the board holds a later version of the task than the page', () => {
    const columns = columnsOf(task('a', { updated_at: '2026-01-05T00:00:00Z' }));
    assert.equal(showsLater(columns, task('a', { updated_at: '2026-01-04T00:00:00Z' })), true);
    assert.equal(showsLater(columns, task('a', { updated_at: '2026-01-05T00:00:00Z' })), false);
    assert.equal(showsLater(columns, task('a', { updated_at: '2026-01-06T00:00:00Z' })), false);
    assert.equal(showsLater(columns, task('zz')), false);
  });
});

describe('placeMoves (the moves on their way, placed again after a refresh or a new load)', () => {
  test('each card shown goes on top of its new column, with that status; the newest move on top', () => {
    const columns = columnsOf(task('a'), task('b'), task('c'), task('x', { status: 'done' }));
    placeMoves(columns, [['a', 'done'], ['c', 'done'], ['gone', 'done']]);
    assert.deepEqual(ids(columns.todo), ['b']);
    assert.deepEqual(ids(columns.done), ['c', 'a', 'x']);
    assert.ok(columns.done.items.slice(0, 2).every((t) => t.status === 'done'));
  });
  test('placing again changes nothing', () => {
    const columns = columnsOf(task('a'), task('b'), task('c'));
    const moves = [['a', 'inreview'], ['b', 'inreview']];
    placeMoves(columns, moves);
    const once = structuredClone(columns);
    placeMoves(columns, moves);
    assert.deepEqual(columns, once);
  });
});

describe('the order of answers about a card (newSequence, startCard, startPages, isNews, markShown)', () => {
  test('an older read answering after a newer one is dropped; the newest is news', () => {
    const seq = newSequence();
    const first = startCard(seq, 'a');
    const second = startCard(seq, 'a');
    assert.equal(isNews(seq, 'a', second), true);
    assert.equal(isNews(seq, 'a', first), false, 'out of order: too late');
  });
  test('a move makes the reads of that card started before it old', () => {
    const seq = newSequence();
    const read = startCard(seq, 'a');
    startCard(seq, 'a'); // the move
    assert.equal(isNews(seq, 'a', read), false);
  });
  test('a page read before a card\'s move or read is old for that card, not for the others', () => {
    const seq = newSequence();
    const page = startPages(seq);
    startCard(seq, 'a');
    assert.equal(isNews(seq, 'a', page), false);
    assert.equal(isNews(seq, 'b', page), true);
  });
  test('a page that showed a card makes the older reads of it old; a newer read stays news', () => {
    const seq = newSequence();
    const old = startCard(seq, 'a');
    const page = startPages(seq);
    markShown(seq, 'a', page);
    assert.equal(isNews(seq, 'a', old), false);
    const newer = startCard(seq, 'a');
    markShown(seq, 'a', page); // a page older than the newest read changes nothing
    assert.equal(isNews(seq, 'a', newer), true);
  });
  test('sameFilters', () => {
    assert.equal(sameFilters(NO_FILTERS, { ...NO_FILTERS }), true);
    for (const key of ['q', 'label', 'assignee', 'milestone']) assert.equal(sameFilters(NO_FILTERS, { ...NO_FILTERS, [key]: 'x' }), false, key);
  });
});

describe('the "Move to…" menu', () => {
  test('offers the four other columns, in order', () => {
    assert.deepEqual(otherColumns('todo'), ['inprogress', 'inreview', 'done', 'cancelled']);
    assert.deepEqual(otherColumns('done'), ['todo', 'inprogress', 'inreview', 'cancelled']);
  });
  test('ArrowDown and ArrowUp move the focus and wrap; Home and End jump', () => {
    assert.equal(menuIndex('ArrowDown', 0, 4), 1);
    assert.equal(menuIndex('ArrowDown', 3, 4), 0);
    assert.equal(menuIndex('ArrowUp', 2, 4), 1);
    assert.equal(menuIndex('ArrowUp', 0, 4), 3);
    assert.equal(menuIndex('Home', 2, 4), 0);
    assert.equal(menuIndex('End', 0, 4), 3);
  });
  test('from no item: down goes to the first, up to the last', () => {
    assert.equal(menuIndex('ArrowDown', -1, 4), 0);
    assert.equal(menuIndex('ArrowUp', -1, 4), 3);
  });
  test('other keys, or no items, move nothing', () => {
    for (const key of ['Enter', ' ', 'Escape', 'Tab', 'a']) assert.equal(menuIndex(key, 1, 4), -1, key);
    assert.equal(menuIndex('ArrowDown', -1, 0), -1);
  });
});

describe('nearEnd (a column\'s next page is due)', () => {
  test('at or near the end of its scroll', () => {
    assert.equal(nearEnd(4400, 600, 5000), true);
    assert.equal(nearEnd(4200, 600, 5000), true);
    assert.equal(nearEnd(0, 600, 5000), false);
  });
  test('a column shorter than its box is at its end', () => {
    assert.equal(nearEnd(0, 600, 300), true);
  });
});

describe('texts', () => {
  test('a card\'s name: "#12 Title", or the title of a local task', () => {
    assert.equal(cardName(linked('a', 12, { title: 'Fix login' })), '#12 Fix login');
    assert.equal(cardName(task('a', { title: 'Write notes' })), 'Write notes');
  });
  test('a move announced: done, or refused and back in its column', () => {
    assert.equal(movedText(linked('a', 3), 'done', true), 'Moved #3 to Done.');
    assert.equal(movedText(task('a', { title: 'Notes', status: 'inreview' }), 'cancelled', true), 'Moved “Notes” to Cancelled.');
    assert.equal(movedText(linked('a', 3, { status: 'todo' }), 'inprogress', false), '#3 was not moved to In progress; it is back in To do.');
  });
  test('comment counts in words', () => {
    assert.equal(commentsText(0), 'No comments');
    assert.equal(commentsText(1), '1 comment');
    assert.equal(commentsText(3), '3 comments');
  });
  test('a column\'s count line: loading, failed, empty (filtered or not), counted, more to load', () => {
    const column = (over) => ({ items: [], cursor: null, loading: false, loaded: true, failed: false, ...over });
    assert.equal(columnText(column({ loaded: false, loading: true }), false), 'Loading…');
    assert.equal(columnText(column({ loaded: false, failed: true }), false), 'This column could not be loaded.');
    assert.equal(columnText(column({}), false), 'No tasks.');
    assert.equal(columnText(column({}), true), 'No task matches the filters.');
    assert.equal(columnText(column({ items: [task('a')] }), false), '1 task.');
    assert.equal(columnText(column({ items: [task('a'), task('b')], cursor: 'c' }), true), '2 tasks, more to load.');
  });
});

describe('knownTask (state.js)', () => {
  test('finds a task in the view shown first, then in the other one', () => {
    const listed = task('a', { title: 'as listed' });
    const carded = task('a', { title: 'as on the board' });
    state.tasks = [listed];
    state.board = { pid: 'p1', filters: NO_FILTERS, columns: columnsOf(carded, task('b', { status: 'done' })), refreshing: null, again: false };
    try {
      state.view = 'board';
      assert.equal(knownTask('a').title, 'as on the board');
      state.view = 'list';
      assert.equal(knownTask('a').title, 'as listed');
      assert.equal(knownTask('b').id, 'b');
      assert.equal(knownTask('zz'), null);
    } finally {
      state.tasks = [];
      state.board = null;
      state.view = 'board';
    }
  });
});
