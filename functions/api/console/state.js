// @ts-check
// The console's one mutable state, shared by every view module: what was read from the API
// for the selected project and what the person has chosen. Modules read and assign its
// fields directly; there is no other copy. knownTask() finds a task in what the list or the
// board loaded. No DOM access here.

/** @typedef {import('../../../shared/types').Project} Project */
/** @typedef {import('../../../shared/types').GitHubSyncConfig} GitHubSyncConfig */
/** @typedef {import('../../../shared/types').SyncHistorySummary} SyncHistorySummary */
/** @typedef {import('../../../shared/types').TaskWithLink} TaskWithLink */
/** @typedef {import('../../../shared/types').ConflictResolution} ConflictResolution */
/** @typedef {import('../../../shared/types').ConflictStatus} ConflictStatus */
/** @typedef {import('../../../shared/types').WebhookSetup} WebhookSetup */
/** @typedef {import('../../../shared/types').GitHubAppInfo} GitHubAppInfo */
/** @typedef {import('../../../shared/types').TaskComment} TaskComment */
/** @typedef {import('../../../shared/types').TaskStatus} TaskStatus */

/** sessionStorage keys: the API token and the last selected project (this tab only). */
export const TOKEN_KEY = 'ghsync.token';
export const PROJECT_KEY = 'ghsync.project';

/**
 * @typedef {object} State
 * @property {string | null} token The management API token; null when signed out.
 * @property {Project[]} projects
 * @property {string | null} projectId The selected project.
 * @property {GitHubSyncConfig | null} config Its sync config; null when not connected.
 * @property {SyncHistorySummary | null} history
 * @property {TaskWithLink[]} tasks The pages of tasks loaded so far.
 * @property {string | null} tasksCursor The next page's cursor; null after the last.
 * @property {Filters} filters The search form's filters as the person last applied them.
 * @property {'board' | 'list'} view How the tasks card shows the tasks.
 * @property {Board | null} board The board's columns as loaded (board.js); null before.
 * @property {ConflictResolution[]} conflicts The listed conflicts (pending or resolved).
 * @property {ConflictStatus} filter Which conflicts are listed.
 * @property {ConflictResolution | null} conflict The one open in the dialog.
 * @property {HTMLElement | null} opener What opened the dialog (focus returns there).
 * @property {string | null} following The run whose progress is being followed.
 * @property {WebhookSetup | null} hook The config's webhook values.
 * @property {boolean} editing The connect form edits the existing config.
 * @property {GitHubAppInfo | null} app The deployment's GitHub App, when read.
 * @property {Thread | null} thread The task open in the detail dialog (thread.js).
 */

/**
 * The task detail dialog's task and the pages of its thread loaded so far. A new object for
 * each opening, so an answer that arrives after the dialog moved on can tell it is late.
 * @typedef {object} Thread
 * @property {TaskWithLink} task
 * @property {TaskComment[]} comments Oldest first.
 * @property {string | null} cursor The next page's cursor; null after the last.
 * @property {HTMLElement | null} opener Focus returns there when the dialog closes.
 */

/**
 * The search form's filters, shared by the board and the list ("" for none): text in the
 * title, a label's name, an assignee's login, a milestone's title.
 * @typedef {{ q: string, label: string, assignee: string, milestone: string }} Filters
 */

/**
 * No filter set: every task.
 * @returns {Filters}
 */
export const noFilters = () => ({ q: '', label: '', assignee: '', milestone: '' });

/**
 * One column of the board: its cards as loaded so far (newest-updated first) and its paging.
 * @typedef {object} Column
 * @property {TaskWithLink[]} items
 * @property {string | null} cursor The next page's cursor; null after the last.
 * @property {number} pages How many pages were read (a refresh reads the first again).
 * @property {boolean} loading A page is being read (never two at once).
 * @property {boolean} loaded Its first page arrived.
 * @property {boolean} failed Its last read failed ("Try again").
 */

/**
 * The board as loaded for one project and one set of filters. A new object when the project or
 * the filters change, so an answer that arrives after that can tell it is late; otherwise a
 * reload refreshes it in place (board.js). The moves on their way are board.js's, not a board's.
 * @typedef {object} Board
 * @property {string | null} pid
 * @property {Filters} filters
 * @property {Record<TaskStatus, Column>} columns
 * @property {Promise<void> | null} refreshing The refresh under way, if any (never two at once).
 * @property {boolean} again Another refresh was asked for while one was under way.
 */

/**
 * A task as the view shown loaded it (then the other view), or null when neither holds it.
 * @param {string} id
 * @returns {TaskWithLink | null}
 */
export function knownTask(id) {
  const cards = state.board ? Object.values(state.board.columns).flatMap((c) => c.items) : [];
  const sources = state.view === 'board' ? [cards, state.tasks] : [state.tasks, cards];
  for (const tasks of sources) {
    const found = tasks.find((t) => t.id === id);
    if (found) return found;
  }
  return null;
}

/** @type {State} */
export const state = {
  token: null, projects: [], projectId: null, config: null, history: null,
  tasks: [], tasksCursor: null, filters: noFilters(), view: 'board', board: null, conflicts: [], filter: 'pending', conflict: null, opener: null,
  following: null, hook: null, editing: false, app: null, thread: null,
};
