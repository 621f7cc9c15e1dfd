// @ts-check
// The conflict dialog's word diff and the merge form's starting description. Pure
// functions of strings, no DOM: conflicts.js renders what they return, and the unit tests
// in console-test/unit/ run them in Node.

/**
 * One piece of a diff: text in both versions, only in the local one, or only in GitHub's.
 * @typedef {{ op: 'same' | 'del' | 'ins', text: string }} DiffOp
 */

/**
 * Splits text into words and runs of whitespace.
 * @param {string} text
 * @returns {string[]}
 */
export function tokenize(text) {
  return text.match(/\s+|[^\s]+/g) || [];
}

/**
 * Word-level diff (LCS after trimming the common prefix and suffix) of the local text `a`
 * and GitHub's `b`.
 * @param {string} a
 * @param {string} b
 * @returns {DiffOp[]}
 */
export function diffWords(a, b) {
  const A = tokenize(a);
  const B = tokenize(b);
  let pre = 0;
  while (pre < A.length && pre < B.length && A[pre] === B[pre]) pre += 1;
  let suf = 0;
  while (suf < A.length - pre && suf < B.length - pre && A[A.length - 1 - suf] === B[B.length - 1 - suf]) suf += 1;
  const midA = A.slice(pre, A.length - suf);
  const midB = B.slice(pre, B.length - suf);
  /** @type {DiffOp[]} */
  const mid = midA.length * midB.length > 400000
    ? [{ op: 'del', text: midA.join('') }, { op: 'ins', text: midB.join('') }]
    : lcsOps(midA, midB);
  return coalesce([{ op: 'same', text: A.slice(0, pre).join('') }, ...mid, { op: 'same', text: A.slice(A.length - suf).join('') }]);
}

/**
 * Joins each run of changes (and the bare spaces inside it) into one deletion + one insertion;
 * drops empty pieces and merges neighbours of the same kind.
 * @param {DiffOp[]} ops
 * @returns {DiffOp[]}
 */
export function coalesce(ops) {
  /** @type {DiffOp[]} */
  const out = [];
  /**
   * @param {DiffOp['op']} op
   * @param {string} text
   */
  const push = (op, text) => {
    const last = out[out.length - 1];
    if (!text) return;
    if (last && last.op === op) last.text += text; else out.push({ op, text });
  };
  let del = '';
  let ins = '';
  const flush = () => { push('del', del); push('ins', ins); del = ''; ins = ''; };
  ops.forEach((o, k) => {
    const next = ops[k + 1];
    const bridge = o.op === 'same' && !o.text.trim() && (del || ins) && next && next.op !== 'same';
    if (o.op === 'del') del += o.text;
    else if (o.op === 'ins') ins += o.text;
    else if (bridge) { del += o.text; ins += o.text; }
    else { flush(); push('same', o.text); }
  });
  flush();
  return out;
}

/**
 * The edit script between two token lists (longest common subsequence), one op per token.
 * @param {string[]} a
 * @param {string[]} b
 * @returns {DiffOp[]}
 */
export function lcsOps(a, b) {
  const n = a.length;
  const m = b.length;
  const dp = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) {
      dp[i][j] = a[i] === b[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
    }
  }
  /** @type {DiffOp[]} */
  const ops = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { ops.push({ op: 'same', text: a[i] }); i += 1; j += 1; }
    else if (dp[i + 1][j] >= dp[i][j + 1]) { ops.push({ op: 'del', text: a[i] }); i += 1; }
    else { ops.push({ op: 'ins', text: b[j] }); j += 1; }
  }
  while (i < n) { ops.push({ op: 'del', text: a[i] }); i += 1; }
  while (j < m) { ops.push({ op: 'ins', text: b[j] }); j += 1; }
  return ops;
}

/**
 * The merge form's starting description: the one text when only one side has one (or both
 * are equal), otherwise both versions between marker lines.
 * @param {string | null | undefined} local
 * @param {string | null | undefined} remote
 * @returns {string}
 */
export function combinedDescription(local, remote) {
  const l = local || '';
  const r = remote || '';
  if (l === r || !r) return l;
  if (!l) return r;
  return `----- Local version -----\n${l.trimEnd()}\n----- GitHub version -----\n${r.trimEnd()}\n----- end -----`;
}
