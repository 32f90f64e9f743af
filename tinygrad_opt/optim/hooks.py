"""PyTorch's optimizer hooks (``register_step_pre_hook`` and the rest), outside the reading path.

``Optimizer`` inherits ``OptimizerHooks``; a reader of optim/optimizer.py can skip it.
(Being filled in: see tests/optim/test_optimizer_hooks.py.)
"""

from __future__ import annotations


class OptimizerHooks:
    """The hook registries and the wrapping of ``step``/``state_dict``/``load_state_dict``."""
