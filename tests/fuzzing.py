"""The hypothesis settings every fuzz test file shares.

By default a fuzz test draws a few examples, derandomised, so that CI sees the same draws on
every run; each file names an environment variable that raises the count
(``FUZZ_LAYERS_EXAMPLES=200``), and ``HYPOTHESIS_PROFILE=explore`` makes the draws new.
"""

import os

from hypothesis import HealthCheck, settings

DERANDOMIZE = os.environ.get("HYPOTHESIS_PROFILE", "fixed") != "explore"


def examples(variable: str, default: int) -> int:
    """The number of examples per test: ``$variable``, or ``default``."""
    return int(os.environ.get(variable, str(default)))


def fuzz_settings(max_examples: int) -> settings:
    """No deadline (gradchecks are slow), no example database, every health check off."""
    return settings(max_examples=max_examples, deadline=None, derandomize=DERANDOMIZE,
                    database=None, suppress_health_check=list(HealthCheck))
