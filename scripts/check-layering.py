#!/usr/bin/env python3
# check-layering.py: the layering rule of daemon/, proto/, client/ (the #include "..." graph), and file and function sizes
"""usage: check-layering.py [--root DIR] [--no-sizes]

Reads every #include "..." of the .c and .h files under daemon/, proto/ and client/ of DIR
(default: this repository) and prints one line per violation, naming the file, the include
(or module, or function) and the rule broken:

    daemon/store.c: #include "hub.h": upward include: daemon/store (L4 workers) -> daemon/hub (L1 hub)
    daemon/widget.c: module daemon/widget: in no layer (...)
    daemon/main.c:340: main(): 114 lines: function over 100 lines

Rules: no include that goes up the LAYERS table below; proto/ includes nothing from daemon/
or client/, client/ nothing from daemon/; every module is in a layer (a new file must be
placed in the table); no cycle between modules (a module is a file name without its
extension, so a .c and its own .h are one module, and so is a private header NAME_x.h
that has no .c of its own). A cycle that goes up the table is reported as its upward include; the
other cycles (within one layer, or through a module in no layer) are listed once each.

Sizes: no .c file over MAX_FILE_LINES lines, no function (in a .c or a .h) over
MAX_FUNCTION_LINES lines, from the line of its opening brace to its closing brace.

The last line is a summary. Exit status: 1 when anything was found, 0 otherwise, 2 on a
usage error.
"""
import argparse
import fnmatch
import os
import re
import sys

# The layer table of issue 10, top to bottom: a module may include modules of its own
# layer or of a layer below it, never above. Patterns match "dir/name" (no extension).
LAYERS = [
    # jetsamctl: a program of its own; it uses proto/ and never daemon/ (rule below)
    ("client", ["client/*"]),
    ("L0 main", ["daemon/main"]),
    ("L1 hub", ["daemon/hub"]),
    ("L2 commands", ["daemon/api*", "daemon/import", "daemon/reparse"]),
    ("L3 services", ["daemon/devices*", "daemon/ipc*", "daemon/ingest", "daemon/fleet", "daemon/metrics",
                      "daemon/notify"]),
    ("L4 workers", ["daemon/storeq", "daemon/fetch*", "daemon/syslogwatch*", "daemon/devwatch", "daemon/store*",
                    "daemon/fleet_pg"]),
    # proto/arena: the per-thread cJSON arena (report_use_arena), pure like the rest of proto/
    ("L5 base", ["daemon/fileindex", "daemon/durable", "daemon/archive", "daemon/statedir",
                 "proto/arena", "proto/*",
                 "daemon/fleet_rows", "daemon/fleetschema",
                 "daemon/metrics_text", "daemon/metrics_http", "daemon/metrics_proc"]),
    # any layer may use these
    ("any", ["daemon/log", "daemon/config", "daemon/config_fleet", "daemon/sd", "daemon/mailbox", "daemon/clock",
             "daemon/readfile", "daemon/trim", "daemon/pqlib"]),
]

# (directory, directories it must never include)
FORBIDDEN = [
    ("proto", ("daemon", "client")),
    ("client", ("daemon",)),
]

DIRS = ["daemon", "proto", "client"]
# where an include not found beside the including file is looked for (meson's proto_dep)
INCLUDE_PATH = ["proto"]

MAX_FILE_LINES = 700
MAX_FUNCTION_LINES = 100

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(module):
    """(rank, name) of the first layer whose patterns match module, or None."""
    for rank, (name, patterns) in enumerate(LAYERS):
        if any(fnmatch.fnmatchcase(module, p) for p in patterns):
            return rank, name
    return None


def module_of(rel, c_modules=()):
    """"daemon/api.c" and "daemon/api.h" -> "daemon/api". A header without a .c of its own
    whose name starts with "M_" for a module M that has one is a private header of M
    ("proto/report_internal.h", "daemon/devices_impl.h"): it belongs to M (the longest)."""
    base, ext = os.path.splitext(rel)
    if ext == ".h" and base not in c_modules:
        owners = [m for m in c_modules if base.startswith(m + "_")]
        if owners:
            return max(owners, key=len)
    return base


def source_files(root):
    """Paths relative to root ("daemon/api.c") of every .c and .h under DIRS."""
    out = []
    for d in DIRS:
        top = os.path.join(root, d)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for n in sorted(filenames):
                if n.endswith((".c", ".h")):
                    out.append(os.path.relpath(os.path.join(dirpath, n), root))
    return out


def resolve(root, rel, name):
    """The included file relative to root, or None when it is outside the scanned tree."""
    for base in [os.path.dirname(rel)] + INCLUDE_PATH:
        cand = os.path.normpath(os.path.join(base, name))
        if os.path.isfile(os.path.join(root, cand)):
            top = cand.split(os.sep)[0]
            return cand if top in DIRS and not cand.startswith("..") else None
    return None


def read_includes(root, files):
    """[(file, include text, target file)] of every include that resolves into the tree."""
    edges = []
    for rel in files:
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            for line in f:
                m = INCLUDE_RE.match(line)
                if m:
                    target = resolve(root, rel, m.group(1))
                    if target is not None:
                        edges.append((rel, m.group(1), target))
    return edges


def strongly_connected(graph):
    """Tarjan's algorithm: the components (sets) of graph {node: set(successors)}."""
    index, low, stack, on_stack, comps = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            comps.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


def cycles(graph, limit=100):
    """Every elementary cycle once, as a node list starting at its smallest node."""
    found = []
    for comp in strongly_connected(graph):
        if len(comp) < 2:
            continue
        for start in sorted(comp):
            # cycles through start whose other nodes are all greater than start
            path = [start]

            def walk(v):
                for w in sorted(graph.get(v, ())):
                    if len(found) >= limit:
                        return
                    if w == start:
                        found.append(list(path))
                    elif w in comp and w > start and w not in path:
                        path.append(w)
                        walk(w)
                        path.pop()

            walk(start)
    return found


def check_layers(root):
    files = source_files(root)
    edges = read_includes(root, files)
    problems = []
    c_modules = {os.path.splitext(f)[0] for f in files if f.endswith(".c")}
    module = {f: module_of(f, c_modules) for f in files}
    modules = sorted(set(module.values()))

    for m in modules:
        if layer_of(m) is None:
            f = next(f for f in files if module[f] == m)
            problems.append('%s: module %s: in no layer (add it to LAYERS in '
                            'scripts/check-layering.py and to the table of issue 10)' % (f, m))

    # the graph of the includes that break no other rule: any cycle left in it is within
    # one layer or passes through a module in no layer
    graph = {m: set() for m in modules}
    first_edge = {}
    for rel, text, target in edges:
        a, b = module[rel], module[target]
        if a == b:
            continue
        src_dir, dst_dir = rel.split(os.sep)[0], target.split(os.sep)[0]
        forbidden = [bad for d, bads in FORBIDDEN if d == src_dir for bad in bads]
        if dst_dir in forbidden:
            problems.append('%s: #include "%s": %s/ includes nothing from %s/' %
                            (rel, text, src_dir, dst_dir))
            continue
        la, lb = layer_of(a), layer_of(b)
        if la is not None and lb is not None and lb[0] < la[0]:
            problems.append('%s: #include "%s": upward include: %s (%s) -> %s (%s)' %
                            (rel, text, a, la[1], b, lb[1]))
            continue
        graph[a].add(b)
        first_edge.setdefault((a, b), (rel, text))

    for cyc in cycles(graph):
        rel, text = first_edge[(cyc[0], cyc[1])]
        problems.append('%s: #include "%s": cycle %s' %
                        (rel, text, " -> ".join(cyc + [cyc[0]])))
    return files, modules, edges, problems


def strip_c(text):
    """text with comments, string and character literals blanked (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + c)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def function_lengths(lines):
    """[(line number of the opening brace, lines, name)] of every function body: a "{" in
    column 0 at file level (the project's clang-format style) up to its matching "}"."""
    code = strip_c("\n".join(lines)).split("\n")
    out = []
    depth = 0
    start = None
    for i, line in enumerate(code):
        if depth == 0 and line.startswith("{"):
            start = i
        depth += line.count("{") - line.count("}")
        if depth == 0 and start is not None:
            j = start - 1
            while j > 0 and "(" not in code[j]:
                j -= 1
            m = re.search(r"(\w+)\s*\(", code[j]) if j >= 0 else None
            out.append((start + 1, i - start + 1, m.group(1) if m else "?"))
            start = None
    return out


def check_sizes(root, files):
    problems = []
    for rel in files:
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if rel.endswith(".c") and len(lines) > MAX_FILE_LINES:
            problems.append("%s: %d lines: file over %d lines" % (rel, len(lines), MAX_FILE_LINES))
        for line, n, name in function_lengths(lines):
            if n > MAX_FUNCTION_LINES:
                problems.append("%s:%d: %s(): %d lines: function over %d lines" %
                                (rel, line, name, n, MAX_FUNCTION_LINES))
    return problems


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="Check the include layering and sizes of "
                                 "daemon/, proto/, client/.")
    ap.add_argument("--root", default=os.path.dirname(here),
                    help="source tree to check (default: this repository)")
    ap.add_argument("--no-sizes", action="store_true",
                    help="check only the include graph, not file and function sizes")
    args = ap.parse_args(argv)
    if not all(os.path.isdir(os.path.join(args.root, d)) for d in DIRS):
        print("check-layering: %s has no %s" % (args.root, ", ".join(d + "/" for d in DIRS)),
              file=sys.stderr)
        return 2
    files, modules, edges, problems = check_layers(args.root)
    if not args.no_sizes:
        problems += check_sizes(args.root, files)
    for p in problems:
        print(p)
    print("check-layering: %d files, %d modules, %d includes, %d problem%s%s" %
          (len(files), len(modules), len(edges), len(problems), "" if len(problems) == 1 else "s",
           "" if args.no_sizes else " (sizes checked)"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
