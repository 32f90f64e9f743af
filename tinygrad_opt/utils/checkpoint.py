"""Gradient checkpointing: ``tg.utils.checkpoint.checkpoint``, as ``torch.utils.checkpoint``.

A plain forward keeps every intermediate a backward formula needs (the graph holds
them) until backward frees it. ``y = checkpoint(block, x)`` keeps only the block's
inputs: the block becomes ONE op of the graph, ``Checkpoint``, and its backward
runs the block a second time, now recording, and backpropagates through that
recomputation. Memory of the block's intermediates is traded for a second forward.

How the gradients find their way (the design):

1. Forward runs ``block(*args)`` once, recording, and walks the little graph it made
   from the output down to where the block starts: the tensor arguments, and the
   leaves that require grad (parameters the block captured from a Module, which are
   not arguments). Those are the block's *inputs*. The recorded graph is then
   dropped: ``Checkpoint.apply(*inputs)`` wraps the output's array, and the only
   node the outer graph keeps is the Checkpoint op, whose inputs are these tensors.
   (Recording costs one block's intermediates for the time of one block, the
   memory a checkpointed backward needs anyway.)
2. The engine therefore routes gradients as for any op: Checkpoint's backward
   returns one gradient per input, the engine adds them into the parameters'
   ``.grad`` (``backward``) or hands them out (``tg.grad``), as PyTorch's
   non-reentrant checkpoint does.
3. ``Checkpoint.backward`` recomputes the block with the random state of the
   forward (dropout draws the same mask), on *stand-ins* of the tensor arguments
   (``x`` reshaped to its own shape: a new node above ``x``), and runs the
   engine's loop (``engine.run_backward``) from the recomputed output down to the
   stand-ins and the inputs, never below them: what lies below belongs to the
   outer graph, which the outer engine runs itself. The gradient of each input is
   what reached it (and its stand-in).
4. The same backward runs in both modes, as every op's: in a plain backward the
   inner pass works on arrays; under ``create_graph=True`` it records, and the
   gradients it returns hang on the recomputed graph, which hangs on the inputs
   (through the stand-ins): Hessian-vector products go through a checkpoint.

A non-leaf tensor that the block captures instead of taking it as an argument is
differentiated through by the inner pass, down to the block's inputs below it
(correct, but that part of the outer graph is walked by every checkpoint): pass
such tensors as arguments.
"""

from __future__ import annotations

import weakref
from contextlib import contextmanager, nullcontext
from typing import Callable

from tinygrad_opt import backend
from tinygrad_opt.autograd import engine
from tinygrad_opt.autograd.function import Function
from tinygrad_opt.autograd.grad_mode import enable_grad, flags
from tinygrad_opt.ops import shape as shape_ops
from tinygrad_opt.tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential"]


def checkpoint(function: Callable, *args, use_reentrant: bool | None = None,
               preserve_rng_state: bool = True, determinism_check: str = "default",
               context_fn=None, debug: bool = False, **kwargs):
    """``function(*args, **kwargs)``, keeping only its inputs for backward, which
    runs ``function`` again (recording) and backpropagates through the recomputation.

    Gradients equal those of the plain call, for the tensor arguments and for every
    tensor the function reads that requires grad (the parameters of a Module it
    calls). ``function`` returns a Tensor, or a tuple or list of values (the
    Tensors among them that require grad must share one dtype and device; each may
    be backpropagated on its own, one backward apiece, as in PyTorch).

    Args:
        preserve_rng_state: replay the forward's random draws in the recomputation
            (the same dropout masks), leaving the generator as it was afterwards.
        determinism_check: ``'default'`` checks that the recomputation gives outputs
            of the forward's shapes through as many ops; ``'none'`` skips the check.
        use_reentrant: accepted for PyTorch's signature; both values give this one
            mechanism, which works with ``backward``, ``tg.grad`` and ``create_graph``.
        context_fn, debug: PyTorch's; not supported (an error unless left out).

    Under ``no_grad`` it is ``function(*args, **kwargs)``. The function runs twice
    (and any state it changes, as BatchNorm's running statistics, changes twice).
    """
    if context_fn is not None or debug:
        raise NotImplementedError("checkpoint: context_fn and debug are not supported")
    if determinism_check not in ("default", "none"):
        raise ValueError(f"checkpoint: determinism_check must be 'default' or 'none', "
                         f"got {determinism_check!r}")
    if not flags.grad:
        return function(*args, **kwargs)
    arguments = [value for value in (*args, *kwargs.values()) if isinstance(value, Tensor)]
    random = _RandomSources(arguments) if preserve_rng_state else None
    with random.forked() if random is not None else nullcontext():
        outputs = function(*args, **kwargs)
    layout = _Layout(outputs)
    packed = layout.pack(outputs)
    if packed is None:  # nothing in the outputs requires grad: no op to record
        return outputs
    stops = {id(x): x for x in arguments}
    order = engine.topological_order([packed], stops)
    reads = [x for x in order if id(x) in stops or x.grad_fn is None]  # the block's inputs
    inputs = list({id(x): x for x in arguments + reads}.values())
    block = _Block(function, args, kwargs, arguments, random, layout,
                   ops=len(order) - len(reads), check=determinism_check == "default")
    packed = Checkpoint.apply(*inputs, output=packed.data, block=block)
    return layout.unpacked(packed, outputs)


def checkpoint_sequential(functions, segments: int, input: Tensor,
                          use_reentrant: bool | None = None, **kwargs):
    """Run ``functions`` (a list of callables or an ``nn.Sequential``) one after the other
    on ``input``, in ``segments`` pieces of ``len(functions) // segments`` functions, each
    piece but the last checkpointed (as PyTorch; the last runs plainly, since its
    intermediates are needed at once). ``preserve_rng_state`` may be given."""
    preserve_rng_state = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("checkpoint_sequential: unexpected keyword arguments: "
                         + ", ".join(kwargs))
    functions = list(functions)
    if not 1 <= segments <= len(functions):
        raise ValueError(f"checkpoint_sequential: segments must be in 1..{len(functions)} "
                         f"(the number of functions), got {segments}")

    def run(start: int, end: int) -> Callable:
        def forward(x):
            for function in functions[start:end]:
                x = function(x)
            return x
        return forward

    size = len(functions) // segments
    end = 0
    for start in range(0, size * (segments - 1), size):
        end = start + size
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve_rng_state)
    return run(end, len(functions))(input)


class Checkpoint(Function):
    """y = block(inputs), recomputed in backward.

    dL/dinput = what a backward from y (with dL/dy) through the recomputed block
    gives that input: the chain rule run over the block's ops a second time.
    """

    def forward(self, *arrays: "Array", output: "Array", block: "_Block") -> "Array":
        self.block = block
        return output  # computed by ``checkpoint``, whose graph is gone

    pieces = ()  # weak references to the ops that cut each output from a packed tuple

    def backward(self, grad_output: "Grad") -> "Grads":
        for i in range(len(self.inputs)):
            self.saved_input(i)  # raises if input i was written in place since forward
        return self.block.gradients(self.inputs, grad_output)

    def release(self) -> None:
        """Freed once the path of every output that needs gradients has been (the op
        that cuts it out is freed, or gone): as in PyTorch, where each output has a
        graph of its own, a backward from one output of a tuple leaves the others'."""
        if all(piece() is None or piece().freed for piece in self.pieces):
            super().release()


class _Block:
    """What Checkpoint keeps of the block: the function, its arguments, the random
    state, the layout of the outputs, and the number of ops it recorded."""

    def __init__(self, function, args, kwargs, arguments, random, layout, ops, check):
        self.function, self.args, self.kwargs = function, args, kwargs
        self.arguments = arguments
        self.random, self.layout, self.ops, self.check = random, layout, ops, check

    def gradients(self, inputs, grad_output) -> tuple:
        """One gradient per input (None where none reached it), by backprop through a
        recomputation; recorded when the outer backward is (``create_graph``)."""
        create_graph = flags.grad
        with enable_grad(), self.random.replayed() if self.random else nullcontext():
            stand_ins = {id(x): shape_ops.Reshape.apply(x, shape=x.shape)
                         for x in self.arguments if x.requires_grad}
            args = [stand_ins.get(id(value), value) if isinstance(value, Tensor) else value
                    for value in self.args]
            kwargs = {name: stand_ins.get(id(value), value) if isinstance(value, Tensor)
                      else value for name, value in self.kwargs.items()}
            packed = self.layout.pack(self.function(*args, **kwargs))
        stops = {id(x): x for x in (*stand_ins.values(), *inputs) if x.requires_grad}
        order = engine.topological_order([packed], stops)
        if self.check:
            self._check_same_ops(order, stops)
        received = {}

        def receive(tensor, grad) -> bool:
            """Keep the gradient of an input (or stand-in); stop there and at leaves."""
            if id(tensor) in stops:
                received[id(tensor)] = grad
                return True
            return tensor.grad_fn is None

        with _hooks_paused(inputs):  # the outer engine runs the inputs' hooks, once
            engine.run_backward(order, [packed], [grad_output], receive, retain_graph=True,
                                create_graph=create_graph)
        grads = []
        for x in inputs:
            parts = [received.get(id(x))]
            if id(x) in stand_ins:
                parts.append(received.get(id(stand_ins[id(x)])))
            parts = [part for part in parts if part is not None]
            grads.append(parts[0] + parts[1] if len(parts) == 2 else
                         parts[0] if parts else None)
        return tuple(grads)

    def _check_same_ops(self, order, stops) -> None:
        ops = sum(1 for x in order if id(x) not in stops and x.grad_fn is not None)
        if ops != self.ops:
            raise RuntimeError(
                f"checkpoint: the recomputation in backward recorded {ops} ops where the "
                f"forward recorded {self.ops}: the function must compute the same thing from "
                "the same inputs (pass determinism_check='none' to skip this check)")


class _Layout:
    """Where the Tensors that need gradients sit in what the function returned.
    ``pack`` gives them as one Tensor: that Tensor itself, or (a tuple or list) all of
    them flattened and joined, so that one op carries them and one recomputation
    serves them all. (It keeps no Tensor: the forward's graph must be freed.)"""

    def __init__(self, outputs):
        self.single = isinstance(outputs, Tensor)
        self.positions = self._positions(outputs)
        tensors = [outputs] if self.single else [outputs[i] for i in self.positions]
        self.shapes = [x.shape for x in tensors] if self.positions else []

    def _positions(self, outputs) -> list:
        if self.single:
            return [None] if outputs.requires_grad else []
        if isinstance(outputs, (tuple, list)):
            return [i for i, value in enumerate(outputs)
                    if isinstance(value, Tensor) and value.requires_grad]
        raise TypeError(f"checkpoint: the function returned a {type(outputs).__name__}; "
                        "return a Tensor, or a tuple or list of values")

    def pack(self, outputs) -> Tensor | None:
        """The packed Tensor of ``outputs`` (the forward's, or the recomputation's), or
        None when none of them requires grad."""
        if self._positions(outputs) != self.positions:
            raise RuntimeError("checkpoint: the recomputation returned other outputs than "
                               "the forward (which of them require grad differs)")
        if not self.positions:
            return None
        tensors = [outputs] if self.single else [outputs[i] for i in self.positions]
        if [x.shape for x in tensors] != self.shapes:
            raise RuntimeError(f"checkpoint: the recomputation returned shapes "
                               f"{[x.shape for x in tensors]}, the forward {self.shapes}")
        if self.single:
            return outputs
        if len({(x.dtype, x.device) for x in tensors}) > 1:
            raise TypeError("checkpoint: the outputs that require grad must share one dtype "
                            "and device, got " + ", ".join(f"{x.dtype} on '{x.device}'"
                                                           for x in tensors))
        return shape_ops.cat([shape_ops.reshape(x, (-1,)) for x in tensors], 0)  # (Σ sizes,)

    def unpacked(self, packed: Tensor, outputs):
        """The function's outputs, each Tensor that needs gradients cut from ``packed``."""
        if self.single:
            return packed
        values, pieces = list(outputs), []
        start = 0
        for position, output_shape in zip(self.positions, self.shapes):
            size = values[position].data.size
            piece = packed[start:start + size]
            pieces.append(weakref.ref(piece.grad_fn))
            values[position] = shape_ops.reshape(piece, output_shape)
            start += size
        packed.grad_fn.pieces = pieces  # (Checkpoint.release: freed after the last)
        if hasattr(outputs, "_fields"):  # a named tuple
            return type(outputs)(*values)
        return type(outputs)(values)


@contextmanager
def _hooks_paused(tensors):
    """The tensors without their gradient hooks for a while (the inner pass must not run
    them: the outer engine runs them on each input's total gradient)."""
    saved = [(x, x._hooks) for x in tensors]
    for x in tensors:
        x._hooks = None
    try:
        yield
    finally:
        for x, hooks in saved:
            x._hooks = hooks


class _RandomSources:
    """``preserve_rng_state``: the random state at the forward, replayed in backward.

    The host generator (cpu and strict draw from it) is saved here and set back for
    the recomputation, then restored: the draws after the checkpoint are those of a
    plain run. CuPy's generator state cannot be read, so on 'cuda' the block draws
    from a generator of its own, seeded from the host generator, in both runs.
    """

    def __init__(self, tensors: list):
        self.host_state = backend.host_rng().bit_generator.state
        self.cuda_seed = None
        if any(x.device == "cuda" for x in tensors):
            self.cuda_seed = int(backend.host_rng().integers(2**62))

    def forked(self):
        """The forward's random sources: the host's as they are, CuPy's of the block."""
        return _cuda_generator(self.cuda_seed)

    @contextmanager
    def replayed(self):
        """The random state of the forward, for the recomputation; then back to now."""
        bit_generator = backend.host_rng().bit_generator
        now = bit_generator.state
        bit_generator.state = self.host_state
        try:
            with _cuda_generator(self.cuda_seed):
                yield
        finally:
            bit_generator.state = now


@contextmanager
def _cuda_generator(seed):
    """CuPy's global generator replaced by one seeded with ``seed`` (None: unchanged)."""
    if seed is None:
        yield
        return
    random = backend.get_xp("cuda").random
    outer = random.get_random_state()
    random.set_random_state(random.RandomState(seed))
    try:
        yield
    finally:
        random.set_random_state(outer)
