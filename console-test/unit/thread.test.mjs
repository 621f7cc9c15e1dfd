// Unit tests of the task detail dialog's thread (functions/api/console/thread.js) in Node,
// without a DOM: the page's path, which URLs may become links, the comment header's values
// (author, times, "edited") and the count line. A last test reads every console module and
// checks that none of them builds elements from an HTML string: comments come from GitHub
// and must only ever reach the page as text.
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmtRelative, fmtTime } from '../../functions/api/console/dom.js';
import {
  COMMENT_PAGE, commentMeta, commentsPath, countText, isEdited, linkableUrl,
} from '../../functions/api/console/thread.js';

const CONSOLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../functions/api/console');
const NOW = Date.parse('2026-03-02T12:00:00Z');

/** A GitHub comment as the API returns it, with `over` changed. */
const comment = (over = {}) => ({
  id: 'c1', task_id: 't1', body: 'Looks good', author: 'octocat',
  created_at: '2026-03-02T10:00:00Z', updated_at: '2026-03-02T10:00:00Z',
  github: { comment_id: 101, url: 'https://github.com/acme/widgets/issues/1#issuecomment-101', author_login: 'octocat' },
  ...over,
});

describe('commentsPath', () => {
  test('the first page: only the page size', () => {
    assert.equal(commentsPath('t1', null), `/tasks/t1/comments?limit=${COMMENT_PAGE}`);
  });
  test('a later page carries the cursor, encoded', () => {
    assert.equal(commentsPath('t1', 'c/2+x'), `/tasks/t1/comments?limit=${COMMENT_PAGE}&cursor=c%2F2%2Bx`);
  });
  test('the task id cannot leave its path segment', () => {
    assert.equal(commentsPath('../projects', null), `/tasks/..%2Fprojects/comments?limit=${COMMENT_PAGE}`);
  });
});

describe('linkableUrl (only https URLs become links)', () => {
  test('an https URL is kept', () => {
    const url = 'https://github.com/acme/widgets/issues/1#issuecomment-101';
    assert.equal(linkableUrl(url), url);
    assert.equal(linkableUrl('HTTPS://GitHub.example.com/a'), 'https://github.example.com/a');
  });
  test('any other scheme stays text', () => {
    for (const url of ['http://github.com/acme/widgets', 'javascript:alert(1)', 'JavaScript:alert(1)',
      'data:text/html,<script>alert(1)</script>', 'vbscript:x', 'ftp://example.com/x', 'mailto:a@b.c']) {
      assert.equal(linkableUrl(url), null, url);
    }
  });
  test('relative, malformed and missing URLs stay text', () => {
    for (const url of ['/acme/widgets', '//evil.example/x', 'github.com/acme', 'https://', ' ', '', null, undefined]) {
      assert.equal(linkableUrl(url), null, String(url));
    }
  });
});

describe('isEdited', () => {
  test('the same time is not an edit, however it is spelled', () => {
    assert.equal(isEdited(comment()), false);
    assert.equal(isEdited(comment({ updated_at: '2026-03-02T10:00:00.000Z' })), false);
    assert.equal(isEdited(comment({ updated_at: '2026-03-02T11:00:00+01:00' })), false);
  });
  test('a later update is an edit', () => {
    assert.equal(isEdited(comment({ updated_at: '2026-03-02T10:00:01Z' })), true);
  });
  test('unparsable times compare as text', () => {
    assert.equal(isEdited(comment({ created_at: 'x', updated_at: 'x' })), false);
    assert.equal(isEdited(comment({ created_at: 'x', updated_at: 'y' })), true);
  });
});

describe('commentMeta (a comment\'s header line)', () => {
  // The relative time reads the clock through Date.now() alone.
  beforeEach(() => mock.method(Date, 'now', () => NOW));
  afterEach(() => mock.restoreAll());

  test('a GitHub comment: its login, linking to the comment; relative time, exact time for the title', () => {
    const c = comment();
    assert.deepEqual(commentMeta(c), {
      author: '@octocat', href: c.github.url, when: fmtRelative(c.created_at), exact: fmtTime(c.created_at), edited: null,
    });
    assert.equal(commentMeta(c).when, new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' }).format(-2, 'hour'));
  });
  test('the login is GitHub\'s, not the stored author name', () => {
    const c = comment({ author: 'Octo Cat', github: { ...comment().github, author_login: 'octo-cat' } });
    assert.equal(commentMeta(c).author, '@octo-cat');
  });
  test('an edited comment says when it was edited', () => {
    const c = comment({ updated_at: '2026-03-02T11:30:00Z' });
    assert.equal(commentMeta(c).edited, `Edited ${fmtTime('2026-03-02T11:30:00Z')}`);
  });
  test('a comment URL that is not https is not linked', () => {
    for (const url of ['javascript:alert(1)', 'http://github.com/acme/widgets/issues/1#issuecomment-101']) {
      const c = comment({ github: { ...comment().github, url } });
      assert.equal(commentMeta(c).href, null, url);
      assert.equal(commentMeta(c).author, '@octocat');
    }
  });
  test('a board comment: its author as written, no link', () => {
    const c = comment({ author: 'Ana (board)', github: null });
    assert.equal(commentMeta(c).author, 'Ana (board)');
    assert.equal(commentMeta(c).href, null);
  });
});

describe('countText (the thread\'s count line)', () => {
  test('nothing shown: empty (the "No comments yet." line speaks), or more to load', () => {
    assert.equal(countText(0, false), '');
    assert.equal(countText(0, true), 'More comments to load.');
  });
  test('one or more, and whether pages remain', () => {
    assert.equal(countText(1, false), '1 comment shown.');
    assert.equal(countText(2, false), '2 comments shown.');
    assert.equal(countText(50, true), '50 comments shown, more to load.');
  });
});

describe('no console module parses HTML', () => {
  test('no innerHTML, outerHTML, insertAdjacentHTML, document.write, DOMParser or createContextualFragment', async () => {
    const files = (await readdir(CONSOLE)).filter((f) => f.endsWith('.js'));
    assert.ok(files.includes('thread.js'), 'thread.js is read');
    const html = /\.(?:innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\bDOMParser\b|createContextualFragment|srcdoc/;
    for (const file of files) {
      // Comments may mention the words; only code counts.
      const code = (await readFile(path.join(CONSOLE, file), 'utf8')).replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '');
      assert.doesNotMatch(code, html, file);
    }
  });
});
