# shuffle_order.py — a pytest plugin (loaded by conftest.py) that runs the tests in a shuffled order when
# CLONE_JOBS_TEST_SHUFFLE is set (tests/run --shuffle SEED|random): every test must pass alone and in any order.
# The modules come in a random order and so do the tests inside each module, so a module-scoped fixture (the
# newman run, the browser page) is still made once. The seed is printed first and last: set it to replay a run.
import os
import random

import pytest

ENV = "CLONE_JOBS_TEST_SHUFFLE"
_seed = None


def pytest_configure(config):
    global _seed
    value = os.environ.get(ENV, "").strip()
    if not value:
        _seed = None
    elif value == "random":
        _seed = random.SystemRandom().randrange(1, 10 ** 6)
    else:
        try:
            _seed = int(value)
        except ValueError:
            raise pytest.UsageError(f"{ENV} must be a number or 'random', not {value!r}") from None


def pytest_report_header(config):
    if _seed is not None:
        return f"shuffled order, seed {_seed} ({ENV}={_seed} replays it)"
    return None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    if _seed is None:
        return
    rnd = random.Random(_seed)
    modules = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    order = list(modules)
    rnd.shuffle(order)
    shuffled = []
    for name in order:
        group = modules[name]
        rnd.shuffle(group)
        shuffled.extend(group)
    items[:] = shuffled


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _seed is not None:
        terminalreporter.write_line(f"shuffled order, seed {_seed} ({ENV}={_seed} replays it)")
