"""Forward-mode automatic differentiation: ``torch.autograd.forward_ad``.

Reverse mode (``backward``) gives vᵀ·J, one row combination of the Jacobian per
pass. Forward mode gives J·ẋ, the derivative along one direction ẋ of the inputs,
in the same pass that computes the values: every tensor x carries its *tangent*
ẋ (the derivative of x along that direction) and every op turns the tangents of
its inputs into the tangent of its output.

The math is the dual number  x + ε·ẋ  with ε² = 0. Taylor's expansion of a smooth
f stops after the linear term, since every ε², ε³, ... is 0:

    f(x + ε·ẋ) = f(x) + ε·f'(x)·ẋ

so f evaluated on a dual number gives the value f(x) and the tangent f'(x)·ẋ
together. An op with several inputs adds the contributions of each:

    ẏ = Σ_i ∂y/∂x_i · ẋ_i             (y = a·b:  ẏ = ȧ·b + a·ḃ;  y = sin x:  ẏ = cos(x)·ẋ)

and a chain of ops composes them: the tangent of the output is J·ẋ, the
Jacobian-vector product, without ever building J. Used as in PyTorch:

    with forward_ad.dual_level():
        x = forward_ad.make_dual(primal, tangent)   # x + ε·tangent
        y = f(x)
        value, jvp = forward_ad.unpack_dual(y)      # f(primal), J·tangent

How the tangents travel: ``dual_level`` puts ``_carry`` into ``flags.forward_ad``
(grad_mode.py), and ``Function.apply`` calls it after every op with the op's class,
inputs, options and output. ``_carry`` returns at once when no input has a tangent
(the common case costs a dictionary look-up per input); otherwise it gives the
output its tangent. Tangents live in a table of this module, keyed by the dual
tensor's id; an entry leaves the table when its tensor dies (a weak reference's
callback), and leaving the level clears the table.

Each op's tangent comes from its backward, generically, by the double-vjp trick
(``autograd.functional.jvp`` applied to one op): with a dummy cotangent u,

    g_i(u) = (∂y/∂x_i)ᵀ·u                     the op's backward, recorded (create_graph)
    s(u)   = Σ_i ⟨g_i(u), ẋ_i⟩ = ⟨u, Σ_i ∂y/∂x_i·ẋ_i⟩     linear in u
    ẏ      = ∂s/∂u = Σ_i ∂y/∂x_i·ẋ_i           one more backward pass (any u: u = 1)

This works for every op, since every backward is differentiable (gradgradcheck
tests it), but it costs about three passes per op: the forward again, a recorded
backward, a backward through that. It is a teaching implementation: PyTorch
writes a JVP rule for each op by hand (``ẏ = cos(x)·ẋ`` for sin, one pass), which
is what a fast forward mode would use.

In-place writes (``x[i] = v``, ``x += v``, ``x.relu_()``, ``copy_``, ``fill_``) do not
carry tangents: a write of or into a dual tensor raises at once, naming SetItem
(``indexing.setitem`` hands it to the carrier with no output), and a dual tensor
changed in place some other way raises at its next use (its version moved on since
its tangent was set). So does ``Checkpoint`` (utils/checkpoint.py)
with dual inputs that require grad: its backward is tied to the block's own inputs.
"""

from __future__ import annotations

import contextlib
import weakref
from collections import namedtuple
from typing import NamedTuple

from tinygrad_opt import backend
from tinygrad_opt.autograd import engine
from tinygrad_opt.autograd.grad_mode import enable_grad, flags

import tinygrad_opt.tensor as tensor_module  # make_dual checks its arguments are Tensors

__all__ = ["UnpackedDualTensor", "dual_level", "enter_dual_level", "exit_dual_level",
           "make_dual", "unpack_dual"]

_current_level = -1  # -1: no level is open; 0: the one level (PyTorch allows no nesting)


class _Dual(NamedTuple):
    """One entry of the table: a dual tensor's tangent."""

    ref: weakref.ref  # the dual tensor (its death removes the entry)
    tangent: object   # a Tensor of its shape and dtype
    version: int      # its ``_version`` when the tangent was set (an in-place write moves it)


_tangents: dict = {}  # id(dual tensor) -> _Dual


# --- levels ---


def enter_dual_level() -> int:
    """Open the forward-mode level (0) and return it: from now on every op gives its
    output a tangent when an input has one. Only one level at a time, as in PyTorch."""
    global _current_level
    if _current_level >= 0:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _current_level = 0
    flags.forward_ad = _carry
    return _current_level


def exit_dual_level(*, level: int | None = None) -> None:
    """Close the level: every tangent made in it is dropped (``unpack_dual`` then gives
    None), and ops no longer carry tangents."""
    global _current_level
    if level is None:
        level = _current_level
    if _current_level < 0:
        raise RuntimeError("exit_dual_level: no forward AD level is open (enter one with "
                           "dual_level() or enter_dual_level() first)")
    if level != _current_level:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one "
                           "that was created. This is not supported.")
    _tangents.clear()
    flags.forward_ad = None
    _current_level = level - 1


class dual_level(contextlib.ContextDecorator):
    """``with forward_ad.dual_level():`` (or ``@forward_ad.dual_level()``): forward mode
    inside the block, which gets the level (0); the tangents are dropped at its end.
    Nesting raises, as in PyTorch (``tg.func.jvp`` composes instead)."""

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, *exc_info) -> bool:
        exit_dual_level()
        return False


# --- dual tensors ---


def make_dual(tensor, tangent, *, level: int | None = None):
    """The dual tensor  tensor + ε·tangent: a new Tensor that shares ``tensor``'s values
    (a view of it, differentiable in reverse mode too) with ``tangent`` attached as it is.

    ``tangent`` must have the primal's shape, dtype and device; both must be floating
    point. Only inside a level."""
    level = _checked_level(level, "make_dual")
    if level < 0:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level "
                           "exists, make sure to enter_dual_level() first.")
    _check_tangent(tensor, tangent)
    from tinygrad_opt.ops.shape import Reshape
    dual = Reshape.apply(tensor, shape=tensor.shape)  # a view: the same memory and version
    _set_tangent(dual, tangent)
    return dual


_UnpackedDualTensor = namedtuple("_UnpackedDualTensor", ["primal", "tangent"])


class UnpackedDualTensor(_UnpackedDualTensor):
    """What ``unpack_dual`` returns: the named tuple ``(primal, tangent)``."""


def unpack_dual(tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)`` of a dual tensor: the primal is a view of ``tensor`` without
    a tangent (differentiable in reverse mode), the tangent is the Tensor as it was
    set or computed, None for a tensor without one. Outside a level: ``(tensor, None)``."""
    level = _checked_level(level, "unpack_dual")
    if level < 0:
        return UnpackedDualTensor(tensor, None)
    tangent = _tangent_of(tensor)
    from tinygrad_opt.ops.shape import Reshape
    with _carrying_paused():
        primal = Reshape.apply(tensor, shape=tensor.shape)
    return UnpackedDualTensor(primal, tangent)


def _checked_level(level, caller: str) -> int:
    if level is None:
        return _current_level
    if level != _current_level:
        raise RuntimeError(f"{caller}: level {level} is not the current forward AD level "
                           f"({_current_level}); only one level exists at a time")
    return level


def _check_tangent(tensor, tangent) -> None:
    """PyTorch's checks of make_dual's arguments, and its messages."""
    Tensor = tensor_module.Tensor
    if not isinstance(tensor, Tensor) or not isinstance(tangent, Tensor):
        raise TypeError(f"make_dual: expected two Tensors, got {type(tensor).__name__} and "
                        f"{type(tangent).__name__}")
    if not backend.is_floating(tensor.dtype):
        raise ValueError(f"Expected primal to be floating point or complex, but got: "
                         f"{tensor.dtype}")
    if not backend.is_floating(tangent.dtype):
        raise ValueError(f"Expected tangent to be floating point or complex, but got: "
                         f"{tangent.dtype}")
    if tangent.shape != tensor.shape:
        raise RuntimeError(
            "Trying to set a forward gradient that has a different size than that of the "
            f"original Tensor, this is not supported. Tensor is of size {tensor.shape} while "
            f"the given forward gradient is of size {tangent.shape}.")
    if tangent.dtype != tensor.dtype:
        raise RuntimeError(f"Expected tangent to have the same dtype as primal, but got: "
                           f"{tangent.dtype} (primal: {tensor.dtype})")
    if tangent.device != tensor.device:
        raise RuntimeError(f"Expected tangent to be on the same device as primal, but got: "
                           f"'{tangent.device}' (primal: '{tensor.device}')")
    if _tangent_of(tensor) is not None:
        raise RuntimeError(f"Making a dual Tensor based on a Tensor that already has a forward "
                           f"gradient at the same level {_current_level} is not supported.")
    if _tangent_of(tangent) is not None:
        raise RuntimeError(f"Making a dual Tensor based on a Tensor that has a forward "
                           f"gradient at the same level {_current_level} is not supported.")


# --- the table of tangents ---


def _set_tangent(tensor, tangent) -> None:
    key = id(tensor)
    ref = weakref.ref(tensor, lambda _, key=key: _tangents.pop(key, None))
    _tangents[key] = _Dual(ref, tangent, tensor._version)


def _tangent_of(tensor):
    """The tangent of ``tensor``, or None. A tensor written in place since its tangent
    was set raises: its tangent no longer belongs to its values."""
    entry = _tangents.get(id(tensor))
    if entry is None or entry.ref() is not tensor:
        return None
    if tensor._version != entry.version:
        raise RuntimeError(
            f"forward AD: a dual tensor of shape {tensor.shape} was changed in place "
            "(x[index] = v, x += v, x.relu_(), copy_, fill_, or a write into a view of it) "
            "after its tangent was set; in-place ops do not carry tangents here. Write "
            "it out of place (x = x + v, x = tg.where(mask, v, x)).")
    return entry.tangent


def _argument_tangents(args):
    """The tangent of each of a custom Function's arguments (None for a non-Tensor or a
    Tensor without one), or None when none has one (or no level is open)."""
    if flags.forward_ad is None:
        return None
    Tensor = tensor_module.Tensor
    tangents = [_tangent_of(x) if isinstance(x, Tensor) else None for x in args]
    return tangents if any(tangent is not None for tangent in tangents) else None


def _give_tangent(tensor, tangent, caller: str) -> None:
    """Set the tangent a custom Function's jvp returned for one of its outputs."""
    if not isinstance(tangent, tensor_module.Tensor) or tangent.shape != tensor.shape:
        got = getattr(tangent, "shape", type(tangent).__name__)
        raise RuntimeError(f"{caller}: jvp returned {got} as the tangent of an output of "
                           f"shape {tensor.shape}; expected a Tensor of the output's shape")
    _set_tangent(tensor, tangent.astype(tensor.dtype))


@contextlib.contextmanager
def _carrying_paused():
    """No tangents are carried inside (the carrier's own ops, ``unpack_dual``'s primal)."""
    previous = flags.forward_ad
    flags.forward_ad = None
    try:
        yield
    finally:
        flags.forward_ad = previous


# --- the carrier: what Function.apply calls after each op inside a level ---


_NOT_CARRIED = {  # the ops whose tangent the double-vjp trick cannot give, and why
    "tinygrad_opt.ops.indexing.SetItem":
        "x[index] = v writes in place (so do x += v, copy_, fill_, scatter, index_put, "
        "sin_, ...), and in-place ops do not carry tangents here. Write it out of place "
        "(x = tg.where(mask, v, x), tg.cat, ...).",
    "tinygrad_opt.utils.checkpoint.Checkpoint":
        "its backward recomputes the block from the block's own inputs, not from the "
        "copies that the trick differentiates. Call the block without checkpoint.",
}


def _carry(cls, inputs, options, output) -> None:
    """Give ``output = cls.apply(*inputs, **options)`` its tangent ẏ = Σ_i ∂y/∂x_i·ẋ_i,
    if some input has a tangent (else return at once: this runs for every op).
    ``output`` None: an in-place write that is not recorded (``x[i] = v`` with nothing
    requiring grad): it would leave x's tangent stale or drop v's, so it is refused."""
    if not any([id(x) in _tangents for x in inputs]):
        return
    if output is None:
        raise RuntimeError(f"forward AD: {cls.__name__} writes a dual tensor in place (of "
                           f"shape {inputs[0].shape}), which carries no tangent here; write "
                           "out of place instead (tg.where, tg.cat, x.clone() then ops)")
    tangents = [_tangent_of(x) for x in inputs]
    if all(tangent is None for tangent in tangents) or not backend.is_floating(output.dtype):
        return  # (an integer or bool output, an argmax, has no tangent)
    name = f"{cls.__module__}.{cls.__qualname__}"
    if name in _NOT_CARRIED:
        raise RuntimeError(f"forward AD: {cls.__name__} of a dual tensor (output of shape "
                           f"{output.shape}) is not supported: {_NOT_CARRIED[name]}")
    # PyTorch's tangent is a differentiable function of the primals and of the tangents
    # (reverse over forward: ẏ = cos(x)·ẋ depends on x): a graph is kept when either
    # requires grad, in grad mode.
    differentiable = flags.grad and any(x.requires_grad or (t is not None and t.requires_grad)
                                        for x, t in zip(inputs, tangents))
    with _carrying_paused(), enable_grad():
        tangent = _jvp_of_op(cls, inputs, options, output, tangents, differentiable)
    _set_tangent(output, tangent)


def _jvp_of_op(cls, inputs, options, output, tangents, differentiable: bool):
    """ẏ by the double-vjp trick, on detached copies of the inputs (the op's own graph
    stays untouched): ẏ = ∂/∂u Σ_i ⟨(∂y/∂x_i)ᵀ·u, ẋ_i⟩. When ``differentiable``, an input
    that requires grad is used itself, so that ẏ is differentiable with respect to it."""
    from tinygrad_opt.factories import ones_like, zeros_like
    copies = [x if differentiable and x.requires_grad else
              x.detach().requires_grad_(tangent is not None)
              for x, tangent in zip(inputs, tangents)]
    y = cls.apply(*copies, **options)  # the forward again, recorded (y: what it saved)
    # The dummy cotangent u: g_i(u) is linear in u, so any u gives the same ∂s/∂u. Not
    # u = 0: a backward that splits u by sign (LogCumSumExp's log u⁺) has a kink there.
    u = ones_like(y).requires_grad_(True)
    # The op's backward, called directly (not through the engine): an operand that the
    # op broadcast itself (a binary op broadcasts only what requires grad) gets g_i of
    # y's shape, and ⟨g_i, ẋ_i⟩ broadcasts ẋ_i the same way.
    grads = y.grad_fn.backward(u)  # g_i = (∂y/∂x_i)ᵀ·u, recorded: grad mode is on
    grads = grads if type(grads) is tuple else (grads,)
    s = None  # s = Σ_i ⟨g_i, ẋ_i⟩
    for grad, tangent in zip(grads, tangents):
        if grad is not None and tangent is not None:
            term = (grad * (tangent if differentiable else tangent.detach())).sum()
            s = term if s is None else s + term
    if s is None or not s.requires_grad:
        return zeros_like(output)  # y does not depend on the dual inputs
    # Every path from s to u lies above the inputs and their tangents (made before u):
    # the walk stops there, so it sees only the op's own few tensors.
    stops = {id(x) for x in (*inputs, *copies, *tangents) if x is not None}
    tangent = _gradient_above(s, u, stops, differentiable)
    return zeros_like(output) if tangent is None else tangent  # ∂s/∂u = Σ_i ∂y/∂x_i·ẋ_i


def _gradient_above(s, u, stops, create_graph: bool):
    """∂s/∂u for a scalar s, as ``engine.grad([s], [u])`` gives it, by a walk that ends
    at the tensors in ``stops`` instead of going down to the leaves. ``engine.grad``
    would walk the primals' and the tangents' whole graphs: N tensors for the N-th op
    of a chain on a primal (or tangent) that requires grad, N² for the chain; and it
    would raise at a primal whose backward graph an earlier ``backward()`` freed, which
    forward mode never reads (nor does PyTorch's). None when s does not depend on u."""
    order = engine.topological_order([s], stops)
    reaches, runs = {id(u)}, set()  # the tensors with u below them; those whose op runs
    for tensor in order:  # (each after its inputs; a stop's op is not looked at, may be freed)
        function = None if id(tensor) in stops else tensor.grad_fn
        if function is not None and any(id(x) in reaches for x in function.inputs):
            runs.add(id(tensor))
            reaches.add(id(tensor))
    root = engine._initial_gradient(s, None, "forward AD", create_graph)
    found = []

    def receive(tensor, grad) -> bool:
        if tensor is u:
            found.append(engine._as_tensor(grad, {id(root)}))
        return id(tensor) not in runs

    order = [tensor for tensor in order if id(tensor) in runs or tensor is u]
    engine.run_backward(order, [s], [root], receive, create_graph, create_graph)
    return found[0] if found else None
