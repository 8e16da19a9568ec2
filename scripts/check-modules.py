#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks the module rules of cmake/modules.txt against the sources (ctest: module_edges).

Every #include "..." of our own headers in src/<module>/ and include/<module>/astrameter/
(include/astrameter/ is the core's; src/main.c is the app's) must name a header of a module
the including module may use, and a private header ("<module>/x.h") only of its own module.
The table itself must be closed (a module may use what the modules it uses may use), name
only known modules, and have a row for every directory under src/. Inside a module the
graph of its files through their private headers (src/<module>/x.c and x.h count as one
node "x"; the public headers are the module's contract and not part of it) must have no
cycle: a file includes the private header of each file it calls.
The edges in docs/architecture.md must be the table's. Exit 0 when all hold, else 1 with one
line per violation (file:line: what)."""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^">]+)[">]')


def load_table(root):
    table = {}
    with open(os.path.join(root, "cmake", "modules.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if line:
                table[line[0]] = set(line[1:])
    return table


def doc_table(root):
    """The rows of the edge table in docs/architecture.md: | `mod` | `a` `b` ... |."""
    rows = {}
    path = os.path.join(root, "docs", "architecture.md")
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^\|\s*`([a-z]+)`\s*\|([^|]*)\|", line)
            if m:
                rows[m.group(1)] = set(re.findall(r"`([a-z]+)`", m.group(2)))
    return rows


def headers(root, table):
    """Public header name -> module, and the header files of each module."""
    owner, files, errors = {}, {}, []
    dirs = [("core", os.path.join(root, "include", "astrameter"))]
    for mod in table:
        dirs.append((mod, os.path.join(root, "include", mod, "astrameter")))
    for mod, d in dirs:
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if not name.endswith(".h"):
                continue
            if name in owner and owner[name] != mod:
                errors.append(f"{d}/{name}: astrameter/{name} exists in modules "
                              f"{owner[name]} and {mod}")
            owner[name] = mod
            files.setdefault(mod, []).append(os.path.join(d, name))
    for entry in sorted(os.listdir(os.path.join(root, "include"))):
        if entry != "astrameter" and entry not in table:
            errors.append(f"include/{entry}: no module '{entry}' in cmake/modules.txt")
    return owner, files, errors


def find_cycle(graph):
    """One cycle of graph (node -> set of nodes) as a list, or None."""
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), ".."))
    table = load_table(root)
    errors = []
    for mod, uses in table.items():
        for dep in sorted(uses):
            if dep not in table:
                errors.append(f"cmake/modules.txt: {mod} uses unknown module {dep}")
            elif dep == mod:
                errors.append(f"cmake/modules.txt: {mod} lists itself")
            else:
                for far in sorted(table[dep] - uses - {mod}):
                    errors.append(f"cmake/modules.txt: {mod} uses {dep}, which uses {far}: "
                                  f"list {far} for {mod} too (rows are closed)")
                if mod in table[dep]:
                    errors.append(f"cmake/modules.txt: {mod} and {dep} use each other")
    for d in sorted(os.listdir(os.path.join(root, "src"))):
        if os.path.isdir(os.path.join(root, "src", d)) and d not in table:
            errors.append(f"src/{d}/: no row for module '{d}' in cmake/modules.txt")
    doc = doc_table(root)
    if doc != table:
        for mod in sorted(set(doc) | set(table)):
            if doc.get(mod) != table.get(mod):
                errors.append(f"docs/architecture.md: edge table row '{mod}' "
                              f"{sorted(doc.get(mod, []))} differs from cmake/modules.txt "
                              f"{sorted(table.get(mod, []))}")

    owner, hfiles, herr = headers(root, table)
    errors += herr
    sources = {}
    for mod in table:
        d = os.path.join(root, "src", mod)
        if os.path.isdir(d):
            sources[mod] = [os.path.join(d, n) for n in sorted(os.listdir(d))
                            if n.endswith((".c", ".h"))]
        sources[mod] = sources.get(mod, []) + hfiles.get(mod, [])
    sources.setdefault("app", []).append(os.path.join(root, "src", "main.c"))

    for mod, files in sorted(sources.items()):
        allowed = table[mod] | {mod}
        graph = {}
        for path in files:
            rel = os.path.relpath(path, root)
            private = os.path.dirname(path) == os.path.join(root, "src", mod)
            node = os.path.splitext(os.path.basename(path))[0]
            if private:
                graph.setdefault(node, set())
            with open(path, encoding="utf-8", errors="replace") as f:
                for no, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    inc = m.group(1)
                    parts = inc.split("/")
                    if len(parts) != 2:
                        continue  # system or third-party header
                    top, name = parts
                    if top == "astrameter":
                        dep = owner.get(name)
                        if dep is None:
                            errors.append(f"{rel}:{no}: {inc}: no such header in any module")
                            continue
                        if dep not in allowed:
                            errors.append(f"{rel}:{no}: {mod} -> {dep} ({inc}) is not "
                                          f"allowed (cmake/modules.txt: {mod} may use "
                                          f"{' '.join(sorted(table[mod])) or 'nothing'})")
                    elif top in table:
                        if not os.path.isfile(os.path.join(root, "src", top, name)):
                            errors.append(f"{rel}:{no}: {inc}: no such file src/{inc}")
                            continue
                        if top != mod:
                            errors.append(f"{rel}:{no}: {inc} is private to module {top}")
                            continue
                        target = os.path.splitext(name)[0]
                        if private and target != node:
                            graph[node].add(target)
        cycle = find_cycle(graph)
        if cycle:
            errors.append(f"src/{mod}/: include cycle " + " -> ".join(cycle))

    for e in errors:
        print(e)
    if errors:
        print(f"module rules: {len(errors)} violation(s)")
        return 1
    print(f"module rules: {len(table)} modules, edges as in cmake/modules.txt, no cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
