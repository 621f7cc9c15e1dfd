// Unit tests of the console's text formatters, run in Node without a DOM: times, durations,
// intervals and sentences (dom.js), and the sync card's, task rows' and chart's texts (and
// the runs' comment counts).
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { fmtInterval, fmtMs, fmtRelative, fmtTime, sentence } from '../../functions/api/console/dom.js';
import { credentialText, permissionsText } from '../../functions/api/console/config.js';
import {
  addFilters, isFiltered, isTaskStatus, pushedText, syncText, tasksPath, waitingText,
} from '../../functions/api/console/tasks.js';
import { commentsText, runLabel } from '../../functions/api/console/history.js';
import { isAction } from '../../functions/api/console/conflicts.js';
import { noFilters, state } from '../../functions/api/console/state.js';

const NOW = Date.parse('2025-03-10T12:00:00Z');
const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
/** The timestamp `seconds` from NOW. */
const at = (seconds) => new Date(NOW + seconds * 1000).toISOString();

test('the view modules load in Node: none touches the document when it loads', () => {
  assert.equal(typeof globalThis.document, 'undefined');
});

describe('fmtInterval', () => {
  test('in the largest whole unit', () => {
    assert.equal(fmtInterval(300), 'every 5 min');
    assert.equal(fmtInterval(60), 'every 1 min');
    assert.equal(fmtInterval(3600), 'every 1 h');
    assert.equal(fmtInterval(7200), 'every 2 h');
    assert.equal(fmtInterval(5400), 'every 90 min');
    assert.equal(fmtInterval(90), 'every 90 s');
  });
});

describe('fmtMs', () => {
  test('none is a dash', () => {
    assert.equal(fmtMs(null), '—');
    assert.equal(fmtMs(undefined), '—');
  });
  test('whole milliseconds below 10 s, seconds with one decimal from 10 s', () => {
    assert.equal(fmtMs(0), '0 ms');
    assert.equal(fmtMs(1234.4), '1234 ms');
    assert.equal(fmtMs(9999), '9999 ms');
    assert.equal(fmtMs(10000), '10.0 s');
    assert.equal(fmtMs(12345), '12.3 s');
  });
});

describe('sentence', () => {
  test('capitalises and adds a full stop', () => {
    assert.equal(sentence('the token expires in 3 days'), 'The token expires in 3 days.');
  });
  test('keeps an ending full stop, question or exclamation mark', () => {
    assert.equal(sentence('saved.'), 'Saved.');
    assert.equal(sentence('really?'), 'Really?');
    assert.equal(sentence('done!'), 'Done!');
  });
  test('nothing stays nothing', () => {
    assert.equal(sentence(''), '');
    assert.equal(sentence(null), '');
    assert.equal(sentence(undefined), '');
  });
});

describe('fmtTime', () => {
  test('none is a dash', () => {
    assert.equal(fmtTime(null), '—');
    assert.equal(fmtTime(''), '—');
  });
  test('a timestamp in the locale\'s medium date and time', () => {
    const iso = '2025-03-10T12:00:00Z';
    assert.equal(fmtTime(iso), new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }));
    assert.match(fmtTime(iso), /2025/);
  });
});

describe('fmtRelative', () => {
  // The formatters read the clock through Date.now() alone.
  beforeEach(() => mock.method(Date, 'now', () => NOW));
  afterEach(() => mock.restoreAll());

  test('seconds below 90 s', () => {
    assert.equal(fmtRelative(at(-30)), rtf.format(-30, 'second'));
    assert.equal(fmtRelative(at(89)), rtf.format(89, 'second'));
    assert.equal(fmtRelative(at(0)), rtf.format(0, 'second'));
  });
  test('minutes below 2 h', () => {
    assert.equal(fmtRelative(at(90)), rtf.format(2, 'minute'));
    assert.equal(fmtRelative(at(-600)), rtf.format(-10, 'minute'));
    assert.equal(fmtRelative(at(7199)), rtf.format(120, 'minute'));
  });
  test('hours below 2 days, days beyond', () => {
    assert.equal(fmtRelative(at(7200)), rtf.format(2, 'hour'));
    assert.equal(fmtRelative(at(-172799)), rtf.format(-48, 'hour'));
    assert.equal(fmtRelative(at(172800)), rtf.format(2, 'day'));
    assert.equal(fmtRelative(at(-30 * 86400)), rtf.format(-30, 'day'));
  });
});

/** A sync config as the API returns it, with `over` changed. */
const config = (over) => ({
  id: 'c1', project_id: 'p1', repo_owner: 'acme', repo_name: 'widgets', installation_id: null, token_permissions: null, ...over,
});

describe('credentialText (the sync card\'s "Connected with")', () => {
  test('an installation, with its id', () => {
    assert.equal(credentialText(config({ installation_id: 77 })), 'GitHub App installation 77');
  });
  test('a PAT by kind, or just a PAT when its kind was not checked', () => {
    const perms = (source) => ({ source, issues: 'read', hooks: false });
    assert.equal(credentialText(config({ token_permissions: perms('fine_grained') })), 'Personal access token (fine-grained)');
    assert.equal(credentialText(config({ token_permissions: perms('classic') })), 'Personal access token (classic)');
    assert.equal(credentialText(config({})), 'Personal access token');
  });
});

describe('permissionsText (the sync card\'s "Token permissions")', () => {
  test('not checked yet', () => {
    assert.equal(permissionsText(config({})), 'not checked yet (it is checked when the token is saved again)');
  });
  test('a PAT: issues access and whether it may manage webhooks', () => {
    assert.equal(permissionsText(config({ token_permissions: { source: 'classic', issues: 'write', hooks: true } })),
      'Issues: read and write, webhooks: yes');
    assert.equal(permissionsText(config({ token_permissions: { source: 'fine_grained', issues: 'read', hooks: false } })),
      'Issues: read-only, webhooks: no');
  });
  test('an installation: issues access only', () => {
    assert.equal(permissionsText(config({ installation_id: 5, token_permissions: { source: 'app', issues: 'write', hooks: false } })),
      'Issues: read and write');
    assert.equal(permissionsText(config({ token_permissions: { source: 'app', issues: 'read', hooks: true } })), 'Issues: read-only');
  });
});

describe('waitingText (a task row\'s waiting push)', () => {
  // The formatters read the clock through Date.now() alone.
  beforeEach(() => mock.method(Date, 'now', () => NOW));
  afterEach(() => mock.restoreAll());

  test('no details', () => {
    assert.equal(waitingText(null), 'Waiting to reach GitHub');
  });
  test('parked while two-way sync is off', () => {
    assert.equal(waitingText({ parked: 'one_way', reason: 'ignored', next_attempt_at: at(60) }), 'Waiting: two-way sync is off');
  });
  test('why, and when it is tried next', () => {
    assert.equal(waitingText({ parked: null, reason: 'GitHub answered 502', next_attempt_at: null }),
      'Waiting to reach GitHub: GitHub answered 502');
    assert.equal(waitingText({ parked: 'refused', reason: 'GitHub answered 403', next_attempt_at: at(3600) }),
      `Waiting to reach GitHub: GitHub answered 403 (next try ${rtf.format(60, 'minute')})`);
    assert.equal(waitingText({ parked: null, reason: null, next_attempt_at: at(-10) }),
      `Waiting to reach GitHub (next try ${rtf.format(-10, 'second')})`);
  });
});

describe('pushedText (after "Retry push")', () => {
  test('a refusal and a retry carry GitHub\'s message', () => {
    assert.equal(pushedText({ pushed: 'refused', message: '422 Validation Failed' }), 'GitHub refused it again: 422 Validation Failed');
    assert.equal(pushedText({ pushed: 'retrying', message: 'timed out' }), 'Not sent yet: timed out');
  });
  test('the other outcomes have their sentence; an unknown one is "Retried."', () => {
    assert.equal(pushedText({ pushed: 'sent' }), 'Sent to GitHub.');
    assert.equal(pushedText({ pushed: 'held' }), 'A conflict waits for you first.');
    assert.equal(pushedText({ pushed: 'handed_over' }), 'GitHub is slow: it is sent in the background.');
    assert.equal(pushedText({ pushed: 'something_new' }), 'Retried.');
  });
});

describe('tasksPath', () => {
  afterEach(() => { state.filters = noFilters(); });

  test('the first page: only the page size', () => {
    assert.equal(tasksPath('p1', null), '/projects/p1/tasks?limit=100');
  });
  test('the search, the label and the cursor, encoded', () => {
    state.filters = { ...noFilters(), q: 'login bug', label: 'good first issue' };
    assert.equal(tasksPath('p1', 'c/2'), '/projects/p1/tasks?limit=100&q=login+bug&label=good+first+issue&cursor=c%2F2');
  });
  test('addFilters and isFiltered: only the filters that are set, in a fixed order', () => {
    const none = noFilters();
    assert.equal(isFiltered(none), false);
    assert.equal(isFiltered({ ...none, milestone: 'v1' }), true);
    assert.equal(String(addFilters(new URLSearchParams({ limit: '5' }), none)), 'limit=5');
    assert.equal(String(addFilters(new URLSearchParams(), { q: 'x', label: 'bug', assignee: 'ana', milestone: 'v1' })),
      'q=x&label=bug&assignee=ana&milestone=v1');
  });
  test('the assignee and the milestone filter the list too', () => {
    state.filters = { ...noFilters(), assignee: 'ana', milestone: 'v1.0 & later' };
    assert.equal(tasksPath('p1', null), '/projects/p1/tasks?limit=100&assignee=ana&milestone=v1.0+%26+later');
  });
});

describe('runLabel (a chart column\'s tooltip)', () => {
  const run = {
    id: 'r1', status: 'failure', started_at: '2025-03-10T11:00:00Z', duration_ms: 1234, issues_fetched: 5,
    tasks_created: 1, tasks_updated: 2, conflicts_detected: 0, error_message: 'GitHub answered 502',
    comments: { fetched: 3, created: 1, updated: 1, deleted: 0 },
  };
  test('a failed run, with its error', () => {
    assert.equal(runLabel(run, 0, 3), `Run 1 of 3, ${fmtTime(run.started_at)}: FAILED, 1234 ms, `
      + '5 fetched, 1 created, 2 updated, 0 conflicts, comments: 3 listed, 1 new, 1 edited, 0 deleted. Error: GitHub answered 502');
  });
  test('a running run, without an error or duration yet', () => {
    assert.equal(runLabel({ ...run, status: 'in_progress', duration_ms: null, error_message: null }, 2, 3),
      `Run 3 of 3, ${fmtTime(run.started_at)}: running, —, 5 fetched, 1 created, 2 updated, 0 conflicts, `
      + 'comments: 3 listed, 1 new, 1 edited, 0 deleted');
  });
});

describe('commentsText (a run\'s comment counts)', () => {
  test('every count, zeros included', () => {
    assert.equal(commentsText({ fetched: 0, created: 0, updated: 0, deleted: 0 }), '0 listed, 0 new, 0 edited, 0 deleted');
    assert.equal(commentsText({ fetched: 12, created: 2, updated: 3, deleted: 1 }), '12 listed, 2 new, 3 edited, 1 deleted');
  });
});

describe('syncText (a task\'s sync state in the detail dialog)', () => {
  /** A linked task with `over` changed in its link. */
  const linked = (over) => ({
    id: 't1', title: 'T', status: 'todo',
    github: { sync_conflict_status: null, push_error: null, push_pending: false, push_waiting: null, ...over },
  });
  test('a local task is not linked', () => {
    assert.equal(syncText({ id: 't1', title: 'T', status: 'todo', github: null }), 'Not linked to GitHub');
  });
  test('a pending conflict comes first, then a refusal, then a waiting push', () => {
    assert.equal(syncText(linked({ sync_conflict_status: 'pending', push_error: '403' })), 'Conflict: waits for review');
    assert.equal(syncText(linked({ push_error: 'GitHub answered 403', push_pending: true })), 'Not on GitHub: GitHub answered 403');
    assert.equal(syncText(linked({ push_pending: true, push_waiting: { parked: 'one_way', reason: null, next_attempt_at: null } })),
      'Waiting: two-way sync is off');
  });
  test('otherwise in sync, or resolved', () => {
    assert.equal(syncText(linked({})), 'In sync');
    assert.equal(syncText(linked({ sync_conflict_status: 'resolved' })), 'Resolved');
  });
});

describe('isTaskStatus and isAction (values read from the page)', () => {
  test('only the API\'s values pass', () => {
    for (const s of ['todo', 'inprogress', 'inreview', 'done', 'cancelled']) assert.ok(isTaskStatus(s), s);
    for (const s of ['Done', '', 'toString', 'hasOwnProperty']) assert.ok(!isTaskStatus(s), s);
    for (const a of ['keep_local', 'accept_github', 'merge']) assert.ok(isAction(a), a);
    for (const a of [undefined, '', 'keep-local', 'constructor']) assert.ok(!isAction(a), String(a));
  });
});
