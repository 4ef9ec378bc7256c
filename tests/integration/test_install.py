# test_install.py — `make install` puts every deployable piece in place, and the unit files are valid.
# Installs into a DESTDIR under the test work folder; systemd-analyze checks the units against that tree.
import os
import shutil
import subprocess
import sys

import pytest

BUILD = os.environ["CLONE_JOBS_BUILD_DIR"]
WORK = os.environ["CLONE_JOBS_TEST_WORK_DIR"]


@pytest.fixture(scope="module")
def installed():
    dest = os.path.join(WORK, "install-root")
    shutil.rmtree(dest, ignore_errors=True)
    r = subprocess.run(["make", "-C", BUILD, "install", f"DESTDIR={dest}"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    prefix = subprocess.run(["sed", "-n", "s/^prefix = //p", os.path.join(BUILD, "Makefile")],
                            capture_output=True, text=True, check=True).stdout.strip()
    return dest, prefix


def test_programs_and_data_are_installed(installed):
    dest, prefix = installed
    root = dest + prefix
    for rel in ("bin/clone-jobs-fcgi", "bin/clone-jobs-admin"):
        assert os.access(os.path.join(root, rel), os.X_OK), rel
    for rel in ("clone-jobs-site.conf.in", "clone-jobs-gateway.js", "iam-policy.json", "iam-setup-policy.json", "iam-gateway-box-policy.json",
                "iam-admin-policy.json", "clone-jobs.conf.example",
                "clone-jobs.postman_collection.json", "clone-jobs.postman_environment.json", "openapi.json",
                "clone-jobs-scrape.yml", "clone-jobs-dashboard.json"):
        assert os.path.isfile(os.path.join(root, "share", "clone-jobs", rel)), rel


def test_unit_files_name_the_installed_programs(installed):
    dest, prefix = installed
    units = os.path.join(dest + prefix, "lib", "systemd", "system")
    for name in ("clone-jobs-pool.service", "clone-jobs-setup.service", "clone-jobs-sync.service"):
        with open(os.path.join(units, name)) as fh:
            text = fh.read()
        assert "@" not in text.replace("@.service", ""), f"{name} kept a placeholder"
        assert f"{prefix}/bin/clone-jobs-" in text


def test_unit_files_pass_systemd_analyze(installed):
    dest, prefix = installed
    units = os.path.join(dest + prefix, "lib", "systemd", "system")
    # Point the units at the DESTDIR copies so systemd-analyze can check the executables exist.
    checked = os.path.join(WORK, "units-checked")
    os.makedirs(checked, exist_ok=True)
    paths = []
    for name in ("clone-jobs-pool.service", "clone-jobs-setup.service", "clone-jobs-sync.service",
                 "clone-jobs-sync.timer"):
        with open(os.path.join(units, name)) as fh:
            text = fh.read().replace(f"{prefix}/bin/", f"{dest}{prefix}/bin/")
        path = os.path.join(checked, name)
        with open(path, "w") as fh:
            fh.write(text)
        paths.append(path)
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", "--recursive-errors=no"] + paths,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and (r.stdout + r.stderr).strip() == "", r.stdout + r.stderr


def test_configure_names_the_missing_libraries():
    src = os.environ["CLONE_JOBS_SRC_DIR"]
    # From a copy of the sources without what an in-tree ./configure leaves (config.status, Makefile...):
    # with those, configure refuses any out-of-tree build before it looks for a library.
    sys.path.insert(0, os.path.join(src, "tests", "tools"))
    from mutation_check import copy_tree
    copy = os.path.join(WORK, "configure-missing-src")
    shutil.rmtree(copy, ignore_errors=True)
    copy_tree(src, copy)
    where = os.path.join(WORK, "configure-missing")
    os.makedirs(where, exist_ok=True)
    env = dict(os.environ, PKG_CONFIG_LIBDIR="/nonexistent", PKG_CONFIG_PATH="")
    r = subprocess.run([os.path.join(copy, "configure")], cwd=where, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode != 0
    assert "missing libraries: libjson-c-dev(json-c>=0.15) libcurl4-openssl-dev(libcurl>=7.68) " \
           "libssl-dev(OpenSSL>=1.1.1)" in r.stderr, r.stderr[-500:]
    assert "apt-get install" in r.stderr
