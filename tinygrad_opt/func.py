"""``tg.func``: PyTorch's ``torch.func``, function transforms built on reverse mode.

A transform takes a function and returns a new function:

    grad(f)(x)            = ∇f(x)                 f returns a 0-d tensor; one backward pass
    grad_and_value(f)(x)  = (∇f(x), f(x))
    vjp(f, x)             = (f(x), u ↦ uᵀ·J)      J = ∂f/∂x; one backward pass per call
    jvp(f, (x,), (v,))    = (f(x), J·v)           the double-vjp trick (two backward passes)
    linearize(f, x)       = (f(x), v ↦ J·v)       f runs once; one backward pass per call
    jacrev(f)(x)          = J                     one backward pass per output entry
    jacfwd(f)(x)          = J                     here computed as jacrev (the same J)
    hessian(f)(x)         = H = ∂²f/∂x²           jacfwd(jacrev(f))
    vmap(f)(xs)           = stack([f(x) for x in xs])   a loop: correct, not fast

and ``functional_call(module, params, args)`` runs a Module with other tensors in
place of its parameters and buffers, which makes a model a function of its weights:
``vmap(grad(loss), in_dims=(None, 0, 0))(params, X, Y)`` gives per-sample gradients.

How the transforms nest (``grad(grad(f))``, ``vmap(grad(f))``, ``hessian``): each
call differentiates with respect to fresh copies of its arguments:

* an argument that does not require grad becomes a new leaf ``x.detach()`` that
  does (the caller's tensor is never touched: its ``requires_grad`` stays as it was);
* an argument that requires grad (an outer transform is differentiating it, or the
  user is) becomes ``x.clone()``: a copy that stays in the graph, so the result can
  be differentiated again with respect to ``x``.

A result is then kept in the graph only where it reaches a tensor from outside (an
outer transform's input, a captured tensor that requires grad); everything else is
detached, as ``torch.func`` returns it. The backward pass is recorded
(``create_graph=True``) exactly when the function's output reaches outside, so a
plain ``grad(f)(x)`` costs one ordinary backward pass.

Arguments may be pytrees: tuples, lists and dicts of tensors, nested (a model's
parameters as a dict). Outside ``torch.no_grad`` semantics: the transforms ignore an
outer ``no_grad`` (they still differentiate ``f``), and their results then have no
graph; a ``no_grad`` inside ``f`` is respected.
"""

from __future__ import annotations

import functools
import weakref
from contextlib import contextmanager, nullcontext

from tinygrad_opt import backend
from tinygrad_opt.autograd import engine
from tinygrad_opt.autograd.function import Function
from tinygrad_opt.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad
from tinygrad_opt.factories import eye, ones_like, zeros, zeros_like
from tinygrad_opt.functions import equal
from tinygrad_opt.ops.shape import stack
from tinygrad_opt.tensor import Tensor

__all__ = ["functional_call", "stack_module_state", "grad", "grad_and_value", "vjp", "jvp",
           "linearize", "jacrev", "jacfwd", "hessian", "vmap"]


# --- pytrees: nested tuples, lists and dicts, flattened to a list of leaves ---

_LEAF = "*"  # the structure of a leaf (a tensor, a number, None, ...)


def _tree_flatten(tree) -> tuple[list, object]:
    """(the leaves of ``tree``, left to right; its structure). Tuples (named ones too),
    lists and dicts are containers; anything else is a leaf. Two trees have the same
    structure when their structures compare equal."""
    if isinstance(tree, (tuple, list)):
        kind, keys, children = type(tree), None, list(tree)
    elif isinstance(tree, dict):
        kind, keys, children = type(tree), tuple(tree), list(tree.values())
    else:
        return [tree], _LEAF
    leaves, structures = [], []
    for child in children:
        child_leaves, child_structure = _tree_flatten(child)
        leaves.extend(child_leaves)
        structures.append(child_structure)
    return leaves, (kind, keys, tuple(structures))


def _tree_unflatten(leaves, structure):
    """The tree of ``structure`` (from ``_tree_flatten``) with ``leaves`` in it."""
    return _build(iter(leaves), structure)


def _build(leaves, structure):
    if structure == _LEAF:
        return next(leaves)
    kind, keys, structures = structure
    children = [_build(leaves, child) for child in structures]
    if keys is not None:
        return kind(zip(keys, children))
    if hasattr(kind, "_fields"):  # a namedtuple
        return kind(*children)
    return kind(children)


def _count_leaves(structure) -> int:
    if structure == _LEAF:
        return 1
    return sum(_count_leaves(child) for child in structure[2])


def _broadcast_to_leaves(prefix, structure):
    """One value per leaf of ``structure`` from ``prefix``: an int or None stands for
    the whole subtree under it (``in_dims=0``), a container must match the tree's
    container (same type, length, keys) and is followed down. None where they do not
    match."""
    if prefix is None or isinstance(prefix, int):
        return [prefix] * _count_leaves(structure)
    if structure == _LEAF:
        return None
    kind, keys, structures = structure
    if type(prefix) is not kind or len(prefix) != len(structures):
        return None
    if keys is not None:
        if set(prefix) != set(keys):
            return None
        children = [prefix[key] for key in keys]
    else:
        children = list(prefix)
    values = []
    for child, child_structure in zip(children, structures):
        child_values = _broadcast_to_leaves(child, child_structure)
        if child_values is None:
            return None
        values.extend(child_values)
    return values


def _describe(structure) -> str:
    """A structure written as the tree it stands for: ``(*, {'w': *})``."""
    if structure == _LEAF:
        return "*"
    kind, keys, structures = structure
    parts = [_describe(child) for child in structures]
    if keys is not None:
        return "{" + ", ".join(f"{key!r}: {part}" for key, part in zip(keys, parts)) + "}"
    if kind is list:
        return "[" + ", ".join(parts) + "]"
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _name(func) -> str:
    return getattr(func, "__name__", repr(func))


# --- functional_call: a module run with other parameters and buffers ---


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights: bool = True, strict: bool = False):
    """``module(*args, **kwargs)`` with the tensors of ``parameter_and_buffer_dicts`` in
    place of the module's own parameters and buffers, as ``torch.func.functional_call``.

    The keys are the dotted names of ``named_parameters()`` / ``named_buffers()``
    (``"0.weight"``, ``"encoder.bias"``); a tuple of dicts is merged (a key in two of
    them is an error). The module's own tensors are put back afterwards, also when
    forward raises, so ``module`` is unchanged; gradients flow to the given tensors.
    A key that names no parameter or buffer is set as a plain attribute for the call.

    ``args`` that is not a tuple is one argument (None: no arguments).
    ``tie_weights=True``: a tensor that the module holds under two names (tied
    weights) is replaced under both when one is given (two different values for them:
    an error). ``strict=True``: the keys must be exactly the module's parameter and
    buffer names. A forward that reassigns a given buffer (``self.b = new``) leaves
    the new tensor in the given dict; one that updates it in place updates the given
    tensor (BatchNorm's running statistics), as in PyTorch.
    """
    parameters_and_buffers = _merged(parameter_and_buffer_dicts)
    if kwargs is None:
        kwargs = {}
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    replacements = dict(parameters_and_buffers)
    if tie_weights:
        replacements = _untied(module, replacements)
    if strict:
        _check_keys(module, replacements)
    originals = {}  # name -> what the module held there before (or _MISSING)
    try:
        for name, tensor in replacements.items():
            originals[name] = _swap(module, name, tensor)
        return module(*args, **kwargs)
    finally:
        for name, original in reversed(list(originals.items())):
            current = _swap(module, name, original)
            if name in parameters_and_buffers and current is not parameters_and_buffers[name]:
                parameters_and_buffers[name] = current  # the call reassigned it: as PyTorch


def _merged(parameter_and_buffer_dicts) -> dict:
    """The dict, or the dicts of a tuple/list merged into one."""
    if isinstance(parameter_and_buffer_dicts, dict):
        return parameter_and_buffer_dicts
    if not isinstance(parameter_and_buffer_dicts, (tuple, list)):
        raise ValueError("functional_call: expected parameter_and_buffer_dicts to be a dict, "
                         f"or a list/tuple of dicts, but got "
                         f"{type(parameter_and_buffer_dicts).__name__}")
    if not all(isinstance(entry, dict) for entry in parameter_and_buffer_dicts):
        raise ValueError("functional_call: expected all elements of "
                         "parameter_and_buffer_dicts to be dictionaries")
    keys = [key for entry in parameter_and_buffer_dicts for key in entry]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"functional_call: {repeated} appeared in multiple dictionaries; "
                         "behavior of functional call is ambiguous")
    return {key: value for entry in parameter_and_buffer_dicts for key, value in entry.items()}


def _all_named_tensors(module) -> list[tuple[str, Tensor]]:
    """Every (dotted name, tensor) of the module's parameters and buffers, tied ones
    under each of their names (``named_parameters`` lists a shared tensor once)."""
    named = []
    stack = [("", module)]
    while stack:
        prefix, current = stack.pop()
        for registry in (current._parameters, current._buffers):
            for name, tensor in registry.items():
                if tensor is not None:
                    named.append((prefix + name, tensor))
        for name, child in reversed(list(current._modules.items())):
            if child is not None:
                stack.append((prefix + name + ".", child))
    return named


def _untied(module, replacements: dict) -> dict:
    """``replacements`` with each tied name added, holding the value given for its tie."""
    names_of = {}  # id(tensor) -> all the names the module holds it under
    for name, tensor in _all_named_tensors(module):
        names_of.setdefault(id(tensor), []).append(name)
    ties = {name: names for names in names_of.values() if len(names) > 1 for name in names}
    untied = dict(replacements)
    for given in [name for name in replacements if name in ties]:
        values = {id(replacements[name]) for name in ties[given] if name in replacements}
        if len(values) > 1:
            raise ValueError(f"functional_call got multiple values for keys "
                             f"{sorted(ties[given])}, which are tied. Consider using "
                             "tie_weights=False")
        for name in ties[given]:
            untied[name] = replacements[given]
    return untied


def _check_keys(module, replacements: dict) -> None:
    """strict=True: the keys must be the module's parameter and buffer names."""
    names = {name for name, _ in _all_named_tensors(module)}
    unexpected = sorted(set(replacements) - names)
    missing = sorted(names - set(replacements))
    messages = []
    if unexpected:
        messages.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
    if missing:
        messages.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
    if messages:
        raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:\n\t"
                           + "\n\t".join(messages))


_MISSING = object()  # an attribute that was not there before functional_call set it


def _swap(module, name: str, value):
    """Put ``value`` at the dotted ``name`` (a parameter, a buffer or, for any other
    name, a plain attribute; ``_MISSING`` deletes it) and return what was there."""
    if value is not _MISSING and value is not None and not isinstance(value, Tensor):
        raise TypeError(f"functional_call: the value for '{name}' must be a Tensor, got "
                        f"{type(value).__name__}")
    *path, attribute = name.split(".")
    owner = module
    for part in path:
        child = owner._modules.get(part) if hasattr(owner, "_modules") else None
        if child is None:
            raise AttributeError(f"functional_call: {type(owner).__name__} has no submodule "
                                 f"'{part}' (in the key '{name}')")
        owner = child
    for registry in ("_parameters", "_buffers"):
        if attribute in getattr(owner, registry):
            original = getattr(owner, registry)[attribute]
            owner._set_entry(registry, attribute, value)  # any Tensor, not only a Parameter
            return original
    if attribute in owner._modules:
        raise TypeError(f"functional_call: '{name}' names a submodule, not a parameter or "
                        "a buffer")
    if isinstance(getattr(type(owner), attribute, None), property):
        # a parametrized tensor (nn.utils.parametrize), as PyTorch: assigning it stores
        # right_inverse(value) into its originals; the value read first is assigned back after
        original = getattr(owner, attribute)
        setattr(owner, attribute, value)
        return original
    original = owner.__dict__.get(attribute, _MISSING)
    if value is _MISSING:
        owner.__dict__.pop(attribute, None)
    else:
        object.__setattr__(owner, attribute, value)  # only for this call: not registered
    return original


def stack_module_state(models) -> tuple[dict, dict]:
    """The parameters and buffers of several models of one class, stacked, as
    ``torch.func.stack_module_state``: ``(params, buffers)``, two dicts from each
    dotted name to ``stack([model_0.name, model_1.name, ...])`` (a new leading dim of
    size ``len(models)``). A stacked parameter is a new leaf that requires grad (when
    the models' parameters do), not connected to the models. With ``functional_call``
    and ``vmap`` it runs an ensemble as one model:

        params, buffers = stack_module_state(models)
        vmap(lambda p, b, x: functional_call(base, (p, b), (x,)),
             in_dims=(0, 0, None))(params, buffers, x)
    """
    from tinygrad_opt.nn.module import Module  # lazy: tg.func is imported by nn
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not all(isinstance(model, Module) for model in models):
        raise TypeError("stack_module_state: expected Modules, got "
                        + ", ".join(sorted({type(model).__name__ for model in models})))
    if len({model.training for model in models}) > 1:
        raise RuntimeError("stack_module_state: Expected all models to have the same "
                           "training/eval mode.")
    if len({type(model) for model in models}) > 1:
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")

    def stacked(named: list[dict]) -> dict:
        result = {}
        for name in named[0]:
            tensors = [entries[name] for entries in named]
            wants_grad = {tensor.requires_grad for tensor in tensors}
            if len(wants_grad) > 1:
                raise RuntimeError(f"Expected {name} from each model to have the same "
                                   ".requires_grad")
            with no_grad():
                result[name] = stack(tensors)                  # (len(models), *shape)
            if wants_grad == {True}:
                result[name].requires_grad_(True)
        return result

    params = stacked([dict(model.named_parameters()) for model in models])
    buffers = stacked([dict(model.named_buffers()) for model in models])
    return params, buffers


# --- one differentiable call: what grad, vjp, jvp and jacrev share ---


def _argnums_checked(argnums, count: int, api: str) -> tuple[int, ...]:
    """``argnums`` (an int or a tuple of ints) as a tuple of indices in [0, count)."""
    numbers = (argnums,) if isinstance(argnums, int) else argnums
    if not isinstance(numbers, tuple) or not all(isinstance(n, int) for n in numbers):
        raise RuntimeError(f"{api}: argnums must be int or Tuple[int, ...], got: "
                           f"{type(argnums).__name__}")
    if not numbers:
        raise RuntimeError(f"{api}: argnums must be non-empty")
    checked = []
    for number in numbers:
        if not -count <= number < count:
            raise RuntimeError(f"{api}: got argnums={argnums}, but only {count} positional "
                               "inputs")
        checked.append(number % count)
    if len(set(checked)) != len(checked):
        raise RuntimeError(f"{api}: argnums elements must be unique, got {argnums}")
    return tuple(checked)


_evaluating = []  # the calls whose function is running now, outermost first
_owners = {}  # id of a call's fresh copy -> a weak reference to the call


def _from_outside(leaf) -> bool:
    """A leaf that requires grad comes from outside a call unless it is the fresh copy of
    a transform call whose function is no longer running (see ``reaches_outside``)."""
    owner = _owners.get(id(leaf))
    return owner is None or any(call is owner() for call in _evaluating)


class _Call:
    """``func(*args, **kwargs)`` run on differentiable copies of the arguments at
    ``argnums`` (all of them when None), with its outputs flattened.

    Attributes: ``inputs`` (the flat list of copies), ``input_structure``,
    ``output`` (as ``func`` returned it, without aux), ``outputs`` (its flat tensors),
    ``output_structure`` and ``aux``.
    """

    def __init__(self, func, args: tuple, kwargs: dict, argnums, has_aux: bool, api: str):
        self.api = api
        self.outer = is_grad_enabled()  # under no_grad the results keep no graph
        numbers = tuple(range(len(args))) if argnums is None else \
            _argnums_checked(argnums, len(args), api)
        chosen = args[numbers[0]] if isinstance(argnums, int) else \
            tuple(args[number] for number in numbers)
        leaves, self.input_structure = _tree_flatten(chosen)
        for leaf in leaves:
            if not isinstance(leaf, Tensor):
                raise ValueError(f"{api}: the arguments to differentiate must contain only "
                                 f"Tensors, got a {type(leaf).__name__}")
        self.inputs = [self._copy(leaf) for leaf in leaves]
        self.inside = {id(x) for x in self.inputs if x.grad_fn is None}  # the fresh leaves
        for x in self.inputs:
            if x.grad_fn is None:  # (see reaches_outside; the entry goes with the copy)
                _owners[id(x)] = weakref.ref(self)
                weakref.finalize(x, _owners.pop, id(x), None)
        copies = _tree_unflatten(self.inputs, self.input_structure)
        args = list(args)
        if isinstance(argnums, int):
            args[numbers[0]] = copies
        else:
            for number, copy in zip(numbers, copies):
                args[number] = copy
        _evaluating.append(self)
        try:
            with enable_grad():
                output = func(*args, **kwargs)
        finally:
            _evaluating.pop()
        self.aux = None
        if has_aux:
            if not (isinstance(output, tuple) and len(output) == 2):
                raise RuntimeError(f"{api}: output of function f should be a tuple: "
                                   "(output, aux) if has_aux is True")
            output, self.aux = output
        self.output = output
        self.outputs, self.output_structure = _tree_flatten(output)
        if not self.outputs:
            raise RuntimeError(f"{api}: expected f to return one or more Tensors, got "
                               f"{output!r}")
        for leaf in self.outputs:
            if not isinstance(leaf, Tensor):
                raise RuntimeError(f"{api}: expected f(*args) to return only Tensors, got "
                                   f"a {type(leaf).__name__}")
        self._outputs_reach_outside = None  # found on first need

    def _copy(self, x: Tensor) -> Tensor:
        """A copy to differentiate with respect to: ``x.clone()`` (still in the graph)
        where an outer level differentiates ``x``, else a new leaf that requires grad."""
        if self.outer and x.requires_grad:
            return x.clone()
        if not backend.is_floating(x.dtype):
            raise TypeError(f"{self.api}: only floating-point tensors can be differentiated; "
                            f"got dtype {x.dtype}")
        return x.detach().requires_grad_(True)

    def reaches_outside(self, tensors) -> bool:
        """Whether the graph of ``tensors`` reaches a leaf that requires grad and is not one
        of this call's fresh copies: then the results are differentiated again outside.
        Another call's fresh copy is outside only while that call's function runs (an
        enclosing transform: ``grad(grad(f))``, or ``grad`` around a later call of a
        ``vjp_fn``); the private copy of a ``jvp`` or ``vjp`` that ran inside this call's
        function is not (as torch.func unwraps each level's results)."""
        if not self.outer:
            return False
        roots = [t for t in tensors if isinstance(t, Tensor) and t.requires_grad]
        seen = set()
        while roots:
            tensor = roots.pop()
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            function = tensor.grad_fn
            if function is None:
                if id(tensor) not in self.inside and _from_outside(tensor):
                    return True
                continue
            if function.freed:  # a graph already used by a backward: nothing flows there
                continue
            for tensor_input, needed in zip(function.inputs, function.needs_input_grad):
                if needed:
                    roots.append(tensor_input)
        return False

    def pullback(self, cotangents: list, create_graph: bool | None = None) -> list:
        """``Σ_k cotangents[k]ᵀ·∂outputs[k]/∂x`` for each input copy x (zeros where
        no output depends on x); a None cotangent leaves its output out. The pass is
        recorded if ``create_graph``; None: when the outputs or the cotangents reach
        outside (so that the result can be differentiated there)."""
        pairs = [(output, cotangent) for output, cotangent in zip(self.outputs, cotangents)
                 if cotangent is not None and output.requires_grad]
        if create_graph is None:
            if self._outputs_reach_outside is None:
                self._outputs_reach_outside = self.reaches_outside(self.outputs)
            create_graph = is_grad_enabled() and (
                self._outputs_reach_outside or self.reaches_outside([c for _, c in pairs]))
        grads = [None] * len(self.inputs)
        if pairs:
            with enable_grad():
                grads = engine.grad([output for output, _ in pairs], self.inputs,
                                    [cotangent for _, cotangent in pairs], retain_graph=True,
                                    create_graph=create_graph, allow_unused=True)
        return [zeros_like(x) if g is None else g for g, x in zip(grads, self.inputs)]

    def lifted(self, tree):
        """``tree`` with every tensor detached unless it reaches outside (as
        ``torch.func`` unwraps its results); other leaves as they are."""
        leaves, structure = _tree_flatten(tree)
        leaves = [leaf.detach() if isinstance(leaf, Tensor) and leaf.requires_grad
                  and not self.reaches_outside([leaf]) else leaf for leaf in leaves]
        return _tree_unflatten(leaves, structure)


# --- grad and grad_and_value ---


def grad_and_value(func, argnums=0, has_aux: bool = False):
    """A function that returns ``(∇f, f)``: the gradient of ``func`` with respect to the
    arguments at ``argnums``, and its value, as ``torch.func.grad_and_value``.

    ``func`` must return a 0-d tensor (with ``has_aux``: a pair ``(output, aux)``,
    and the result is ``(∇f, (f, aux))``). The gradient has the structure of the
    differentiated argument (a dict of parameters gives a dict of gradients); with a
    tuple ``argnums``, a tuple of them. Keyword arguments go to ``func`` undifferentiated.
    """

    def wrapper(*args, **kwargs):
        """(∇f(args), f(args))."""
        call = _Call(func, args, kwargs, argnums, has_aux, "grad_and_value(f)(*args)")
        if not isinstance(call.output, Tensor):
            raise RuntimeError("grad_and_value(f)(*args): expected f(*args) to return a "
                               f"Tensor, got {type(call.output).__name__}")
        if call.output.ndim != 0:
            raise RuntimeError("grad_and_value(f)(*args): expected f(*args) to return a scalar "
                               f"Tensor, got tensor with {call.output.ndim} dims (shape "
                               f"{call.output.shape}). Maybe you wanted to use the vjp or "
                               "jacrev APIs instead?")
        grads = call.pullback([ones_like(call.output)])
        gradient = call.lifted(_tree_unflatten(grads, call.input_structure))
        value = call.lifted(call.output)
        if has_aux:
            return gradient, (value, call.lifted(call.aux))
        return gradient, value

    return wrapper


def grad(func, argnums=0, has_aux: bool = False):
    """A function that returns ``∇f``: the gradient of ``func`` (which returns a 0-d
    tensor) with respect to the arguments at ``argnums``, as ``torch.func.grad``.

        grad(lambda x: (x ** 3).sum())(x)     = 3x²
        grad(grad(lambda x: x * x.sin()))(x)  = 2cos x − x·sin x   (x 0-d)

    ``argnums`` is an int or a tuple of ints (then the result is a tuple); an argument
    may be a pytree of tensors (a dict of parameters). ``has_aux``: ``func`` returns
    ``(output, aux)`` and the result is ``(∇f, aux)``. The arguments' own
    ``requires_grad`` and ``.grad`` are left as they were. See ``grad_and_value``.
    """
    with_value = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        """∇f(args) (and aux)."""
        gradient, value = with_value(*args, **kwargs)
        if has_aux:
            return gradient, value[1]
        return gradient

    return wrapper


# --- vjp and jvp ---


def vjp(func, *primals, has_aux: bool = False):
    """``(func(*primals), vjp_fn)``, as ``torch.func.vjp``: ``vjp_fn(cotangents)``
    gives uᵀ·J for u = ``cotangents`` (the structure of the output), one backward
    pass per call, as a tuple with one entry per primal (of that primal's structure):

        (uᵀ·J)_j = Σ_k u_kᵀ · ∂out_k/∂primal_j

    ``vjp_fn`` can be called many times. ``has_aux``: ``func`` returns
    ``(output, aux)`` and this returns ``(output, vjp_fn, aux)``.
    """
    call = _Call(func, primals, {}, None, has_aux, "vjp(f, *primals)")
    for leaf in call.outputs:
        if not backend.is_floating(leaf.dtype):
            raise RuntimeError(f"vjp(f, ...): all outputs of f must be floating-point "
                               f"Tensors, got Tensor with dtype {leaf.dtype}")

    def vjp_fn(cotangents, retain_graph: bool = True, create_graph=None):
        """uᵀ·J for u = ``cotangents``, one entry per primal. ``retain_graph`` is
        accepted (the graph is always kept, so vjp_fn can run again). ``create_graph``:
        False records nothing; None or True records the pass where the result is
        differentiated again (it is detached anywhere else, so nothing is lost)."""
        leaves, structure = _tree_flatten(cotangents)
        if structure != call.output_structure:
            raise RuntimeError("vjp_fn: expected the pytree structure of cotangents to be "
                               "the same as that of the outputs of the function. "
                               f"cotangents: {_describe(structure)}, primal output: "
                               f"{_describe(call.output_structure)}")
        for index, (leaf, output) in enumerate(zip(leaves, call.outputs)):
            if not isinstance(leaf, Tensor) or leaf.shape != output.shape:
                got = leaf.shape if isinstance(leaf, Tensor) else type(leaf).__name__
                raise RuntimeError(f"vjp_fn: cotangent {index} is {got} but output {index} "
                                   f"has shape {output.shape}")
        if create_graph is False:
            with no_grad():
                grads = call.pullback(leaves)
        else:
            grads = call.pullback(leaves)
        return call.lifted(_tree_unflatten(grads, call.input_structure))

    output = call.lifted(call.output)
    if has_aux:
        return output, vjp_fn, call.lifted(call.aux)
    return output, vjp_fn


def jvp(func, primals, tangents, *, strict: bool = False, has_aux: bool = False):
    """``(func(*primals), J·v)`` for v = ``tangents`` (the structure of ``primals``), as
    ``torch.func.jvp``, by the double-vjp trick (reverse mode only, exact):

        g(u) = Jᵀ·u              a backward pass with cotangent u, recorded
        J·v  = ∂(g(u) · v)/∂u    a backward pass through it (g is linear in u: u = 0)

    ``primals`` must be a tuple (``func(*primals)`` is called). An output that does not
    depend on the primals gets zeros, and so does an integer one (``strict=True``: an
    error). ``has_aux``: ``func``
    returns ``(output, aux)`` and this returns ``(output, jvp_out, aux)``.
    """
    api = "jvp(f, primals, tangents)"
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{api}: expected primals to be a tuple. E.g. it should be valid "
                           "to call f(*primals).")
    primal_leaves, primal_structure = _tree_flatten(primals)
    tangent_leaves, tangent_structure = _tree_flatten(tangents)
    if primal_structure != tangent_structure:
        raise RuntimeError(f"{api}: expected primals and tangents to have the same python "
                           f"structure, got primals {_describe(primal_structure)} and "
                           f"tangents {_describe(tangent_structure)}")
    for index, (primal, tangent) in enumerate(zip(primal_leaves, tangent_leaves)):
        if not isinstance(tangent, Tensor) or not isinstance(primal, Tensor) or \
                tangent.shape != primal.shape:
            raise RuntimeError(f"{api}: tangent {index} must be a Tensor of its primal's shape "
                               f"{getattr(primal, 'shape', None)}, got "
                               f"{getattr(tangent, 'shape', type(tangent).__name__)}")
        if not backend.is_floating(tangent.dtype):
            raise ValueError(f"{api}: tangent {index} must be floating point (as a tangent "
                             f"is a direction), got dtype {tangent.dtype}")
    if not primal_leaves:
        raise RuntimeError(f"{api}: expected primals to contain at least one Tensor, got "
                           f"{_describe(primal_structure)}")
    linear = _Linearized(func, primals, has_aux, api)
    products = linear.products(tangent_leaves)
    if strict and any(product is None for product in products):
        raise RuntimeError(f"{api.replace(')', ', strict=True)')}: the output of f is "
                           "independent of the inputs. This is not allowed with strict=True.")
    call = linear.call
    output = call.lifted(call.output)
    jvp_out = call.lifted(linear.tangents_out(products))
    if has_aux:
        return output, jvp_out, call.lifted(call.aux)
    return output, jvp_out


class _Linearized:
    """``func`` run once at the primals, its graph kept, and the pullback recorded as a
    function of a cotangent u (the double-vjp trick's first pass):

        g(u) = Jᵀ·u          recorded in u (zeros: g is linear, so any u gives the same)

    after which each J·v = ∂(g(u)·v)/∂u is one backward pass through g, without
    running ``func`` again: ``jvp`` does it once, ``linearize``'s jvp_fn per call.
    """

    def __init__(self, func, primals: tuple, has_aux: bool, api: str):
        self.call = call = _Call(func, primals, {}, None, has_aux, api)
        with enable_grad():
            # an integer output has no tangent (zeros, as PyTorch's): it gets no direction u
            self.u = [zeros_like(output).requires_grad_(True)
                      if backend.is_floating(output.dtype) else None
                      for output in call.outputs]
            call.inside |= {id(direction) for direction in self.u if direction is not None}
            self.g = call.pullback(self.u, create_graph=True)        # Jᵀ·u, recorded in u

    def products(self, tangent_leaves: list) -> list:
        """J·v for v = ``tangent_leaves`` (one per primal leaf), one entry per output:
        None where the output does not depend on the primals (or is an integer)."""
        call, u = self.call, self.u
        g_used = [(gradient, tangent) for gradient, tangent in zip(self.g, tangent_leaves)
                  if gradient.requires_grad]
        create_graph = is_grad_enabled() and call.reaches_outside(
            [gradient for gradient, _ in g_used] + list(tangent_leaves))
        products = [None] * len(u)
        directions = [direction for direction in u if direction is not None]
        if g_used and directions:
            with enable_grad():
                found = iter(engine.grad([gradient for gradient, _ in g_used], directions,
                                         [tangent.astype(gradient.dtype)
                                          for gradient, tangent in g_used],
                                         retain_graph=True, create_graph=create_graph,
                                         allow_unused=True))        # ∂(g(u)·v)/∂u = J·v
                products = [None if direction is None else next(found) for direction in u]
        return products

    def tangents_out(self, products: list):
        """The products in the output's structure, zeros for an output without one."""
        products = [zeros_like(output) if product is None else product
                    for product, output in zip(products, self.call.outputs)]
        return _tree_unflatten(products, self.call.output_structure)


def linearize(func, *primals):
    """``(func(*primals), jvp_fn)``, as ``torch.func.linearize``: ``jvp_fn(*tangents)``
    gives the JVP of ``func`` at the primals, the linear map v ↦ J·v

        jvp_fn(*v) = J·v = Σ_j ∂out/∂primal_j · v_j      (as jvp(func, primals, v)[1])

    ``func`` runs ONCE, here: its graph and the recorded pullback g(u) = Jᵀ·u are kept
    (see ``_Linearized``), and each ``jvp_fn`` call is one backward pass through g
    (PyTorch traces ``func`` into a graph and replays it). Keeping that graph costs
    memory: when all the tangents are known, ``jvp`` needs less.

    ``tangents`` must have the structure of ``primals``, and each tangent its
    primal's shape, dtype and device. An output that does not depend on the primals
    gets zeros, as in ``jvp``.
    """
    api = "linearize(func, *primals)"
    primal_leaves, primal_structure = _tree_flatten(primals)
    for index, primal in enumerate(primal_leaves):
        if not isinstance(primal, Tensor):
            raise RuntimeError(f"{api}: primals must contain only Tensors, got "
                               f"{type(primal).__name__} at position {index} of the "
                               "flattened primals")
    if not primal_leaves:
        raise RuntimeError(f"{api}: expected primals to contain at least one Tensor, got "
                           f"{_describe(primal_structure)}")
    linear = _Linearized(func, primals, False, api)
    call = linear.call
    metadata = [(primal.shape, primal.dtype, primal.device) for primal in primal_leaves]

    def jvp_fn(*tangents):
        """J·v for v = ``tangents`` (the structure of the primals), in the structure of
        func's output."""
        tangent_leaves, tangent_structure = _tree_flatten(tangents)
        if tangent_structure != primal_structure:
            raise RuntimeError(f"jvp_fn: Expected the tangents {_describe(tangent_structure)} "
                               "to have the same argspec as the primals "
                               f"{_describe(primal_structure)}")
        for index, (tangent, (shape, dtype, device)) in enumerate(zip(tangent_leaves,
                                                                       metadata)):
            if not isinstance(tangent, Tensor):
                raise RuntimeError(f"jvp_fn: tangent:{index} in flattened pytree is a "
                                   f"{type(tangent).__name__}, not a Tensor")
            for what, got, expected in (("shape", tangent.shape, shape),
                                        ("device", tangent.device, device),
                                        ("dtype", tangent.dtype, dtype)):
                if got != expected:
                    raise RuntimeError(f"jvp_fn: tangent:{index} with {what} {got} in "
                                       f"flattened pytree doesn't match the {what} "
                                       f"{expected} of the corresponding primal.")
        return call.lifted(linear.tangents_out(linear.products(tangent_leaves)))

    return call.lifted(call.output), jvp_fn


# --- whole Jacobians ---


def jacrev(func, argnums=0, *, has_aux: bool = False, chunk_size=None):
    """A function that returns the Jacobian of ``func`` with respect to the arguments at
    ``argnums``, by reverse mode, as ``torch.func.jacrev``:

        J[k] = ∂out/∂x,  of shape out.shape + x.shape,   row k (entry k of out) = e_kᵀ·J

    one backward pass per output entry (``chunk_size`` is accepted and changes
    nothing: the rows are always computed one by one). For several outputs (a tuple,
    a dict) the result has the outputs' structure; each entry has the structure of
    the differentiated argument (a tuple of them for a tuple ``argnums``).
    ``has_aux``: the result is ``(jacobian, aux)``.
    """
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")
    return _jacobian(func, argnums, has_aux, "jacrev")


def _jacobian(func, argnums, has_aux: bool, api: str):
    """jacrev (``api='jacrev'``) or jacfwd (``'jacfwd'``), both by rows. They differ
    only in dtypes, as PyTorch's: a cotangent flows back, so jacrev's block
    ∂out/∂x has x's dtype (and an integer output is an error); a tangent flows
    forward, so jacfwd's block has out's dtype (an integer output: zeros)."""

    def wrapper(*args, **kwargs):
        """∂func/∂args[argnums]."""
        call = _Call(func, args, kwargs, argnums, has_aux, api)
        forward = api == "jacfwd"
        per_output = []
        for index, output in enumerate(call.outputs):
            if not backend.is_floating(output.dtype) and not forward:
                raise RuntimeError(f"{api}: output {index} of f has dtype {output.dtype}; "
                                   "only floating-point outputs can be differentiated")
            rows = [[] for _ in call.inputs]  # rows[j][k] = ∂out[k]/∂x_j
            if backend.is_floating(output.dtype):
                for cotangent in _unit_vectors(output):
                    cotangents = [None] * len(call.outputs)
                    cotangents[index] = cotangent
                    for j, row in enumerate(call.pullback(cotangents)):
                        rows[j].append(row)
            blocks = [stack(rows[j]).reshape(output.shape + x.shape) if rows[j]
                      else _zeros(output.shape + x.shape, output if forward else x)
                      for j, x in enumerate(call.inputs)]
            if forward:
                blocks = [block.astype(output.dtype) for block in blocks]
            per_output.append(_tree_unflatten(blocks, call.input_structure))
        jacobian = call.lifted(_tree_unflatten(per_output, call.output_structure))
        if has_aux:
            return jacobian, call.lifted(call.aux)
        return jacobian

    return wrapper


def _unit_vectors(output: Tensor):
    """e_0, e_1, ...: one tensor of ``output``'s shape per entry, 1 there and 0 elsewhere."""
    size = output.data.size
    if size == 0:
        return
    identity = eye(size, dtype=output.dtype, device=output.device)
    for k in range(size):
        yield identity[k].reshape(output.shape)


def _zeros(shape: tuple, like: Tensor) -> Tensor:
    return zeros(shape, dtype=like.dtype, device=like.device)


def jacfwd(func, argnums=0, has_aux: bool = False, *, randomness: str = "error"):
    """The Jacobian of ``func`` with respect to the arguments at ``argnums``, as
    ``torch.func.jacfwd``, with the same values and structure as ``jacrev``.

    This IS ``jacrev``'s algorithm: one backward pass per output entry, where
    PyTorch's jacfwd makes one forward-mode pass per input entry (this engine's
    forward mode, ``autograd.forward_ad``, gets each op's tangent from its backward,
    so it would only be slower). ``func`` runs once, so 'same' and 'different'
    ``randomness`` give the same result (PyTorch's 'different' would draw anew for each
    column); 'error' (the default) raises at a random draw in ``func``, as PyTorch's
    vmap over the tangents does. Each block has the output's dtype, as PyTorch's
    (jacrev's has the input's).
    """
    _check_randomness(randomness)
    jacobian = _jacobian(func, argnums, has_aux, "jacfwd")
    if randomness != "error":
        return jacobian

    @functools.wraps(jacobian)
    def checked(*args, **kwargs):
        with _no_draws("vmap"):
            return jacobian(*args, **kwargs)
    return checked


def hessian(func, argnums=0):
    """The Hessian of a ``func`` that returns a 0-d tensor, as ``torch.func.hessian``:

        H = ∂²f/∂x²,  of shape x.shape + x.shape,   H = jacfwd(jacrev(f))

    the Jacobian of the gradient (here two reverse passes nested: see ``jacfwd``).
    With a tuple ``argnums``, ``H[i][j] = ∂²f/∂x_i∂x_j``.
    """
    return jacfwd(jacrev(func, argnums), argnums)


# --- vmap: a loop over the mapped dim ---


def _check_randomness(randomness: str) -> None:
    if randomness not in ("error", "different", "same"):
        raise ValueError("Only allowed values for randomness are 'error', 'different', or "
                         f"'same'. Got {randomness!r}")


@contextmanager
def _no_draws(api: str):
    """randomness='error': the block must draw no random number: neither through the
    backend's samplers (``backend.randomness.draws`` counts their calls, on any device)
    nor from the host generator directly (its state would move)."""
    from tinygrad_opt.backend import randomness
    before = randomness.draws, backend.host_rng().bit_generator.state
    yield
    if (randomness.draws, backend.host_rng().bit_generator.state) != before:
        raise RuntimeError(
            f"{api}: called random operation while in randomness error mode. Please either "
            f"use the 'same' or 'different' randomness flags on {api} or perform the "
            f"randomness operation out of {api}")


class _SameDraws:
    """``randomness='same'``: every sample draws the same random numbers. The host
    generator's state is taken before the first sample and put back before each one
    (on ``cuda``, CuPy's generator is reseeded with one seed drawn here), so each call
    of ``func`` replays the first one's draws; afterwards the generators are where one
    call left them."""

    def __init__(self):
        self.host_state = backend.host_rng().bit_generator.state
        self.cuda_seed = None
        if backend.cuda_available():
            self.cuda_seed = int(backend.host_rng().integers(2**62))

    @contextmanager
    def replayed(self):
        """The generators as they were before the first sample."""
        backend.host_rng().bit_generator.state = self.host_state
        if self.cuda_seed is not None:
            backend.get_xp("cuda").random.seed(self.cuda_seed)
        yield


def vmap(func, in_dims=0, out_dims=0, randomness: str = "error", *, chunk_size=None):
    """``func`` mapped over a dim of its inputs, as ``torch.func.vmap``:

        vmap(f)(xs) = stack([f(xs[0]), f(xs[1]), ...])      along out_dims

    THIS IS A LOOP: ``func`` runs once per sample and the results are stacked, so it is
    correct (every transform and op composes with it: ``vmap(grad(f))`` gives
    per-sample gradients) but not fast; PyTorch's vmap runs ``func`` once on batched
    tensors. ``chunk_size`` is accepted and changes nothing.

    ``in_dims``: the dim to map over in every input (an int), or a tuple with one entry
    per argument: an int, None (not mapped: passed whole to every call) or a structure
    matching that argument (``({'x': 0, 'y': None},)``). Keyword arguments are not mapped.
    ``out_dims``: where the mapped dim goes in each output (an int or one per output).
    ``func`` returns a tensor or a tuple/list/dict of them (nested). An output with
    out_dim None is returned as it is (once), and may be any Python value; a tensor
    there must not be computed from the mapped inputs (PyTorch: it must not be a
    BatchedTensor), which is found in the autograd graph (see ``_Traced``).

    ``randomness``: 'different': each sample draws its own random numbers (the loop
    does so anyway); 'same': every sample draws the same ones (the generator is
    rewound before each, see ``_SameDraws``); 'error' (the default): a random draw
    inside ``func`` raises PyTorch's RuntimeError (``_no_draws``).
    """
    _check_randomness(randomness)
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("vmap: chunk_size should be None or greater than 0.")

    def wrapped(*args, **kwargs):
        """func mapped over the in_dims of args, the results stacked along out_dims."""
        name = _name(func)
        leaves, structure, dims, size = _mapped_inputs(name, in_dims, args)
        same_draws = _SameDraws() if randomness == "same" else None
        # out_dims=None somewhere: find which outputs are computed from the samples
        traced = _Traced(leaves, dims) if _has_none(out_dims) and is_grad_enabled() else None
        results = []
        for i in range(size):
            sample = traced.sample(i) if traced else \
                [leaf if dim is None else _select(leaf, dim, i) for leaf, dim in zip(leaves, dims)]
            with same_draws.replayed() if same_draws else \
                    _no_draws("vmap") if randomness == "error" else nullcontext():
                results.append(func(*_tree_unflatten(sample, structure), **kwargs))
        return _stacked(name, results, out_dims, traced)

    return wrapped


def _mapped_inputs(name: str, in_dims, args: tuple):
    """(the flat args, their structure, the flat in_dims made non-negative, the batch
    size), every in_dim checked."""
    head = f"vmap({name}, in_dims={in_dims}, ...)(<inputs>)"
    if isinstance(in_dims, bool) or not isinstance(in_dims, (int, tuple)):
        raise ValueError(f"{head}: expected `in_dims` to be int or a (potentially nested) "
                         f"tuple matching the structure of inputs, got: "
                         f"{type(in_dims).__name__}.")
    if not args:
        raise ValueError(f"vmap({name})(<inputs>): got no inputs. Maybe you forgot to add "
                         "inputs, or you are trying to vmap over a function with no inputs. "
                         "The latter is unsupported.")
    leaves, structure = _tree_flatten(args)
    dims = _broadcast_to_leaves(in_dims, structure)
    if dims is None:
        in_dims_count = len(in_dims) if isinstance(in_dims, tuple) else 1
        raise ValueError(f"{head}: in_dims is not compatible with the structure of `inputs`. "
                         f"in_dims has {in_dims_count} entries for {len(args)} arguments "
                         f"(in_dims {in_dims}, inputs {_describe(structure)}).")
    for index, (leaf, dim) in enumerate(zip(leaves, dims)):
        if dim is None:
            continue
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise ValueError(f"{head}: got in_dim={dim!r} for an input but in_dim must be "
                             "either an integer dimension or None.")
        if not isinstance(leaf, Tensor):
            raise ValueError(f"{head}: got in_dim={dim} for an input but the input is of type "
                             f"{type(leaf).__name__}. We cannot vmap over non-Tensor "
                             "arguments, please use None as the respective in_dim")
        if not -leaf.ndim <= dim < leaf.ndim:
            raise ValueError(f"{head}: got in_dim={dim} for some input, but that input is a "
                             f"Tensor of dimensionality {leaf.ndim} so expected in_dim to "
                             f"satisfy -{leaf.ndim} <= in_dim < {leaf.ndim}.")
        dims[index] = dim % leaf.ndim
    sizes = [leaf.shape[dim] for leaf, dim in zip(leaves, dims) if dim is not None]
    if not sizes:
        raise ValueError(f"vmap({name}): expected at least one Tensor to vmap over "
                         f"(in_dims={in_dims} maps none)")
    if any(size != sizes[0] for size in sizes):
        raise ValueError(f"vmap({name}): expected all tensors to have the same size in the "
                         f"mapped dimension, got sizes {sizes} for the mapped dimension")
    if sizes[0] == 0:
        raise ValueError(f"vmap({name}): the mapped dimension has size 0; this vmap is a "
                         "loop over the samples and needs at least one")
    return leaves, structure, dims, sizes[0]


def _select(x: Tensor, dim: int, index: int) -> Tensor:
    """x[:, ..., :, index] with ``index`` at ``dim``: one sample (the dim removed)."""
    return x[(slice(None),) * dim + (index,)]


def _stacked(name: str, results: list, out_dims, traced=None):
    """The per-sample results stacked: each output leaf along its out_dim (None: the
    output as it is, checked to be unmapped)."""
    leaves, structure = _tree_flatten(results[0])
    if isinstance(results[0], Tensor) and isinstance(out_dims, tuple) and len(out_dims) == 1:
        out_dims = out_dims[0]  # (0,) for a single output, as PyTorch allows
    dims = _broadcast_to_leaves(out_dims, structure)
    if dims is None or any(isinstance(dim, bool) for dim in dims):
        raise ValueError(f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is not "
                         "compatible with the structure of `outputs` (an int or None per "
                         f"output expected; outputs {_describe(structure)})")
    for leaf, dim in zip(leaves, dims):
        if dim is not None and leaf is not None and not isinstance(leaf, Tensor):
            raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type "
                             f"{type(leaf).__name__} as a return. Did you mean to set "
                             "out_dims= to None for this output?")
    per_sample = []
    for result in results:
        sample_leaves, sample_structure = _tree_flatten(result)
        if sample_structure != structure:
            raise ValueError(f"vmap({name}): the samples returned different structures: "
                             f"{_describe(structure)} and {_describe(sample_structure)}")
        per_sample.append(sample_leaves)
    stacked = []
    for j, (leaf, dim) in enumerate(zip(leaves, dims)):
        if dim is None or leaf is None:  # not mapped (None: no tensor, as PyTorch's pytree)
            stacked.append(_unmapped(name, [sample[j] for sample in per_sample], j, traced))
            continue
        if not -(leaf.ndim + 1) <= dim <= leaf.ndim:
            raise ValueError(f"vmap({name}, ..., out_dims={out_dims}): out_dim {dim} is out of "
                             f"range for an output of {leaf.ndim} dims (with the mapped dim: "
                             f"{leaf.ndim + 1})")
        mapped = stack([sample[j] for sample in per_sample], dim=dim)
        stacked.append(traced.untraced(mapped) if traced else mapped)
    return _tree_unflatten(stacked, structure)


def _unmapped(name: str, values: list, index: int, traced=None):
    """out_dims=None: the output as the first sample returned it; a tensor must not be
    computed from the mapped inputs (in the graph, where ``traced`` follows it; an
    integer one, or one made under no_grad, leaves no graph: then it must at least be
    the same for every sample)."""
    first = values[0]
    if not isinstance(first, Tensor):
        return first
    mapped = traced is not None and any(traced.reaches_samples(value) for value in values)
    for value in values[1:]:
        if mapped:
            break
        mapped = value is not first and not (isinstance(value, Tensor) and
                                             value.shape == first.shape and equal(value, first))
    if mapped:
        raise ValueError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor when "
                         f"out_dim is None: output {index} is computed from the mapped inputs "
                         "(or differs between samples); out_dims=None is only for outputs "
                         "that do not depend on them")
    return first


def _has_none(out_dims) -> bool:
    """Whether an out_dims tree has a None in it."""
    leaves, _ = _tree_flatten(out_dims)
    return any(leaf is None for leaf in leaves)


class _Seen(Function):
    """y = x, the same memory, recorded: a mapped input as ``_Traced`` shows it to func.
    dy/dx = 1."""

    def forward(self, x: "Array") -> "Array":
        return x

    def backward(self, grad_output: "Grad") -> "Grads":
        return grad_output


class _Traced:
    """The samples of one vmap call, made so that the autograd graph tells which
    outputs were computed from them (PyTorch's BatchedTensors, which out_dims=None
    refuses): an output depends on a sample exactly when its graph reaches it.

    A mapped input that requires grad is already recorded. Any other floating one is
    shown to func through a probe: ``_Seen`` of a new leaf that requires grad (the
    same memory, so an in-place write in func still reaches the caller's tensor; not a
    leaf itself, so such a write is allowed, except into an input that is itself a
    view, which the engine then refuses), and the samples are its slices. The
    probes' part of the graph is cut off the results again (``untraced``); func sees
    its inputs ``requires_grad`` (a nested grad then records its pass: slower, the
    same values). Integer inputs cannot be recorded, nor anything under no_grad: an
    output made from them alone is judged by its values (``_unmapped``).
    """

    def __init__(self, leaves: list, dims: list):
        self.probes = set()  # ids of the new leaves
        self.samples = []    # every sample given to func (kept: their ids are marks)
        self.marks = set()
        self.leaves, self.dims = [], dims
        for leaf, dim in zip(leaves, dims):
            if dim is not None and not leaf.requires_grad and backend.is_floating(leaf.dtype):
                probe = leaf.detach().requires_grad_(True)
                self.probes.add(id(probe))
                leaf = _Seen.apply(probe)
            self.leaves.append(leaf)

    def sample(self, index: int) -> list:
        """The flat arguments of sample ``index``."""
        sample = [leaf if dim is None else _select(leaf, dim, index)
                  for leaf, dim in zip(self.leaves, self.dims)]
        for value, dim in zip(sample, self.dims):
            if dim is not None:
                self.samples.append(value)
                self.marks.add(id(value))
        return sample

    def _graph(self, tensor: Tensor) -> tuple[bool, bool]:
        """(whether the graph of ``tensor`` reaches a sample, whether it reaches a leaf
        that requires grad other than the probes)."""
        reaches_sample = reaches_leaf = False
        roots, seen = [tensor], set()
        while roots:
            current = roots.pop()
            if id(current) in seen or not current.requires_grad:
                continue
            seen.add(id(current))
            reaches_sample = reaches_sample or id(current) in self.marks
            function = current.grad_fn
            if function is None:
                reaches_leaf = reaches_leaf or id(current) not in self.probes
                continue
            roots.extend(getattr(function, "inputs", ()))  # (a freed graph: none left)
        return reaches_sample, reaches_leaf

    def reaches_samples(self, tensor) -> bool:
        return isinstance(tensor, Tensor) and self._graph(tensor)[0]

    def untraced(self, tensor: Tensor) -> Tensor:
        """``tensor`` detached when its graph leads only to the probes (it would not
        require grad without them)."""
        if tensor.requires_grad and not self._graph(tensor)[1]:
            return tensor.detach()
        return tensor
