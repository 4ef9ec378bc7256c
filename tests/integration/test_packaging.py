# test_packaging.py — the tarball and the Debian package: make distcheck passes (a part of the suite runs from the
# unpacked, read-only tarball), the tarball holds every tracked file, the .deb builds from that tarball, lintian finds
# no error, and the package's programs work from a scratch root; scripts/build survives an in-tree ./configure.
# Run in the dev flavour only: the sanitizer flavours would rebuild the same files for nothing.
import os
import re
import shutil
import subprocess
import sys

import pytest

SRC = os.environ["CLONE_JOBS_SRC_DIR"]
BUILD = os.environ["CLONE_JOBS_BUILD_DIR"]
WORK = os.environ["CLONE_JOBS_TEST_WORK_DIR"]
# What `make check` runs inside distcheck: the unit programs and the tests that need only the built tree.
DISTCHECK_RUN_FLAGS = ("--no-mutations --program test_conf --program test_http --program test_router "
                       "--program test_rate_table --program test_item_rules -k 'test_install or test_code_layers'")


def sanitizer_build():
    with open(os.path.join(BUILD, "Makefile")) as fh:
        return re.search(r"^SAN_CFLAGS = .*-fsanitize", fh.read(), re.M) is not None


pytestmark = pytest.mark.skipif(sanitizer_build(), reason="packaging is checked once, in the dev flavour")


def version():
    with open(os.path.join(BUILD, "Makefile")) as fh:
        return re.search(r"^PACKAGE_VERSION = (\S+)", fh.read(), re.M).group(1)


@pytest.fixture(scope="module")
def distcheck():
    """make distcheck in the build tree; returns (output, tarball path)."""
    tools = os.environ.get("CLONE_JOBS_TOOLS_DIR") or os.path.join(SRC, "tools")
    r = subprocess.run(["make", "-C", BUILD, "distcheck", f"TESTS_RUN_FLAGS={DISTCHECK_RUN_FLAGS}",
                        "AM_DISTCHECK_CONFIGURE_FLAGS=--enable-werror"],
                       capture_output=True, text=True, timeout=900, env=dict(os.environ, CLONE_JOBS_TOOLS_DIR=tools))
    tarball = os.path.join(BUILD, f"clone-jobs-{version()}.tar.gz")
    return r, tarball


def test_make_distcheck_passes(distcheck):
    r, tarball = distcheck
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-5000:]
    assert "archives ready for distribution" in out
    # The suite's part really ran from the unpacked tarball.
    assert re.search(r"^test_rate_table: \d+ passed, 0 failed$", out, re.M), out[-3000:]
    assert re.search(r"^pytest: [1-9]\d* passed, 0 failed$", out, re.M), out[-3000:]
    assert os.path.isfile(tarball)


def test_the_tarball_holds_every_tracked_file_and_no_build_output(distcheck):
    _, tarball = distcheck
    listed = subprocess.run(["tar", "tzf", tarball], capture_output=True, text=True, check=True).stdout.split("\n")
    prefix = f"clone-jobs-{version()}/"
    files = {name[len(prefix):] for name in listed if name.startswith(prefix) and not name.endswith("/")}
    tracked = subprocess.run(["git", "-C", SRC, "ls-files"], capture_output=True, text=True)
    if tracked.returncode == 0 and tracked.stdout:
        missing = sorted(set(tracked.stdout.split("\n")) - files - {"", ".gitignore"})
        assert not missing, f"{len(missing)} tracked files are not in the tarball: {missing[:20]}"
    for needed in ("configure", "Makefile.in", "debian/rules", "man/clone-jobs-fcgi.8", "man/clone-jobs-admin.8",
                   "apache/clone-jobs-cgi.conf.in", "nginx/clone-jobs-site.conf.in", "tests/run",
                   "tools/dynalite/package-lock.json", "tools/newman/package-lock.json"):
        assert needed in files, needed
    long_names = [f for f in files if len(prefix + f) > 99]
    leftovers = [f for f in files if re.search(r"(\.o|\.pyc|/\.deps/.*|\.service)$", f) or "node_modules" in f]
    assert not leftovers, leftovers[:20]
    if long_names:  # pax keeps names past the old tar format's 99 bytes
        subprocess.run(["tar", "xzf", tarball, "-C", WORK, prefix + long_names[0]], check=True)


@pytest.fixture(scope="module")
def deb(distcheck):
    """The .deb built with dpkg-buildpackage from the tarball; returns (folder, .deb path, build output)."""
    r, tarball = distcheck
    assert r.returncode == 0, "make distcheck failed"
    where = os.path.join(WORK, "deb")
    shutil.rmtree(where, ignore_errors=True)
    os.makedirs(where)
    subprocess.run(["tar", "xzf", tarball, "-C", where], check=True, timeout=120)
    tree = os.path.join(where, f"clone-jobs-{version()}")
    b = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=tree, capture_output=True, text=True,
                       timeout=900)
    assert b.returncode == 0, (b.stdout + b.stderr)[-5000:]
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    path = os.path.join(where, f"clone-jobs_{version()}_{arch}.deb")
    assert os.path.isfile(path), os.listdir(where)
    return where, path, b.stdout + b.stderr


def test_lintian_finds_no_error(deb):
    where, path, _ = deb
    changes = [f for f in os.listdir(where) if f.endswith(".changes")]
    r = subprocess.run(["lintian", "--fail-on", "error", os.path.join(where, changes[0])], capture_output=True,
                       text=True, timeout=600)
    errors = [line for line in r.stdout.splitlines() if line.startswith("E:")]
    assert r.returncode == 0 and not errors, r.stdout + r.stderr


def test_the_package_starts_nothing_and_touches_no_web_server(deb):
    _, path, _ = deb
    contents = subprocess.run(["dpkg-deb", "-c", path], capture_output=True, text=True, check=True).stdout
    names = [line.split()[-1] for line in contents.splitlines()]
    assert not [n for n in names if n.startswith(("./etc/nginx", "./etc/apache2", "./etc/systemd"))], names
    for unit in ("clone-jobs-pool.service", "clone-jobs-setup.service"):
        assert f"./lib/systemd/system/{unit}" in names
    for page in ("clone-jobs-fcgi.8.gz", "clone-jobs-admin.8.gz"):
        assert f"./usr/share/man/man8/{page}" in names
    scripts = ""
    for script in ("preinst", "postinst", "prerm", "postrm"):
        r = subprocess.run(["dpkg-deb", "-I", path, script], capture_output=True, text=True)
        scripts += r.stdout if r.returncode == 0 else ""
    # Neither install nor upgrade starts, restarts or stops a unit (removal may stop one).
    installing = _install_and_upgrade_parts(path)
    assert not re.search(r"(deb-systemd-invoke|systemctl)\s+(start|restart|try-restart|reload|stop)", installing), \
        installing
    commands = "\n".join(line for line in scripts.splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r"\b(nginx|apache2|apache2ctl|a2ensite|a2enmod)\b", commands), commands
    assert "next-steps.txt" in scripts
    fields = subprocess.run(["dpkg-deb", "-f", path, "Depends"], capture_output=True, text=True).stdout
    assert "spawn-fcgi" in fields and "libfcgi" in fields, fields


def _install_and_upgrade_parts(path):
    """The maintainer scripts that run on install and upgrade: preinst and postinst."""
    text = ""
    for script in ("preinst", "postinst"):
        r = subprocess.run(["dpkg-deb", "-I", path, script], capture_output=True, text=True)
        text += r.stdout if r.returncode == 0 else ""
    return text


def test_the_packaged_programs_run_from_a_scratch_root(deb):
    where, path, _ = deb
    root = os.path.join(where, "root")
    subprocess.run(["dpkg-deb", "-x", path, root], check=True)
    fcgi, admin = os.path.join(root, "usr/bin/clone-jobs-fcgi"), os.path.join(root, "usr/bin/clone-jobs-admin")
    for program in (fcgi, admin):
        r = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.strip().endswith(version()), r.stdout + r.stderr
    with open(os.path.join(root, "usr/share/clone-jobs/next-steps.txt")) as fh:
        steps = fh.read()
    assert "--check-config" in steps and "apache-site" in steps
    # The example configuration as shipped is refused (its cursor_secret is a placeholder)...
    example = os.path.join(root, "usr/share/clone-jobs/clone-jobs.conf.example")
    r = subprocess.run([fcgi, "--config", example, "--check-config"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "cursor_secret" in r.stderr and "placeholder" in r.stderr, r.stdout + r.stderr
    # ...and passes once it has a secret, with the suite's region and credentials.
    with open(example) as fh:
        text = fh.read().replace("CHANGE-ME-openssl-rand-hex-32", "0f" * 16)
    conf = os.path.join(where, "clone-jobs.conf")
    with open(conf, "w") as fh:
        fh.write(text)
    r = subprocess.run([fcgi, "--config", conf, "--check-config"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "0 errors" in r.stdout, r.stdout + r.stderr
    # The shipped Apache template renders with the packaged admin tool.
    with open(conf, "a") as fh:
        fh.write("gateway = worker\n")
    r = subprocess.run([admin, "--config", conf, "apache-site", "--template",
                        os.path.join(root, "usr/share/clone-jobs/clone-jobs-proxy-fcgi.conf.in")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and 'ProxyPass "/" "unix:/run/clone-jobs/fcgi.sock|fcgi://clone-jobs/"' in r.stdout, \
        r.stdout + r.stderr


def test_scripts_build_survives_an_in_tree_configure():
    """The autotools' usual ./configure in the source tree must not break scripts/build (it refused to
    configure out of tree, and make's VPATH would have linked the in-tree objects)."""
    sys.path.insert(0, os.path.join(SRC, "tests", "tools"))
    from mutation_check import copy_tree
    copy = os.path.join(WORK, "in-tree-src")
    shutil.rmtree(copy, ignore_errors=True)
    copy_tree(SRC, copy)
    r = subprocess.run(["./configure"], cwd=copy, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    r = subprocess.run(["make", "src/common/buf.o"], cwd=copy, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and os.path.exists(os.path.join(copy, "src/common/buf.o")), r.stdout + r.stderr
    r = subprocess.run(["scripts/build", "release"], cwd=copy, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "configured in place" in r.stderr
    assert os.access(os.path.join(copy, "build/release/clone-jobs-fcgi"), os.X_OK)
    assert not os.path.exists(os.path.join(copy, "src/common/buf.o")), "the in-tree object was left for VPATH"
    shutil.rmtree(copy, ignore_errors=True)
