"""``with tg.detect_anomaly():`` finds the op whose backward made a NaN or inf.

While it is on, every op remembers where it was created (a short stack trace),
and the engine checks each gradient an op's backward returns. The first
non-finite one raises an error naming the op and that place in user code.
It costs time, so it is off by default.
"""

from __future__ import annotations

import os
import traceback

_enabled = False
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # the package


def is_anomaly_enabled() -> bool:
    return _enabled


class detect_anomaly:
    """Context manager (and decorator) that turns anomaly detection on."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        global _enabled
        self.previous = _enabled
        _enabled = self.check_nan
        return self

    def __exit__(self, *exc_info):
        global _enabled
        _enabled = self.previous
        return False

    def __call__(self, function):
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return function(*args, **kwargs)
        return wrapper


def creation_trace() -> str:
    """Where the op now being created was called from, outside the framework."""
    frames = [frame for frame in traceback.extract_stack()[:-1]
              if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR)]
    return "".join(traceback.format_list(frames[-4:]))
