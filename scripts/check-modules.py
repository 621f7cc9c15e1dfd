#!/usr/bin/env python3
"""Checks the library crate's shape (issue 27): no import circle between the modules of
shared/src (top level, and the modules inside each folder), and no file longer than 700
lines before its `#[cfg(test)]` module. Doc comments and comments do not count as uses.

Usage: scripts/check-modules.py [shared/src]. Exit status 1 names every circle and file.
"""
import os
import re
import sys

LIMIT = 700
root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "shared", "src")
root = os.path.normpath(root)


def code_lines(path):
    """The file's lines without comments (`//…` to the end of a line)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            out.append(re.sub(r"//.*", "", line))
    return out


def module_of(path):
    """`services/push.rs` → ("services", "push"); `lib.rs` → (None, None)."""
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    parts = rel[:-3].split("/")
    if parts[-1] == "mod":
        parts = parts[:-1]
    if parts[0] in ("lib", "bin"):
        return None, None
    return parts[0], (parts[1] if len(parts) > 1 else None)


def cycles(graph):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, found, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def reexports(folder):
    """Names a folder's mod.rs re-exports, by the file they come from (`pub use sub::{A, b}`)."""
    names = {}
    path = os.path.join(root, folder, "mod.rs")
    if not os.path.exists(path):
        return names
    text = "".join(code_lines(path))
    for sub, body in re.findall(r"\buse\s+([a-z_]+)::\{([^}]*)\}", text):
        for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", body):
            names[name] = sub
    for sub, name in re.findall(r"\buse\s+([a-z_]+)::([A-Za-z_][A-Za-z0-9_]*)\s*;", text):
        names[name] = sub
    return names


top, inner, problems = {}, {}, []
for dirpath, _, files in os.walk(root):
    for name in files:
        if not name.endswith(".rs"):
            continue
        path = os.path.join(dirpath, name)
        lines = code_lines(path)
        before_tests = next((i for i, l in enumerate(lines) if l.strip() == "#[cfg(test)]"), len(lines))
        if before_tests > LIMIT:
            problems.append(f"{os.path.relpath(path, root)}: {before_tests} lines before #[cfg(test)] (limit {LIMIT})")
        outer, sub = module_of(path)
        if outer is None:
            continue
        text = "".join(lines)
        for used in re.findall(r"\bcrate::([a-z_]+)(?:::([a-z_]+))?", text):
            if used[0] != outer:
                top.setdefault(outer, set()).add(used[0])
            elif sub and used[1] and used[1] != sub:
                inner.setdefault(outer, {}).setdefault(sub, set()).add(used[1])
        if sub:
            names = reexports(outer)
            uses = re.findall(r"\bsuper::([A-Za-z_][A-Za-z0-9_]*)\b", text)
            for group in re.findall(r"\bsuper::\{([^}]*)\}", text):
                uses += re.findall(r"[A-Za-z_][A-Za-z0-9_]*", group)
            for used in uses:
                used = used if os.path.exists(os.path.join(root, outer, used + ".rs")) else names.get(used)
                if used and used != sub:
                    inner.setdefault(outer, {}).setdefault(sub, set()).add(used)

for comp in cycles(top):
    problems.append("import circle between modules: " + " ↔ ".join(comp))
for outer, graph in sorted(inner.items()):
    for comp in cycles(graph):
        problems.append(f"import circle inside {outer}/: " + " ↔ ".join(comp))

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"{root}: no import circle, no file over {LIMIT} lines before its tests")
