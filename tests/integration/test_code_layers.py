# test_code_layers.py — the code's structure as a test: no include or call cycle between src/'s .c files, no call
# up the layers (common < aws < worker < admin), handlers.h only above the handlers (tests/tools/check_layers.py).
import os
import subprocess

SRC = os.environ.get("CLONE_JOBS_SRC_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("CLONE_JOBS_BUILD_DIR", os.path.join(SRC, "build", "dev"))
CHECK = os.path.join(SRC, "tests", "tools", "check_layers.py")


def run(src, build):
    return subprocess.run(["/usr/bin/python3", CHECK, src, build], capture_output=True, text=True, timeout=120)


def test_the_built_tree_has_one_way_layers():
    r = run(SRC, BUILD)
    assert r.returncode == 0, r.stdout + r.stderr
    import re
    files, includes, calls = (int(n) for n in re.match(r"(\d+) files, (\d+) include edges, (\d+) call edges",
                                                        r.stdout.splitlines()[-1]).groups())
    assert files > 30 and includes > 50 and calls > 50, r.stdout  # it did read the sources and objects


def write(root, layer, name, text):
    os.makedirs(os.path.join(root, "src", layer), exist_ok=True)
    with open(os.path.join(root, "src", layer, name), "w") as fh:
        fh.write(text)


def test_the_check_finds_a_cycle_an_upward_include_and_handlers_h_below(tmp_path):
    root = str(tmp_path)
    for layer in ("common", "aws", "worker", "admin"):
        os.makedirs(os.path.join(root, "src", layer), exist_ok=True)
    write(root, "worker", "reply.c", '#include "store.h"\n#include "handlers.h"\n')
    write(root, "worker", "store.c", '#include "reply.h"\n')
    write(root, "worker", "handlers.h", "")
    write(root, "common", "buf.c", '#include "reply.h"\n')
    os.makedirs(os.path.join(root, "build"))
    r = run(root, os.path.join(root, "build"))
    assert r.returncode == 1
    assert "cycle: reply.c <-> store.c" in r.stdout, r.stdout
    assert "upward: common/buf.c includes worker/reply.c" in r.stdout, r.stdout
    assert "below the handlers: reply.c includes handlers.h" in r.stdout, r.stdout
