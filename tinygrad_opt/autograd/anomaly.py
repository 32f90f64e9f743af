"""``with tg.detect_anomaly():`` finds the op whose backward made a NaN.

While it is on, every op remembers where it was created (a short stack trace),
and the engine checks each gradient an op's backward returns. The first one with
a NaN raises an error naming the op and that place in user code (an inf passes, as
in PyTorch: sqrt'(0) is one). It costs time, so it is off by default.

``flags.anomaly`` is False (off), True (on, with the check), or ``"traces"``: on
without the NaN check (``check_nan=False``), where ops still record their traces.
"""

from __future__ import annotations

import os
import traceback

from tinygrad_opt.autograd.grad_mode import Switch, flags, set_grad_enabled

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # the package


def is_anomaly_enabled() -> bool:
    """True while anomaly detection is on (``detect_anomaly``, ``set_detect_anomaly``)."""
    return bool(flags.anomaly)


def is_anomaly_check_nan_enabled() -> bool:
    """True while gradients are checked for NaN (anomaly mode without ``check_nan=False``)."""
    return flags.anomaly is True


class detect_anomaly(Switch):
    """Context manager (and decorator) that turns anomaly detection on."""

    flag = "anomaly"

    def __init__(self, check_nan: bool = True):
        self.value = True if check_nan else "traces"


class set_detect_anomaly(set_grad_enabled):
    """``tg.autograd.set_detect_anomaly(True)``: turn anomaly detection on or off at once,
    as ``set_grad_enabled`` does recording; in a ``with`` block the previous setting comes
    back at its end. ``check_nan=False``: on, without the NaN check."""

    flag = "anomaly"

    def __init__(self, mode: bool, check_nan: bool = True):
        super().__init__(mode)  # switched now, as set_grad_enabled
        if self.value and not check_nan:
            self.value = flags.anomaly = "traces"


def creation_trace() -> str:
    """Where the op now being created was called from, outside the framework."""
    frames = [frame for frame in traceback.extract_stack()[:-1]
              if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR)]
    return "".join(traceback.format_list(frames[-4:]))
