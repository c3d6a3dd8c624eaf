"""Whether the tests run in CI, where a missing tool fails a test instead of skipping it."""

import os


def in_ci() -> bool:
    """True when CI or RECIPEC_CI is set (to anything but the empty string)."""
    return bool(os.environ.get("CI") or os.environ.get("RECIPEC_CI"))
