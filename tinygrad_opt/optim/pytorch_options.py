"""PyTorch's implementation switches of the optimizers: accepted, so PyTorch code runs.

PyTorch's optimizers take three switches that choose *how* a step runs, never what it
computes: ``foreach`` (one multi-tensor kernel per group instead of a loop),
``capturable`` (keep the step count on the device so a CUDA graph can replay the step)
and ``differentiable`` (record the step in the autograd graph). Here:

* ``foreach``: any value is accepted; there is one code path, the numbers are the same.
* ``capturable=True``: accepted by the rules ``cuda.capture`` can replay (their update
  reads nothing from the host that changes from step to step, ``optim/fused.py``:
  ``CAPTURABLE``); a rule that reads its step count on the host refuses it.
* ``differentiable=True``: refused; updates run on arrays under no-grad.
"""

from __future__ import annotations


def check_pytorch_options(name: str, *, differentiable: bool = False,
                          capturable: bool = False, capturable_ok: bool = False) -> None:
    """Raise NotImplementedError, naming the optimizer, for a switch that is not supported.

    ``capturable_ok``: the rule can be captured in a CUDA graph, so ``capturable=True``
    is already true of it.
    """
    if differentiable:
        raise NotImplementedError(
            f"{name}: differentiable=True is not supported (the update runs on arrays under "
            "no-grad, so no graph through optimizer steps is recorded)")
    if capturable and not capturable_ok:
        raise NotImplementedError(
            f"{name}: capturable=True is not supported (its update reads its step count on "
            "the host, so a CUDA graph would repeat one step's numbers)")
