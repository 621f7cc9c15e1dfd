// @ts-check
// Editing a linked task's labels, assignees and milestone from its card on the board
// (docs/fields.md). A card of a two-way config whose issue link is live has an "Edit fields"
// button; it opens a form inside the card (one at a time, as the "Move to…" menu): a checkbox
// per label of the repository (the task's own ticked) and a "New label" field, a checkbox per
// assignable login (a field for logins while the repository's are not listed yet), and the
// milestone (a list, or its number while the repository's are not listed yet). "Save fields"
// sends one PATCH /api/tasks/{id} with only the fields that changed and If-Match (the version
// the form started from), then the card is read again; a refusal is said in the form. The
// repository's choices are read once per board, when its first form opens.
// board.js draws the cards: it puts this module's button in a card, carries an open form into
// the card drawn again (keepFields) and hands over how to read a card again (useCards); this
// module imports no board module. The pure parts (which choices to offer, the PATCH body, the
// error texts) are exported for the unit tests. Nothing here touches the document at load.

import { ApiError, api, errorText, report } from './api.js';
import { cardName, locate } from './columns.js';
import { el, sentence, show } from './dom.js';
import { state } from './state.js';

/** @typedef {import('../../../shared/types').TaskWithLink} TaskWithLink */
/** @typedef {import('../../../shared/types').TaskPatch} TaskPatch */
/** @typedef {import('../../../shared/types').RepositoryChoices} RepositoryChoices */
/** @typedef {import('../../../shared/types').GitHubSyncConfig} GitHubSyncConfig */
/** @typedef {import('../../../shared/types').Label} Label */
/** @typedef {NonNullable<TaskWithLink['milestone']>} Milestone */
/** @typedef {import('./state.js').Board} Board */

/**
 * A task's labels (names), assignees (logins) and milestone (its number; null: none), as the
 * form chooses them and the PATCH body compares them.
 * @typedef {{ labels: string[], assignees: string[], milestone: number | null }} Fields
 */

/** The fields a PATCH of the form sends: only those that changed. */
/** @typedef {Pick<TaskPatch, 'labels' | 'assignees' | 'milestone'>} FieldsPatch */

// ---- pure parts -----------------------------------------------------------------------

/** The issue states whose link is live (an issue deleted or transferred is not). */
const LIVE = new Set(['open', 'completed', 'not_planned']);

/** Nothing listed: free entry for labels and assignees, a number for the milestone. */
/** @type {RepositoryChoices} */
export const NO_CHOICES = { labels: null, assignees: null, milestones: null, refreshed_at: null };

/**
 * Whether a task's fields can be edited here: a two-way config (of the task's project), the
 * task linked to an issue that is still there and still followed.
 * @param {GitHubSyncConfig | null} config
 * @param {TaskWithLink} t
 */
export function canEditFields(config, t) {
  return Boolean(config && config.two_way && config.project_id === t.project_id && liveLink(t));
}

/**
 * Whether the task is linked to an issue that is still there (not unlinked, deleted or
 * transferred away).
 * @param {TaskWithLink} t
 */
export function liveLink(t) {
  const gh = t.github;
  return Boolean(gh && gh.unlinked_at === null && LIVE.has(gh.remote_state));
}

/**
 * How names compare (labels, logins): without case, as GitHub compares them.
 * @param {string} name
 */
const nameKey = (name) => name.toLowerCase();

/**
 * Names trimmed, the blank ones left out, each kept once compared without case (the first
 * spelling wins).
 * @param {Iterable<string>} names
 * @returns {string[]}
 */
export function cleanNames(names) {
  const seen = new Set();
  const out = [];
  for (const raw of names) {
    const name = raw.trim();
    if (name && !seen.has(nameKey(name))) {
      seen.add(nameKey(name));
      out.push(name);
    }
  }
  return out;
}

/**
 * Whether two lists hold the same names, in any order and any case.
 * @param {string[]} a
 * @param {string[]} b
 */
export function sameNames(a, b) {
  const keys = (/** @type {string[]} */ names) => new Set(cleanNames(names).map(nameKey));
  const [ka, kb] = [keys(a), keys(b)];
  return ka.size === kb.size && [...ka].every((k) => kb.has(k));
}

/**
 * Logins typed in one field: separated by spaces or commas, with or without "@".
 * @param {string} text
 */
export const splitLogins = (text) => cleanNames(text.split(/[\s,]+/).map((login) => login.replace(/^@+/, '')));

/**
 * A milestone number as typed: empty is none (null); a whole number from 1 is that one;
 * anything else is undefined (refused before it is sent).
 * @param {string} text
 * @returns {number | null | undefined}
 */
export function parseMilestone(text) {
  const s = text.trim().replace(/^#/, '');
  if (!s) return null;
  return /^[0-9]+$/.test(s) && Number(s) >= 1 && Number.isSafeInteger(Number(s)) ? Number(s) : undefined;
}

/**
 * A task's fields as the card shows them.
 * @param {TaskWithLink} t
 * @returns {Fields}
 */
export function fieldsOf(t) {
  return {
    labels: t.github ? t.github.labels.map((l) => l.name) : [],
    assignees: t.github ? [...t.github.assignees] : [],
    milestone: t.milestone ? t.milestone.number : null,
  };
}

/**
 * Whether two tasks' fields are the same (names compared without case, in any order).
 * @param {Fields} a
 * @param {Fields} b
 */
export const sameFields = (a, b) => sameNames(a.labels, b.labels) && sameNames(a.assignees, b.assignees) && a.milestone === b.milestone;

/**
 * The PATCH body that makes task `t`'s fields the chosen ones: only the fields that changed
 * (an empty object when none did). The sets are sent whole, cleaned (trimmed, each name once
 * compared without case, "@" left out of logins); a set that holds the same names in another
 * order or case is no change.
 * @param {TaskWithLink} t the task as the form started from it
 * @param {Fields} chosen
 * @returns {FieldsPatch}
 */
export function fieldsPatch(t, chosen) {
  const now = fieldsOf(t);
  /** @type {FieldsPatch} */
  const patch = {};
  const labels = cleanNames(chosen.labels);
  if (!sameNames(labels, now.labels)) patch.labels = labels;
  const assignees = cleanNames(chosen.assignees.map((login) => login.trim().replace(/^@+/, '')));
  if (!sameNames(assignees, now.assignees)) patch.assignees = assignees;
  if (chosen.milestone !== now.milestone) patch.milestone = chosen.milestone;
  return patch;
}

/**
 * The label checkboxes: the repository's labels in its order (none while not listed), then
 * the task's own that the list lacks; each ticked when the task has it.
 * @param {Label[] | null} listed
 * @param {Label[]} own
 * @returns {Array<Label & { checked: boolean }>}
 */
export function labelOptions(listed, own) {
  const has = new Set(own.map((l) => nameKey(l.name)));
  const known = new Set();
  /** @type {Array<Label & { checked: boolean }>} */
  const out = [];
  for (const l of [...(listed || []), ...own]) {
    if (known.has(nameKey(l.name))) continue;
    known.add(nameKey(l.name));
    out.push({ name: l.name, color: l.color, checked: has.has(nameKey(l.name)) });
  }
  return out;
}

/**
 * The assignee checkboxes: the logins the repository can assign (none while not listed),
 * then the task's own that the list lacks; each ticked when the task has it.
 * @param {string[] | null} listed
 * @param {string[]} own
 * @returns {Array<{ login: string, checked: boolean }>}
 */
export function assigneeOptions(listed, own) {
  const has = new Set(own.map(nameKey));
  return cleanNames([...(listed || []), ...own]).map((login) => ({ login, checked: has.has(nameKey(login)) }));
}

/**
 * The milestone list's entries (after "No milestone"): the repository's milestones, and the
 * task's own when the list lacks it; null while the repository's are not listed (the form
 * then takes a number).
 * @param {Milestone[] | null} listed
 * @param {Milestone | null} own
 * @returns {Milestone[] | null}
 */
export function milestoneOptions(listed, own) {
  if (!listed) return null;
  return own && !listed.some((m) => m.number === own.number) ? [...listed, own] : [...listed];
}

/**
 * The version a save names (If-Match): the card's newer version replaces the one the form
 * started from when its fields are the same (a title edited, a move, a sync that changed
 * nothing of them), so the save is not refused for a change it does not touch; when they
 * differ the form keeps its version, and a save is refused (412) rather than undo them.
 * @param {TaskWithLink} started
 * @param {TaskWithLink} shown
 */
export function rebase(started, shown) {
  const newer = Date.parse(shown.updated_at) >= Date.parse(started.updated_at);
  return newer && sameFields(fieldsOf(started), fieldsOf(shown)) ? shown : started;
}

/**
 * Why a save was refused, in the form's words. After a 412 the card was read again:
 * `changed` says whether its fields changed too (the form then shows the new ones).
 * @param {ApiError} err
 * @param {boolean} changed
 */
export function fieldsErrorText(err, changed) {
  if (err.status === 412) {
    return changed
      ? `This task changed since you last saw it, so nothing was saved; the form now shows its current labels, assignees and milestone. ${sentence(err.message)}`
      : 'This task changed since you last saw it (not its labels, assignees or milestone), so nothing was saved. Save again to apply your changes.';
  }
  return errorText(err, 'fields');
}

/**
 * What the live region says once the fields were saved.
 * @param {TaskWithLink} t
 */
export const savedFieldsText = (t) => `Saved the fields of ${t.github ? `#${t.github.issue_number}` : `“${t.title}”`}.`;

// ---- the form -------------------------------------------------------------------------

/**
 * What board.js does for the form (see useCards).
 * @typedef {object} CardHooks
 * @property {(id: string, saved: boolean) => Promise<TaskWithLink | null>} reread reads the card
 *   again and shows it in place (`saved`: after a save, followed until GitHub holds it);
 *   resolves to the card read (null: gone, or not read)
 */

/** @type {CardHooks} */
let hooks = { reread: async () => null };

/**
 * board.js's card reader, kept as a callback (see CardHooks).
 * @param {CardHooks} given
 */
export function useCards(given) {
  hooks = given;
}

/**
 * The open form (one at a time): its card, the task as the form started from it (the values
 * and the version a save compares with), the choices it offers, whether a save is on its way.
 * @typedef {{ id: string, task: TaskWithLink, choices: RepositoryChoices, form: HTMLFormElement, busy: boolean }} Editor
 */

/** @type {Editor | null} */
let editor = null;

/** The card whose form is being opened (its choices on their way). */
let opening = /** @type {string | null} */ (null);

/** The repository's choices for the board shown, read when its first form opens. */
let cached = /** @type {{ board: Board, choices: Promise<RepositoryChoices | null> } | null} */ (null);

/**
 * The repository's choices, read once per board (null: they could not be read; read again
 * at the next opening).
 * @param {Board} board
 * @returns {Promise<RepositoryChoices | null>}
 */
function choicesFor(board) {
  if (cached && cached.board === board) return cached.choices;
  /** @type {{ board: Board, choices: Promise<RepositoryChoices | null> }} */
  const entry = { board, choices: Promise.resolve(null) };
  entry.choices = api('GET', `/projects/${board.pid}/github-sync/choices`).then(
    (choices) => /** @type {RepositoryChoices} */ (choices),
    (err) => {
      if (!(err instanceof ApiError)) throw err;
      if (cached === entry) cached = null;
      return null;
    },
  );
  cached = entry;
  return entry.choices;
}

/**
 * A card's "Edit fields" button, when its fields can be edited here (else null).
 * @param {TaskWithLink} t
 */
export function fieldsButton(t) {
  // Drawn for every live link, hidden unless the config is two-way: a config that arrives
  // (or changes) after the cards shows or hides it in place (showFieldsButtons).
  if (!liveLink(t)) return null;
  return el('button', {
    type: 'button', class: 'secondary edit-fields', 'aria-expanded': 'false', title: `Labels, assignees and milestone of ${cardName(t)}`,
    text: 'Edit fields', hidden: !canEditFields(state.config, t), 'data-project': t.project_id,
    onclick: (e) => toggleFields(t.id, e.currentTarget),
  });
}

/**
 * Shows or hides every card's "Edit fields" for the config as it now is, without drawing the
 * cards again (their focus and open menus stay); an open form of a project no longer two-way
 * closes.
 */
export function showFieldsButtons() {
  const c = state.config;
  for (const b of document.querySelectorAll('button.edit-fields')) {
    if (!(b instanceof HTMLElement)) continue;
    b.hidden = !(c && c.two_way && c.project_id === b.dataset.project);
  }
  if (editor && !(c && c.two_way)) closeFields(false);
}

/**
 * Puts the open form into its card drawn again (`node`, not in the page yet), and follows the
 * card's newer version when its fields did not change (rebase). A card that can no longer
 * be edited (two-way turned off, the issue gone) closes it.
 * @param {HTMLElement} node
 * @param {TaskWithLink} t
 */
export function keepFields(node, t) {
  if (!editor || editor.id !== t.id) return;
  if (!canEditFields(state.config, t)) { closeFields(false); return; }
  editor.task = rebase(editor.task, t);
  attach(node, editor.form);
}

/**
 * Puts a form in a card: after its foot, the card not draggable meanwhile (a drag would take
 * the text being selected), its button marked open.
 * @param {HTMLElement} li
 * @param {HTMLFormElement} form
 */
function attach(li, form) {
  li.append(form);
  li.draggable = false;
  const button = li.querySelector('button.edit-fields');
  if (button) {
    button.setAttribute('aria-expanded', 'true');
    button.setAttribute('aria-controls', form.id);
  }
}

/**
 * Closes the open form, if any; `refocus` gives the focus to its card's "Edit fields".
 * @param {boolean} refocus
 */
export function closeFields(refocus) {
  const ed = editor;
  editor = null;
  if (!ed) return;
  const li = ed.form.closest('li');
  ed.form.remove();
  if (!(li instanceof HTMLElement)) return;
  li.draggable = true;
  const button = li.querySelector('button.edit-fields');
  if (!(button instanceof HTMLElement)) return;
  button.setAttribute('aria-expanded', 'false');
  button.removeAttribute('aria-controls');
  if (refocus && button.isConnected) button.focus();
}

/**
 * The card's element on the board, if shown.
 * @param {string} id
 */
function cardNode(id) {
  const node = document.querySelector(`#board li.task-card[data-task="${CSS.escape(id)}"]`);
  return node instanceof HTMLElement ? node : null;
}

/**
 * "Edit fields": opens the card's form (the choices read first, once per board), or closes
 * it when open.
 * @param {string} id
 * @param {HTMLButtonElement} button
 */
async function toggleFields(id, button) {
  if (editor && editor.id === id && editor.form.isConnected) { closeFields(true); return; }
  if (opening === id) return;
  closeFields(false);
  const board = state.board;
  if (!board) return;
  opening = id;
  button.setAttribute('aria-busy', 'true');
  let choices;
  try {
    choices = (await choicesFor(board)) || NO_CHOICES;
  } finally {
    opening = null;
    button.removeAttribute('aria-busy');
  }
  // The card as the board shows it now (it may have been drawn again, or left, meanwhile).
  const at = state.board === board ? locate(board.columns, id) : null;
  const t = at ? board.columns[at.status].items[at.index] : null;
  const li = cardNode(id);
  if (!t || !li || !canEditFields(state.config, t)) return;
  closeFields(false);
  const form = el('form', {
    id: `fields-${id}`, class: 'fields-editor', 'aria-label': `Fields of ${cardName(t)}`, novalidate: true,
    onsubmit: (e) => { e.preventDefault(); saveFields(form); }, onkeydown: onFieldsKey,
  });
  editor = { id, task: t, choices, form, busy: false };
  fillForm(form, t, choices);
  attach(li, form);
  const first = form.querySelector('input, select');
  if (first instanceof HTMLElement) first.focus();
  form.scrollIntoView({ block: 'nearest' });
}

/**
 * Escape closes the form, the focus back on "Edit fields".
 * @param {Event} e
 */
function onFieldsKey(e) {
  if (!(e instanceof KeyboardEvent) || e.key !== 'Escape') return;
  e.preventDefault();
  e.stopPropagation();
  closeFields(true);
}

/**
 * A label's colour swatch (GitHub's colour; grey when unknown), beside its name.
 * @param {string} color
 */
function swatch(color) {
  const node = el('span', { class: 'swatch', 'aria-hidden': 'true' });
  // Through the CSSOM: the console's CSP allows no inline style attributes.
  node.style.setProperty('--chip', `#${/^[0-9a-fA-F]{6}$/.test(color) ? color : '8b949e'}`);
  return node;
}

/**
 * A labelled text field with its hint.
 * @param {string} id
 * @param {string} name
 * @param {string} label
 * @param {string} hint
 * @param {Record<string, string | number>} [attrs]
 */
function textField(id, name, label, hint, attrs = {}) {
  return el('div', { class: 'stack' },
    el('label', { for: id, text: label }),
    el('input', { id, name, type: 'text', autocomplete: 'off', 'aria-describedby': `${id}-hint`, ...attrs }),
    el('p', { id: `${id}-hint`, class: 'hint', text: hint }));
}

/**
 * Fills the form with task `t`'s fields and the choices (again after a refused save).
 * @param {HTMLFormElement} form
 * @param {TaskWithLink} t
 * @param {RepositoryChoices} choices
 */
function fillForm(form, t, choices) {
  const id = form.id;
  const own = fieldsOf(t);
  const labels = labelOptions(choices.labels, t.github ? t.github.labels : []);
  const people = assigneeOptions(choices.assignees, own.assignees);
  const milestones = milestoneOptions(choices.milestones, t.milestone);
  /**
   * @param {string} name
   * @param {string} value
   * @param {boolean} checked
   * @param {...(Node | string)} text
   */
  const box = (name, value, checked, ...text) => el('label', { class: 'check' },
    el('input', { type: 'checkbox', name, value, checked }), ...text);

  const labelSet = el('fieldset', { class: 'fields-group' }, el('legend', { text: 'Labels' }),
    labels.length ? el('div', { class: 'fields-choices' }, ...labels.map((l) => box('label', l.name, l.checked, swatch(l.color), l.name)))
      : el('p', { class: 'hint', text: choices.labels ? 'The repository has no labels yet.' : 'The repository’s labels are not listed yet.' }),
    textField(`${id}-new-label`, 'new-label', 'New label', 'Created on GitHub when the repository lacks it.', { maxlength: 50 }));

  const assigneeSet = el('fieldset', { class: 'fields-group' }, el('legend', { text: 'Assignees' }),
    people.length ? el('div', { class: 'fields-choices' }, ...people.map((p) => box('assignee', p.login, p.checked, p.login))) : null,
    choices.assignees ? (people.length ? null : el('p', { class: 'hint', text: 'No one can be assigned in this repository.' }))
      : textField(`${id}-new-assignees`, 'new-assignees', 'Add assignees', 'GitHub logins, separated by spaces (the repository’s are not listed yet).'));

  const milestoneId = `${id}-milestone`;
  const milestone = milestones
    ? el('div', { class: 'stack' }, el('label', { for: milestoneId, text: 'Milestone' }),
      el('select', { id: milestoneId, name: 'milestone' }, el('option', { value: '', text: 'No milestone' }),
        ...milestones.map((m) => el('option', { value: String(m.number), text: m.title, selected: m.number === own.milestone }))))
    : el('div', { class: 'stack' }, el('label', { for: milestoneId, text: 'Milestone' }),
      el('input', {
        id: milestoneId, name: 'milestone', type: 'number', min: 1, step: 1, autocomplete: 'off', 'aria-describedby': `${milestoneId}-hint`,
        value: own.milestone === null ? '' : String(own.milestone),
      }),
      el('p', { id: `${milestoneId}-hint`, class: 'hint', text: 'Its number on GitHub; empty for none (the repository’s are not listed yet).' }));

  form.replaceChildren(labelSet, assigneeSet, milestone,
    el('p', { class: 'error-box', role: 'alert', hidden: true }),
    el('div', { class: 'row' },
      el('button', { type: 'submit', class: 'save-fields', text: 'Save fields' }),
      el('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: () => closeFields(true) })));
}

/**
 * What the form chooses, or why it cannot be sent (and the field at fault).
 * @param {HTMLFormElement} form
 * @returns {{ fields: Fields } | { error: string, control: HTMLElement }}
 */
function readForm(form) {
  const ticked = (/** @type {string} */ name) => [...form.querySelectorAll(`input[type="checkbox"][name="${name}"]`)]
    .filter((i) => i instanceof HTMLInputElement && i.checked).map((i) => /** @type {HTMLInputElement} */ (i).value);
  const typed = (/** @type {string} */ name) => {
    const input = form.querySelector(`input[name="${name}"]`);
    return input instanceof HTMLInputElement ? input.value : '';
  };
  const control = form.querySelector('[name="milestone"]');
  /** @type {number | null | undefined} */
  let milestone = null;
  if (control instanceof HTMLSelectElement) milestone = control.value ? Number(control.value) : null;
  // A number field's value is empty for text that is no number: badInput tells it from none.
  else if (control instanceof HTMLInputElement) milestone = control.validity.badInput ? undefined : parseMilestone(control.value);
  if (milestone === undefined && control instanceof HTMLElement) {
    return { error: 'The milestone is its number on GitHub, such as 3; leave it empty for none.', control };
  }
  return {
    fields: {
      labels: [...ticked('label'), typed('new-label')],
      assignees: [...ticked('assignee'), ...splitLogins(typed('new-assignees'))],
      milestone: milestone === undefined ? null : milestone,
    },
  };
}

/**
 * The form's field that an API error names (labels, assignees, milestone), if it has one to mark.
 * @param {HTMLFormElement} form
 * @param {string | undefined} field
 * @returns {HTMLElement | null}
 */
function fieldControl(form, field) {
  const name = field === 'labels' ? 'new-label' : field === 'assignees' ? 'new-assignees' : field === 'milestone' ? 'milestone' : null;
  const control = name ? form.querySelector(`[name="${name}"]`) : null;
  return control instanceof HTMLElement ? control : null;
}

/**
 * Shows why the form was not saved (empty: nothing) and marks the field at fault, focused.
 * @param {HTMLFormElement} form
 * @param {string} text
 * @param {HTMLElement | null} control
 */
function formError(form, text, control) {
  const box = form.querySelector('.error-box');
  if (box instanceof HTMLElement) { box.textContent = text; show(box, Boolean(text)); }
  for (const node of form.querySelectorAll('[aria-invalid]')) node.removeAttribute('aria-invalid');
  if (control) { control.setAttribute('aria-invalid', 'true'); control.focus(); }
}

/**
 * The form's Save and its busy state while a save is on its way.
 * @param {HTMLFormElement} form
 * @param {boolean} busy
 */
function setBusy(form, busy) {
  form.setAttribute('aria-busy', String(busy));
  const save = form.querySelector('button.save-fields');
  if (save instanceof HTMLButtonElement) save.disabled = busy;
}

/**
 * "Save fields": one PATCH with the fields that changed and If-Match (the version the form
 * started from, or the card's newer one with the same fields); then the form closes and the
 * card is read again. Nothing changed: the form just closes.
 * @param {HTMLFormElement} form
 */
async function saveFields(form) {
  const ed = editor;
  if (!ed || ed.form !== form || ed.busy) return;
  const read = readForm(form);
  if ('error' in read) { formError(form, read.error, read.control); return; }
  const patch = fieldsPatch(ed.task, read.fields);
  if (Object.keys(patch).length === 0) { closeFields(true); return; }
  formError(form, '', null);
  ed.busy = true;
  setBusy(form, true);
  try {
    await api('PATCH', `/tasks/${encodeURIComponent(ed.id)}`, patch, { 'If-Match': `"${ed.task.updated_at}"` });
  } catch (err) {
    ed.busy = false;
    setBusy(form, false);
    if (!(err instanceof ApiError)) throw err;
    await refusedFields(ed, err);
    return;
  }
  ed.busy = false;
  if (editor === ed) closeFields(true);
  await hooks.reread(ed.id, true);
}

/**
 * A refused save, said in the form. 412 (the task changed since the form started from it):
 * the card is read again and the form starts from it: its values when its fields changed,
 * the person's choices kept when only the rest of it did. 404: the card leaves the board,
 * the notice bar says why. 409 (one-way, the link ended), 422 (a name or login refused) and
 * the rest: the message, the field at fault marked.
 * @param {Editor} ed
 * @param {ApiError} err
 */
async function refusedFields(ed, err) {
  if (err.status === 404) {
    if (editor === ed) closeFields(false);
    report(err, 'fields');
    await hooks.reread(ed.id, false);
    return;
  }
  if (err.status !== 412) {
    if (editor === ed) formError(ed.form, fieldsErrorText(err, false), fieldControl(ed.form, err.field));
    return;
  }
  const started = ed.task;
  const fresh = await hooks.reread(ed.id, false);
  if (editor !== ed || !ed.form.isConnected) return; // closed, or its card left the board, meanwhile
  if (!fresh || !canEditFields(state.config, fresh)) { closeFields(false); report(err, 'fields'); return; }
  const changed = !sameFields(fieldsOf(started), fieldsOf(fresh));
  ed.task = fresh;
  if (changed) fillForm(ed.form, fresh, ed.choices);
  formError(ed.form, fieldsErrorText(err, changed), null);
  const save = ed.form.querySelector('button.save-fields');
  if (save instanceof HTMLElement) save.focus();
}
