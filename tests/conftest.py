"""Shared test set-up: a deterministic hypothesis profile in CI; fixture plugins per area."""

import os

from hypothesis import HealthCheck, settings

from tests.ci import in_ci

# A llama.cpp tool that aborts (some tests make it) would otherwise attach gdb to itself to print a
# backtrace, which can hang for minutes on a loaded machine: the tests want the abort, not the trace.
os.environ.setdefault("GGML_NO_BACKTRACE", "1")

settings.register_profile(
    "ci", derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if in_ci() else "dev")

# Each area keeps its fixtures in its own plugin module.
pytest_plugins = [
    name for name in ("tests.plugins.models", "tests.plugins.llama")
    if os.path.exists(os.path.join(os.path.dirname(__file__), "plugins", name.rsplit(".", 1)[1] + ".py"))
]
