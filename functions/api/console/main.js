// @ts-check
// ghsync web console: the entry point index.html loads. No framework and no build step;
// the browser loads the other modules through these imports. This one holds the session
// (sign in / sign out, the token in sessionStorage, a 401 returns to sign-in), the project
// list, and the wiring of the page's static elements at load. It is the only module that
// touches the document when it loads; the others only export functions.
//
// Modules: state.js (the shared state), api.js (requests, error sentences), dom.js
// (element helpers, formatters), config.js (sync card and connect form), history.js
// (summary, chart, runs table), tasks.js (tasks card: its list view, filters, new task),
// board.js (the tasks card's board view: columns, cards, moves), columns.js (the board's
// columns as data), thread.js (a task's detail dialog and its comments), compose.js
// (writing, editing and resolving board comments), conflicts.js (list, dialog, merge),
// diff.js (the word diff).

import { ApiError, api, errorText, guard, onUnauthorized } from './api.js';
import { cardChanged, refocusCard, showView } from './board.js';
import {
  answerOffer, closeEdit, connectRepo, installHook, loadConfig, openEdit, revealSecret, showMode, syncNow, toggleSync, toggleTwoWay,
} from './config.js';
import {
  closeMerge, isAction, onDialogClose, openMerge, resolveConflict, setFilter, submitMerge, useRemoteTitle,
} from './conflicts.js';
import { $, el, notify, show } from './dom.js';
import { loadHistory, renderChart } from './history.js';
import { PROJECT_KEY, TOKEN_KEY, state } from './state.js';
import { clearFilters, createTask, loadMoreTasks, loadTasksAndConflicts, searchTasks } from './tasks.js';
import { loadMoreComments, onDetailClose } from './thread.js';

/** @typedef {import('../../../shared/types').Project} Project */

// ---- session --------------------------------------------------------------------------

/**
 * Shows the sign-in form, with a message above it when there is one.
 * @param {string} [message]
 */
function showSignIn(message) {
  state.projectId = null;
  state.history = null;
  show($('project-view'), false);
  show($('no-project'), true);
  show($('app-view'), false);
  show($('session-bar'), false);
  show($('notice'), false);
  show($('signin-view'), true);
  $('signin-error').textContent = message || '';
  show($('signin-error'), Boolean(message));
  $('token', HTMLInputElement).value = '';
  $('token').focus();
}

/** The API refused the token: forget it and ask for one again. */
function expireSession() {
  if (!state.token) return;
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  for (const id of ['conflict-dialog', 'task-dialog']) {
    const dialog = $(id, HTMLDialogElement);
    if (dialog.open) dialog.close();
  }
  showSignIn('Your API token was refused: it is wrong or has expired. Sign in again.');
}

/** @param {SubmitEvent} event */
async function signIn(event) {
  event.preventDefault();
  const token = $('token', HTMLInputElement).value.trim();
  if (!token) return showSignIn('Enter the API token.');
  state.token = token;
  try {
    state.projects = await api('GET', '/projects');
  } catch (err) {
    state.token = null;
    if (!(err instanceof ApiError)) throw err;
    if (err.status !== 401) showSignIn(errorText(err));
    return undefined;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  return enterApp();
}

function signOut() {
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(PROJECT_KEY);
  showSignIn();
}

async function enterApp() {
  show($('signin-view'), false);
  show($('session-bar'), true);
  show($('app-view'), true);
  renderProjects();
  const remembered = sessionStorage.getItem(PROJECT_KEY);
  const first = state.projects.find((p) => p.id === remembered) || state.projects[0];
  if (first) await selectProject(first.id);
}

// ---- projects -------------------------------------------------------------------------

function renderProjects() {
  const list = $('project-list');
  list.replaceChildren(...state.projects.map((p) => el('li', {}, el('button', {
    type: 'button', class: 'project', 'aria-current': p.id === state.projectId ? 'true' : false,
    text: p.name, onclick: () => selectProject(p.id),
  }))));
  show($('projects-empty'), state.projects.length === 0);
}

/** @param {string} id */
async function selectProject(id) {
  state.projectId = id;
  sessionStorage.setItem(PROJECT_KEY, id);
  const project = state.projects.find((p) => p.id === id);
  renderProjects();
  show($('no-project'), false);
  show($('project-view'), true);
  $('project-name-h').textContent = project ? project.name : '';
  show($('sync-result'), false);
  // The form is filled afresh for this project when its config has been read.
  state.editing = false;
  show($('sync-form'), false);
  await Promise.all([loadConfig(), loadHistory(), loadTasksAndConflicts()]);
}

/** @param {SubmitEvent} event */
async function createProject(event) {
  event.preventDefault();
  const input = $('project-name', HTMLInputElement);
  const name = input.value.trim();
  if (!name) return notify('Enter a name for the new project.');
  /** @type {Project | undefined} */
  const project = await guard('create', () => api('POST', '/projects', { name }));
  if (!project) return undefined;
  input.value = '';
  state.projects.push(project);
  return selectProject(project.id);
}

// ---- boot -----------------------------------------------------------------------------

function wire() {
  $('signin-form').addEventListener('submit', signIn);
  $('signout').addEventListener('click', signOut);
  $('notice-close').addEventListener('click', () => show($('notice'), false));
  $('project-form').addEventListener('submit', createProject);
  $('sync-form').addEventListener('submit', connectRepo);
  for (const radio of $('sync-form').querySelectorAll('[name="auth_mode"]')) radio.addEventListener('change', showMode);
  $('sync-edit').addEventListener('click', openEdit);
  $('sync-cancel').addEventListener('click', closeEdit);
  $('sync-now').addEventListener('click', syncNow);
  $('sync-toggle').addEventListener('click', toggleSync);
  $('two-way-toggle').addEventListener('click', toggleTwoWay);
  $('offer-accept').addEventListener('click', () => answerOffer(true));
  $('offer-decline').addEventListener('click', () => answerOffer(false));
  $('task-form').addEventListener('submit', createTask);
  $('hook-reveal').addEventListener('click', revealSecret);
  $('hook-install').addEventListener('click', installHook);
  $('show-pending').addEventListener('click', () => setFilter('pending'));
  $('show-resolved').addEventListener('click', () => setFilter('resolved'));
  $('task-search-form').addEventListener('submit', searchTasks);
  $('task-filters-clear').addEventListener('click', clearFilters);
  $('view-board').addEventListener('click', () => showView('board'));
  $('view-list').addEventListener('click', () => showView('list'));
  $('tasks-more').addEventListener('click', loadMoreTasks);
  const dialog = $('conflict-dialog', HTMLDialogElement);
  for (const b of dialog.querySelectorAll('button[data-action]')) {
    const action = b instanceof HTMLButtonElement ? b.dataset.action : undefined;
    if (isAction(action)) b.addEventListener('click', () => resolveConflict(action));
  }
  $('merge-open').addEventListener('click', openMerge);
  $('merge-back').addEventListener('click', closeMerge);
  $('merge-form').addEventListener('submit', submitMerge);
  $('use-remote-title').addEventListener('click', useRemoteTitle);
  $('resolve-later').addEventListener('click', () => dialog.close());
  $('dlg-close').addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', onDialogClose);
  // The task detail dialog: ✕ and Escape close it (Escape natively, as a modal <dialog>).
  const detail = $('task-dialog', HTMLDialogElement);
  $('task-dlg-close').addEventListener('click', () => detail.close());
  detail.addEventListener('close', () => {
    const task = state.thread ? state.thread.task.id : null;
    onDetailClose();
    if (task) {
      refocusCard(task);
      cardChanged(task);
    }
  });
  $('thread-more').addEventListener('click', loadMoreComments);
  let pending = 0;
  window.addEventListener('resize', () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(renderChart);
  });
}

function boot() {
  wire();
  onUnauthorized(expireSession);
  state.token = sessionStorage.getItem(TOKEN_KEY);
  if (!state.token) return showSignIn();
  /** @type {Promise<Project[]>} */
  const read = api('GET', '/projects');
  return read.then((projects) => {
    state.projects = projects;
    return enterApp();
  }, (err) => {
    if (!(err instanceof ApiError)) throw err;
    if (err.status !== 401) showSignIn(errorText(err));
  });
}

document.addEventListener('DOMContentLoaded', boot);
