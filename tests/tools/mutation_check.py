#!/usr/bin/python3
# mutation_check.py — lines of src/ that once broke with the whole suite green, broken again on purpose: each
# must now fail the tests named beside it. A fixed list, applied one at a time to a scratch copy of the tree
# (never the working tree), built there with the flags of the build under test, and run with only those tests.
"""
Usage: mutation_check.py --build-dir BUILD --src-dir SRC --work-dir DIR [--label TEXT] [--only NAME]
                         [--list FILE.json] [--keep]

Each entry of MUTATIONS names a file, an exact snippet that must occur in it exactly once (anything else is
an error: code that moved must not make the check pass silently; update the entry), its replacement, the make
targets that need rebuilding, and the tests that must fail: pytest node ids under tests/integration and/or
TAP programs of tests/run. Steps:
  1. every snippet is checked first, before anything is built;
  2. the tree is copied to DIR/src (tracked and untracked files, plus the generated autotools files;
     node_modules linked), configured in DIR/build as BUILD was (its config.status), and the union of the
     targets built with make -j2;
  3. the union of the tests runs once on that unbroken build and must pass (else nothing below means much);
  4. each mutation in turn: the file is changed, its targets rebuilt, its tests run (tests/run --test/--program)
     and they must fail; the file is put back.
--list runs another list (a JSON array of the same objects) instead, to show that a new test fails when
what it checks is broken. Prints one line per mutation ("mutation NAME: caught" or "mutation NAME: MISSED ...") and ends with
"mutations: N caught, N missed"; exit status 0 only when every mutation was caught. A snippet not found exactly
once, a build that fails or a baseline that does not pass counts every mutation as missed.
"""
import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

# (name, file, exact snippet, replacement, make targets, pytest node ids, TAP programs)
MUTATIONS = [
    # gateway = worker (classic hosting): the promises nginx keeps otherwise.
    {
        "name": "two x-api-key headers taken as one",
        "file": "src/worker/gateway_check.c",
        "find": "    if (count != 1) {",
        "replace": "    if (count < 1) {",
        "targets": ["clone-jobs-fcgi", "clone-jobs-admin"],
        "tests": ["test_worker_gateway.py::test_exactly_one_x_api_key"],
    },
    {
        "name": "identity parameters trusted with gateway = worker",
        "file": "src/worker/worker.c",
        "find": "        gateway_forget_identity(req);",
        "replace": "        (void)0;",
        "targets": ["clone-jobs-fcgi", "clone-jobs-admin"],
        "tests": ["test_worker_gateway.py::test_identity_parameters_are_ignored_in_worker_mode"],
    },
    {
        "name": "rate table admits one past the burst",
        "file": "src/worker/rate_table.c",
        "find": "        if (excess > (int64_t)burst * 1000) {",
        "replace": "        if (excess > (int64_t)burst * 1000 + 1000) {",
        "targets": ["tests/unit/test_rate_table"],
        "programs": ["test_rate_table"],
    },
    {
        "name": "a chunked CGI body dropped",
        "file": "src/worker/http.c",
        "find": "    } else if (!read_to_end && !http_header(req, \"transfer-encoding\")) {",
        "replace": "    } else if (!read_to_end) {",
        "targets": ["tests/unit/test_http"],
        "programs": ["test_http"],
    },
    {
        "name": "a placeholder cursor_secret taken",
        "file": "src/common/conf.c",
        "find": "        if (placeholder_secret(v)) {",
        "replace": "        if (0 && placeholder_secret(v)) {",
        "targets": ["tests/unit/test_conf"],
        "programs": ["test_conf"],
    },
    {
        "name": "nginx site passes x-api-key on to the worker",
        "file": "src/admin/nginx_site.c",
        "find": '"        fastcgi_param HTTP_X_API_KEY \\"\\";\\n"',
        "replace": '"        # (mutation) the x-api-key header is passed on\\n"',
        "targets": ["clone-jobs-admin", "clone-jobs-fcgi"],
        "tests": ["test_gateway_promises.py::test_the_worker_never_sees_an_api_key"],
    },
    {
        "name": "listing without its 32-page budget",
        "file": "src/worker/handlers_list.c",
        "find": "if (pages + 1 >= LIST_MAX_PAGES || clock_monotonic_ms() - started > LIST_TIME_BUDGET_MS) {",
        "replace": "if (clock_monotonic_ms() - started > LIST_TIME_BUDGET_MS) {",
        "targets": ["clone-jobs-fcgi"],
        "tests": ["test_worker_list_budget.py::test_a_listing_stops_after_32_pages_with_a_cursor"],
    },
    {
        "name": "listing without its 5 s budget",
        "file": "src/worker/handlers_list.c",
        "find": "if (pages + 1 >= LIST_MAX_PAGES || clock_monotonic_ms() - started > LIST_TIME_BUDGET_MS) {",
        "replace": "if (pages + 1 >= LIST_MAX_PAGES || (0 && started)) {",
        "targets": ["clone-jobs-fcgi"],
        "tests": ["test_worker_list_budget.py::test_a_listing_stops_after_5_seconds_with_a_cursor"],
    },
    {
        "name": "listing without the frame reserve below max_list_bytes",
        "file": "src/worker/handlers_list.c",
        "find": "l.cap = ctx->conf->max_list_bytes > frame ? ctx->conf->max_list_bytes - frame : 1;",
        "replace": "l.cap = ctx->conf->max_list_bytes; (void)frame;",
        "targets": ["clone-jobs-fcgi"],
        "tests": ["test_worker_list_budget.py::test_the_whole_answer_fits_in_max_list_bytes"],
    },
    {
        "name": "JSON \\u escape read without its length check",
        "file": "src/aws/json_input.c",
        "find": "if (pos > p->len || p->len - pos < 4)\n        return -1;",
        "replace": "if (0)\n        return -1;",
        "targets": ["tests/unit/test_json_input"],
        "programs": ["test_json_input"],
    },
    {
        "name": "a reaped worker's counters dropped instead of added to the totals",
        "file": "src/worker/metrics.c",
        "find": "                add_release(&r->retired.v[k], n);",
        "replace": "                (void)n;",
        "targets": ["clone-jobs-fcgi", "clone-jobs-admin", "tests/unit/test_metrics"],
        "tests": ["test_metrics.py::test_a_killed_worker_is_a_restart_and_its_counts_stay"],
        "programs": ["test_metrics"],
    },
    {
        "name": "the gateway's own 403 taken for a worker's answer",
        "file": "src/worker/gateway_log.c",
        "find": "    if (upstream[0] && status != 502 && status != 504)",
        "replace": "    if (status != 502 && status != 504)",
        "targets": ["clone-jobs-fcgi", "clone-jobs-admin"],
        "tests": ["test_metrics.py::test_known_traffic_is_counted_exactly"],
    },
    {
        "name": "usage leases not settled when a worker exits",
        "file": "src/worker/key_usage.c",
        "find": "        if (c ? settle_write(c, table, &s, st) != 0 : s.delta != 0)",
        "replace": "        if (c && 0 && settle_write(c, table, &s, st) != 0)",
        "targets": ["clone-jobs-fcgi", "clone-jobs-admin"],
        "tests": ["test_metrics.py::test_usage_of_three_keys_across_a_two_process_pool_is_within_the_bound"],
    },
]

PYTEST_PREFIX = "tests/integration/"
RUN_TIMEOUT_S = 600
BUILD_TIMEOUT_S = 900
# Generated by autoreconf and git-ignored, yet needed to configure a copy without autoreconf.
GENERATED = ["configure", "Makefile.in", "aclocal.m4", "config.h.in", "build-aux", "m4"]
# What an in-tree ./configure or make leaves: a copy carrying these would refuse an out-of-tree configure.
IN_TREE_OUTPUT = {"config.status", "config.log", "config.h", "stamp-h1", "Makefile", "libtool"}
LINKED = ["tools/dynalite/node_modules", "tools/newman/node_modules", "tools/openapi/node_modules"]


def log(msg):
    print(msg, flush=True)


def check_snippets(src):
    """Every snippet occurs exactly once in its file; returns a list of problems."""
    problems = []
    for m in MUTATIONS:
        path = os.path.join(src, m["file"])
        try:
            with open(path) as fh:
                text = fh.read()
        except OSError as e:
            problems.append(f"{m['name']}: cannot read {m['file']}: {e}")
            continue
        n = text.count(m["find"])
        if n != 1:
            problems.append(f"{m['name']}: the snippet occurs {n} times in {m['file']} (must be exactly once; "
                            f"update tests/tools/mutation_check.py):\n    {m['find']!r}")
        if not (m.get("tests") or m.get("programs")):
            problems.append(f"{m['name']}: names no test")
    return problems


def source_files(src):
    """Relative paths of the working tree's files: tracked and untracked (not ignored), as git sees them;
    without git, every file but build trees, runtime state and in-tree build output."""
    r = subprocess.run(["git", "-C", src, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                       capture_output=True, timeout=60)
    if r.returncode == 0 and r.stdout:
        files = [f for f in r.stdout.decode().split("\0") if f]
        return [f for f in files if os.path.isfile(os.path.join(src, f))]
    files = []
    for root, dirs, names in os.walk(src):
        rel = os.path.relpath(root, src)
        dirs[:] = [d for d in dirs if d not in (".git", "build", "var", "node_modules", "autom4te.cache",
                                                 "__pycache__", ".deps")]
        for name in names:
            if name.endswith((".o", ".a", ".dirstamp")) or name in IN_TREE_OUTPUT:
                continue
            files.append(os.path.normpath(os.path.join(rel, name)))
    return files


def built_file(path):
    """An object, archive or program an in-tree build left (git does not ignore the programs)."""
    if path.endswith((".o", ".a")):
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def copy_tree(src, dest):
    """The sources as they are in the working tree, without anything an in-tree configure or make left
    (with those, configure refuses an out-of-tree build, and make could take a program found by VPATH in the
    source tree for the one it should rebuild)."""
    for rel in source_files(src):
        if os.path.basename(rel) in IN_TREE_OUTPUT or built_file(os.path.join(src, rel)):
            continue
        os.makedirs(os.path.join(dest, os.path.dirname(rel)), exist_ok=True)
        shutil.copy2(os.path.join(src, rel), os.path.join(dest, rel))
    for name in GENERATED:
        path = os.path.join(src, name)
        if os.path.isdir(path):
            shutil.copytree(path, os.path.join(dest, name), dirs_exist_ok=True)
        elif os.path.isfile(path):
            shutil.copy2(path, os.path.join(dest, name))
    for rel in LINKED:
        if os.path.isdir(os.path.join(src, rel)):
            os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
            os.symlink(os.path.join(src, rel), os.path.join(dest, rel))


def run(argv, cwd, timeout, env=None):
    r = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       errors="replace", timeout=timeout)
    return r.returncode, r.stdout


def configure_args(build):
    """The arguments BUILD was configured with (config.status --config), as a list."""
    code, out = run([os.path.join(build, "config.status"), "--config"], build, 60)
    if code != 0:
        raise RuntimeError(f"{build}/config.status --config failed:\n{out}")
    return shlex.split(out.strip())


def run_tests(src, build, work, mutation_tests, programs, label):
    """tests/run on the scratch build with only these tests; returns (passed, output)."""
    argv = ["/usr/bin/python3", os.path.join(src, "tests", "run"), "--build-dir", build, "--src-dir", src,
            "--label", label]
    for t in mutation_tests:
        argv += ["--test", t]
    for p in programs:
        argv += ["--program", p]
    code, out = run(argv, work, RUN_TIMEOUT_S)
    return code == 0, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--src-dir", required=True)
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--label", default="")
    ap.add_argument("--only", action="append", default=[], help="only the mutation of this name (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch tree")
    ap.add_argument("--list", help="a JSON file of mutations to use instead of MUTATIONS")
    args = ap.parse_args()
    if args.list:
        with open(args.list) as fh:
            MUTATIONS[:] = json.load(fh)
    src, build, work = (os.path.abspath(p) for p in (args.src_dir, args.build_dir, args.work_dir))
    started = time.monotonic()
    mutations = [m for m in MUTATIONS if not args.only or m["name"] in args.only]
    if args.only and len(mutations) != len(args.only):
        log(f"mutation check: unknown --only {args.only}")
        log(f"mutations: 0 caught, {len(args.only)} missed")
        return 1

    def give_up(why):
        log(f"mutation check: {why}")
        for m in mutations:
            log(f"mutation {m['name']}: MISSED (not run)")
        log(f"mutations: 0 caught, {len(mutations)} missed")
        return 1

    problems = check_snippets(src)
    if problems:
        return give_up("the list does not match the code:\n  " + "\n  ".join(problems))

    shutil.rmtree(work, ignore_errors=True)
    scratch_src, scratch_build = os.path.join(work, "src"), os.path.join(work, "build")
    os.makedirs(scratch_build)
    try:
        copy_tree(src, scratch_src)
        if not os.path.exists(os.path.join(scratch_src, "configure")):
            code, out = run(["autoreconf", "-fi"], scratch_src, BUILD_TIMEOUT_S)
            if code != 0:
                return give_up("autoreconf failed in the scratch tree:\n" + out[-3000:])
        code, out = run([os.path.join(scratch_src, "configure")] + configure_args(build), scratch_build,
                        BUILD_TIMEOUT_S)
        if code != 0:
            return give_up("configure failed in the scratch tree:\n" + out[-3000:])
        targets = sorted({t for m in mutations for t in m["targets"]})
        code, out = run(["make", "-j2"] + targets, scratch_build, BUILD_TIMEOUT_S) if targets else (0, "")
        if code != 0:
            return give_up("the unbroken scratch tree does not build:\n" + out[-3000:])
        tests = sorted({t for m in mutations for t in m.get("tests", [])})
        programs = sorted({p for m in mutations for p in m.get("programs", [])})
        ok, out = run_tests(scratch_src, scratch_build, work, tests, programs, "baseline: ")
        if not ok:
            return give_up("the named tests fail on the unbroken scratch build:\n" + out[-6000:])
        log(f"mutation check: baseline of {len(tests)} tests and {len(programs)} programs passes "
            f"({time.monotonic() - started:.0f} s)")

        caught = missed = 0
        for m in mutations:
            t0 = time.monotonic()
            path = os.path.join(scratch_src, m["file"])
            with open(path) as fh:
                original = fh.read()
            try:
                with open(path, "w") as fh:
                    fh.write(original.replace(m["find"], m["replace"], 1))
                code, out = (run(["make", "-j2"] + m["targets"], scratch_build, BUILD_TIMEOUT_S)
                             if m["targets"] else (0, ""))
                if code != 0:
                    missed += 1
                    log(f"mutation {m['name']}: MISSED (the broken tree does not build, so it proves nothing)\n"
                        + out[-3000:])
                    continue
                ok, out = run_tests(scratch_src, scratch_build, work, m.get("tests", []), m.get("programs", []),
                                    "mutated: ")
                if ok:
                    missed += 1
                    log(f"mutation {m['name']}: MISSED: {m['file']} changed and its tests still pass\n"
                        + out[-4000:])
                else:
                    caught += 1
                    why = [line for line in out.splitlines() if line.startswith(("FAILED ", "ERROR ", "not ok "))]
                    log(f"mutation {m['name']}: caught ({time.monotonic() - t0:.0f} s)" +
                        "".join(f"\n    {line[:200]}" for line in why[:3]))
            finally:
                with open(path, "w") as fh:
                    fh.write(original)
                # A new mtime, so the next build sees the file changed back.
                os.utime(path, None)
        log(f"mutation check: {time.monotonic() - started:.0f} s in all")
        log(f"mutations: {caught} caught, {missed} missed")
        return 0 if missed == 0 else 1
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
        return give_up(f"broke: {e}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
