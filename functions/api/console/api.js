// @ts-check
// The management API client: api() sends a request with the signed-in bearer token and
// turns every failure into an ApiError; errorText() turns an ApiError into a sentence;
// guard() shows that sentence in the notice bar. Importable in Node (no DOM at load).

import { notify, sentence } from './dom.js';
import { state } from './state.js';

/** @typedef {import('../../../shared/types').ErrorBody} ErrorBody */
/** @typedef {import('../../../shared/types').ErrorDetail} ErrorDetail */

/** A failed request: HTTP status (0: the server could not be reached), error code, field at fault. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {string} [field]
   */
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** @type {() => void} */
let unauthorized = () => {};

/**
 * What to do when the API refuses the token (401), before the ApiError is thrown: main.js
 * signs out. Kept as a callback so this module does not depend on the session's DOM code.
 * @param {() => void} handler
 */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

/**
 * Calls `/api{path}` with the token. Resolves to the JSON answer (null for a 204), whose
 * type the caller names (the answer is trusted, not validated); rejects with an ApiError.
 * `extra` adds request headers (the board's `If-Match`); it cannot replace the token's.
 * @template [T=unknown]
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {Record<string, string>} [extra]
 * @returns {Promise<T>}
 */
export async function api(method, path, body, extra) {
  /** @type {Record<string, string>} */
  const headers = { ...extra, Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(`/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'network', 'The ghsync server could not be reached. Check that it is running.');
  }
  // Only the API's DELETEs answer 204 (the console sends one: deleting a board comment).
  if (res.status === 204) return /** @type {T} */ (null);
  /** @type {unknown} */
  const data = await res.json().catch(() => null);
  if (res.ok) return /** @type {T} */ (data);
  /** @type {Partial<ErrorDetail>} */
  const e = (data && /** @type {Partial<ErrorBody>} */ (data).error) || {};
  const err = new ApiError(res.status, e.code || `http_${res.status}`, e.message || res.statusText, e.field);
  if (res.status === 401) unauthorized();
  throw err;
}

/** @type {Partial<Record<string, string>>} */
const FIELD_LABELS = {
  name: 'project name', repo_owner: 'repository owner', repo_name: 'repository name',
  pat: 'personal access token', sync_interval_seconds: 'interval', title: 'title',
  description: 'description', merged_content: 'merged content', action: 'action',
  installation_id: 'installation id', api_url: 'GitHub Enterprise API URL', two_way: 'two-way sync',
  body: 'comment', author: 'name',
};

/** 409 answers whose message says what to do (no App set, an expired or unreadable token). */
const SELF_EXPLAINING_CONFLICTS = new Set(['no_github_app', 'token_expired', 'stored_pat_unreadable']);

/**
 * A sentence for an error; `what` says which request failed ("run", "resolve", …).
 * @param {ApiError} err
 * @param {string} [what]
 * @returns {string}
 */
export function errorText(err, what) {
  const field = err.field ? FIELD_LABELS[err.field] || err.field : null;
  switch (err.status) {
    case 0: return err.message;
    case 401: return 'Your API token was refused: it is wrong or has expired. Sign in again.';
    case 404: return `Not found: ${err.message}`;
    case 409:
      if (SELF_EXPLAINING_CONFLICTS.has(err.code)) return sentence(err.message);
      if (what === 'run') return 'A sync is already running for this project. Try again when it has finished.';
      if (what === 'resolve') return 'This conflict was already resolved (perhaps in another window). The lists have been refreshed.';
      return `Conflict: ${err.message}`;
    case 412: return `This task changed since you last saw it, so it was not moved; it now shows its current state. ${sentence(err.message)}`;
    case 413: return 'That request is too large.';
    case 422:
      if (err.code === 'pat_refused') return `Personal access token refused. ${err.message}`;
      return field ? `Invalid ${field}: ${err.message}` : `Invalid value: ${err.message}`;
    case 502:
      if (err.code === 'kms_unavailable') return `The key service could not be reached: ${err.message}`;
      return `GitHub could not be reached: ${err.message}`;
    case 503: return 'The ghsync database is unavailable right now. Try again in a moment.';
    default: return `Request failed (${err.status}): ${err.message}`;
  }
}

/**
 * Runs an async action; a failure becomes a message (a 401 has already signed out).
 * @template T
 * @param {string} what
 * @param {() => Promise<T>} fn
 * @returns {Promise<T | undefined>}
 */
export async function guard(what, fn) {
  try {
    return await fn();
  } catch (err) {
    return report(err, what);
  }
}

/**
 * Shows an ApiError in the notice bar (not a 401: the sign-in form says that); anything
 * else is a bug and is thrown again.
 * @param {unknown} err
 * @param {string} what
 * @returns {undefined}
 */
export function report(err, what) {
  if (!(err instanceof ApiError)) throw err;
  if (err.status !== 401) notify(errorText(err, what));
  return undefined;
}
