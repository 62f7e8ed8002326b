#!/usr/bin/env python3
"""The include graph between the modules of src/ (a module is the first
folder under src/, or the file for src/*.c): prints each cycle and exits 1
if there is any. A lower module never includes a higher one (STYLE.md)."""
import os
import re
import sys

SRC = os.path.join(sys.argv[1] if len(sys.argv) > 1 else ".", "src")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def module(rel):
    parts = rel.split("/")
    return parts[0] if len(parts) > 1 else os.path.splitext(parts[0])[0]


def graph():
    mods, edges = set(), {}
    for d, _, files in os.walk(SRC):
        for f in files:
            if not f.endswith((".c", ".h")):
                continue
            rel = os.path.relpath(os.path.join(d, f), SRC)
            m = module(rel)
            mods.add(m)
            with open(os.path.join(d, f), errors="replace") as fh:
                for line in fh:
                    g = INCLUDE.match(line)
                    if not g:
                        continue
                    cand = os.path.normpath(os.path.join(os.path.dirname(rel), g.group(1)))
                    if not os.path.exists(os.path.join(SRC, cand)):
                        cand = g.group(1)
                    if os.path.exists(os.path.join(SRC, cand)) and module(cand) != m:
                        edges.setdefault(m, set()).add(module(cand))
    return mods, edges


def cycles(mods, edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
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

    for v in sorted(mods):
        if v not in index:
            visit(v)
    return found


mods, edges = graph()
found = cycles(mods, edges)
for c in found:
    print("include cycle between modules:", " <-> ".join(c))
print("%d modules, %d module edges, %d cycles" % (len(mods), sum(map(len, edges.values())), len(found)))
sys.exit(1 if found else 0)
