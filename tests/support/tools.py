"""System tools the tests drive for real (promtool, Prometheus, Alertmanager): found on PATH."""

import shutil

import pytest

from tests.support.broker import REQUIRE_BROKER


def require_tool(name: str) -> str:
    """Path of `name`; skips without it, fails under NEWSFLOW_REQUIRE_BROKER=1 (as in CI)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (`make system-deps` installs it)"
        if REQUIRE_BROKER:
            pytest.fail(message + " (NEWSFLOW_REQUIRE_BROKER=1)")
        pytest.skip(message)
    return path
