// Unit tests of the console's API client (functions/api/console/api.js) in Node, without a
// DOM: errorText's sentences, and api() against a stubbed fetch (token, body, errors, 401).
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, api, errorText, guard, onUnauthorized, report } from '../../functions/api/console/api.js';
import { state } from '../../functions/api/console/state.js';

describe('errorText', () => {
  test('a network failure says the server could not be reached (its own message)', () => {
    const err = new ApiError(0, 'network', 'The ghsync server could not be reached. Check that it is running.');
    assert.equal(errorText(err), 'The ghsync server could not be reached. Check that it is running.');
  });

  test('a 401 asks to sign in again, whatever the message', () => {
    assert.equal(errorText(new ApiError(401, 'unauthenticated', 'bad token')),
      'Your API token was refused: it is wrong or has expired. Sign in again.');
  });

  test('a 404 says what was not found', () => {
    assert.equal(errorText(new ApiError(404, 'not_found', 'project not found')), 'Not found: project not found');
  });

  test('a 422 names the field at fault in words', () => {
    assert.equal(errorText(new ApiError(422, 'invalid', 'must not be empty', 'repo_owner')),
      'Invalid repository owner: must not be empty');
    assert.equal(errorText(new ApiError(422, 'invalid', 'must be at least 60', 'sync_interval_seconds')),
      'Invalid interval: must be at least 60');
    assert.equal(errorText(new ApiError(422, 'invalid', 'not an https URL', 'api_url')),
      'Invalid GitHub Enterprise API URL: not an https URL');
  });

  test('a 422 with an unknown field names it as sent; without a field it says "value"', () => {
    assert.equal(errorText(new ApiError(422, 'invalid', 'too long', 'colour')), 'Invalid colour: too long');
    assert.equal(errorText(new ApiError(422, 'invalid', 'bad JSON')), 'Invalid value: bad JSON');
  });

  test('a refused PAT says so before GitHub\'s reason', () => {
    assert.equal(errorText(new ApiError(422, 'pat_refused', 'GitHub answered 401 Bad credentials.', 'pat')),
      'Personal access token refused. GitHub answered 401 Bad credentials.');
  });

  test('a 409 depends on the request: a running sync, an already resolved conflict, or the message', () => {
    const busy = new ApiError(409, 'conflict', 'a sync is running');
    assert.equal(errorText(busy, 'run'), 'A sync is already running for this project. Try again when it has finished.');
    assert.equal(errorText(busy, 'resolve'),
      'This conflict was already resolved (perhaps in another window). The lists have been refreshed.');
    assert.equal(errorText(busy, 'config'), 'Conflict: a sync is running');
    assert.equal(errorText(busy), 'Conflict: a sync is running');
  });

  test('a 409 whose message says what to do becomes that sentence, whatever the request', () => {
    assert.equal(errorText(new ApiError(409, 'no_github_app', 'the deployment has no GitHub App: set it first'), 'run'),
      'The deployment has no GitHub App: set it first.');
    assert.equal(errorText(new ApiError(409, 'token_expired', 'the token expired; save a new one.')),
      'The token expired; save a new one.');
    assert.equal(errorText(new ApiError(409, 'stored_pat_unreadable', 'the stored token cannot be opened')),
      'The stored token cannot be opened.');
  });

  test('a 412 says the task changed since it was seen, that its card now shows it as it is, and how', () => {
    const err = new ApiError(412, 'task_changed', 'the task changed since it was read: it is in done now (updated 2026-03-01T00:00:00Z)');
    assert.equal(errorText(err, 'move'), 'This task changed since you last saw it, so it was not moved; it now shows its current state. '
      + 'The task changed since it was read: it is in done now (updated 2026-03-01T00:00:00Z).');
  });

  test('413, 502 (GitHub or the key service), 503 and anything else', () => {
    assert.equal(errorText(new ApiError(413, 'too_large', 'body too large')), 'That request is too large.');
    assert.equal(errorText(new ApiError(502, 'github_unavailable', 'timed out')), 'GitHub could not be reached: timed out');
    assert.equal(errorText(new ApiError(502, 'kms_unavailable', 'no route')), 'The key service could not be reached: no route');
    assert.equal(errorText(new ApiError(503, 'unavailable', 'pool timed out')),
      'The ghsync database is unavailable right now. Try again in a moment.');
    assert.equal(errorText(new ApiError(500, 'internal', 'internal error')), 'Request failed (500): internal error');
    assert.equal(errorText(new ApiError(418, 'http_418', "I'm a teapot")), "Request failed (418): I'm a teapot");
  });
});

describe('api()', () => {
  const realFetch = globalThis.fetch;
  /** The requests the stub received: [url, init]. */
  let calls;
  /** What the stub answers next: a Response, or an Error to reject with. */
  let answer;
  let unauthorizedCalls;

  beforeEach(() => {
    calls = [];
    unauthorizedCalls = 0;
    state.token = 'tok-123';
    onUnauthorized(() => { unauthorizedCalls += 1; });
    globalThis.fetch = async (url, init) => {
      calls.push([url, init]);
      if (answer instanceof Error) throw answer;
      return answer;
    };
  });
  afterEach(() => {
    globalThis.fetch = realFetch;
    state.token = null;
    onUnauthorized(() => {});
  });

  const json = (status, body, statusText = '') => new Response(JSON.stringify(body), {
    status, statusText, headers: { 'Content-Type': 'application/json' },
  });

  test('sends the bearer token to /api{path} and resolves to the JSON answer', async () => {
    answer = json(200, [{ id: 'p1', name: 'Widgets' }]);
    assert.deepEqual(await api('GET', '/projects'), [{ id: 'p1', name: 'Widgets' }]);
    assert.equal(calls.length, 1);
    const [url, init] = calls[0];
    assert.equal(url, '/api/projects');
    assert.equal(init.method, 'GET');
    assert.deepEqual(init.headers, { Authorization: 'Bearer tok-123' });
    assert.equal(init.body, undefined);
  });

  test('a body goes as JSON with its content type', async () => {
    answer = json(201, { id: 'p2', name: 'New' });
    await api('POST', '/projects', { name: 'New' });
    const [, init] = calls[0];
    assert.deepEqual(init.headers, { Authorization: 'Bearer tok-123', 'Content-Type': 'application/json' });
    assert.equal(init.body, '{"name":"New"}');
  });

  test('extra headers go along (If-Match), but never replace the token', async () => {
    answer = json(200, { id: 't1' });
    await api('PATCH', '/tasks/t1', { status: 'done' }, { 'If-Match': '"2026-03-01T00:00:00Z"', Authorization: 'Bearer other' });
    const [, init] = calls[0];
    assert.deepEqual(init.headers, {
      'If-Match': '"2026-03-01T00:00:00Z"', Authorization: 'Bearer tok-123', 'Content-Type': 'application/json',
    });
  });

  test('a 204 resolves to null', async () => {
    answer = new Response(null, { status: 204 });
    assert.equal(await api('DELETE', '/github-app'), null);
  });

  test('an error answer becomes an ApiError with its status, code, message and field', async () => {
    answer = json(422, { error: { code: 'invalid', message: 'must not be empty', field: 'name' } });
    const err = await api('POST', '/projects', { name: '' }).catch((e) => e);
    assert.ok(err instanceof ApiError);
    assert.deepEqual({ status: err.status, code: err.code, message: err.message, field: err.field },
      { status: 422, code: 'invalid', message: 'must not be empty', field: 'name' });
    assert.equal(unauthorizedCalls, 0);
  });

  test('an error answer that is not JSON uses the HTTP status and its text', async () => {
    answer = new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' });
    const err = await api('GET', '/projects').catch((e) => e);
    assert.ok(err instanceof ApiError);
    assert.deepEqual({ status: err.status, code: err.code, message: err.message, field: err.field },
      { status: 502, code: 'http_502', message: 'Bad Gateway', field: undefined });
    assert.equal(errorText(err), 'GitHub could not be reached: Bad Gateway');
  });

  test('a network failure is an ApiError with status 0', async () => {
    answer = new TypeError('fetch failed');
    const err = await api('GET', '/projects').catch((e) => e);
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 0);
    assert.equal(err.code, 'network');
    assert.equal(errorText(err), 'The ghsync server could not be reached. Check that it is running.');
  });

  test('a 401 calls the unauthorized handler, then rejects', async () => {
    answer = json(401, { error: { code: 'unauthenticated', message: 'invalid token' } });
    const err = await api('GET', '/projects').catch((e) => e);
    assert.equal(unauthorizedCalls, 1);
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 401);
  });
});

describe('guard() and report()', () => {
  test('guard resolves to the action\'s value', async () => {
    assert.equal(await guard('x', async () => 42), 42);
  });

  test('a 401 resolves to undefined without a notice (the sign-in form says it)', async () => {
    assert.equal(await guard('x', async () => { throw new ApiError(401, 'unauthenticated', 'no'); }), undefined);
    assert.equal(report(new ApiError(401, 'unauthenticated', 'no'), 'x'), undefined);
  });

  test('anything but an ApiError is a bug and is thrown again', async () => {
    const bug = new TypeError('x is undefined');
    await assert.rejects(guard('x', async () => { throw bug; }), (e) => e === bug);
    assert.throws(() => report(bug, 'x'), (e) => e === bug);
  });
});
