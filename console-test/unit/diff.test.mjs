// Unit tests of the conflict dialog's word diff and the merge form's starting description
// (functions/api/console/diff.js), run in Node without a DOM.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { coalesce, combinedDescription, diffWords, lcsOps, tokenize } from '../../functions/api/console/diff.js';

/** What the dialog shows on each side: the local text (no insertions), GitHub's (no deletions). */
const sides = (ops) => ({
  local: ops.filter((o) => o.op !== 'ins').map((o) => o.text).join(''),
  remote: ops.filter((o) => o.op !== 'del').map((o) => o.text).join(''),
});

describe('tokenize', () => {
  test('splits into words and whitespace runs, losing nothing', () => {
    assert.deepEqual(tokenize('a  b\n\tc'), ['a', '  ', 'b', '\n\t', 'c']);
    assert.deepEqual(tokenize(' lead and trail '), [' ', 'lead', ' ', 'and', ' ', 'trail', ' ']);
  });
  test('an empty text has no tokens', () => {
    assert.deepEqual(tokenize(''), []);
  });
});

describe('diffWords', () => {
  test('equal texts are one unchanged piece', () => {
    assert.deepEqual(diffWords('a b c', 'a b c'), [{ op: 'same', text: 'a b c' }]);
  });

  test('two empty texts give no pieces', () => {
    assert.deepEqual(diffWords('', ''), []);
  });

  test('everything is inserted when the local text is empty', () => {
    assert.deepEqual(diffWords('', 'new text'), [{ op: 'ins', text: 'new text' }]);
  });

  test('everything is deleted when GitHub\'s text is empty', () => {
    assert.deepEqual(diffWords('old text', ''), [{ op: 'del', text: 'old text' }]);
  });

  test('a replaced word is one deletion then one insertion between the common parts', () => {
    assert.deepEqual(diffWords('the quick fox', 'the slow fox'), [
      { op: 'same', text: 'the ' }, { op: 'del', text: 'quick' }, { op: 'ins', text: 'slow' }, { op: 'same', text: ' fox' },
    ]);
  });

  test('a deletion and an insertion at different places', () => {
    assert.deepEqual(diffWords('Fix the login bug', 'Fix login bug on Safari'), [
      { op: 'same', text: 'Fix ' }, { op: 'del', text: 'the ' }, { op: 'same', text: 'login bug' }, { op: 'ins', text: ' on Safari' },
    ]);
  });

  test('the bare space between changed words joins them into one change', () => {
    assert.deepEqual(diffWords('a b c d', 'a x y d'), [
      { op: 'same', text: 'a ' }, { op: 'del', text: 'b c' }, { op: 'ins', text: 'x y' }, { op: 'same', text: ' d' },
    ]);
  });

  test('a whitespace-only change shows (double space, line break)', () => {
    assert.deepEqual(diffWords('a  b', 'a b'), [
      { op: 'same', text: 'a' }, { op: 'del', text: '  ' }, { op: 'ins', text: ' ' }, { op: 'same', text: 'b' },
    ]);
    assert.deepEqual(diffWords('done', 'done\n'), [{ op: 'same', text: 'done' }, { op: 'ins', text: '\n' }]);
  });

  test('lines keep their breaks', () => {
    assert.deepEqual(diffWords('line one\nline two\n', 'line one\nline 2\n'), [
      { op: 'same', text: 'line one\nline ' }, { op: 'del', text: 'two' }, { op: 'ins', text: '2' }, { op: 'same', text: '\n' },
    ]);
  });

  test('each side of the diff is exactly its text, and no two neighbours are of one kind', () => {
    const pairs = [
      ['', 'x'], ['x', ''], ['a b', 'b a'], ['one two three', 'three two one'], ['  spaced  out  ', 'spaced out'],
      ['Add OAuth login\n\nSteps:\n1. open\n2. click', 'Add OAuth login (GitHub)\n\nSteps:\n1. open page\n2. click\n3. done'],
      ['same', 'same'], ['a a a a', 'a b a b a'],
    ];
    for (const [a, b] of pairs) {
      const ops = diffWords(a, b);
      assert.deepEqual(sides(ops), { local: a, remote: b }, `sides of ${JSON.stringify([a, b])}`);
      for (let k = 1; k < ops.length; k += 1) assert.notEqual(ops[k].op, ops[k - 1].op, `neighbours in ${JSON.stringify(ops)}`);
      assert.ok(ops.every((o) => o.text !== ''), 'no empty pieces');
    }
  });

  test('a very large change is one deletion and one insertion instead of a word LCS', () => {
    // 2,801 × 2,801 tokens between the (empty) common prefix and suffix: over the LCS limit,
    // so the common word in the middle is not looked for.
    const a = `${'x '.repeat(700)}KEEP${' x'.repeat(700)}`;
    const b = `${'y '.repeat(700)}KEEP${' y'.repeat(700)}`;
    const ops = diffWords(a, b);
    assert.deepEqual(ops, [{ op: 'del', text: a }, { op: 'ins', text: b }]);
  });

  test('below the limit the common word in the middle is found', () => {
    const a = `${'x '.repeat(150)}KEEP${' x'.repeat(150)}`;
    const b = `${'y '.repeat(150)}KEEP${' y'.repeat(150)}`;
    const ops = diffWords(a, b);
    assert.ok(ops.some((o) => o.op === 'same' && o.text.includes('KEEP')), JSON.stringify(ops.map((o) => o.op)));
    assert.deepEqual(sides(ops), { local: a, remote: b });
  });
});

describe('coalesce', () => {
  test('merges neighbours of one kind and drops empty pieces', () => {
    assert.deepEqual(coalesce([{ op: 'same', text: 'a' }, { op: 'same', text: '' }, { op: 'same', text: 'b' }]),
      [{ op: 'same', text: 'ab' }]);
    assert.deepEqual(coalesce([]), []);
  });

  test('a run of changes becomes its deletion first, then its insertion', () => {
    assert.deepEqual(coalesce([{ op: 'ins', text: 'x' }, { op: 'del', text: 'y' }, { op: 'ins', text: 'z' }]),
      [{ op: 'del', text: 'y' }, { op: 'ins', text: 'xz' }]);
  });

  test('whitespace before an unchanged word is not pulled into the change', () => {
    assert.deepEqual(coalesce([{ op: 'del', text: 'a' }, { op: 'same', text: ' ' }, { op: 'same', text: 'b' }]),
      [{ op: 'del', text: 'a' }, { op: 'same', text: ' b' }]);
  });
});

describe('lcsOps', () => {
  test('one op per token, keeping the longest common subsequence', () => {
    assert.deepEqual(lcsOps(['a', 'b', 'c'], ['b', 'c', 'd']), [
      { op: 'del', text: 'a' }, { op: 'same', text: 'b' }, { op: 'same', text: 'c' }, { op: 'ins', text: 'd' },
    ]);
    assert.deepEqual(lcsOps([], ['x']), [{ op: 'ins', text: 'x' }]);
    assert.deepEqual(lcsOps(['x'], ['y']), [{ op: 'del', text: 'x' }, { op: 'ins', text: 'y' }], 'a tie deletes first');
    assert.deepEqual(lcsOps(['x'], []), [{ op: 'del', text: 'x' }]);
  });
});

describe('combinedDescription', () => {
  test('no description on either side is an empty text', () => {
    assert.equal(combinedDescription(null, null), '');
    assert.equal(combinedDescription(undefined, ''), '');
  });

  test('equal descriptions are given once', () => {
    assert.equal(combinedDescription('same text', 'same text'), 'same text');
  });

  test('only one side with a description: that one, unmarked', () => {
    assert.equal(combinedDescription('local only', null), 'local only');
    assert.equal(combinedDescription('local only', ''), 'local only');
    assert.equal(combinedDescription(null, 'remote only'), 'remote only');
    assert.equal(combinedDescription('', 'remote only'), 'remote only');
  });

  test('two different descriptions: both between marker lines, trailing whitespace trimmed', () => {
    assert.equal(combinedDescription('local text\n\n', 'remote text  '),
      '----- Local version -----\nlocal text\n----- GitHub version -----\nremote text\n----- end -----');
  });
});
