#!/usr/bin/env python3
"""Module circles per crate: top-level modules of each crate's src/ that reach each other
through `crate::` paths (and `super::` from a submodule). Prints each circle (a strongly
connected set of two or more modules) and the total. Usage: scripts/module-circles.py"""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent / "crates"


def top_module(src: pathlib.Path, file: pathlib.Path) -> str:
    rel = file.relative_to(src).with_suffix("")
    parts = [p for p in rel.parts if p != "mod"]
    if parts[0] in ("lib", "main"):
        return "<root>"
    if parts[0] == "bin":
        return "<bin>"
    return parts[0]


def strip_tests(text: str) -> str:
    # Unit tests may use anything: drop `#[cfg(test)]` blocks at the end of a file.
    i = text.find("#[cfg(test)]")
    text = text if i < 0 else text[:i]
    # Comments (doc links included) are not dependencies.
    return re.sub(r"//[^\n]*", "", text)


EDGES = {}


def circles(crate: pathlib.Path) -> list:
    src = crate / "src"
    files = [f for f in src.rglob("*.rs") if not f.name.endswith("tests.rs")]
    mods = {top_module(src, f) for f in files}
    edges = {m: set() for m in mods}
    for f in files:
        here = top_module(src, f)
        text = strip_tests(f.read_text())
        for m in re.findall(r"\bcrate::(\w+)", text):
            if m in mods and m != here:
                edges[here].add(m)
        # Braced groups: `use crate::{a::X, b}`
        for group in re.findall(r"\bcrate::\{([^}]*)\}", text, re.S):
            for m in re.findall(r"(?:^|,)\s*(\w+)", group):
                if m in mods and m != here:
                    edges[here].add(m)
    EDGES[crate.name] = edges
    # Tarjan's strongly connected components.
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
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
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(mods):
        if v not in index:
            visit(v)
    return out


verbose = "-v" in sys.argv
total = 0
for crate in sorted(p for p in root.iterdir() if (p / "src").is_dir()):
    for comp in circles(crate):
        total += 1
        print(f"{crate.name}: {' <-> '.join(comp)}")
        if verbose:
            for m in comp:
                print(f"    {m} -> {', '.join(sorted(set(comp) & EDGES[crate.name][m]))}")
print(f"{total} module circles")
sys.exit(1 if total else 0)
