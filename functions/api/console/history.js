// @ts-check
// The sync history card: summary figures, an SVG chart of the last runs (one row of bars
// per figure, failures marked ✕) and the same runs as a table, the chart's accessible
// alternative. A run still going when the page opens is followed (config.js shows it).
// Each run also says what it did to the issues' comments (its tooltip and a table column).

import { api, guard } from './api.js';
import { followRun } from './config.js';
import { $, el, fmtMs, fmtTime, show, svg } from './dom.js';
import { state } from './state.js';

/** @typedef {import('../../../shared/types').SyncHistory} SyncHistory */
/** @typedef {import('../../../shared/types').SyncHistorySummary} SyncHistorySummary */
/** @typedef {import('../../../shared/types').SyncStatus} SyncStatus */
/** @typedef {import('../../../shared/types').CommentCounts} CommentCounts */

/**
 * One row of bars: which figure of a run, its label and unit, its height in pixels.
 * @typedef {object} Series
 * @property {'duration_ms' | 'issues_fetched' | 'tasks_created' | 'tasks_updated' | 'conflicts_detected'} key
 * @property {string} label
 * @property {string} unit
 * @property {number} height
 */

/**
 * Where a series goes: the plot's left edge, the row's top, a run's slot and bar width, the chart's width.
 * @typedef {{ left: number, y: number, slot: number, barW: number, width: number }} SeriesBox
 */
/**
 * Where a run's marker goes: the plot's left edge, a run's slot and bar width, the plot's top, the chart's height.
 * @typedef {{ left: number, slot: number, barW: number, top: number, height: number }} MarkerBox
 */

/** @type {Series[]} */
const SERIES = [
  { key: 'duration_ms', label: 'Duration', unit: ' ms', height: 64 },
  { key: 'issues_fetched', label: 'Issues fetched', unit: '', height: 30 },
  { key: 'tasks_created', label: 'Tasks created', unit: '', height: 30 },
  { key: 'tasks_updated', label: 'Tasks updated', unit: '', height: 30 },
  { key: 'conflicts_detected', label: 'Conflicts', unit: '', height: 30 },
];

export async function loadHistory() {
  const pid = state.projectId;
  /** @type {SyncHistorySummary | undefined} */
  const summary = await guard('history', () => api('GET', `/projects/${pid}/sync-history`));
  if (!summary || pid !== state.projectId) return;
  state.history = summary;
  renderSummary(summary);
  renderChart();
  renderRunsTable(summary.last_100_syncs);
  // A sync running (or queued) when the page opened: follow its progress too.
  const running = summary.last_100_syncs.find((r) => r.status === 'in_progress');
  if (running && state.following !== running.id) followRun(pid, running.id);
}

/** @param {SyncHistorySummary} s */
function renderSummary(s) {
  const runs = s.last_100_syncs;
  const failed = runs.filter((r) => r.status === 'failure').length;
  const finished = runs.some((r) => r.status !== 'in_progress');
  const pct = Number.isInteger(s.success_rate) ? s.success_rate : s.success_rate.toFixed(1);
  const figures = [
    ['Success rate', finished ? `${pct}%` : '—'], ['Average duration', finished ? fmtMs(s.avg_duration_ms) : '—'],
    ['Issues imported', String(s.total_issues_imported)], ['Conflicts', String(s.total_conflicts)],
    ['Runs shown', `${runs.length}${failed ? ` (${failed} failed)` : ''}`],
  ];
  $('summary').replaceChildren(...figures.map(([k, v]) => el('div', {}, el('dt', { text: k }), el('dd', { text: v }))));
  show($('history-empty'), runs.length === 0);
  show($('chart-legend'), runs.length > 0);
}

/** @type {Record<SyncStatus, string>} */
const RUN_RESULT = { success: 'succeeded', failure: 'FAILED', in_progress: 'running' };

/**
 * What a run did to the comments: "3 listed, 1 new, 1 edited, 0 deleted" ("listed": the
 * comments GitHub's listing returned, whether or not they changed anything).
 * @param {CommentCounts} c
 */
export function commentsText(c) {
  return `${c.fetched} listed, ${c.created} new, ${c.updated} edited, ${c.deleted} deleted`;
}

/**
 * A run in one sentence (the chart's tooltip for its column).
 * @param {SyncHistory} r
 * @param {number} i its place, oldest first
 * @param {number} n how many runs
 */
export function runLabel(r, i, n) {
  const result = RUN_RESULT[r.status];
  return `Run ${i + 1} of ${n}, ${fmtTime(r.started_at)}: ${result}, ${fmtMs(r.duration_ms)}, `
    + `${r.issues_fetched} fetched, ${r.tasks_created} created, ${r.tasks_updated} updated, `
    + `${r.conflicts_detected} conflicts, comments: ${commentsText(r.comments)}`
    + `${r.error_message ? `. Error: ${r.error_message}` : ''}`;
}

/** Draws one row of bars per series, runs oldest to newest, at the container's width. */
export function renderChart() {
  const box = $('chart');
  const runs = state.history ? [...state.history.last_100_syncs].reverse() : [];
  if (runs.length === 0) return box.replaceChildren();
  const width = Math.max(300, box.clientWidth || 600);
  const left = width < 520 ? 112 : 128;
  const plot = width - left - 8;
  const slot = Math.min(plot / runs.length, 28);
  const barW = Math.max(1, slot * 0.7);
  const top = 16;
  const height = top + SERIES.reduce((h, s) => h + s.height + 10, 0) + 18;
  const failed = runs.filter((r) => r.status === 'failure').length;
  const chart = svg('svg', {
    width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': 'chart-t chart-d', class: 'history-chart',
  }, svg('title', { id: 'chart-t', text: 'Sync history, oldest run on the left' }), svg('desc', {
    id: 'chart-d',
    text: `${runs.length} runs from ${fmtTime(runs[0].started_at)} to `
      + `${fmtTime(runs[runs.length - 1].started_at)}; ${failed} failed. One row of bars each for duration, `
      + 'issues fetched, tasks created, tasks updated and conflicts. The table below lists the same runs.',
  }));
  runs.forEach((r, i) => {
    if (r.status === 'failure') chart.append(svg('rect', { class: 'fail-band', x: left + i * slot, y: top, width: slot, height: height - top - 18 }));
  });
  let y = top;
  for (const series of SERIES) {
    chart.append(drawSeries(runs, series, { left, y, slot, barW, width }));
    y += series.height + 10;
  }
  runs.forEach((r, i) => chart.append(drawRunMarker(r, i, runs.length, { left, slot, barW, top, height })));
  if (runs.length * slot > 200) {
    chart.append(
      svg('text', { class: 'axis', x: left, y: height - 4, text: '← oldest' }),
      svg('text', { class: 'axis', x: left + runs.length * slot, y: height - 4, 'text-anchor': 'end', text: 'newest →' }),
    );
  } else {
    chart.append(svg('text', { class: 'axis', x: left, y: height - 4, text: 'oldest → newest' }));
  }
  return box.replaceChildren(chart);
}

/**
 * @param {SyncHistory[]} runs oldest first
 * @param {Series} series
 * @param {SeriesBox} g
 */
function drawSeries(runs, series, g) {
  const top = Math.max(0, ...runs.map((r) => r[series.key] || 0));
  const max = Math.max(1, top);
  const base = g.y + series.height;
  const group = svg('g', { class: 'series' },
    svg('text', { class: 'label', x: g.left - 8, y: g.y + series.height / 2, 'text-anchor': 'end', text: series.label }),
    svg('text', { class: 'axis', x: g.left - 8, y: g.y + series.height / 2 + 12, 'text-anchor': 'end', text: `max ${Math.round(top)}${series.unit}` }),
    svg('line', { class: 'baseline', x1: g.left, x2: g.width - 8, y1: base, y2: base }));
  runs.forEach((r, i) => {
    const v = r[series.key] || 0;
    if (v <= 0) return;
    const h = Math.max(2, (v / max) * (series.height - 2));
    group.append(svg('rect', { class: `bar ${r.status}`, x: g.left + i * g.slot + (g.slot - g.barW) / 2, y: base - h, width: g.barW, height: h }));
  });
  return group;
}

/**
 * A transparent column with the run's description (hover tooltip), plus ✕ over failures.
 * @param {SyncHistory} r
 * @param {number} i
 * @param {number} n
 * @param {MarkerBox} g
 */
function drawRunMarker(r, i, n, g) {
  const x = g.left + i * g.slot;
  const group = svg('g', {}, svg('title', { text: runLabel(r, i, n) }),
    svg('rect', { class: 'hit', x, y: g.top, width: g.slot, height: g.height - g.top - 18 }));
  if (r.status === 'failure') group.append(svg('text', { class: 'fail-mark', x: x + g.slot / 2, y: g.top - 3, 'text-anchor': 'middle', text: '✕' }));
  if (r.status === 'in_progress') group.append(svg('text', { class: 'axis', x: x + g.slot / 2, y: g.top - 3, 'text-anchor': 'middle', text: '…' }));
  return group;
}

/** @type {Record<SyncStatus, string>} */
const RUN_RESULT_CELL = { success: 'Success', failure: 'Failed', in_progress: 'Running' };

/** @param {SyncHistory[]} runs */
function renderRunsTable(runs) {
  $('runs-body').replaceChildren(...runs.map((r) => el('tr', { class: r.status === 'failure' ? 'failed' : false },
    el('td', { text: fmtTime(r.started_at) }), el('td', { text: RUN_RESULT_CELL[r.status] }), el('td', { text: fmtMs(r.duration_ms) }),
    el('td', { text: r.issues_fetched }), el('td', { text: r.tasks_created }), el('td', { text: r.tasks_updated }),
    el('td', { text: r.conflicts_detected }), el('td', { class: 'comments', text: commentsText(r.comments) }),
    el('td', { text: r.error_message || '' }))));
}
