"""PyTorch's custom ``Function`` style: ``ctx``, and static ``forward``/``backward`` on Tensors.

A PyTorch user writes a custom op as::

    class Exp(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):                 # Tensors in, Tensors out (nothing recorded)
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad_output):     # one gradient (or None) per forward argument
            (y,) = ctx.saved_tensors
            return grad_output * y          # y = exp(x)   dy/dx = y

    y = Exp.apply(x)

PyTorch's other spelling works too: ``forward(*args)`` without ``ctx``, and a static
``setup_context(ctx, inputs, output)`` that fills ``ctx`` from the arguments (the tuple
``inputs``) and forward's output.

``Function`` here is the core's ``Function`` (function.py) with an ``apply`` that tells
the two styles apart: a subclass whose ``forward`` is a ``staticmethod`` is written in
PyTorch's style; any other subclass is an op written the project's way, and ``apply``
is the core's, unchanged.

How a ctx-style call becomes part of the graph (the design):

1. ``forward(ctx, *args)`` runs with grad mode off, on the arguments as given, so the
   Tensor ops it uses record nothing: the whole function is ONE op of the graph.
2. That op is ``FunctionBackward``, a core ``Function`` whose inputs are the Tensor
   arguments: the core records it as any op (versions of the inputs, ``retain_graph``,
   hooks, shape checks of the gradients), and the engine routes the gradients.
   Its ``forward`` returns the output already computed; its ``backward`` hands the
   output gradients to the user's ``backward(ctx, *grads)`` as Tensors and gives back
   one gradient per Tensor argument (arrays in a plain backward, Tensors under
   ``create_graph=True``, where the user's backward is recorded: a backward written
   with differentiable Tensor ops can be differentiated again).
3. Several outputs: a core op has one output, so the outputs that carry gradients are
   packed, flattened and joined, into that one output, and cut back out of it by
   recorded slices and reshapes (as utils/checkpoint.py does). The gradient that
   reaches the op is then the gradients of all outputs side by side, and the user's
   backward is called once with all of them, as in PyTorch. Outputs that carry no
   gradient (integers, those passed to ``ctx.mark_non_differentiable``, non-Tensors)
   stay out of the pack and are returned as computed; their gradient is zeros
   (``ctx.set_materialize_grads(True)``, the default) or None. So is, with several
   outputs, the gradient of one that the backward pass does not reach (a hook on each
   output notes which the pass reached; unreached, its slice of the op's gradient is
   zeros, which ``set_materialize_grads(False)`` turns into None, as PyTorch's).
   Outputs of several float dtypes are packed in the widest and cast back on the way out.
4. Saved tensors: an output saved in forward is replaced by the recorded output (so a
   double backward differentiates through it), and every saved tensor is checked
   against its version at the end of forward: a write in place since then raises the
   core's error, naming the op and the shape.
5. In place (``ctx.mark_dirty(x)``, forward changed x and returns it): x is rebound to
   the op as by ``x[...] = y`` (ops/indexing.py: setitem), y the op's output, so x stays
   the same Tensor, its ``grad_fn`` the write's, and ops that used x before the call
   send their gradients to the old x.
6. Forward mode (``autograd.forward_ad``): with a static ``jvp(ctx, *tangents)`` the
   outputs' tangents are what it returns, as in PyTorch (forward's own ops carry none).
   Without one, they are carried by forward's own Tensor ops (or, for a recorded call,
   derived from backward); an output left without a tangent raises PyTorch's "you must
   implement the jvp function".
"""

from __future__ import annotations

import functools
import inspect
import weakref

from tinygrad_opt import backend
from tinygrad_opt.autograd import engine, forward_ad, graph
from tinygrad_opt.autograd import function as core
from tinygrad_opt.autograd.grad_mode import flags, no_grad
from tinygrad_opt.ops import shape as shape_ops
from tinygrad_opt.tensor import Tensor

__all__ = ["Function", "FunctionCtx", "once_differentiable"]


class FunctionCtx:
    """The ``ctx`` of a PyTorch-style Function: what forward leaves for backward.

    Besides the methods below it takes any attribute (``ctx.k = 3``).
    ``needs_input_grad`` holds, per forward argument, whether a gradient is wanted
    for it (False for non-Tensor arguments and under ``no_grad``).
    """

    def __init__(self, function: type, name: str, needs_input_grad: tuple):
        self._function = function  # the user's Function subclass
        self.needs_input_grad = needs_input_grad
        self.materialize_grads = True
        self._name = name
        self._saved = ()
        self._versions = None      # of the saved tensors, once forward is over
        self._node = None          # weak reference to the recorded op
        self._non_differentiable = set()  # ids of outputs marked non-differentiable
        self._dirty = ()           # the arguments forward changed in place (mark_dirty)
        self._unpack = None        # the unpack hook, when the saved tensors were packed

    def save_for_backward(self, *tensors) -> None:
        """Keep ``tensors`` (Tensors or None) for backward: ``ctx.saved_tensors``."""
        for tensor in tensors:
            if tensor is not None and not isinstance(tensor, Tensor):
                raise TypeError(f"{self._name}: save_for_backward takes Tensors or None, "
                                f"got a {type(tensor).__name__}")
        self._saved = tensors

    @property
    def saved_tensors(self) -> tuple:
        """The saved tensors, checked to be unchanged since forward; under
        ``autograd.graph.saved_tensors_hooks``, ``unpack_hook(packed)`` of each (no version
        check then, as PyTorch's: the hook may hand back another tensor)."""
        if self._saved is None:
            raise RuntimeError(
                f"Trying to backward through the graph a second time: the saved tensors of "
                f"{self._name} were freed by the first backward. Pass retain_graph=True to "
                "the first backward if you need to backward twice.")
        if self._unpack is not None:
            return tuple(None if packed is None else self._unpacked(packed)
                         for packed in self._saved)
        if self._versions is not None:
            for i, (tensor, version) in enumerate(zip(self._saved, self._versions)):
                if tensor is not None and tensor._versions[0] != version:
                    self._node()._modified(tensor, version, f"saved tensor {i}")
        return tuple(self._saved)

    def _pack(self, hooks) -> None:
        """At the end of a recorded forward: keep ``pack_hook(t)`` for each saved t, and
        (weakly) t itself where it requires grad: its place in the graph."""
        if hooks is None:
            return
        pack_hook, self._unpack = hooks
        self._saved = tuple(None if x is None else
                            (pack_hook(x), weakref.ref(x) if x.requires_grad else None)
                            for x in self._saved)

    def _unpacked(self, packed) -> Tensor:
        """``unpack_hook``'s Tensor; in a recorded backward (``create_graph=True``) put
        back in the saved tensor's place in the graph, as PyTorch's unpacked tensors are,
        so that a double backward differentiates through it."""
        value, original = packed
        tensor = self._unpack(value)
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{self._name}: the unpack hook of saved_tensors_hooks returned "
                            f"a {type(tensor).__name__}; it must return a Tensor")
        original = original and original()
        if original is None or not flags.grad:
            return tensor
        if (tensor.shape, tensor.dtype, tensor.device) != \
                (original.shape, original.dtype, original.device):
            raise RuntimeError(
                f"{self._name}: the unpack hook of saved_tensors_hooks returned a "
                f"{tensor.dtype} tensor of shape {tensor.shape} on '{tensor.device}' for a "
                f"saved {original.dtype} tensor of shape {original.shape} on "
                f"'{original.device}'")
        return _Unpacked.apply(original, values=tensor.data)

    def mark_non_differentiable(self, *outputs) -> None:
        """These outputs of forward get no gradient (indices, masks): they are returned
        with ``requires_grad=False`` and backward sees zeros (or None) for them."""
        self._non_differentiable.update(id(output) for output in outputs)

    def set_materialize_grads(self, value: bool) -> None:
        """True (the default): an output without a gradient reaches backward as zeros;
        False: as None."""
        self.materialize_grads = value

    def mark_dirty(self, *tensors) -> None:
        """These arguments were changed in place by forward, which must return them.
        Each comes back as the same Tensor, now the output of this op (its old self is
        the op's input), as after ``x[...] = v``."""
        for tensor in tensors:
            if not isinstance(tensor, Tensor):
                raise TypeError(f"{self._name}: mark_dirty takes Tensors, got a "
                                f"{type(tensor).__name__}")
        self._dirty = tensors


class Function(core.Function):
    """``tg.autograd.Function``: a custom op, written PyTorch's way or the project's.

    PyTorch's way: static ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)``
    on Tensors (see this module's docstring). The project's way: ``forward(self,
    *arrays)`` and ``backward(self, grad_output)`` on arrays (function.py).
    ``Cls.apply(*args)`` runs either.
    """

    @staticmethod
    def setup_context(ctx: FunctionCtx, inputs: tuple, output) -> None:
        """Override it (a staticmethod) to write ``forward(*args)`` without ``ctx``:
        ``apply`` then calls ``setup_context(ctx, args, forward's output)``."""
        raise NotImplementedError("setup_context is not overridden")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run the op and, in grad mode, record it: ``forward(ctx, *args, **kwargs)`` (or
        ``forward(*args, **kwargs)`` then ``setup_context(ctx, args, output)``) for a
        subclass in PyTorch's style, the core's ``apply`` otherwise."""
        if not isinstance(inspect.getattr_static(cls, "forward"), staticmethod):
            return super().apply(*args, **kwargs)
        args, kwargs = _bound(cls, args, kwargs)
        tangents = forward_ad._argument_tangents(args)  # None: forward mode is not involved
        if tangents is not None and _has_jvp(cls):
            with forward_ad._carrying_paused():  # one op: forward's own ops carry no tangents
                outputs, ctx = cls._recorded_call(args, kwargs)
            return _with_tangents(cls, ctx, args, tangents, outputs)
        outputs, ctx = cls._recorded_call(args, kwargs)
        if tangents is not None:  # (carried by forward's own ops, or by backward's)
            _check_tangents_carried(cls, ctx, outputs)
        return outputs

    @classmethod
    def _recorded_call(cls, args: tuple, kwargs: dict) -> tuple:
        """(forward's outputs, recorded as one op where a gradient is wanted; the ctx)."""
        name = cls.__name__ + "Backward"
        needs_input_grad = tuple(isinstance(value, Tensor) and value.requires_grad
                                 and flags.grad for value in args)
        ctx = FunctionCtx(cls, name, needs_input_grad)
        versions = [value._version if isinstance(value, Tensor) else None for value in args]
        with no_grad():
            if inspect.getattr_static(cls, "setup_context") is not _BASE_SETUP_CONTEXT:
                outputs = cls.forward(*args, **kwargs)   # PyTorch's setup_context style
                cls.setup_context(ctx, args, outputs)
            else:
                outputs = cls.forward(ctx, *args, **kwargs)
        layout = _Layout(outputs, ctx)
        dirty = _dirty_positions(outputs, ctx, args)
        if not any(needs_input_grad) or not layout.positions:
            return outputs, ctx  # nothing to record (or nothing that carries a gradient)
        rebound = [position for position in layout.positions if position in dirty]
        _check_rebindable(outputs, rebound, ctx)
        inputs = [value for value in args if isinstance(value, Tensor)]
        tensor_arguments = tuple(isinstance(value, Tensor) for value in args)
        output = layout.pack(outputs)
        dirty_input = _dirty_input(outputs, rebound, layout, inputs)
        if dirty_input is not None:  # x itself becomes the op's output, its old self the input
            inputs[0] = _old_self(dirty_input)
        elif rebound and len(layout.positions) == 1:
            output = output.copy()  # its own memory: the argument's is written again below
        packed = FunctionBackward.apply(*inputs, output=output, ctx=ctx,
                                        name=name, layout=layout,
                                        tensor_arguments=tensor_arguments)
        if dirty_input is not None:
            version = next(v for value, v in zip(args, versions) if value is dirty_input)
            _rebind(dirty_input, packed.grad_fn, version)
            recorded = outputs
        else:
            recorded = layout.unpacked(packed, outputs, ctx)
        if rebound and dirty_input is None:  # each changed argument becomes the op's output:
            # x[...] = y rebinds x (a recorded SetItem: several outputs, or x a view)
            values = [recorded] if layout.single else list(recorded)
            for position in rebound:
                argument = outputs if layout.single else outputs[position]
                argument[...] = values[position]  # (the op's input x is now x as it was)
                values[position] = argument
            recorded = values[0] if layout.single else tuple(values)
        ctx._node = weakref.ref(packed.grad_fn)
        ctx._saved = layout.recorded(ctx._saved, outputs, recorded)
        ctx._versions = [None if x is None else x._versions[0] for x in ctx._saved]
        ctx._pack(graph.current_hooks())
        return recorded, ctx

    @classmethod
    def vjp(cls, ctx, *grad_outputs):
        """PyTorch's alias of ``backward``."""
        return cls.backward(ctx, *grad_outputs)


_BASE_SETUP_CONTEXT = inspect.getattr_static(Function, "setup_context")


def _dirty_positions(outputs, ctx: FunctionCtx, args: tuple) -> set:
    """The positions of forward's outputs that are arguments passed to ``ctx.mark_dirty``.
    As PyTorch, every argument marked dirty must be returned (its new value is an output);
    a marked Tensor that is no argument is an ordinary output."""
    values = (outputs,) if not isinstance(outputs, tuple) else outputs
    positions = set()
    for tensor in ctx._dirty:
        if not any(tensor is value for value in args):
            continue
        found = [i for i, value in enumerate(values) if value is tensor]
        if not found:
            raise RuntimeError(
                f"{ctx._name}: some elements marked as dirty during the forward method were "
                "not returned as output. The inputs that are modified inplace must all be "
                f"outputs of the Function (an argument of shape {tensor.shape} was not)")
        positions.update(found)
    return positions


def _check_rebindable(outputs, rebound: list, ctx: FunctionCtx) -> None:
    """PyTorch's refusals for a recorded in-place Function: a leaf that requires grad
    cannot become an op's output, and a view written in place (its write reaches its
    base's graph) must be the only output."""
    values = (outputs,) if not isinstance(outputs, tuple) else outputs
    for position in rebound:
        tensor = values[position]
        if tensor.requires_grad and tensor.grad_fn is None:
            raise RuntimeError(
                f"{ctx._name}: a leaf Variable that requires grad has been used in an "
                f"in-place operation (ctx.mark_dirty of a leaf of shape {tensor.shape}); "
                "pass x.clone(), or call the Function inside tg.no_grad()")
        if getattr(tensor, "_base", None) is not None and len(values) > 1:
            raise RuntimeError(
                f"{ctx._name}: if your Function modifies inplace an input that is a view of "
                "another Tensor, your Function cannot return more than one Tensor (it "
                f"returned {len(values)} outputs); clone() the input first")


def _dirty_input(outputs, rebound: list, layout: "_Layout", inputs: list):
    """The argument marked dirty that can become the op's output itself, as PyTorch's
    rebase_history makes it (grad_fn: this op's node; no write beyond forward's own):
    the one output that carries a gradient, the first Tensor argument (an op that used
    it before the call is sent, through the node's input 0, to its old self), passed
    once and no view. None otherwise: it is then rebound by ``x[...] = y``."""
    if len(rebound) != 1 or len(layout.positions) != 1:
        return None
    x = outputs if layout.single else outputs[rebound[0]]
    if inputs[0] is not x or sum(value is x for value in inputs) != 1 or \
            getattr(x, "_base", None) is not None:
        return None
    return x


def _old_self(x: Tensor) -> Tensor:
    """x as it was before forward changed it: it takes over x's place in the graph
    (ops that used x before the call lead to it), at x's current version: the memory
    is the same, so an op that saved the old value refuses to backward."""
    before = Tensor._make(x.data, x.requires_grad)
    before.grad_fn, before._version = x.grad_fn, x._version
    if x.grad_fn is not None:
        x.grad_fn.output_ref = weakref.ref(before)
    return before


def _rebind(x: Tensor, node, version: int) -> None:
    """Make x the output of ``node`` (as indexing.setitem does for SetItem): ops that
    used x up to ``version`` (its version before forward) used its old self, and the
    write counts as one recorded write, which views of x taken before it see."""
    if x._version == version:  # forward wrote x.data directly: no version was taken,
        x._version += 1       # but an op that used x before must tell the two apart
    x.grad_fn, x.requires_grad = node, True
    node.output_ref = weakref.ref(x)
    node.rewired_version = version
    x._versions.append(version)
    engine.rewirings += 1


def _bound(cls, args: tuple, kwargs: dict) -> tuple:
    """(args, kwargs) for forward, the arguments passed by keyword moved to their place in
    ``args`` and the defaults filled in, as PyTorch's ``apply`` binds them for a
    ``setup_context`` Function (its ``inputs`` then hold every argument of forward). So a
    Tensor passed by keyword is an input like any other (``needs_input_grad``, a gradient
    from backward) instead of silently getting none. Only keyword-only arguments stay in
    kwargs. Without kwargs or setup_context, ``args`` stay as given."""
    setup = inspect.getattr_static(cls, "setup_context") is not _BASE_SETUP_CONTEXT
    if not kwargs and not setup:
        return args, kwargs
    ctx = () if setup else (None,)  # (the ctx-style forward's first parameter)
    bound = inspect.signature(cls.forward).bind(*ctx, *args, **kwargs)
    bound.apply_defaults()
    return bound.args[len(ctx):], bound.kwargs


def _with_tangents(cls, ctx: FunctionCtx, args: tuple, tangents: list, outputs):
    """Forward mode through a PyTorch-style Function, as PyTorch: the outputs' tangents are
    the user's ``jvp(ctx, *ẋ)`` (ẋ_i: the tangent of argument i; zeros for a Tensor without
    one, None under ``set_materialize_grads(False)`` and for a non-Tensor or an integer
    Tensor), one per output.
    An output that is an argument returned as it is becomes a view of it (its own tangent)."""
    grad_inputs = [_zeros_like(x) if tangent is None and ctx.materialize_grads
                   and isinstance(x, Tensor) and backend.is_floating(x.dtype) else tangent
                   for x, tangent in zip(args, tangents)]
    with forward_ad._carrying_paused():
        grad_outputs = cls.jvp(ctx, *grad_inputs)
    single = not isinstance(outputs, tuple)
    values = [outputs] if single else list(outputs)
    grad_outputs = grad_outputs if isinstance(grad_outputs, tuple) else (grad_outputs,)
    if len(grad_outputs) != len(values):
        raise RuntimeError(f"Function's jvp returned an invalid number of forward gradients "
                           f"(expected {len(values)} but got {len(grad_outputs)})")
    for position, (value, grad) in enumerate(zip(values, grad_outputs)):
        differentiable = (isinstance(value, Tensor) and backend.is_floating(value.dtype)
                          and id(value) not in ctx._non_differentiable)
        if grad is None:
            continue
        if not differentiable:
            raise RuntimeError(f"Function's jvp returned a gradient at position {position}, but "
                               "the corresponding forward output is not a differentiable "
                               "Tensor. You should return None at that position instead.")
        if any(value is x for x in args):
            with no_grad(), forward_ad._carrying_paused():
                values[position] = value = shape_ops.Reshape.apply(value, shape=value.shape)
        forward_ad._give_tangent(value, grad, cls.__name__ + ".jvp")
    return values[0] if single else tuple(values)


def _has_jvp(cls) -> bool:
    return isinstance(inspect.getattr_static(cls, "jvp", None), staticmethod)


def _check_tangents_carried(cls, ctx: FunctionCtx, outputs) -> None:
    """Without a ``jvp``, the tangents come from forward's own Tensor ops (or, for a
    recorded call, from backward by the double-vjp trick). A differentiable output left
    without one (forward went through NumPy, say) raises, as PyTorch does for any
    Function without ``jvp``, instead of silently dropping the tangent."""
    for value in outputs if isinstance(outputs, tuple) else (outputs,):
        if (isinstance(value, Tensor) and backend.is_floating(value.dtype)
                and id(value) not in ctx._non_differentiable
                and forward_ad._tangent_of(value) is None):
            raise NotImplementedError(
                f"{cls.__name__}: you must implement the jvp function for custom "
                "autograd.Function to use it with forward mode AD (a staticmethod "
                "jvp(ctx, *tangents) returning one tangent per output): the tangent of an "
                f"output of shape {value.shape} could not be carried through forward")


def _zeros_like(x: Tensor) -> Tensor:
    return Tensor._make(backend.xp_of(x.data).zeros_like(x.data))


def _users_backward(cls):
    """A PyTorch-style Function's ``backward`` (or ``vjp``, its alias) as the user wrote it;
    a class that wrote neither is refused with PyTorch's words."""
    if isinstance(inspect.getattr_static(cls, "backward"), staticmethod):
        return cls.backward
    if isinstance(inspect.getattr_static(cls, "vjp"), staticmethod):
        return cls.vjp
    raise NotImplementedError(
        f"{cls.__name__}: you must implement either the backward or the vjp method of a "
        "custom autograd.Function to use it in backward mode (a staticmethod "
        "backward(ctx, *grad_outputs))")


class _Unpacked(core.Function):
    """An unpacked saved tensor in its original's place: the values the unpack hook
    gave, the gradient passed to the original unchanged (d values / d original = I)."""

    def forward(self, original: "Array", values=None) -> "Array":
        return values

    def backward(self, grad_output: "Grad") -> "Grads":
        return grad_output


class FunctionBackward(core.Function):
    """The node of a PyTorch-style Function: one op whose inputs are its Tensor arguments.

    y = the outputs forward computed (joined into one when there are several)
    dL/dx_i = the user's ``backward(ctx, *dL/dy)``, entry i, for each Tensor argument x_i
    """

    def forward(self, *arrays: "Array", output: "Array", ctx: FunctionCtx, name: str,
                layout: "_Layout", tensor_arguments: tuple) -> "Array":
        self.ctx, self.layout, self.tensor_arguments = ctx, layout, tensor_arguments
        self._name = name  # the user's class name + "Backward", as PyTorch names the node
        if any(output is array for array in arrays):  # forward returned an argument as is:
            output = output[...]                      # a view of it, sharing its version
        return output

    def backward(self, grad_output: "Grad") -> "Grads":
        recorded = flags.grad  # create_graph: Tensors in and out, and the user's ops record
        grad_output = grad_output if recorded else Tensor._make(grad_output)
        output_grads = self.layout.output_grads(grad_output, self.ctx)  # one per output
        grads = _users_backward(self.ctx._function)(self.ctx, *output_grads)
        grads = grads if isinstance(grads, tuple) else (grads,)
        count = len(self.ctx.needs_input_grad)
        if len(grads) != count and not (len(grads) > count and
                                        all(grad is None for grad in grads[count:])):
            raise RuntimeError(f"function {self.name} returned an incorrect number of "
                               f"gradients (expected {count}, got {len(grads)})")
        tensor_grads = []
        for position, grad in enumerate(grads[:count]):
            if not self.tensor_arguments[position]:
                if grad is not None:  # (PyTorch's check and words; position from 1)
                    raise RuntimeError(
                        f"function {self.name} returned a gradient different than None at "
                        f"position {position + 1}, but the corresponding forward input was "
                        "not a Variable")
                continue
            if grad is not None and not isinstance(grad, Tensor):
                raise RuntimeError(f"function {self.name} returned a {type(grad).__name__} "
                                   f"as gradient {position}; expected a Tensor or None")
            if grad is not None and self.needs_input_grad[len(tensor_grads)]:
                grad = self._fitted(len(tensor_grads), grad if recorded else grad.data)
            tensor_grads.append(grad)
        return tuple(tensor_grads)

    def _fitted(self, index: int, grad):
        """The gradient of Tensor input ``index`` made to fit it, as PyTorch's engine does
        for a custom Function: summed back to the input's shape where that shape broadcasts
        to the gradient's, cast to the input's dtype. Any other shape raises PyTorch's
        error, naming the function."""
        data = self.inputs[index].data
        if grad.shape != data.shape:
            try:
                fits = backend.broadcast_shapes(data.shape, grad.shape) == tuple(grad.shape)
            except ValueError:
                fits = False
            if not fits:
                raise RuntimeError(
                    f"Function {self.name} returned an invalid gradient at index {index} - "
                    f"got {list(grad.shape)} but expected shape compatible with "
                    f"{list(data.shape)}")
            grad = shape_ops.sum_to_shape(grad, data.shape)
        return grad if grad.dtype == data.dtype else grad.astype(data.dtype)

    @property
    def name(self) -> str:
        """The name error messages give the op: ``ExpBackward`` for a Function ``Exp``."""
        return self._name

    def __getattr__(self, attribute: str):
        """What the node lacks, its ctx has: PyTorch's node IS the ctx, so
        ``y.grad_fn.saved_tensors`` and the attributes forward set (``y.grad_fn.k``) read
        the ctx's (``needs_input_grad`` stays the node's: one per Tensor input)."""
        ctx = self.__dict__.get("ctx")  # (not self.ctx: that would come back here)
        if ctx is None or attribute.startswith("__"):
            raise AttributeError(f"'{type(self).__name__}' object has no attribute "
                                 f"'{attribute}'")
        return getattr(ctx, attribute)

    def release(self) -> None:
        """After backward without retain_graph: drop the saved tensors too (keep the name,
        and the ctx: its ``saved_tensors`` then raise PyTorch's error)."""
        name, ctx = self._name, self.ctx
        ctx._saved = None
        super().release()
        self._name, self.ctx = name, ctx


class _Layout:
    """Where the outputs of forward sit: which carry a gradient (``positions``, packed
    into the op's one output), the shapes and dtypes of all, and which forward arguments
    were Tensors. (It keeps no Tensor of forward.)"""

    def __init__(self, outputs, ctx: FunctionCtx):
        self.single = not isinstance(outputs, tuple)
        values = (outputs,) if self.single else outputs
        self.kinds = []  # per output: (shape, dtype, device) of a Tensor, None otherwise
        self.positions = []
        for position, value in enumerate(values):
            if not isinstance(value, Tensor):
                self.kinds.append(None)
                continue
            self.kinds.append((value.data.shape, value.data.dtype, value.device))
            if backend.is_floating(value.data.dtype) and id(value) not in ctx._non_differentiable:
                self.positions.append(position)
        self.reached = set()  # positions a backward pass reached (materialize_grads off)
        carried = [self.kinds[position] for position in self.positions]
        if len({device for _, _, device in carried}) > 1:
            raise TypeError(f"{ctx._name}: the outputs that carry gradients must be on one "
                            "device, got " + ", ".join(
                                f"{dtype} on '{device}'" for _, dtype, device in carried))
        # outputs of several dtypes (float32 and float64) are packed in the widest, which
        # holds each exactly, and cut back out in their own
        dtypes = [dtype for _, dtype, _ in carried]
        self.dtype = backend.result_dtype(*dtypes) if dtypes else None

    def pack(self, outputs) -> "Array":
        """The op's one output: the output that carries a gradient, or all of them
        flattened and joined (Σ sizes,)."""
        values = (outputs,) if self.single else outputs
        if len(self.positions) == 1:
            return values[self.positions[0]].data
        arrays = [values[position].data.reshape(-1).astype(self.dtype, copy=False)
                  for position in self.positions]
        return backend.xp_of(arrays[0]).concatenate(arrays)

    def _pieces(self, packed) -> list:
        """``packed`` (an array or a Tensor) cut back into the outputs that carry gradients,
        each in its output's dtype (a recorded cast, so its gradient returns in the pack's)."""
        if len(self.positions) == 1:
            return [packed]
        pieces = []
        start = 0
        for position in self.positions:
            shape = self.kinds[position][0]
            size = 1
            for side in shape:
                size *= side
            piece = packed[start:start + size].reshape(shape)
            dtype = self.kinds[position][1]
            pieces.append(piece if piece.dtype == dtype else piece.astype(dtype))
            start += size
        return pieces

    def unpacked(self, packed: Tensor, outputs, ctx: FunctionCtx):
        """What apply returns: forward's outputs, those carrying gradients cut (recorded)
        from the op's output. Several are cloned: as in PyTorch each has its own memory and
        version, so a write in place to one does not flag another saved for backward.
        Without materialize_grads, each of several notes (a hook) that a pass reached it."""
        values = [outputs] if self.single else list(outputs)
        pieces = self._pieces(packed)
        for position, piece in zip(self.positions, pieces):
            values[position] = piece.clone() if len(pieces) > 1 else piece
            if len(pieces) > 1 and not ctx.materialize_grads:
                values[position].register_hook(functools.partial(self._reach, position))
        if self.single:
            return values[0]
        return tuple(values)

    def recorded(self, saved, outputs, recorded) -> tuple:
        """The saved tensors, forward's outputs among them replaced by the recorded ones."""
        values = (outputs,) if self.single else outputs
        recorded = (recorded,) if self.single else recorded
        replace = {id(value): new for value, new in zip(values, recorded)}
        return tuple(replace.get(id(x), x) for x in saved)

    def _reach(self, position: int, grad) -> None:
        self.reached.add(position)

    def output_grads(self, grad_output, ctx: FunctionCtx) -> list:
        """One gradient per output of forward, for the user's backward: the pieces of
        the op's gradient, and zeros (or None) for the outputs that carry none or, of
        several, that this pass did not reach."""
        grads = [None] * len(self.kinds)
        reached, self.reached = self.reached, set()  # (the next pass notes its own)
        for position, piece in zip(self.positions, self._pieces(grad_output)):
            if ctx.materialize_grads or len(self.positions) == 1 or position in reached:
                grads[position] = piece
        if ctx.materialize_grads:
            for position, kind in enumerate(self.kinds):
                if grads[position] is None and kind is not None:
                    shape, dtype, device = kind
                    zeros = backend.get_xp(device).zeros(shape, dtype=dtype)  # (output's)
                    grads[position] = Tensor._make(zeros)
        return grads


def once_differentiable(backward):
    """Decorate a ctx-style ``backward`` that is not written to be differentiated again:
    it runs without recording, and a second derivative through its gradients raises."""

    @functools.wraps(backward)
    def wrapper(ctx, *grad_outputs):
        with no_grad():
            grads = backward(ctx, *grad_outputs)
        if not flags.grad:
            return grads
        wanted = [grad for grad in grad_outputs if isinstance(grad, Tensor) and grad.requires_grad]
        if not wanted:
            return grads
        single = not isinstance(grads, tuple)
        grads = [grads] if single else list(grads)
        for i, grad in enumerate(grads):
            if isinstance(grad, Tensor):
                grads[i] = OnceDifferentiable.apply(grad, *wanted)
        return grads[0] if single else tuple(grads)

    return wrapper


class OnceDifferentiable(core.Function):
    """y = g (a gradient from a ``@once_differentiable`` backward), in the graph of the
    output gradients g came from; differentiating it raises."""

    def forward(self, grad: "Array", *grad_outputs: "Array") -> "Array":
        return grad

    def backward(self, grad_output: "Grad") -> "Grads":
        raise RuntimeError("trying to differentiate twice a function that was marked with "
                           "@once_differentiable")
