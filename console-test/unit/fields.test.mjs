// Unit tests of the card's fields form's pure parts (functions/api/console/fields.js) in Node,
// without a DOM: which cards can be edited (a two-way config of the task's project, a live
// link), names cleaned and compared without case, logins and milestone numbers as typed, the
// PATCH body (only the fields that changed), the choices offered (the repository's, then the
// task's own), the version a save names when the card was drawn again meanwhile, and the texts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../functions/api/console/api.js';
import {
  NO_CHOICES, assigneeOptions, canEditFields, cleanNames, fieldsErrorText, fieldsOf, fieldsPatch, labelOptions, milestoneOptions,
  parseMilestone, rebase, sameFields, sameNames, savedFieldsText, splitLogins,
} from '../../functions/api/console/fields.js';

const label = (name, color = '0e8a16') => ({ name, color });

/** A task linked to issue `number` as the API lists it, with `gh` changed in its link and `over` in the task. */
const linked = (number, gh = {}, over = {}) => ({
  id: `t${number}`, project_id: 'p1', title: `Issue number ${number}`, description: null, status: 'todo',
  github_issue_url: `https://github.com/acme/widgets/issues/${number}`, comment_count: 0, milestone: null,
  created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-02T00:00:00Z',
  github: {
    node_id: `I_${number}`, issue_number: number, issue_url: `https://github.com/acme/widgets/issues/${number}`,
    sync_conflict_status: null, remote_state: 'open', remote_updated_at: '2026-01-01T00:00:00Z', last_synced_at: '2026-01-01T00:00:00Z',
    unlinked_at: null, push_pending: false, push_error: null, push_waiting: null, labels: [], assignees: [], milestone: null,
    ...gh,
  },
  ...over,
});
/** A task with labels, assignees and a milestone. */
const full = () => linked(3, { labels: [label('bug'), label('UI', 'ededed')], assignees: ['ana'], milestone: 'v1.0' },
  { milestone: { number: 1, title: 'v1.0' } });
const config = (over = {}) => ({ project_id: 'p1', two_way: true, ...over });

describe('canEditFields', () => {
  test('a linked task of a two-way config, its issue open or closed', () => {
    assert.equal(canEditFields(config(), linked(1)), true);
    assert.equal(canEditFields(config(), linked(1, { remote_state: 'completed' })), true);
    assert.equal(canEditFields(config(), linked(1, { remote_state: 'not_planned' })), true);
  });
  test('not one-way, not without a config, not with another project\'s config', () => {
    assert.equal(canEditFields(config({ two_way: false }), linked(1)), false);
    assert.equal(canEditFields(null, linked(1)), false);
    assert.equal(canEditFields(config({ project_id: 'p2' }), linked(1)), false);
  });
  test('not a local task, nor one whose link ended or whose issue is gone', () => {
    assert.equal(canEditFields(config(), linked(1, {}, { github: null })), false);
    assert.equal(canEditFields(config(), linked(1, { unlinked_at: '2026-01-03T00:00:00Z' })), false);
    assert.equal(canEditFields(config(), linked(1, { remote_state: 'deleted' })), false);
    assert.equal(canEditFields(config(), linked(1, { remote_state: 'transferred' })), false);
  });
});

describe('cleanNames, sameNames, splitLogins, parseMilestone', () => {
  test('names trimmed, blanks left out, each once without case (the first spelling kept)', () => {
    assert.deepEqual(cleanNames([' bug ', '', '  ', 'Bug', 'good first issue', 'BUG', 'ui']), ['bug', 'good first issue', 'ui']);
    assert.deepEqual(cleanNames([]), []);
  });
  test('the same names in any order and case, duplicates and blanks aside', () => {
    assert.equal(sameNames(['bug', 'ui'], ['UI', 'Bug']), true);
    assert.equal(sameNames(['bug', 'bug', ' '], ['bug']), true);
    assert.equal(sameNames(['bug'], ['bug', 'ui']), false);
    assert.equal(sameNames([], []), true);
  });
  test('logins separated by spaces or commas, with or without "@", each once', () => {
    assert.deepEqual(splitLogins(' @ana, bo  @@cy,,Ana '), ['ana', 'bo', 'cy']);
    assert.deepEqual(splitLogins('   '), []);
  });
  test('a milestone number: empty is none, a whole number from 1, anything else refused', () => {
    assert.equal(parseMilestone(''), null);
    assert.equal(parseMilestone('  '), null);
    assert.equal(parseMilestone('3'), 3);
    assert.equal(parseMilestone(' #12 '), 12);
    for (const bad of ['0', '-1', '1.5', 'v1', '1e3', '99999999999999999999']) assert.equal(parseMilestone(bad), undefined, bad);
  });
});

describe('fieldsOf, sameFields', () => {
  test('the card\'s labels, assignees and milestone number', () => {
    assert.deepEqual(fieldsOf(full()), { labels: ['bug', 'UI'], assignees: ['ana'], milestone: 1 });
    assert.deepEqual(fieldsOf(linked(1)), { labels: [], assignees: [], milestone: null });
    assert.deepEqual(fieldsOf(linked(1, {}, { github: null })), { labels: [], assignees: [], milestone: null });
  });
  test('compared without case or order', () => {
    assert.equal(sameFields({ labels: ['ui', 'BUG'], assignees: ['Ana'], milestone: 1 }, fieldsOf(full())), true);
    assert.equal(sameFields({ labels: ['ui', 'bug'], assignees: ['ana'], milestone: null }, fieldsOf(full())), false);
  });
});

describe('fieldsPatch (only the fields that changed)', () => {
  test('nothing changed: an empty body', () => {
    assert.deepEqual(fieldsPatch(full(), fieldsOf(full())), {});
    assert.deepEqual(fieldsPatch(linked(1), { labels: [], assignees: [], milestone: null }), {});
  });
  test('the same names in another order or case, twice, or with blanks: no change', () => {
    assert.deepEqual(fieldsPatch(full(), { labels: ['ui', ' BUG ', '', 'bug'], assignees: ['@ANA'], milestone: 1 }), {});
  });
  test('a label added: only the labels, the whole set, cleaned', () => {
    assert.deepEqual(fieldsPatch(full(), { labels: ['bug', 'UI', ' triage ', 'Triage', ''], assignees: ['ana'], milestone: 1 }),
      { labels: ['bug', 'UI', 'triage'] });
  });
  test('a new label typed that the task has in another case is no change', () => {
    assert.deepEqual(fieldsPatch(full(), { labels: ['bug', 'UI', 'ui'], assignees: ['ana'], milestone: 1 }), {});
  });
  test('every label removed: an empty set', () => {
    assert.deepEqual(fieldsPatch(full(), { labels: [], assignees: ['ana'], milestone: 1 }), { labels: [] });
  });
  test('assignees: "@" left out, each once; only the assignees sent', () => {
    assert.deepEqual(fieldsPatch(full(), { labels: ['bug', 'UI'], assignees: ['ana', '@bo', 'BO'], milestone: 1 }),
      { assignees: ['ana', 'bo'] });
    assert.deepEqual(fieldsPatch(full(), { labels: ['bug', 'UI'], assignees: [], milestone: 1 }), { assignees: [] });
  });
  test('the milestone set, changed or cleared (null)', () => {
    assert.deepEqual(fieldsPatch(linked(1), { labels: [], assignees: [], milestone: 2 }), { milestone: 2 });
    assert.deepEqual(fieldsPatch(full(), { labels: ['bug', 'UI'], assignees: ['ana'], milestone: 4 }), { milestone: 4 });
    assert.deepEqual(fieldsPatch(full(), { labels: ['bug', 'UI'], assignees: ['ana'], milestone: null }), { milestone: null });
  });
  test('all three at once', () => {
    assert.deepEqual(fieldsPatch(full(), { labels: ['bug'], assignees: ['bo'], milestone: null }),
      { labels: ['bug'], assignees: ['bo'], milestone: null });
  });
});

describe('the choices offered', () => {
  test('labels: the repository\'s in its order, then the task\'s own it lacks; ticked without case', () => {
    const listed = [label('bug', 'd73a4a'), label('docs', '0075ca'), label('ui', 'a2eeef')];
    assert.deepEqual(labelOptions(listed, [label('UI', 'ededed'), label('wontfix', 'ffffff')]), [
      { name: 'bug', color: 'd73a4a', checked: false }, { name: 'docs', color: '0075ca', checked: false },
      { name: 'ui', color: 'a2eeef', checked: true }, { name: 'wontfix', color: 'ffffff', checked: true },
    ]);
  });
  test('labels not listed yet (null) or none: the task\'s own, ticked', () => {
    assert.deepEqual(labelOptions(null, [label('bug')]), [{ name: 'bug', color: '0e8a16', checked: true }]);
    assert.deepEqual(labelOptions([], []), []);
    assert.deepEqual(labelOptions(NO_CHOICES.labels, []), []);
  });
  test('assignees: the assignable logins, then the task\'s own, each once', () => {
    assert.deepEqual(assigneeOptions(['ana', 'bo'], ['Bo', 'cy']), [
      { login: 'ana', checked: false }, { login: 'bo', checked: true }, { login: 'cy', checked: true },
    ]);
    assert.deepEqual(assigneeOptions(null, ['ana']), [{ login: 'ana', checked: true }]);
  });
  test('milestones: the repository\'s and the task\'s own; null (a number to type) while not listed', () => {
    const listed = [{ number: 1, title: 'v1.0' }, { number: 2, title: 'v2.0' }];
    assert.deepEqual(milestoneOptions(listed, { number: 2, title: 'v2.0' }), listed);
    assert.deepEqual(milestoneOptions(listed, { number: 7, title: 'old' }), [...listed, { number: 7, title: 'old' }]);
    assert.deepEqual(milestoneOptions(listed, null), listed);
    assert.deepEqual(milestoneOptions([], null), []);
    assert.equal(milestoneOptions(null, { number: 1, title: 'v1.0' }), null);
  });
});

describe('rebase (the version a save names)', () => {
  test('the card\'s newer version when its fields are the same (its title or column changed)', () => {
    const started = full();
    const shown = { ...full(), title: 'Renamed', status: 'done', updated_at: '2026-01-05T00:00:00Z' };
    assert.equal(rebase(started, shown), shown);
  });
  test('the version the form started from when the fields changed meanwhile (a save is then refused, not undoing them)', () => {
    const started = full();
    const shown = linked(3, { labels: [label('bug')], assignees: ['ana'] }, { milestone: { number: 1, title: 'v1.0' }, updated_at: '2026-01-05T00:00:00Z' });
    assert.equal(rebase(started, shown), started);
  });
  test('never an older version', () => {
    const started = { ...full(), updated_at: '2026-01-05T00:00:00Z' };
    assert.equal(rebase(started, full()), started);
  });
});

describe('texts', () => {
  test('412: nothing saved; whether the form now shows the card\'s new fields or keeps the choices', () => {
    const err = new ApiError(412, 'task_changed', 'the task changed since it was read');
    assert.equal(fieldsErrorText(err, true), 'This task changed since you last saw it, so nothing was saved; '
      + 'the form now shows its current labels, assignees and milestone. The task changed since it was read.');
    assert.equal(fieldsErrorText(err, false), 'This task changed since you last saw it (not its labels, assignees or milestone), '
      + 'so nothing was saved. Save again to apply your changes.');
  });
  test('422 names the field and what was refused; 409 says why it cannot be edited', () => {
    assert.equal(fieldsErrorText(new ApiError(422, 'invalid', 'not assignable in this repository: mallory', 'assignees'), false),
      'Invalid assignees: not assignable in this repository: mallory');
    assert.equal(fieldsErrorText(new ApiError(409, 'state_conflict', 'two-way sync is off for the task\'s project'), false),
      'Conflict: two-way sync is off for the task\'s project');
  });
  test('the live region once saved', () => {
    assert.equal(savedFieldsText(full()), 'Saved the fields of #3.');
    assert.equal(savedFieldsText(linked(1, {}, { github: null, title: 'Local' })), 'Saved the fields of “Local”.');
  });
});
