#!/usr/bin/python3
# check_layers.py — the include and call graph between src/'s .c files, from the sources' #include lines and the
# built objects' symbols (nm): fails on a cycle, a call or include up the layers, or handlers.h below the handlers.
"""
Usage: check_layers.py SRC_DIR BUILD_DIR

Nodes are the .c files of src/. An edge A -> B means A calls or uses something B defines (an undefined
symbol of A.o that B.o defines) or A includes B's header (b.h of b.c). The layers, lowest first:
common (0), aws (1), worker (2), admin (3); an edge may only go to the same layer or a lower one, except
the ones listed in ALLOWED_UP with their reason. There must be no cycle at all (no file calls back into a
file that calls it, directly or through others). handlers.h is only for the files above the handlers: the
dispatcher, the router's table, and the handlers themselves.
Prints each finding and exits 1 when there is any; prints the graph's size and exits 0 otherwise.
"""
import os
import re
import subprocess
import sys

LAYERS = {"common": 0, "aws": 1, "worker": 2, "admin": 3}
# Upward edges that are part of the design, with why (none today; conf_ddb_options moved to ddb.c for that).
ALLOWED_UP = {}
HANDLERS_H_USERS = re.compile(r"^(handlers_[a-z]+\.c|worker\.c|router\.c|handlers\.h)$")


def sources(src):
    files = {}
    for layer in LAYERS:
        folder = os.path.join(src, "src", layer)
        for name in sorted(os.listdir(folder)):
            if name.endswith((".c", ".h", ".def")):
                files[name] = layer
    return files


def include_edges(src, files):
    edges = set()
    users_of_handlers_h = set()
    for name, layer in files.items():
        if not name.endswith((".c", ".h")):
            continue
        with open(os.path.join(src, "src", layer, name)) as fh:
            for inc in re.findall(r'^\s*#\s*include\s+"([^"]+)"', fh.read(), re.M):
                base = os.path.basename(inc)
                if base == "handlers.h":
                    users_of_handlers_h.add(name)
                target = base[:-2] + ".c" if base.endswith(".h") else None
                owner = name[:-2] + ".c"
                if target and target in files and owner in files and target != owner:
                    edges.add((owner, target))
    return edges, users_of_handlers_h


def objects(build):
    """Map object file -> (defined symbols, undefined symbols) for the library and the programs."""
    found = {}
    lib = os.path.join(build, "libclonejobs.a")
    runs = [["nm", "-A", "--defined-only", lib], ["nm", "-A", "-u", lib]] if os.path.exists(lib) else []
    for root, _, names in os.walk(os.path.join(build, "src")):
        for n in names:
            if n.endswith(".o"):
                path = os.path.join(root, n)
                runs += [["nm", "-A", "--defined-only", path], ["nm", "-A", "-u", path]]
    for argv in runs:
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        undefined = "-u" in argv
        for line in out.splitlines():
            m = re.match(r"^(.*?\.o):\s*[0-9a-fA-F]*\s+([A-Za-z])\s+(\S+)$", line)
            if not m:
                continue
            obj, sym_type, sym = os.path.basename(m.group(1).split(":")[-1]), m.group(2), m.group(3)
            d, u = found.setdefault(obj, (set(), set()))
            if undefined:
                u.add(sym)
            elif sym_type in "TDBR":
                d.add(sym)
    return found


def source_of(obj, files):
    # Automake names program objects clone_jobs_fcgi-main_fcgi.o; the library's are plain (worker.o).
    base = obj[:-2].split("-", 1)[-1] + ".c"
    return base if base in files else None


def call_edges(found, files):
    definer = {}
    for obj, (defined, _) in found.items():
        src = source_of(obj, files)
        if src:
            for sym in defined:
                definer.setdefault(sym, src)
    edges = set()
    for obj, (_, undefined) in found.items():
        src = source_of(obj, files)
        if not src:
            continue
        for sym in undefined:
            target = definer.get(sym)
            if target and target != src:
                edges.add((src, target))
    return edges


def cycles(nodes, edges):
    """Strongly connected components with more than one node (Tarjan)."""
    graph = {n: sorted(b for a, b in edges if a == n) for n in nodes}
    index, low, stack, on_stack, result = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                result.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for n in sorted(nodes):
        if n not in index:
            visit(n)
    return result


def main():
    src, build = sys.argv[1], sys.argv[2]
    files = sources(src)
    inc, handlers_h_users = include_edges(src, files)
    calls = call_edges(objects(build), files)
    edges = inc | calls
    nodes = {n for n in files if n.endswith(".c")}
    problems = []
    for comp in cycles(nodes, edges):
        problems.append("cycle: " + " <-> ".join(comp))
    for a, b in sorted(edges):
        if LAYERS[files[a]] < LAYERS[files[b]] and (a, b) not in ALLOWED_UP:
            kind = "calls" if (a, b) in calls else "includes"
            problems.append(f"upward: {files[a]}/{a} {kind} {files[b]}/{b}")
    for user in sorted(handlers_h_users):
        if not HANDLERS_H_USERS.match(user):
            problems.append(f"below the handlers: {user} includes handlers.h")
    for p in problems:
        print(p)
    print(f"{len(nodes)} files, {len(inc)} include edges, {len(calls)} call edges, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
