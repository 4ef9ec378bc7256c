# test_apache_site.py — `clone-jobs-admin apache-site` without running Apache: what it refuses (gateway = nginx, no
# cursor_secret, values that would break out of Apache's syntax, unknown template names) and what it writes.
import os
import subprocess
import uuid

import pytest

BUILD = os.environ["CLONE_JOBS_BUILD_DIR"]
SRC = os.environ["CLONE_JOBS_SRC_DIR"]
WORK = os.environ["CLONE_JOBS_TEST_WORK_DIR"]
ADMIN = os.path.join(BUILD, "clone-jobs-admin")
GOOD = "gateway = worker\ncursor_secret = 0123456789abcdef0123\nregion = us-east-1\nstage = /prod\n"


def render(conf_text, *args):
    conf = os.path.join(WORK, f"apache-site-{uuid.uuid4().hex[:8]}.conf")
    with open(conf, "w") as fh:
        fh.write(conf_text)
    mode = "proxy-fcgi"
    if "--mode" in args:
        mode = args[args.index("--mode") + 1]
    argv = [ADMIN, "--config", conf, "apache-site", "--template",
            os.path.join(SRC, "apache", f"clone-jobs-{mode}.conf.in")] + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=30), conf


def test_refused_without_gateway_worker():
    r, _ = render(GOOD.replace("gateway = worker", "gateway = nginx"))
    assert r.returncode == 2 and "set gateway = worker" in r.stderr and r.stdout == "", r.stderr
    r, _ = render(GOOD.replace("gateway = worker\n", ""))
    assert r.returncode == 2 and "gateway = nginx" in r.stderr


def test_refused_without_cursor_secret():
    r, _ = render(GOOD.replace("cursor_secret = 0123456789abcdef0123\n", ""), "--mode", "cgi")
    assert r.returncode == 2 and "set cursor_secret" in r.stderr


@pytest.mark.parametrize("mode", ["proxy-fcgi", "fcgid", "cgi"])
def test_each_mode_renders_its_caveats(mode):
    r, conf = render(GOOD, "--mode", mode, "--listen", "127.0.0.1:8444", "--no-tls", "--program",
                     "/usr/bin/clone-jobs-fcgi", "--aws-credentials-file", "/etc/clone-jobs/aws-credentials")
    assert r.returncode == 0, r.stderr
    assert "@" not in r.stdout.replace("clone-jobs-admin", ""), "a placeholder was left"
    assert "Stage: /prod." in r.stdout
    site = "\n".join(line for line in r.stdout.splitlines() if not line.lstrip().startswith("#"))  # directives
    assert "Listen 127.0.0.1:8444\n<VirtualHost 127.0.0.1:8444>" in site
    assert "AllowEncodedSlashes NoDecode" in site
    if mode == "proxy-fcgi":
        assert 'ProxyPass "/" "unix:/run/clone-jobs/fcgi.sock|fcgi://clone-jobs/"' in site and "nocanon" not in site
        assert "ProxyTimeout 29" in site and "CLONE_JOBS_CONFIG" not in site
    else:
        directive = "FcgidInitialEnv" if mode == "fcgid" else "SetEnv"
        assert f'{directive} CLONE_JOBS_CONFIG "{os.path.realpath(conf)}"' in site
        assert f'{directive} AWS_SHARED_CREDENTIALS_FILE "/etc/clone-jobs/aws-credentials"' in site
        assert '"/usr/bin/clone-jobs-fcgi"' in site
    if mode == "fcgid":
        assert "FcgidMaxRequestLen 41943040" in site and "FcgidInitialEnv CLONE_JOBS_THREADS 1" in site
        assert "SetEnv " not in site
    assert "SSLEngine" not in site


def test_tls_and_the_ports_debian_already_listens_on():
    r, _ = render(GOOD + "listen = 443\n", "--cert", "/etc/ssl/c.pem", "--cert-key", "/etc/ssl/k.pem")
    assert r.returncode == 0, r.stderr
    assert "<VirtualHost *:443>" in r.stdout and "\nListen" not in r.stdout
    assert 'SSLCertificateFile "/etc/ssl/c.pem"' in r.stdout and "SSLProtocol -all +TLSv1.2 +TLSv1.3" in r.stdout


@pytest.mark.parametrize("args", [
    ["--server-name", 'evil"\nInclude /etc/shadow'], ["--server-name", "a b"], ["--listen", "80; Include x"],
    ["--listen", "127.0.0.1:99999"], ["--socket", "/run/x.sock|fcgi://elsewhere/"], ["--log-dir", "/var/log/a\"b"],
    ["--cert", "/a\nSSLEngine off", "--cert-key", "/k"], ["--mode", "cgi", "--program", "relative/path"],
    ["--mode", "fastcgi"],
])
def test_values_that_would_break_out_of_apaches_syntax_are_refused(args):
    r, _ = render(GOOD, *args)
    assert r.returncode == 2 and r.stdout == "", (args, r.stdout, r.stderr)


def test_a_template_naming_an_unknown_placeholder_is_refused():
    template = os.path.join(WORK, "bad-template.conf.in")
    with open(template, "w") as fh:
        fh.write("<VirtualHost @VHOST@>\n  @NOT_A_NAME@\n</VirtualHost>\n")
    r, _ = render(GOOD, "--template", template)
    assert r.returncode == 2 and "unknown @NOT_A_NAME" in r.stderr, r.stderr


def test_output_is_written_whole():
    out = os.path.join(WORK, "site-" + uuid.uuid4().hex[:6] + ".conf")
    r, _ = render(GOOD, "--output", out, "--no-tls")
    assert r.returncode == 0 and f"wrote {out} (proxy-fcgi)" in r.stdout, r.stderr
    with open(out) as fh:
        assert fh.read().rstrip().endswith("</VirtualHost>")
    assert oct(os.stat(out).st_mode & 0o777) == "0o644"
    assert not [f for f in os.listdir(WORK) if f.startswith(os.path.basename(out) + ".tmp")]
