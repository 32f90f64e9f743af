"""The optimizer base class: PyTorch's data model, one code path for every rule.

An optimizer holds

* ``param_groups``: a list of dicts. Each has ``'params'`` (a list of Tensors)
  and every hyperparameter of the rule (``'lr'``, ``'momentum'``, ...), with
  the values from ``defaults`` filled in where the group gave none. Learning-rate
  schedulers and users change a hyperparameter by writing into a group.
* ``defaults``: the hyperparameters given to the constructor.
* ``state``: a dict keyed by the parameter Tensor itself. ``state[p]`` is a
  dict with PyTorch's key names (``'step'``, ``'momentum_buffer'``,
  ``'exp_avg'``, ``'exp_avg_sq'``, ...); the buffers are backend arrays on the
  parameter's device, of its dtype; ``'step'`` is a Python int.

One ``step()`` is::

    loss = closure()                      (if given; under enable_grad)
    for each group, for each p whose p.grad is not None:
        update(θ = p.data, g = p.grad.data, state[p], group)      (on arrays)

A first-order rule (SGD, Adam, ...) only writes ``update``: it changes θ and its
state arrays in place, reads g and never writes it, so ``p.grad`` is left as it
was and no graph is recorded. Rules that need the closure more than once
(LBFGS, Newton) override ``step`` itself.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any, Callable, Iterable

from tinygrad_opt import backend
from tinygrad_opt.autograd.grad_mode import enable_grad
from tinygrad_opt.optim import fused, hooks
from tinygrad_opt.optim.arguments import (check_betas, check_non_negative,  # noqa: F401
                                          check_param_group, check_saved_groups,
                                          check_unit_closed)  # (the rules import them here)
from tinygrad_opt.tensor import Tensor


class _RequiredParameter:
    """A default that a param group must give itself (like PyTorch's ``required``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def elementwise(update):
    """Mark an ``update`` rule as elementwise: every element of θ and of the state
    arrays is computed from the same element of g, θ and the state, and the
    state arrays are written in place. ``Optimizer.step`` may then run the rule over
    cache-sized slices (``optim/fused.py: update_in_chunks``). A subclass that
    overrides ``update`` is chunked only if it marks its own rule too."""
    update.elementwise = True
    return update


def _is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


class Optimizer(hooks.OptimizerHooks):  # (PyTorch's hooks: optim/hooks.py)
    """Base class of every optimizer.

    Args:
        params: an iterable of Tensors, of ``(name, Tensor)`` pairs
            (``model.named_parameters()``), or of dicts (parameter groups), each with
            a ``'params'`` entry (Tensors or pairs) and any hyperparameters that differ
            from ``defaults`` for that group.
        defaults: the hyperparameters of the rule, used where a group has none.
    """

    def __init__(self, params: Iterable, defaults: dict[str, Any]):
        self.defaults = defaults
        self.state: dict = defaultdict(dict)  # state[p] -> {'step': ..., 'exp_avg': ...}
        self.param_groups: list[dict[str, Any]] = []
        if _is_tensor(params):
            raise TypeError(
                f"{type(self).__name__}: params should be an iterable of Tensors or dicts, "
                "but got a single Tensor (wrap it in a list)")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    # --- parameter groups ---

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, e.g. layers unfrozen during fine-tuning.

        Hyperparameters the group does not name are taken from ``defaults``.
        ``'params'`` may hold ``(name, Tensor)`` pairs (``model.named_parameters()``):
        the names go to ``group['param_names']``, and every group must then have them.
        A parameter may belong to one group only (listed twice in one, it warns).
        """
        params = check_param_group(self, param_group)  # (optim/arguments.py: PyTorch's checks)

        group = param_group  # the caller's dict itself, as PyTorch: a later change to it shows
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter '{name}'")
            group.setdefault(name, default)
        self.param_groups.append(group)

    # --- the training-loop surface ---

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of every parameter: ``p.grad = None`` (or zeros in place)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:  # a grad made with create_graph=True
                        p.grad = p.grad.detach()
                    p.grad.data[...] = 0
                    p.grad._version += 1

    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss.

        ``closure`` (optional) re-evaluates the model and returns the loss:
        ``def closure(): opt.zero_grad(); loss = f(); loss.backward(); return loss``.
        It runs with gradient recording on, even if ``step`` is called under
        ``no_grad``. Parameters with ``grad=None`` are skipped; one with a gradient is
        updated even if its ``requires_grad`` was switched off since, as in PyTorch.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:  # (on arrays: no graph is recorded, no_grad or not)
            params = [p for p in group["params"] if p.grad is not None]
            update = fused.twin_of(self, group, params)  # self.update, or a faster twin
            for p in params:
                update(p.data, p.grad.data, self.state[p], group)
                p._version += 1  # a graph that saved p before this step now refuses backward
        return loss

    def update(self, theta, g, state: dict, group: dict) -> None:
        """The update rule for one parameter; each optimizer writes its own.

        Args:
            theta: ``p.data``, the parameter's array: change it in place.
            g: ``p.grad.data``, the gradient's array: read it, never write it.
            state: ``self.state[p]``, empty at the first step.
            group: the parameter group, with the hyperparameters.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement update(theta, g, state, group) "
            "or override step(closure)")

    # --- saving and resuming ---

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in PyTorch's layout.

        ``{'state': {index: state[p]}, 'param_groups': [{..., 'params': [index, ...]}]}``
        where parameters are numbered 0, 1, ... by their place in the groups (a group's
        ``'param_names'``, if it has them, come along). Like PyTorch, it
        refers to the live state (the same dicts and arrays): ``copy.deepcopy`` it
        or save it to keep a snapshot.
        """
        index_of: dict[int, int] = {}
        param_groups = []
        for group in self.param_groups:
            packed = {name: value for name, value in group.items() if name != "params"}
            start = sum(len(other["params"]) for other in param_groups)
            # numbered by place, as PyTorch: a parameter listed twice in a group gets its last
            index_of.update({id(p): i for i, p in enumerate(group["params"], start)})
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            param_groups.append(packed)
        state = {index_of[id(p)]: param_state for p, param_state in self.state.items()
                 if id(p) in index_of}
        return {"state": state, "param_groups": param_groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume from ``state_dict()``: the run continues exactly as if never interrupted.

        The saved dict is deep-copied; state arrays are moved to each
        parameter's device and (floating ones) cast to its dtype. The
        optimizer must have as many groups, of the same sizes, as the saved one.
        Saved ``'param_names'`` replace a group's; a group keeps its own if none were saved.
        """
        state_dict = copy.deepcopy(state_dict)
        saved_groups = state_dict["param_groups"]
        check_saved_groups(self, saved_groups)  # (optim/arguments.py: PyTorch's checks)

        param_of = {index: p for group, saved in zip(self.param_groups, saved_groups)
                    for index, p in zip(saved["params"], group["params"])}

        self.state = defaultdict(dict)
        for index, param_state in state_dict["state"].items():
            index = int(index)  # keys may come back as strings from some file formats
            if index not in param_of:
                raise ValueError(f"loaded state dict has state for parameter {index}, "
                                 "which is in none of its parameter groups")
            p = param_of[index]
            self.state[p] = _to_param(param_state, p)

        for group, saved in zip(self.param_groups, saved_groups):
            group.update({name: value for name, value in saved.items() if name != "params"})

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for number, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {number}")
            for name in sorted(group):
                if name != "params":
                    lines.append(f"    {name}: {group[name]}")
        lines.append(")")
        return "\n".join(lines)

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


# --- the opening that every first-order rule's update shares ---

def maximize_and_decay(theta, g, group: dict):
    """The lines every first-order rule begins with, with weight decay λ and learning rate γ::

        g ← −g                  if maximize
        θ ← θ − γ·λ·θ           if λ ≠ 0 and decoupled_weight_decay    (AdamW: θ shrinks)
        g ← g + λ·θ             if λ ≠ 0 otherwise                     (L2 penalty λ/2·‖θ‖²)

    Returns the g that the rule goes on with: a new array where a line changed it
    (the caller's gradient is never written). θ shrinks in place. A rule without
    the ``decoupled_weight_decay`` option always takes the L2 line.
    """
    weight_decay = group["weight_decay"]
    if group["maximize"]:
        g = -g                                                 # g ← −g
    if weight_decay != 0 and group.get("decoupled_weight_decay", False):
        theta *= 1 - group["lr"] * weight_decay                # θ ← θ − γ·λ·θ
    elif weight_decay != 0:
        g = g + weight_decay * theta                           # g ← g + λ·θ
    return g


_SCALAR_STATE = ("step", "mu_product")  # kept as Python numbers, never cast


def _to_param(value, p, name=None):
    """A saved state entry made ready for parameter ``p`` (as PyTorch does on load).

    Arrays (and Tensors) go onto ``p``'s device, floating ones cast to ``p``'s
    dtype; counters such as ``'step'`` stay Python numbers; lists, tuples and
    dicts are converted item by item.
    """
    if _is_tensor(value):  # (a PyTorch-style state dict holds Tensors; the rules, arrays)
        return _to_param(value.data, p, name)
    if isinstance(value, dict):
        return {key: _to_param(item, p, key) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_param(item, p, name) for item in value)
    if type(value).__module__ == "numpy" and not backend.is_array(value):
        return value.item()  # a NumPy scalar such as np.int64(5) from a file
    if not backend.is_array(value):
        return value  # Python numbers, strings, None
    if name in _SCALAR_STATE and value.ndim == 0:
        return value.item()
    array = backend.to_device(value, p.device)
    if backend.is_floating(array.dtype) and array.dtype != p.dtype:
        array = array.astype(p.dtype)
    return array
