// @ts-check
// DOM helpers every view uses (element lookup, element builders, show/hide, the notice bar)
// and the text formatters for times, durations and API messages. Nothing here touches the
// document when the module loads, so the formatters can be imported (and tested) in Node.
// Every API value reaches the page through textContent or attributes, never innerHTML.

/**
 * An attribute value for el() / svg() on an element E: `false`, null and undefined leave it
 * out; `text` sets textContent; an `on…` key adds that event's listener.
 * @template {Element} E
 * @typedef {string | number | boolean | null | undefined | Handler<E>} AttrValue
 */
/**
 * A listener added through an `on…` attribute: its `currentTarget` is the element E.
 * @template {Element} E
 * @typedef {(event: Event & { currentTarget: E }) => unknown} Handler
 */

/**
 * @overload
 * @param {string} id
 * @returns {HTMLElement}
 */
/**
 * @template {HTMLElement} T
 * @overload
 * @param {string} id
 * @param {new () => T} type the element's class (HTMLInputElement, HTMLDialogElement, …)
 * @returns {T}
 */
/**
 * The element with this id, checked to be an HTMLElement (or of `type`): the page's static
 * elements are all there, so a missing one is a bug and throws at once.
 * @param {string} id
 * @param {new () => HTMLElement} [type]
 * @returns {HTMLElement}
 */
export function $(id, type = HTMLElement) {
  const node = document.getElementById(id);
  if (node instanceof type) return node;
  throw new Error(`#${id} is missing or not a ${type.name}`);
}

/**
 * @param {HTMLElement} node
 * @param {boolean} visible
 */
export const show = (node, visible) => { node.hidden = !visible; };

/**
 * Creates an HTML element: attrs go through setAttribute ("text" sets textContent).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, AttrValue<HTMLElementTagNameMap[K]>>} [attrs]
 * @param {...(Node | string | null | undefined)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/**
 * Same for SVG elements.
 * @template {keyof SVGElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, AttrValue<SVGElementTagNameMap[K]>>} [attrs]
 * @param {...(Node | string)} children
 * @returns {SVGElementTagNameMap[K]}
 */
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  setAttrs(node, attrs);
  node.append(...children);
  return node;
}

/**
 * @template {Element} E
 * @param {E} node
 * @param {Record<string, AttrValue<E>>} attrs
 */
function setAttrs(node, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') node.textContent = v === null || v === undefined ? '' : String(v);
    else if (k.startsWith('on')) {
      if (typeof v !== 'function') throw new TypeError(`${k} needs a function`);
      // A listener on `node` is called with `node` as the event's currentTarget (see Handler).
      node.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    } else if (v !== false && v !== null && v !== undefined) node.setAttribute(k, String(v));
  }
}

/**
 * Shows a message in the notice bar at the top: an alert for errors, a status otherwise.
 * @param {string} text
 * @param {'error' | 'ok'} [kind]
 */
export function notify(text, kind = 'error') {
  $('notice-text').textContent = text;
  $('notice').className = `notice ${kind}`;
  $('notice').setAttribute('role', kind === 'error' ? 'alert' : 'status');
  show($('notice'), true);
}

// ---- formatters (no DOM) --------------------------------------------------------------

/**
 * A timestamp in the browser's locale, "—" for none.
 * @param {string | null | undefined} iso
 */
export function fmtTime(iso) {
  if (!iso) return '—';
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/**
 * How far a timestamp is from now: "in 5 minutes", "2 hours ago", "yesterday".
 * @param {string} iso
 */
export function fmtRelative(iso) {
  const seconds = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  const abs = Math.abs(seconds);
  if (abs < 90) return rtf.format(seconds, 'second');
  if (abs < 7200) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 172800) return rtf.format(Math.round(seconds / 3600), 'hour');
  return rtf.format(Math.round(seconds / 86400), 'day');
}

/**
 * A sync interval: "every 5 min", in the largest whole unit.
 * @param {number} seconds
 */
export function fmtInterval(seconds) {
  if (seconds % 3600 === 0) return `every ${seconds / 3600} h`;
  if (seconds % 60 === 0) return `every ${seconds / 60} min`;
  return `every ${seconds} s`;
}

/**
 * The API's messages start in lower case, without a full stop (they also go to logs): a sentence.
 * @param {string | null | undefined} text
 */
export function sentence(text) {
  if (!text) return '';
  const s = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

/**
 * A duration: milliseconds below 10 s, seconds with one decimal above, "—" for none.
 * @param {number | null | undefined} ms
 */
export function fmtMs(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}
