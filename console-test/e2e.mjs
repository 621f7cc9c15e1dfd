// End-to-end test of the ghsync web console in a real browser.
//
// before(): starts fake-github (with a second repository of 5,000 issues) and `ghsync serve`
//           (each waits for its "listening on" line), seeds a project, imports 5 issues (some
//           with labels, assignees and a milestone) and makes one conflict through the API,
//           then launches Debian's chromium through playwright-core with a fresh profile.
// tests:    run in order against one page; screenshots go to ./artifacts/.
// after():  closes the browser and kills both servers (also when a test failed).
//
// Env: GHSYNC_BIN (default ../target/debug/ghsync), FAKE_GITHUB_BIN (default
// ../target/debug/fake-github), CONSOLE_DIR (serve the console from that folder instead of
// the copy embedded in the binary), CHROMIUM (default /usr/bin/chromium).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..');
const GHSYNC_BIN = process.env.GHSYNC_BIN || path.join(REPO, 'target/debug/ghsync');
const FAKE_BIN = process.env.FAKE_GITHUB_BIN || path.join(REPO, 'target/debug/fake-github');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.join(HERE, 'artifacts');
const START_TIMEOUT_MS = 20_000;
const GH_TOKEN = 'ghp_console_e2e';
const API_TOKEN = randomBytes(18).toString('hex');
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

const children = [];
const temps = [];
let fakeUrl; let baseUrl; let context; let page; let seededProjectId; let hugeId;
const browserProblems = [];

// ---- processes ------------------------------------------------------------------------
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

/** Spawns a server and resolves with the first stdout match of `pattern` (bounded wait). */
function startServer(name, bin, args, options, pattern) {
  const child = spawn(bin, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(`did not print its listening line within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    const lines = readline.createInterface({ input: child.stdout });
    function fail(why) {
      clearTimeout(timer);
      reject(new Error(`${name} ${why}.\nstderr:\n${stderr}`));
    }
    child.once('error', (e) => fail(`could not start (${e.message})`));
    child.once('exit', (code, signal) => fail(`exited early (code ${code}, signal ${signal})`));
    lines.on('line', (line) => {
      const m = line.match(pattern);
      if (!m) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve(m);
    });
  });
}

async function stopAll() {
  await Promise.all(children.map((child) => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => { clearTimeout(force); resolve(); });
    child.kill('SIGTERM');
  })));
}
process.on('exit', () => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL'); });

// ---- API seeding ----------------------------------------------------------------------
async function call(method, url, body, token = API_TOKEN) {
  const res = await fetch(url, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function api(method, route, body) {
  const res = await call(method, `${baseUrl}/api${route}`, body);
  assert.ok(res.status < 300, `${method} ${route} -> ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * POST run (202: queued for ghsync's worker, which its own loop may hold for a moment: 409,
 * retried, bounded), then the run's row once the worker finished it (bounded polling). Each
 * wait is bounded by `boundMs` (a sync of thousands of issues in a debug build takes longer).
 */
async function runSync(projectId, boundMs = 10_000) {
  let accepted = null;
  const busyUntil = Date.now() + Math.max(5000, boundMs);
  while (!accepted && Date.now() < busyUntil) {
    const res = await call('POST', `${baseUrl}/api/projects/${projectId}/github-sync/run`);
    if (res.status === 409) {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    assert.equal(res.status, 202, JSON.stringify(res.body));
    accepted = res.body;
  }
  assert.ok(accepted, `the sync config stayed busy (409) for ${Math.max(5000, boundMs)} ms`);
  const deadline = Date.now() + boundMs;
  while (Date.now() < deadline) {
    const runs = await api('GET', `/projects/${projectId}/sync-history/runs?limit=5`);
    const row = runs.items.find((r) => r.id === accepted.history_id);
    if (row && row.status !== 'in_progress') return row;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the queued sync did not finish within ${boundMs} ms`);
}

/** Sets an issue's labels, assignees or milestone on the test GitHub, as a person would there. */
async function setFields(number, updatedAt, fields) {
  const res = await call('POST', `${fakeUrl}/_fake/fields`, { repo: 'acme/widgets', number, updated_at: updatedAt, ...fields });
  assert.equal(res.status, 204, `fields of #${number}: ${JSON.stringify(res.body)}`);
}

async function seed() {
  const project = await api('POST', '/projects', { name: 'Widgets' });
  // What the board's filters find (every fixture issue also carries the label "bug").
  await setFields(3, '2026-01-03T00:00:00Z', { labels: ['bug', 'ui'], assignees: ['ana'], milestone: 'v1.0' });
  await setFields(4, '2026-01-04T00:00:00Z', { milestone: 'v1.0' });
  await setFields(5, '2026-01-05T00:00:00Z', { assignees: ['ana', 'bo'] });
  await api('PUT', `/projects/${project.id}/github-sync`, { repo_owner: 'acme', repo_name: 'widgets', pat: GH_TOKEN });
  const first = await runSync(project.id);
  assert.equal(first.tasks_created, 5, 'the first sync imports the 5 issues');
  const tasks = (await api('GET', `/projects/${project.id}/tasks`)).items;
  const task2 = tasks.find((t) => t.github && t.github.issue_number === 2);
  await api('PATCH', `/tasks/${task2.id}`, {
    title: 'Local title', description: `Reproduced locally on v2.1.\n\n${task2.description}`,
  });
  const touch = await call('POST', `${fakeUrl}/_fake/touch`, { repo: 'acme/widgets', numbers: [2], updated_at: '2026-03-01T00:00:00Z' });
  assert.equal(touch.status, 204);
  const second = await runSync(project.id);
  assert.equal(second.conflicts_detected, 1, 'the second sync finds the conflict');
  return { project, task2 };
}

/** The binary must embed the console on disk, or the test would exercise stale files. */
async function checkEmbeddedConsole() {
  if (process.env.CONSOLE_DIR) return;
  const dir = path.join(REPO, 'functions/api/console');
  const files = (await readdir(dir)).filter((f) => /\.(html|css|js)$/.test(f));
  assert.ok(files.includes('main.js'), `${dir} has no main.js`);
  for (const file of files) {
    const url = file === 'index.html' ? '/' : `/console/${file}`;
    const onDisk = await readFile(path.join(dir, file), 'utf8');
    const answer = await fetch(baseUrl + url);
    assert.equal(answer.status, 200, `${url} is not served: list it in functions/api/src/console.rs`);
    const served = await answer.text();
    assert.ok(served === onDisk, `${GHSYNC_BIN} embeds an older ${file} than ${dir}: rebuild the binary `
      + '(cargo build) or run with CONSOLE_DIR=<that folder> to test the files on disk');
  }
}

/** Full page, or only the viewport while a modal dialog is open (its backdrop covers only that). */
const shot = (name, fullPage = true) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage });
/** Resizes and waits two frames, so the chart has been redrawn for the new width. */
async function resize(size) {
  await page.setViewportSize(size);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}
const taskRow = (n) => page.locator('#tasks-body tr').filter({ has: page.getByRole('link', { name: `#${n}`, exact: true }) });

/** Shows the tasks card's List view (a project opens on its board); the list's tests read its table. */
async function showList() {
  const toggle = page.getByRole('button', { name: 'List', exact: true });
  if (await toggle.getAttribute('aria-pressed') !== 'true') await toggle.click();
  await page.locator('#list-view').waitFor();
}
/** Shows the Board view again. */
async function showBoard() {
  const toggle = page.getByRole('button', { name: 'Board', exact: true });
  if (await toggle.getAttribute('aria-pressed') !== 'true') await toggle.click();
  await page.locator('#board-view').waitFor();
}
/** A board column (a region named by its heading) and a card on the board (by its issue number). */
const column = (name) => page.locator('#board').getByRole('region', { name, exact: true });
const cardOf = (n, within = page.locator('#board')) => within.locator('li.task-card')
  .filter({ has: page.getByRole('link', { name: `#${n}`, exact: true }) });
/** The issue numbers of the cards a column (or the whole board) shows, in order. */
const cardNumbers = (within = page.locator('#board')) => within.locator('li.task-card .card-head a')
  .allTextContents().then((t) => t.map((x) => Number(x.replace('#', ''))));
/** Polls (bounded) until `read()` resolves to a value deepEqual to `want`; returns the last value. */
async function until(read, want, ms = 5000) {
  const deadline = Date.now() + ms;
  let got = await read();
  while (!isDeepStrictEqual(got, want) && Date.now() < deadline) {
    await page.waitForTimeout(50);
    got = await read();
  }
  return got;
}
/** The text of the focused element (the focus after a keyboard action). */
const focusedText = () => page.evaluate(() => (document.activeElement ? document.activeElement.textContent : null));
/** The Widgets task of issue `n`, as the API has it now. */
async function taskOf(n) {
  const tasks = (await api('GET', `/projects/${seededProjectId}/tasks?limit=100`)).items;
  return tasks.find((t) => t.github && t.github.issue_number === n);
}

/** The board's columns, by the status the API names them. */
const STATUSES = ['todo', 'inprogress', 'inreview', 'done', 'cancelled'];
/**
 * Holds the console's moves (PATCH /api/tasks/{id}) until `release()`, as a slow server would,
 * so the board is refreshed while a move is on its way; `held` lists the moves held. `stop()`
 * releases them and removes the hold.
 */
async function holdMoves() {
  let open = () => {};
  const gate = new Promise((resolve) => { open = resolve; });
  const held = [];
  const handler = async (route) => {
    if (route.request().method() !== 'PATCH') return route.fallback();
    held.push(route.request().url());
    await gate;
    return route.continue();
  };
  await page.route('**/api/tasks/*', handler);
  return { held, release: () => open(), stop: async () => { open(); await page.unroute('**/api/tasks/*', handler); } };
}
/** Records the board's column reads of project `pid` (their query) from now on, until `stop()`. */
function watchReads(pid) {
  const reads = [];
  const onRequest = (request) => {
    const url = new URL(request.url());
    if (url.pathname === `/api/projects/${pid}/tasks` && url.searchParams.has('status')) reads.push(url.searchParams);
  };
  page.on('request', onRequest);
  return { reads, stop: () => page.off('request', onRequest) };
}
/** Whether no refresh of the board is under way (the board is aria-busy while one is). */
const boardQuiet = () => page.locator('#board').getAttribute('aria-busy').then((b) => b !== 'true');
/** Waits (bounded) until `count` column reads were made since `from` and the refresh they belong to has ended. */
async function refreshed(watch, from, count = 5) {
  assert.equal(await until(async () => watch.reads.length >= from + count && await boardQuiet(), true, 10_000), true,
    `the board was refreshed (${watch.reads.length - from} column reads)`);
}
/** Asks the console to reload the tasks as "Search" does with the filters unchanged (no click: the focus stays). */
const reloadTasks = () => page.locator('#task-search-form').evaluate((f) => f.requestSubmit());

/** A comment on issue `number` in the fake GitHub (it also moves the issue's updated_at). */
async function addComment(number, id, body, login, at) {
  const res = await call('POST', `${fakeUrl}/_fake/comment`, { repo: 'acme/widgets', number, id, body, login, at });
  assert.equal(res.status, 204, `comment ${id}: ${JSON.stringify(res.body)}`);
}

/** Waits (bounded) until the project's newest run is newer than `previousId` and finished. */
async function newerFinishedRun(projectId, previousId) {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const [newest] = (await api('GET', `/projects/${projectId}/sync-history/runs?limit=1`)).items;
    if (newest && newest.id !== previousId && newest.status !== 'in_progress') return newest;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no new sync run finished within 10 s');
}

// ---- the test -------------------------------------------------------------------------
describe('ghsync web console', () => {
  let seeded;

  before(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    const port = await freePort();
    const [, fake] = await startServer('fake-github', FAKE_BIN,
      ['--port', String(port), '--repo', 'acme/widgets', '--token', GH_TOKEN, '--issues', '5', '--prs', '1',
        '--extra-repo', 'acme/huge', '--extra-issues', '5000'],
      {}, /listening on (http:\/\/\S+)/);
    fakeUrl = fake;
    const workdir = await mkdtemp(path.join(tmpdir(), 'ghsync-e2e-'));
    temps.push(workdir);
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(GHSYNC_|GITHUB_|RUST_LOG)/.test(k)));
    Object.assign(env, {
      GHSYNC_LISTEN: '127.0.0.1:0', GHSYNC_API_TOKEN: API_TOKEN, GHSYNC_WEBHOOK_SECRET: randomBytes(16).toString('hex'),
      GHSYNC_LOCAL_KEY: randomBytes(32).toString('hex'), GITHUB_API_URL: `http://127.0.0.1:${port}`, RUST_LOG: 'warn',
    });
    if (process.env.CONSOLE_DIR) env.GHSYNC_CONSOLE_DIR = path.resolve(process.env.CONSOLE_DIR);
    [, baseUrl] = await startServer('ghsync serve', GHSYNC_BIN, ['serve'], { cwd: workdir, env },
      /ghsync listening on (http:\/\/127\.0\.0\.1:\d+)/);
    await checkEmbeddedConsole();
    seeded = await seed();
    seededProjectId = seeded.project.id;

    const profile = await mkdtemp(path.join(tmpdir(), 'ghsync-e2e-profile-'));
    temps.push(profile);
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, viewport: DESKTOP,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (e) => browserProblems.push(`page error: ${e.message}`));
    page.on('console', (m) => { if (/Content Security Policy|Uncaught/i.test(m.text())) browserProblems.push(m.text()); });
    // The console opens no alert or prompt, and confirm() only to delete a comment, which no
    // test does: any of them would mean injected script ran.
    page.on('dialog', (d) => { browserProblems.push(`unexpected ${d.type()}: ${d.message()}`); d.dismiss().catch(() => {}); });
  });

  after(async () => {
    if (context) await context.close().catch(() => {});
    await stopAll();
    await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
  });

  test('a wrong token is refused with a clear message', async () => {
    await page.goto(baseUrl);
    await page.getByLabel('API token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await assertText('#signin-error', /token was refused: it is wrong or has expired/);
    assert.ok(await page.locator('#app-view').isHidden());
    await shot('01-signin-wrong-token');
  });

  test('signing in shows the project, its 5 tasks and the conflict badge on #2', async () => {
    await page.getByLabel('API token').fill(API_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Widgets' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Widgets' }).getAttribute('aria-current'), 'true');
    await assertText('#cfg-repo', /^acme\/widgets$/);
    await assertText('#cfg-enabled', /Enabled/);
    assert.equal(await page.getByRole('button', { name: 'Board', exact: true }).getAttribute('aria-pressed'), 'true',
      'a project opens on its board');
    assert.ok(await page.locator('#board-view').isVisible() && await page.locator('#list-view').isHidden());
    await showList();
    await page.locator('#tasks-body tr').nth(4).waitFor();
    assert.equal(await page.locator('#tasks-body tr').count(), 5);
    for (const title of ['Issue number 1', 'Local title', 'Issue number 3', 'Issue number 4', 'Issue number 5']) {
      assert.equal(await page.locator('#tasks-body td.title', { hasText: title }).count(), 1, title);
    }
    const link = page.getByRole('link', { name: '#2', exact: true });
    assert.equal(await link.getAttribute('href'), 'https://github.com/acme/widgets/issues/2');
    assert.match(await link.getAttribute('rel'), /noopener/);
    assert.equal(await taskRow(2).getByRole('button', { name: /Conflict/ }).count(), 1);
    assert.equal(await page.getByRole('button', { name: /Conflict/ }).count(), 1, 'only #2 has a conflict badge');
    await assertText('#conflict-list', /#2 Local title/);
    await shot('02-project-overview');
    await resize(PHONE);
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), PHONE.width, 'no sideways scrolling on a phone');
    await shot('02b-project-overview-phone');
    await resize(DESKTOP);
  });

  test('the sync card names the credential; the connect form switches to an App installation', async () => {
    // The stand-in reports a plain token as fine-grained; the seed saved the config one-way, so
    // only reading was checked (writing is checked when two-way is turned on, below).
    await assertText('#cfg-credential', /^Personal access token \(fine-grained\)$/);
    await assertText('#cfg-permissions', /^Issues: read-only, webhooks: (yes|no)$/);
    assert.ok(await page.locator('#cfg-token-warning').isHidden(), 'a token without an expiry has no warning');
    await page.locator('#sync-edit').click();
    assert.equal(await page.locator('#f-owner').inputValue(), 'acme', 'the form opens with the stored config');
    assert.ok(await page.locator('#f-mode-pat').isChecked(), 'a PAT config opens in PAT mode');
    assert.ok(await page.locator('#f-installation').isHidden());
    await page.getByLabel('GitHub App installation', { exact: true }).check();
    const installation = page.getByLabel('Installation id', { exact: true });
    await installation.waitFor();
    assert.ok(await page.locator('#f-pat').isHidden(), 'the PAT field gives way to the installation id');
    await assertText('#f-app-note', /GitHub App must be set first/);
    await installation.fill('77');
    await page.locator('#sync-submit').click();
    await assertText('#sync-form-error', /No GitHub App is set for this deployment/);
    await shot('02c-connect-form-installation');
    await page.locator('#sync-cancel').click();
    await page.locator('#sync-form').waitFor({ state: 'hidden' });
    await assertText('#cfg-credential', /^Personal access token \(fine-grained\)$/);
  });

  test('the sync history shows an accessible chart, the figures and a table', async () => {
    const chart = page.locator('#chart svg[role="img"]');
    await chart.waitFor();
    assert.match(await chart.locator('title').first().textContent(), /Sync history/);
    assert.match(await chart.locator('desc').textContent(), /runs from/);
    assert.ok(await chart.locator('rect.bar').count() >= 2, 'bars are drawn');
    await assertText('#summary', /Success rate\s*100%/);
    await assertText('#summary', /Issues imported\s*5/);
    await page.getByText('Runs as a table').click();
    assert.ok(await page.locator('#runs-body tr').count() >= 2);
    await page.locator('#history-h').scrollIntoViewIfNeeded();
    await page.locator('#history-h').locator('..').screenshot({ path: path.join(ARTIFACTS, '03-sync-history.png') });
  });

  test('the webhook panel gives the config\'s own URL and secret', async () => {
    await page.getByText('GitHub webhook:').click();
    await assertText('#hook-url', /^\/webhooks\/github\/[0-9a-f-]{36}$/);
    await assertText('#hook-type', /^application\/json$/);
    await assertText('#hook-message', /GHSYNC_PUBLIC_URL/);
    assert.equal(await page.locator('#hook-secret').textContent(), '••••••••', 'hidden until asked');
    await page.getByRole('button', { name: 'Show' }).click();
    await assertText('#hook-secret', /^[0-9a-f]{64}$/);
    await page.getByText('GitHub webhook:').click();
  });

  test('"Sync now" runs a sync and shows its result', async () => {
    await showList();
    // GitHub answers slowly: the console shows the queued run while the worker waits on it.
    const slow = await call('POST', `${fakeUrl}/_fake/latency`, { ms: 600 });
    assert.equal(slow.status, 204);
    await page.getByRole('button', { name: 'Sync now' }).click();
    await assertText('#sync-result', /Sync queued: waiting for the reconcile worker|Syncing: \d+ pages?, \d+ issues so far/);
    assert.equal(await page.getByRole('button', { name: 'Syncing…' }).isDisabled(), true);
    await call('POST', `${fakeUrl}/_fake/latency`, { ms: 0 });
    await assertText('#sync-result', /Sync finished in \d+ ms: \d+ issues fetched, \d+ tasks created/);
    assert.equal(await taskRow(2).getByRole('button', { name: /Conflict/ }).count(), 1, 'the conflict stays pending');
  });

  test('a task\'s detail view shows its GitHub comments as text, a page at a time', async () => {
    await showList();
    // Markup in a comment must reach the page as the characters typed, never as elements.
    const hostile = '<img src=x onerror=alert(1)> **bold**\n<b>second line</b> <script>alert(2)</script>';
    await addComment(1, 9001, hostile, 'octo-reviewer', '2026-03-02T00:00:00Z');
    await addComment(1, 9002, 'Fixed in v2.2.', 'maintainer-ana', '2026-03-02T01:00:00Z');
    const pid = seeded.project.id;
    const [previous] = (await api('GET', `/projects/${pid}/sync-history/runs?limit=1`)).items;
    await page.getByRole('button', { name: 'Sync now' }).click();
    const run = await newerFinishedRun(pid, previous.id);
    assert.equal(run.status, 'success', run.error_message || '');
    assert.equal(run.comments.created, 2, `the sync took both comments in: ${JSON.stringify(run.comments)}`);
    // The history table gives the run's comment counts (the console reloads it when the run ends).
    if (!(await page.locator('#history-details').evaluate((d) => d instanceof HTMLDetailsElement && d.open))) {
      await page.getByText('Runs as a table').click();
    }
    await assertText('#runs-body tr:first-child td.comments', new RegExp(`^${run.comments.fetched} listed, 2 new, 0 edited, 0 deleted$`));
    await page.locator('#history-h').scrollIntoViewIfNeeded();
    await page.locator('#history-h').locator('..').screenshot({ path: path.join(ARTIFACTS, '03b-sync-history-comments.png') });

    // One comment a page (the console asks for 50): the first page, then "Load more comments".
    const pageOfOne = (route) => {
      const url = new URL(route.request().url());
      url.searchParams.set('limit', '1');
      return route.continue({ url: url.href });
    };
    const threadPages = (url) => /^\/api\/tasks\/[^/]+\/comments$/.test(url.pathname);
    await page.route(threadPages, pageOfOne);
    const title = taskRow(1).getByRole('button', { name: 'Issue number 1', exact: true });
    await title.press('Enter'); // keyboard-reachable: a button, not a clickable cell
    const dialog = page.getByRole('dialog', { name: 'Issue number 1' });
    await dialog.waitFor();
    assert.ok(await page.locator('#task-dlg-close').evaluate((b) => b === document.activeElement), 'focus moves into the dialog');
    const issueLink = dialog.getByRole('link', { name: '#1', exact: true });
    assert.equal(await issueLink.getAttribute('href'), 'https://github.com/acme/widgets/issues/1');
    assert.match(await issueLink.getAttribute('rel'), /noopener noreferrer/);
    await assertText('#task-facts', /On GitHub\s*Open/);
    await assertText('#task-facts', /Sync\s*In sync/);
    const comments = page.locator('#thread-list li.comment');
    await comments.first().waitFor();
    await assertText('#thread-count', /^1 comment shown, more to load\.$/);
    const first = comments.first();
    assert.equal(await first.locator('.comment-body').textContent(), hostile, 'the body is shown verbatim');
    assert.ok(await dialog.getByText('<img src=x onerror=alert(1)> **bold**').isVisible(), 'the markup is visible as text');
    assert.equal(await first.locator('.comment-body').evaluate((b) => getComputedStyle(b).whiteSpace), 'pre-wrap');
    const author = first.getByRole('link', { name: '@octo-reviewer', exact: true });
    assert.equal(await author.getAttribute('href'), 'https://github.com/acme/widgets/issues/1#issuecomment-9001');
    assert.match(await author.getAttribute('rel'), /noopener noreferrer/);
    assert.match(await first.locator('time').getAttribute('title'), /2026/, 'the exact time is the title');
    assert.equal(await first.locator('.edited').count(), 0, 'not edited');
    assert.equal(await page.locator('#task-dialog img, #task-dialog script, #task-dialog b, #task-dialog strong').count(), 0,
      'no element was made from the comment');

    await page.getByRole('button', { name: 'Load more comments' }).click();
    await comments.nth(1).waitFor();
    assert.equal(await comments.count(), 2);
    await assertText('#thread-count', /^2 comments shown\.$/);
    assert.ok(await page.locator('#thread-more').isHidden(), 'no page left to load');
    assert.equal(await comments.nth(1).locator('.comment-body').textContent(), 'Fixed in v2.2.');
    assert.ok(await comments.nth(1).evaluate((li) => li === document.activeElement), 'reading goes on at the new comment');
    await page.unroute(threadPages, pageOfOne);
    await shot('03c-task-detail-comments', false);
    await resize(PHONE);
    const box = await page.locator('#task-dialog').boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= PHONE.width, 'the dialog fits a phone');
    await shot('03d-task-detail-comments-phone', false);
    await resize(DESKTOP);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.ok(await title.evaluate((b) => b === document.activeElement), 'focus returns to the title');

    // A task without comments says so; ✕ closes it.
    await taskRow(3).getByRole('button', { name: 'Issue number 3', exact: true }).click();
    await assertText('#thread-empty', /^No comments yet\.$/);
    assert.equal(await page.locator('#thread-list li').count(), 0);
    await page.getByRole('dialog', { name: 'Issue number 3' }).getByRole('button', { name: 'Close' }).click();
    await page.locator('#task-dialog').waitFor({ state: 'hidden' });
  });

  test('the conflict dialog shows both versions side by side, closes on Escape', async () => {
    await showList();
    const badge = taskRow(2).getByRole('button', { name: /Conflict/ });
    await badge.click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await assertText('#local-title', /^Local title$/);
    await assertText('#remote-title', /^Issue number 2 \(edited\)$/);
    await assertText('#local-status', /^To do$/);
    await assertText('#remote-state', /^Open$/);
    assert.match(await page.locator('#remote-title ins').allTextContents().then((t) => t.join(' ')), /\(edited\)/);
    assert.match(await page.locator('#local-title del').allTextContents().then((t) => t.join(' ')), /Local/);
    const [local, remote] = await Promise.all([page.locator('.version').nth(0).boundingBox(), page.locator('.version').nth(1).boundingBox()]);
    assert.ok(Math.abs(local.y - remote.y) < 2 && local.x + local.width <= remote.x, 'side by side on a laptop');
    await shot('04-conflict-dialog', false);
    await resize(PHONE);
    const [l2, r2] = await Promise.all([page.locator('.version').nth(0).boundingBox(), page.locator('.version').nth(1).boundingBox()]);
    assert.ok(r2.y >= l2.y + l2.height, 'stacked on a phone');
    await shot('05-conflict-dialog-phone', false);
    await resize(DESKTOP);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.ok(await badge.evaluate((b) => b === document.activeElement), 'focus returns to the badge');
  });

  test('merging resolves the conflict and updates the task', async () => {
    await showList();
    await taskRow(2).getByRole('button', { name: /Conflict/ }).click();
    await page.getByRole('button', { name: 'Merge…' }).click();
    const title = page.getByLabel('Title', { exact: true });
    assert.equal(await title.inputValue(), 'Local title');
    const description = await page.getByLabel('Description', { exact: true }).inputValue();
    assert.match(description, /Local version/);
    assert.match(description, /GitHub version/);
    await title.fill('Merged title');
    assert.equal(await page.getByLabel('Column', { exact: true }).inputValue(), 'todo', 'the task\'s own column by default');
    await shot('06-merge-editor', false);
    await page.getByRole('button', { name: 'Save merged version' }).click();
    await page.getByRole('dialog').waitFor({ state: 'hidden' });
    await assertText('#notice-text', /Conflict resolved: merged/);
    await page.locator('#tasks-body td.title', { hasText: 'Merged title' }).waitFor();
    assert.equal(await taskRow(2).locator('td.title').textContent(), 'Merged title');
    assert.equal(await page.getByRole('button', { name: /Conflict/ }).count(), 0, 'no conflict badge left');
    await assertText('#conflicts-empty', /No pending conflicts/);
    await shot('07-after-merge');

    const pending = await api('GET', `/projects/${seeded.project.id}/conflicts?status=pending`);
    assert.equal(pending.items.length, 0);
    const task = (await api('GET', `/projects/${seeded.project.id}/tasks`)).items.find((t) => t.id === seeded.task2.id);
    assert.equal(task.title, 'Merged title');

    await page.getByRole('button', { name: 'Resolved' }).click();
    await assertText('#conflict-list', /#2 Merged title.*merged/);
    await page.getByRole('button', { name: 'View' }).click();
    await assertText('#dlg-resolved', /Merged version\s*Merged title/);
    assert.ok(await page.locator('#dlg-actions').isHidden(), 'a resolved conflict offers no actions');
    await page.getByRole('button', { name: 'Close' }).click();
    await page.getByRole('dialog').waitFor({ state: 'hidden' });
    await resize(PHONE);
    await shot('08-resolved-list-phone');
    await resize(DESKTOP);
  });

  test('two-way: turning it on offers the edits made while one-way', async () => {
    await page.getByRole('button', { name: 'Turn two-way sync on' }).click();
    // The merged task was edited on the board while one-way: the console asks before it goes.
    const offer = page.getByRole('dialog', { name: /Send edits made while two-way sync was off/ });
    await offer.waitFor();
    await assertText('#offer-text', /^1 task edit and no comments were made on the board while two-way sync was off\./);
    await shot('08a-two-way-offer', false);
    await page.getByRole('button', { name: 'Send them to GitHub' }).click();
    await offer.waitFor({ state: 'hidden' });
    await assertText('#notice-text', /1 task queued for GitHub/);
    await assertText('#cfg-two-way', /Two-way: local edits are pushed to GitHub/);
    // The local worker sends it at once (polled, bounded: until nothing waits for it).
    const deadline = Date.now() + 10_000;
    let waiting = true;
    while (waiting && Date.now() < deadline) {
      const task = (await api('GET', `/projects/${seeded.project.id}/tasks`)).items.find((t) => t.id === seeded.task2.id);
      waiting = task.github.push_pending;
      if (waiting) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(waiting, false, 'the offered edit was sent');
    const res = await fetch(`${fakeUrl}/repos/acme/widgets/issues/2`, { headers: { Authorization: `Bearer ${GH_TOKEN}` } });
    assert.equal((await res.json()).title, 'Merged title', 'the offered edit reached GitHub');
  });

  test('two-way: a refused push shows why and is retried once fixed', async () => {
    await showList();
    assert.equal((await call('POST', `${fakeUrl}/_fake/read_only`, { token: GH_TOKEN, read_only: true })).status, 204);
    const edited = await api('PATCH', `/tasks/${seeded.task2.id}`, { title: 'Refused at first' });
    assert.equal(edited.title, 'Refused at first');
    await page.getByRole('button', { name: 'Search' }).click();
    await assertText(`#tasks-body tr[data-task="${seeded.task2.id}"] td[data-label="Sync"]`, /Not on GitHub: .*403.*Resource not accessible/);
    await shot('08b-push-refused');
    assert.equal((await call('POST', `${fakeUrl}/_fake/read_only`, { token: GH_TOKEN, read_only: false })).status, 204);
    await taskRow(2).getByRole('button', { name: 'Retry push' }).click();
    await assertText('#notice-text', /Sent to GitHub/);
    // In sync again (its conflict was resolved earlier, which the cell says).
    await assertText(`#tasks-body tr[data-task="${seeded.task2.id}"] td[data-label="Sync"]`, /^(Resolved|In sync)$/);
  });

  test('two-way: labels filter the list, a new task is published to GitHub', async () => {
    await showList();
    await assertText('#cfg-permissions', /^Issues: read and write\b/);
    assert.equal(await taskRow(1).getByRole('button', { name: 'bug', exact: true }).count(), 1, 'the label shows');
    const label = page.getByLabel('Label', { exact: true });
    await label.fill('nope');
    await page.getByRole('button', { name: 'Search' }).click();
    await assertText('#tasks-empty', /No task matches the search/);
    await label.fill('');
    await page.getByRole('button', { name: 'Search' }).click();
    await taskRow(3).getByRole('button', { name: 'bug', exact: true }).click();
    assert.equal(await label.inputValue(), 'bug', 'a chip filters by its label');
    await page.locator('#tasks-body tr').nth(4).waitFor();

    await page.getByLabel('New task', { exact: true }).fill('Write release notes');
    await page.getByRole('button', { name: 'Add task' }).click();
    await label.fill('');
    await page.getByRole('button', { name: 'Search' }).click();
    const row = page.locator('#tasks-body tr').filter({ hasText: 'Write release notes' });
    await row.getByRole('button', { name: 'Publish to GitHub' }).click();
    await row.getByRole('link', { name: '#7', exact: true }).waitFor();
    const res = await fetch(`${fakeUrl}/repos/acme/widgets/issues/7`, { headers: { Authorization: `Bearer ${GH_TOKEN}` } });
    assert.equal((await res.json()).title, 'Write release notes', 'the issue is on GitHub');
    await shot('08c-two-way-published');
  });

  test('two-way: a comment written on the board reaches the test GitHub', async () => {
    await showList();
    // Markup typed in a comment stays text on the board, and goes to GitHub as typed.
    const text = 'Shipped in <b>v2</b> <img src=x onerror=alert(3)>';
    const title = taskRow(1).getByRole('button', { name: 'Issue number 1', exact: true });
    await title.click();
    const dialog = page.getByRole('dialog', { name: 'Issue number 1' });
    await dialog.waitFor();
    await assertText('#thread-count', /^2 comments shown\.$/);
    const comments = page.locator('#thread-list li.comment');
    assert.equal(await comments.first().getByRole('button').count(), 0, 'a GitHub comment has no Edit or Delete');
    await dialog.getByLabel('Comment', { exact: true }).fill(text);
    await dialog.getByLabel('Your name', { exact: true }).fill('Ana');
    await dialog.getByRole('button', { name: 'Post comment' }).click();
    await assertText('#comment-status', /^Comment (posted to GitHub|saved; waiting to reach GitHub)\.$/);
    assert.equal(await dialog.getByLabel('Comment', { exact: true }).inputValue(), '', 'the form is emptied');
    await assertText('#thread-count', /^3 comments shown\.$/);
    const mine = comments.nth(2);
    assert.equal(await mine.locator('.comment-body').textContent(), text, 'the body is shown verbatim');
    assert.equal(await mine.locator('.comment-author').textContent(), 'Ana');
    assert.equal(await page.locator('#task-dialog img, #task-dialog script, #task-dialog b').count(), 0,
      'no element was made from the comment');
    assert.equal(await mine.getByRole('button', { name: /^Edit comment by Ana, / }).count(), 1, 'a board comment can be edited');
    assert.equal(await mine.getByRole('button', { name: /^Delete comment by Ana, / }).count(), 1, 'and deleted');

    // ghsync's worker posts it, paced under GitHub's limits (polled, bounded: until the board
    // says nothing waits for it).
    const task1 = (await api('GET', `/projects/${seeded.project.id}/tasks`)).items.find((t) => t.github && t.github.issue_number === 1);
    const deadline = Date.now() + 15_000;
    let stored = null;
    while (Date.now() < deadline) {
      stored = (await api('GET', `/tasks/${task1.id}/comments?limit=50`)).items.find((c) => c.origin === 'board');
      if (stored && stored.github && !stored.push_pending) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(stored && stored.github && !stored.push_pending, `the comment reached GitHub: ${JSON.stringify(stored)}`);
    assert.equal(stored.push_error, null);
    assert.equal(stored.body, text);
    const res = await fetch(`${fakeUrl}/repos/acme/widgets/issues/1/comments`, { headers: { Authorization: `Bearer ${GH_TOKEN}` } });
    assert.equal(res.status, 200);
    const ours = (await res.json()).filter((c) => c.body.startsWith('**Ana** (via ghsync):'));
    assert.equal(ours.length, 1, 'exactly one comment was posted');
    assert.ok(ours[0].body.includes(text), `the text goes as typed: ${ours[0].body}`);
    assert.ok(ours[0].body.includes('<!-- ghsync:comment:'), 'with ghsync\'s marker');
    assert.equal(ours[0].id, stored.github.comment_id, 'the board knows which GitHub comment it is');

    await mine.scrollIntoViewIfNeeded();
    await shot('08d-two-way-comment-posted', false);

    // Read again: the board's author (not the token's login), a link to it on GitHub, no state line.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await title.click();
    await assertText('#thread-count', /^3 comments shown\.$/);
    const again = comments.nth(2);
    assert.equal(await again.locator('.comment-author').textContent(), 'Ana');
    assert.equal(await again.locator('.comment-body').textContent(), text);
    assert.equal(await again.getByRole('link', { name: 'on GitHub', exact: true }).getAttribute('href'), stored.github.url);
    assert.equal(await again.locator('.comment-state').count(), 0, 'nothing waits, nothing was refused');
    await again.scrollIntoViewIfNeeded();
    await shot('08e-two-way-comment-on-github', false);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
  });

  // ---- the board (issue 30): two-way sync is on from here ------------------------------

  test('the board: five columns with their headings, cards as list items, newest-updated first', async () => {
    await showBoard();
    assert.equal(await page.getByRole('button', { name: 'Board', exact: true }).getAttribute('aria-pressed'), 'true');
    assert.equal(await page.getByRole('button', { name: 'List', exact: true }).getAttribute('aria-pressed'), 'false');
    assert.ok(await page.locator('#list-view').isHidden(), 'the list gives way to the board');
    const names = ['To do', 'In progress', 'In review', 'Done', 'Cancelled'];
    assert.deepEqual(await page.locator('#board').getByRole('heading', { level: 4 }).allTextContents(), names);
    for (const name of names) assert.equal(await column(name).getByRole('heading', { level: 4, name, exact: true }).count(), 1, name);
    await page.getByText('Newest-updated first in each column.').waitFor();
    // The 5 issues and the task published as #7, all in To do, as list items of its list.
    const todo = column('To do');
    assert.deepEqual((await until(() => cardNumbers(todo).then((n) => [...n].sort()), [1, 2, 3, 4, 5, 7])), [1, 2, 3, 4, 5, 7]);
    assert.equal(await todo.getByRole('list', { name: 'To do' }).getByRole('listitem').count(), 6);
    for (const status of ['inprogress', 'inreview', 'done', 'cancelled']) await assertText(`#col-${status}-count`, /^No tasks\.$/);
    for (const name of names.slice(1)) assert.equal(await column(name).getByRole('listitem').count(), 0, name);
    await assertText('#col-todo-count', /^6 tasks\.$/);
    // Newest-updated first: the order the API gives for sort=updated.
    const api_order = (await api('GET', `/projects/${seededProjectId}/tasks?status=todo&sort=updated&limit=50`)).items;
    assert.deepEqual(await cardNumbers(todo), api_order.map((t) => t.github.issue_number));
    const times = api_order.map((t) => Date.parse(t.updated_at));
    assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest-updated first');
    // A card: issue link, title (opens the detail dialog), labels, assignees, milestone, comments, sync state.
    const card3 = cardOf(3);
    const link = card3.getByRole('link', { name: '#3', exact: true });
    assert.equal(await link.getAttribute('href'), 'https://github.com/acme/widgets/issues/3');
    assert.equal(await link.getAttribute('target'), '_blank');
    assert.match(await link.getAttribute('rel'), /noopener noreferrer/);
    assert.deepEqual(await card3.locator('.chip').allTextContents(), ['bug', 'ui']);
    assert.deepEqual(await card3.locator('.chip').evaluateAll((chips) => chips.map((c) => c.style.getPropertyValue('--chip'))),
      ['#0e8a16', '#0e8a16'], 'the chips in their GitHub colours');
    await card3.getByText('@ana', { exact: true }).waitFor();
    await card3.getByText('◷ v1.0', { exact: true }).waitFor();
    assert.equal(await cardOf(5).getByText('@ana @bo', { exact: true }).count(), 1);
    assert.equal(await cardOf(1).getByRole('img', { name: '3 comments', exact: true }).count(), 1, '2 from GitHub, 1 from the board');
    assert.equal(await card3.getByRole('img', { name: 'No comments', exact: true }).count(), 1);
    assert.equal(await cardOf(1).locator('.card-sync').textContent(), 'In sync');
    assert.equal(await cardOf(1).getByRole('button', { name: 'Move to… (#1 Issue number 1)', exact: true }).getAttribute('aria-haspopup'), 'menu');
    assert.equal(await page.locator('#board').getAttribute('tabindex'), '0', 'the board scroller is keyboard-focusable');
    await shot('10-board-desktop');
    const title = card3.getByRole('button', { name: 'Issue number 3', exact: true });
    await title.click();
    const dialog = page.getByRole('dialog', { name: 'Issue number 3' });
    await dialog.waitFor();
    await assertText('#task-facts', /Assignees\s*@ana/);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    // The card is read again as the view closes, and may be drawn again: the focus follows it.
    const titleFocused = () => title.evaluate((b) => b === document.activeElement);
    assert.equal(await until(titleFocused, true), true, 'focus returns to the card\'s title');
    // A comment written in the detail view counts on the card once the view closes.
    await title.click();
    await dialog.waitFor();
    await dialog.getByLabel('Comment', { exact: true }).fill('Triaged on the board');
    await dialog.getByLabel('Your name', { exact: true }).fill('Ana');
    await dialog.getByRole('button', { name: 'Post comment' }).click();
    await assertText('#thread-count', /^1 comment shown\.$/);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await card3.getByRole('img', { name: '1 comment', exact: true }).waitFor();
    assert.ok(await title.evaluate((b) => b === document.activeElement), 'focus stays on the card\'s title');
  });

  test('the board: a card moves by drag and by keyboard; GitHub closes the issue moved to Done', async () => {
    // By drag and drop: #4 to In progress.
    const inProgress = column('In progress');
    await cardOf(4).dragTo(inProgress, { sourcePosition: { x: 4, y: 4 } });
    await cardOf(4, inProgress).waitFor();
    assert.equal(await cardOf(4, column('To do')).count(), 0, 'it left To do');
    await assertText('#board-live', /^Moved #4 to In progress\.$/);
    assert.equal((await taskOf(4)).status, 'inprogress', 'the server has the move');
    await assertText('#board li.task-card:has(a[href$="/issues/4"]) .card-sync', /^In sync$/);

    // The menu: Escape closes it and gives the focus back; a click outside closes it.
    const move1 = cardOf(1).getByRole('button', { name: /^Move to… \(#1 / });
    await move1.focus();
    await page.keyboard.press('Enter');
    const menu = page.getByRole('menu');
    await menu.waitFor();
    assert.equal(await move1.getAttribute('aria-expanded'), 'true');
    assert.deepEqual(await menu.getByRole('menuitem').allTextContents(), ['In progress', 'In review', 'Done', 'Cancelled'],
      'the four other columns');
    assert.equal(await focusedText(), 'In progress', 'focus moves into the menu');
    await page.keyboard.press('ArrowUp');
    assert.equal(await focusedText(), 'Cancelled', 'ArrowUp wraps to the last');
    await page.keyboard.press('Escape');
    await menu.waitFor({ state: 'hidden' });
    assert.ok(await move1.evaluate((b) => b === document.activeElement), 'Escape returns the focus to the button');
    assert.equal(await move1.getAttribute('aria-expanded'), 'false');
    await move1.click();
    await menu.waitFor();
    await page.getByText('Newest-updated first in each column.').click();
    await menu.waitFor({ state: 'hidden' });

    // By keyboard: #5 to Done.
    const move5 = cardOf(5).getByRole('button', { name: /^Move to… \(#5 / });
    await move5.focus();
    await page.keyboard.press('Enter');
    await menu.waitFor();
    for (let i = 0; i < 4 && (await focusedText()) !== 'Done'; i += 1) await page.keyboard.press('ArrowDown');
    assert.equal(await focusedText(), 'Done');
    await page.keyboard.press('Enter');
    const done = column('Done');
    await cardOf(5, done).waitFor();
    assert.equal(await cardOf(5, column('To do')).count(), 0);
    await assertText('#board-live', /^Moved #5 to Done\.$/);
    const focusedName = await page.evaluate(() => document.activeElement && document.activeElement.getAttribute('aria-label'));
    assert.match(focusedName || '', /^Move to… \(#5 /, 'focus follows the card to its Move button');
    assert.equal(await cardOf(5, done).count(), 1);

    // Two-way: the issue is closed as completed on the test GitHub (polled, bounded).
    const deadline = Date.now() + 10_000;
    let issue = null;
    while (Date.now() < deadline) {
      const res = await fetch(`${fakeUrl}/repos/acme/widgets/issues/5`, { headers: { Authorization: `Bearer ${GH_TOKEN}` } });
      issue = await res.json();
      if (issue.state === 'closed' && issue.state_reason === 'completed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(issue.state, 'closed', 'the issue was closed on GitHub');
    assert.equal(issue.state_reason, 'completed');
    await assertText('#board li.task-card:has(a[href$="/issues/5"]) .card-sync', /^In sync$/);
    assert.equal((await taskOf(5)).status, 'done');
  });

  test('the board: a move of a card changed elsewhere is refused, and the card goes back', async () => {
    const stale = await taskOf(3);
    await api('PATCH', `/tasks/${stale.id}`, { title: 'Changed elsewhere' });
    const card3 = cardOf(3);
    assert.equal(await card3.getByRole('button', { name: 'Issue number 3', exact: true }).count(), 1, 'the board shows the old version');
    const before = await cardNumbers(column('To do'));
    await card3.getByRole('button', { name: /^Move to… \(#3 / }).click();
    await page.getByRole('menuitem', { name: 'In review', exact: true }).click();
    await assertText('#notice-text', /^This task changed since you last saw it, so it was not moved; it now shows its current state\. The task changed since it was read/);
    await column('To do').getByRole('button', { name: 'Changed elsewhere', exact: true }).waitFor();
    assert.deepEqual(await cardNumbers(column('To do')), before, 'back in its place');
    assert.equal(await cardOf(3, column('In review')).count(), 0);
    await assertText('#board-live', /^#3 was not moved to In review; it is back in To do\.$/);
    assert.equal((await taskOf(3)).status, 'todo', 'nothing was written');
    await page.getByRole('button', { name: 'Dismiss message' }).click();
  });

  test('the board: the filters (assignee, milestone, label) narrow every column, and the list', async () => {
    const board = page.locator('#board');
    const sorted = () => cardNumbers(board).then((n) => [...n].sort());
    const assignee = page.getByLabel('Assignee', { exact: true });
    const milestone = page.getByLabel('Milestone', { exact: true });
    const label = page.getByLabel('Label', { exact: true });
    const search = page.getByRole('button', { name: 'Search' });

    await assignee.fill('ANA'); // logins compare in any case
    await search.click();
    assert.deepEqual(await until(sorted, [3, 5]), [3, 5], 'only the tasks assigned to ana');
    await assertText('#col-inprogress-count', /^No task matches the filters\.$/);
    // The same form filters the list.
    // The rows the list read before the filters changed (on the board) never show: while its
    // read (held here until checked) is on its way, it shows none.
    let letGo = () => {};
    const gate = new Promise((resolve) => { letGo = resolve; });
    const listRead = (url) => url.pathname === `/api/projects/${seededProjectId}/tasks` && !url.searchParams.has('status');
    const holdList = async (route) => { await gate; return route.fallback(); };
    await page.route(listRead, holdList);
    try {
      await showList();
      assert.equal(await page.locator('#tasks-body tr').count(), 0, 'no rows read for the old filters');
      await assertText('#tasks-count', /^Loading…$/);
    } finally {
      letGo();
      await page.unroute(listRead, holdList);
    }
    const listed = () => page.locator('#tasks-body td[data-label="Issue"] a').allTextContents().then((t) => t.sort());
    assert.deepEqual(await until(listed, ['#3', '#5']), ['#3', '#5']);
    assert.equal(await page.locator('#tasks-body tr').count(), 2);
    await showBoard();
    assert.deepEqual(await until(sorted, [3, 5]), [3, 5]);

    await assignee.fill('');
    await milestone.fill('v1.0');
    await search.click();
    assert.deepEqual(await until(sorted, [3, 4]), [3, 4], 'only the milestone v1.0');

    await milestone.fill('');
    await label.fill('ui');
    await search.click();
    assert.deepEqual(await until(sorted, [3]), [3], 'only the label ui');
    await label.fill('nope');
    await search.click();
    assert.deepEqual(await until(sorted, []), []);
    const none = Array(5).fill('No task matches the filters.');
    // The cards go at once; each column says so when its own read has answered.
    assert.deepEqual(await until(() => board.locator('.column-count').allTextContents(), none), none);

    await page.getByRole('button', { name: 'Clear filters' }).click();
    assert.deepEqual(await until(sorted, [1, 2, 3, 4, 5, 7]), [1, 2, 3, 4, 5, 7], 'every task is back');
    assert.equal(await label.inputValue(), '');
  });

  test('the board at phone width scrolls sideways, and a card still moves by keyboard', async () => {
    await resize(PHONE);
    const board = page.locator('#board');
    const { scrollWidth, clientWidth } = await board.evaluate((b) => ({ scrollWidth: b.scrollWidth, clientWidth: b.clientWidth }));
    assert.ok(scrollWidth > clientWidth, `the board scrolls sideways (${scrollWidth} > ${clientWidth})`);
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), PHONE.width, 'the page itself does not');
    await shot('11-board-phone');
    await page.locator('section[aria-labelledby="tasks-h"]').screenshot({ path: path.join(ARTIFACTS, '11a-board-phone-section.png') });
    // From the board scroller, Tab reaches the first card's "Move to…".
    await board.focus();
    let name = '';
    for (let i = 0; i < 20 && !name.startsWith('Move to…'); i += 1) {
      await page.keyboard.press('Tab');
      name = await page.evaluate(() => (document.activeElement && document.activeElement.getAttribute('aria-label')) || '');
    }
    const number = Number((name.match(/^Move to… \(#(\d+) /) || [])[1]);
    assert.ok(number, `Tab reached a card's Move button (${name})`);
    await page.keyboard.press('Enter');
    await page.getByRole('menu').waitFor();
    assert.equal(await focusedText(), 'In progress');
    await page.keyboard.press('Enter');
    await cardOf(number, column('In progress')).waitFor();
    await assertText('#board-live', new RegExp(`^Moved #${number} to In progress\\.$`));
    const focused = await page.evaluate(() => {
      const b = document.activeElement && document.activeElement.getBoundingClientRect();
      return b && { label: document.activeElement.getAttribute('aria-label'), left: b.left, right: b.right };
    });
    assert.match(focused.label, new RegExp(`^Move to… \\(#${number} `), 'focus follows the card');
    assert.ok(focused.left >= 0 && focused.right <= PHONE.width, `the focused button is in view (${focused.left}–${focused.right})`);
    await shot('11b-board-phone-moved', false);
    await resize(DESKTOP);
  });

  test('the board: a move stays on screen while a running sync refreshes the board, then settles and moves again', async () => {
    await showBoard();
    const todo = column('To do');
    const inReview = column('In review');
    const n = (await cardNumbers(todo)).find((x) => x !== 2); // #2's conflict was resolved: its cell says so
    assert.ok(n, 'a card in To do');
    const moves = await holdMoves();
    const watch = watchReads(seededProjectId);
    try {
      await cardOf(n, todo).getByRole('button', { name: /^Move to… / }).click();
      await page.getByRole('menuitem', { name: 'In review', exact: true }).click();
      const moved = cardOf(n, inReview);
      await moved.getByText('Moving…', { exact: true }).waitFor();
      assert.equal(await until(() => moves.held.length, 1), 1, 'the move is on its way');
      // "Sync now" with a slow GitHub: the console follows the run and reloads the tasks (each
      // second while it fetches, and when it ends) while the move's PATCH has no answer yet.
      assert.equal((await call('POST', `${fakeUrl}/_fake/latency`, { ms: 300 })).status, 204);
      const syncNow = page.locator('#sync-now');
      await syncNow.click(); // "Syncing…" until the console saw the run end
      const ended = await until(async () => (await syncNow.textContent()) === 'Sync now' && !(await syncNow.isDisabled()), true, 20_000);
      assert.equal((await call('POST', `${fakeUrl}/_fake/latency`, { ms: 0 })).status, 204);
      assert.ok(ended, 'the sync ended');
      await assertText('#sync-result', /^Sync finished/);
      await refreshed(watch, 0);
      const statuses = watch.reads.map((q) => q.get('status'));
      assert.equal(statuses.length % 5, 0, `one read per column per refresh: ${statuses.join(' ')}`);
      for (const s of STATUSES) assert.equal(statuses.filter((x) => x === s).length, statuses.length / 5, s);
      assert.ok(watch.reads.every((q) => !q.has('cursor')), 'a refresh reads first pages');
      assert.equal(await moved.getByText('Moving…', { exact: true }).count(), 1, 'the move stays on screen through the refreshes');
      assert.equal(await cardOf(n, todo).count(), 0, 'not back in To do');

      // The PATCH answers after the board was refreshed: the move settles all the same.
      moves.release();
      await assertText('#board-live', new RegExp(`^Moved #${n} to In review\\.$`));
      await assertText(`#board li.task-card:has(a[href$="/issues/${n}"]) .card-sync`, /^In sync$/);
      assert.equal(await cardOf(n, inReview).count(), 1);
      assert.equal((await taskOf(n)).status, 'inreview', 'the server has the move');
      await moves.stop();
      // A refresh right after: still in its new column.
      const before = watch.reads.length;
      await reloadTasks();
      await refreshed(watch, before);
      assert.equal(await cardOf(n, inReview).count(), 1, 'a refresh keeps the saved move');
      assert.equal(await cardOf(n, todo).count(), 0);
      // The card shows the saved version, so moving it again is not refused (no 412).
      await cardOf(n, inReview).getByRole('button', { name: /^Move to… / }).click();
      await page.getByRole('menuitem', { name: 'To do', exact: true }).click();
      await assertText('#board-live', new RegExp(`^Moved #${n} to To do\\.$`));
      assert.equal((await taskOf(n)).status, 'todo', 'the second move was accepted');
      const notice = await page.locator('#notice').isVisible() ? await page.locator('#notice-text').textContent() : '';
      assert.doesNotMatch(notice || '', /changed since/, 'no 412');
    } finally {
      watch.stop();
      await moves.stop();
    }
  });

  test('the board: a card\'s labels are edited from the card, and a new label reaches GitHub', async () => {
    await showBoard();
    const card1 = cardOf(1);
    const before = await taskOf(1);
    const had = before.github.labels.map((l) => l.name);
    assert.ok(!had.some((n) => n.toLowerCase() === 'triage'), `#1 has no label "triage" yet: ${had.join(', ')}`);
    const edit = card1.getByRole('button', { name: 'Edit fields', exact: true });
    assert.equal(await edit.getAttribute('aria-expanded'), 'false');
    await edit.click();
    const form = card1.getByRole('form', { name: /^Fields of #1 / });
    await form.waitFor();
    assert.equal(await edit.getAttribute('aria-expanded'), 'true');
    for (const name of had) assert.equal(await form.getByRole('checkbox', { name, exact: true }).isChecked(), true, `${name} is ticked`);
    assert.equal(await form.getByLabel('Milestone', { exact: true }).count(), 1, 'the milestone is chosen in the form too');
    await shot('11c-board-fields-editor');

    // A label the repository lacks: one PATCH with the labels alone, naming the card's version.
    const patched = page.waitForRequest((r) => r.method() === 'PATCH' && new URL(r.url()).pathname === `/api/tasks/${before.id}`);
    await form.getByLabel('New label', { exact: true }).fill('triage');
    await form.getByRole('button', { name: 'Save fields', exact: true }).click();
    const request = await patched;
    assert.deepEqual(request.postDataJSON(), { labels: [...had, 'triage'] }, 'only the field that changed');
    assert.match(request.headers()['if-match'] || '', /^"[^"]+"$/, 'with the card\'s version');
    assert.equal((await request.response()).status(), 200);
    await form.waitFor({ state: 'hidden' });
    await assertText('#board-live', /^Saved the fields of #1\.$/);
    assert.deepEqual(await until(() => card1.locator('.chip').allTextContents(), [...had, 'triage']), [...had, 'triage'],
      'the card, read again, shows the new label');
    assert.ok(await edit.evaluate((b) => b === document.activeElement), 'the focus returns to Edit fields');
    assert.ok((await taskOf(1)).github.labels.some((l) => l.name === 'triage'), 'the server has it');

    // On the test GitHub: ghsync created the label in the repository, then added it to the
    // issue, before the PATCH answered (a two-way edit is pushed within the request).
    const res = await fetch(`${fakeUrl}/repos/acme/widgets/issues/1`, { headers: { Authorization: `Bearer ${GH_TOKEN}` } });
    const issue = await res.json();
    assert.deepEqual(issue.labels.map((l) => l.name).sort(), [...had, 'triage'].sort(), 'the issue has the label on GitHub');
    const repoLabels = await fetch(`${fakeUrl}/repos/acme/widgets/labels`, { headers: { Authorization: `Bearer ${GH_TOKEN}` } });
    assert.ok((await repoLabels.json()).some((l) => l.name === 'triage'), 'the label was created in the repository');
    const sync1 = page.locator('#board li.task-card:has(a[href$="/issues/1"]) .card-sync');
    assert.equal(await until(() => sync1.textContent(), 'In sync', 15_000), 'In sync', 'the card says GitHub holds it');

    // A refusal is said in the form: two-way sync turned off behind the board's back (409).
    const config = { repo_owner: 'acme', repo_name: 'widgets' };
    await api('PUT', `/projects/${seededProjectId}/github-sync`, { ...config, two_way: false });
    try {
      await edit.click();
      await form.waitFor();
      const triage = form.getByRole('checkbox', { name: 'triage', exact: true });
      assert.equal(await triage.isChecked(), true, 'the new label is ticked');
      await triage.uncheck();
      await form.getByRole('button', { name: 'Save fields', exact: true }).click();
      const alert = form.getByRole('alert');
      await alert.waitFor();
      assert.match(await alert.textContent(), /two-way sync is off for the task's project/);
      await shot('11d-board-fields-refused');
      assert.ok((await taskOf(1)).github.labels.some((l) => l.name === 'triage'), 'nothing was written');
      await form.getByRole('button', { name: 'Cancel', exact: true }).click();
      await form.waitFor({ state: 'hidden' });
      assert.ok(await edit.evaluate((b) => b === document.activeElement), 'Cancel returns the focus to Edit fields');
      assert.deepEqual(await card1.locator('.chip').allTextContents(), [...had, 'triage'], 'the card is unchanged');
    } finally {
      await api('PUT', `/projects/${seededProjectId}/github-sync`, { ...config, two_way: true });
    }
  });

  test('the board: a project of 5,000 tasks opens with one page per column, and pages on as a column scrolls', async () => {
    const huge = await api('POST', '/projects', { name: 'Huge' });
    hugeId = huge.id;
    await api('PUT', `/projects/${huge.id}/github-sync`, { repo_owner: 'acme', repo_name: 'huge', pat: GH_TOKEN });
    // 5,000 issues take a debug build a while: bounded by 3 minutes, run again until complete.
    let run = await runSync(huge.id, 180_000);
    for (let i = 0; i < 5 && run.status === 'success' && !run.complete; i += 1) run = await runSync(huge.id, 180_000);
    assert.equal(run.status, 'success', run.error_message || '');
    const imported = await api('GET', `/projects/${huge.id}/tasks?status=todo&limit=500`);
    assert.equal(imported.items.length, 500, 'thousands of tasks to page through');
    // The console reads the project list when it loads.
    await page.reload();
    await page.getByRole('button', { name: 'Huge', exact: true }).waitFor();
    await page.locator('#col-todo-count').waitFor();

    const reads = [];
    const onRequest = (request) => {
      const url = new URL(request.url());
      if (url.pathname === `/api/projects/${huge.id}/tasks`) reads.push(url.searchParams);
    };
    page.on('request', onRequest);
    try {
      await page.getByRole('button', { name: 'Huge', exact: true }).click();
      const todo = column('To do');
      await assertText('#col-todo-count', /^50 tasks, more to load\.$/);
      for (const s of ['inprogress', 'inreview', 'done', 'cancelled']) await assertText(`#col-${s}-count`, /^No tasks\.$/);
      assert.equal(await todo.getByRole('listitem').count(), 50);
      assert.equal(reads.length, 5, `one read per column: ${reads.map(String).join(' | ')}`);
      assert.deepEqual(reads.map((q) => q.get('status')).sort(), ['cancelled', 'done', 'inprogress', 'inreview', 'todo']);
      for (const q of reads) {
        assert.equal(q.get('limit'), '50');
        assert.equal(q.get('sort'), 'updated');
        assert.equal(q.has('cursor'), false, 'first pages only');
      }
      assert.ok(await page.locator('#col-todo-scroll').evaluate((c) => c.scrollHeight > c.clientHeight * 1.5),
        'the column scrolls on its own');
      await shot('12-board-huge');

      // Scrolled to its end, To do reads its next page, once.
      await page.locator('#col-todo-scroll').evaluate((c) => { c.scrollTop = c.scrollHeight; });
      await assertText('#col-todo-count', /^100 tasks, more to load\.$/);
      assert.equal(await todo.getByRole('listitem').count(), 100);
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      assert.equal(reads.length, 6, `one more read: ${reads.slice(5).map(String).join(' | ')}`);
      assert.equal(reads[5].get('status'), 'todo');
      assert.ok(reads[5].get('cursor'), 'with the cursor');
      const numbers = await cardNumbers(todo);
      assert.equal(new Set(numbers).size, 100, 'no card twice');

      // "Load more" does the same for keyboard users.
      await todo.getByRole('button', { name: 'Load more in To do' }).press('Enter');
      await assertText('#col-todo-count', /^150 tasks, more to load\.$/);
      assert.equal(reads.length, 7);
      assert.equal(reads[6].get('status'), 'todo');
      assert.ok(reads.slice(5).every((q) => q.get('status') === 'todo'), 'the other columns made no further request');
    } finally {
      page.off('request', onRequest);
    }
  });

  test('the board: a refresh keeps the pages read, the scroll, an open menu and its focus, and a move on its way', async () => {
    assert.ok(hugeId, 'the project of 5,000 tasks is open');
    const todo = column('To do');
    const inProgress = column('In progress');
    const scroller = page.locator('#col-todo-scroll');
    await assertText('#col-todo-count', /^150 tasks, more to load\.$/);
    await scroller.evaluate((c) => { c.scrollTop = 0; });
    const [n] = await cardNumbers(todo);
    const moves = await holdMoves();
    const watch = watchReads(hugeId);
    try {
      // A move on its way (its PATCH held)…
      await cardOf(n, todo).getByRole('button', { name: /^Move to… / }).click();
      await page.getByRole('menuitem', { name: 'In progress', exact: true }).click();
      await cardOf(n, inProgress).getByText('Moving…', { exact: true }).waitFor();
      assert.equal(await until(() => moves.held.length, 1), 1);
      await assertText('#col-todo-count', /^149 tasks, more to load\.$/);
      // …To do scrolled to its middle, and the menu of a card in view open, its second item focused.
      await scroller.evaluate((c) => { c.scrollTop = Math.round(c.scrollHeight / 2); });
      const inView = await scroller.evaluate((c) => {
        const top = c.getBoundingClientRect().top;
        const li = [...c.querySelectorAll('li.task-card')].find((node) => node.getBoundingClientRect().top >= top);
        return li ? Number(li.querySelector('.card-head a').textContent.replace('#', '')) : 0;
      });
      assert.ok(inView, 'a card in view');
      await cardOf(inView, todo).getByRole('button', { name: /^Move to… / }).focus();
      await page.keyboard.press('Enter');
      await page.getByRole('menu').waitFor();
      await page.keyboard.press('ArrowDown');
      assert.equal(await focusedText(), 'In review');
      const scrollTop = await scroller.evaluate((c) => c.scrollTop);
      const numbers = await cardNumbers(todo);

      // A reload of the tasks (as a running sync makes once a second) refreshes the board in place.
      await reloadTasks();
      await refreshed(watch, 0);
      assert.equal(watch.reads.length, 5, `one read per column: ${watch.reads.map(String).join(' | ')}`);
      assert.deepEqual(watch.reads.map((q) => q.get('status')).sort(), [...STATUSES].sort());
      assert.ok(watch.reads.every((q) => !q.has('cursor')), 'first pages only');
      await assertText('#col-todo-count', /^149 tasks, more to load\.$/);
      assert.deepEqual(await cardNumbers(todo), numbers, 'the three pages read stay, in their order');
      assert.equal(await scroller.evaluate((c) => c.scrollTop), scrollTop, 'the column keeps its scroll');
      assert.equal(await page.getByRole('menu').count(), 1, 'the menu stays open');
      assert.match(await page.getByRole('menu').getAttribute('aria-label'), new RegExp(`^Move #${inView} `));
      assert.equal(await focusedText(), 'In review', 'the focus stays on its item');
      assert.equal(await cardOf(n, inProgress).getByText('Moving…', { exact: true }).count(), 1, 'the move stays on screen');
      assert.equal(await cardOf(n, todo).count(), 0);
      await page.keyboard.press('Escape');
      await page.getByRole('menu').waitFor({ state: 'hidden' });

      // The PATCH answers after the refresh: the move settles on the board shown.
      moves.release();
      await assertText('#board-live', new RegExp(`^Moved #${n} to In progress\\.$`));
      assert.equal(await until(() => cardOf(n, inProgress).getByText('Moving…', { exact: true }).count(), 0), 0);
      assert.equal((await api('GET', `/projects/${hugeId}/tasks?status=inprogress&limit=5`)).items.length, 1, 'the server has the move');
      await reloadTasks();
      await refreshed(watch, 5);
      assert.equal(await cardOf(n, inProgress).count(), 1, 'in its new column after a refresh');
      await assertText('#col-inprogress-count', /^1 task\.$/);
      await assertText('#col-todo-count', /^149 tasks, more to load\.$/);
    } finally {
      watch.stop();
      await moves.stop();
    }
    // Back to Widgets for the tests after this one.
    await page.getByRole('button', { name: 'Widgets', exact: true }).click();
    await assertText('#col-todo-count', /^\d tasks?\.$/);
  });

  test('an expired token sends the person back to sign-in with a message', async () => {
    await page.evaluate(() => sessionStorage.setItem('ghsync.token', 'expired-token'));
    await page.reload();
    await assertText('#signin-error', /token was refused/);
    assert.ok(await page.locator('#app-view').isHidden());
    await shot('09-expired-token');
  });

  test('the console ran without script errors or CSP violations', () => {
    assert.deepEqual(browserProblems, []);
  });
});

async function assertText(selector, pattern) {
  const node = page.locator(selector);
  await node.waitFor();
  const deadline = Date.now() + 5000;
  let text = '';
  // The text arrives after an API round trip: poll the DOM (bounded), not a fixed sleep.
  while (Date.now() < deadline) {
    text = (await node.textContent()).replace(/\s+/g, ' ').trim();
    if (pattern.test(text)) return;
    await page.waitForTimeout(50);
  }
  assert.match(text, pattern, selector);
}
