"""The hyperparameter checks the optimizers share, with PyTorch's messages (outside the
reading path: each rule's ``__init__`` calls them, as PyTorch's do, before its update), and
the checks of a new parameter group that ``Optimizer.add_param_group`` calls.

A learning rate may be a one-element Tensor, as in PyTorch; a Tensor of several elements
is PyTorch's error, not a comparison that asks ``bool()`` of several values.
"""

from __future__ import annotations

import warnings

from tinygrad_opt.tensor import Tensor


def check_non_negative(name: str, value) -> None:
    """Raise ``ValueError("Invalid <name>: <value>")`` unless ``0 <= value``."""
    if isinstance(value, Tensor) and value.numel() != 1:
        raise ValueError(f"Tensor {name} must be 1-element, but it has shape {value.shape}")
    if not 0.0 <= value:
        raise ValueError(f"Invalid {name}: {value}")


def check_unit_closed(name: str, value) -> None:
    """Raise ``ValueError("Invalid <name>: <value>")`` unless ``0 <= value <= 1``."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"Invalid {name}: {value}")


def check_betas(betas) -> None:
    """Both betas must lie in [0, 1)."""
    if len(betas) != 2:
        raise ValueError(f"Invalid betas: {betas} (expected a pair (beta1, beta2))")
    for index, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {index}: {beta}")


def check_param_group(optimizer, param_group: dict) -> list:
    """The Tensors of a new parameter group, checked as PyTorch's ``add_param_group`` does.

    ``param_group['params']`` may be one Tensor, an ordered collection of Tensors, or of
    ``(name, Tensor)`` pairs (``model.named_parameters()``): then the names are stored in
    ``param_group['param_names']`` (and so travel in ``state_dict()``). Every group of an
    optimizer has names, or none has. A parameter repeated within the group only warns
    (each ``step`` then updates it once for every time it is listed, as in PyTorch); one that
    is already in another group is an error. Nothing is written into ``param_group`` unless
    every check passes.
    """
    if not isinstance(param_group, dict):
        raise TypeError(f"add_param_group: param_group must be a dict, but got "
                        f"{type(param_group).__name__}")
    if "params" not in param_group:
        raise ValueError(f"add_param_group: param_group must have a 'params' entry, got the "
                         f"keys {sorted(map(str, param_group))}")
    params = param_group["params"]
    if isinstance(params, Tensor):
        params = [params]
    elif isinstance(params, set):
        raise TypeError(
            "add_param_group: optimizer parameters need to be organized in ordered "
            "collections, but the ordering of tensors in sets will change between runs; "
            f"use a list instead (got a set of {len(params)})")
    else:
        params = list(params)
    names = [p[0] for p in params if isinstance(p, tuple)]       # (name, Tensor) pairs
    if names and len(names) != len(params):
        raise ValueError(f"add_param_group: all optimizer params should be with/without "
                         f"names. Some param names are missing ({len(names)} of "
                         f"{len(params)} have one)")
    params = [p[1] if isinstance(p, tuple) else p for p in params]
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"add_param_group: optimizer can only optimize Tensors, but one "
                            f"of the params is {type(p).__name__}")
        if not (p.is_leaf or p.retains_grad):  # (PyTorch: a retain_grad() non-leaf is fine)
            raise ValueError(f"add_param_group: can't optimize a non-leaf Tensor (one of shape "
                             f"{p.shape} made by {p.grad_fn.name}); optimize the leaf it "
                             "was computed from, or .detach() it")
    if len(set(map(id, params))) != len(params):
        warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                      "future, this will cause an error", UserWarning, stacklevel=3)
    named = bool(names) or "param_names" in param_group
    for other in optimizer.param_groups:
        if named != ("param_names" in other):
            raise ValueError("add_param_group: all optimizer param groups should be "
                             "with/without names. cannot add param group "
                             f"{'with' if named else 'without'} names to the optimizer")
    already_seen = {id(p) for other in optimizer.param_groups for p in other["params"]}
    for position, p in enumerate(params):
        if id(p) in already_seen:
            raise ValueError(f"add_param_group: some parameters appear in more than one "
                             f"parameter group (params[{position}], of shape {p.shape}, is "
                             "already in a group)")
    if names:
        param_group["param_names"] = names
    return params


def check_saved_groups(optimizer, saved_groups: list) -> None:
    """A saved ``state_dict()['param_groups']`` fits ``optimizer``: as many groups, each of
    the same size (PyTorch's two errors, with the numbers that differ)."""
    ours = optimizer.param_groups
    if len(saved_groups) != len(ours):
        raise ValueError(f"loaded state dict has a different number of parameter groups: "
                         f"{len(saved_groups)} saved, {len(ours)} in this "
                         f"{type(optimizer).__name__}")
    for number, (group, saved) in enumerate(zip(ours, saved_groups)):
        if len(group["params"]) != len(saved["params"]):
            raise ValueError(f"loaded state dict contains a parameter group that doesn't match "
                             f"the size of optimizer's group: group {number} has "
                             f"{len(saved['params'])} saved, {len(group['params'])} here")
