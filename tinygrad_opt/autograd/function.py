"""``Function``: one primitive op, with its backward right under its forward.

Calling ``Mul.apply(a, b)`` on Tensors does three things:

1. runs ``forward`` on the inputs' arrays (``a.data * b.data``);
2. wraps the result in a new Tensor;
3. if grad mode is on, some input requires grad and the result is a floating-point
   array, records the op in the graph: the new tensor's ``grad_fn`` is this
   Function object, which keeps its ``inputs`` (to walk the graph backward) and
   the inputs' versions. (An integer or bool result, ``x.long()``, carries no
   gradient, as in PyTorch: rounding's derivative is 0 almost everywhere.)

``backward`` receives the gradient of the loss with respect to the output and
returns one gradient per input (None where no gradient is needed). It is ONE
formula that runs in two modes, and the engine picks the mode:

* a plain ``loss.backward()``: nothing is recorded, so ``grad_output``,
  ``self.saved_inputs`` and ``self.saved_output`` are backend arrays and the
  formula runs as plain NumPy/CuPy calls;
* ``create_graph=True`` (Hessians, Newton's method): they are Tensors, and the
  same formula records a graph that can be differentiated again.

So a backward uses only what arrays and Tensors share: the operators, methods
such as ``.sum(axis=..., keepdims=...)`` and ``.reshape``, and the functions of
``self.xp`` (NumPy's names: ``xp.exp``, ``xp.where``, ...). A backward that
needs another op calls ``Op.apply`` on what it has: on arrays ``apply`` is
just that op's ``forward``.

Saved values are checked: an in-place write to an input or the output after
forward bumps its version (``Tensor._version``), and reading it in backward
then raises, as PyTorch does, instead of giving a silently wrong gradient.

Signatures read ``forward(self, x: "Array") -> "Array"`` and
``backward(self, grad_output: "Grad") -> "Grads"``: an Array is a backend
array (NumPy/CuPy), a Grad is an Array in a plain backward and a Tensor under
``create_graph=True``, and "Grads" is one Grad, or a tuple with one Grad (or
None) per input. They are names for the reader, defined below as ``object``.

The op refers to its output only weakly: the output holds the op (its
``grad_fn``), not the other way round, so no reference cycle keeps arrays alive.
"""

from __future__ import annotations

import weakref

from tinygrad_opt import backend
from tinygrad_opt.autograd import anomaly, engine, graph
from tinygrad_opt.autograd.grad_mode import flags

import tinygrad_opt.tensor as tensor_module  # Function.apply makes Tensors

Array = Grad = Grads = object  # the names of the signatures' hints (see above)


class Function(graph.Node):
    """Base class of every primitive op. Subclasses define forward and backward.
    (A ``graph.Node`` too: ``y.grad_fn.next_functions`` walks the graph as in PyTorch.)

    ``forward`` may keep on ``self`` what ``backward`` needs (options such as
    ``dim``, shapes); ``backward`` reads the inputs from ``self.saved_inputs``
    and the output from ``self.saved_output``.
    """

    freed = False  # becomes True once backward has run without retain_graph
    trace = None   # where the op was created (only recorded under detect_anomaly)
    rewired_version = -1  # SetItem: the version of x that ``x[i] = v`` overwrote

    def forward(self, *arrays):
        """Compute the output array from the input arrays."""
        raise NotImplementedError

    def backward(self, grad_output):
        """Return the gradient for each input, given the output's gradient."""
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **options):
        """Run the op on Tensors and, in grad mode, record it in the graph.
        On arrays (inside a plain backward) it only runs ``forward``."""
        function = cls()
        if not isinstance(inputs[0], tensor_module.Tensor):
            return function.forward(*inputs, **options)
        if engine.rewirings and flags.grad:  # some x[i] = v was recorded: views it left
            engine.remake_stale_views(inputs)  # behind are made again from their tensor
        arrays, needs_input_grad, versions = [], [], []
        for x in inputs:  # one pass: the arrays forward needs, and what the graph records
            arrays.append(x.data)
            needs_input_grad.append(x.requires_grad)
            versions.append(x._versions[0])
        output_data = function.forward(*arrays, **options)
        if type(output_data) not in backend.ARRAY_TYPES:
            output_data = backend.as_array(output_data)  # NumPy returns 0-d results as scalars
        output = tensor_module.Tensor._make(output_data)
        if output_data.base is not None:  # a view (x[0], reshape, .T) shares the version
            owner = backend.memory_owner(output_data)  # counter of the input it looks into
            for x in inputs:  # (_made: how many recorded writes x's memory had seen by now;
                if backend.memory_owner(x.data) is owner:  # _base: ops/view_writes.py)
                    output._versions, output._made, output._base = x._versions, len(x._versions), x
        if flags.forward_ad is not None:  # inside a dual_level: carry the tangents along
            flags.forward_ad(cls, inputs, options, output)  # (autograd/forward_ad.py)
        if not flags.grad:
            return output
        if True in needs_input_grad and output_data.dtype.kind == "f":  # (ints: no gradient)
            function.inputs = inputs
            function.needs_input_grad = tuple(needs_input_grad)
            function.versions = (*versions, output._versions[0])  # the inputs', the output's
            function.output_ref = weakref.ref(output)
            if flags.anomaly:
                function.trace = anomaly.creation_trace()
            output.grad_fn = function
            output.requires_grad = True
        elif True not in needs_input_grad:  # a non-leaf set to requires_grad=False: refused
            for x in inputs:                # (engine._refuse_cut; recorded ops: at backward)
                if x.grad_fn is not None:
                    engine._refuse_cut(function, x)
        return output

    # --- what backward reads: arrays in a plain backward, Tensors when recorded ---

    @property
    def saved_inputs(self) -> tuple:
        """The inputs, checked to be unchanged since forward."""
        return tuple([self.saved_input(i) for i in range(len(self.inputs))])

    def saved_input(self, i: int):
        """Input i alone, checked: an op whose gradients need only some of its inputs
        (``a * b``: b for a's gradient) reads just those, so a write to the others does
        not raise (PyTorch saves only what the wanted gradients need)."""
        x = self.inputs[i]
        if x._versions[0] != self.versions[i]:
            self._modified(x, self.versions[i], "an input")
        return x if flags.grad else x.data

    @property
    def saved_output(self):
        """The output, checked to be unchanged since forward."""
        output = self.output_ref()
        if output._versions[0] != self.versions[-1]:
            self._modified(output, self.versions[-1], "its output")
        return output if flags.grad else output.data

    @property
    def xp(self):
        """NumPy's functions for what backward works on: the array module
        (numpy, cupy) in a plain backward, their Tensor twins when recorded."""
        if flags.grad:
            from tinygrad_opt.ops import tensor_xp
            return tensor_xp
        return backend.xp_of(self.inputs[0].data)

    def _modified(self, tensor, version, what) -> None:
        raise RuntimeError(
            f"one of the tensors needed for gradient computation has been modified by an "
            f"in-place operation: {what} of {self.name}, of shape {tensor.shape}, is at "
            f"version {tensor._version}; expected version {version}. Use .clone() before "
            "changing a tensor in place that an op still needs.")

    @property
    def output(self):
        """The Tensor this op produced (alive whenever backward can reach the op)."""
        return self.output_ref()

    @property
    def name(self) -> str:
        return type(self).__name__

    def release(self) -> None:
        """After backward without retain_graph: drop inputs and everything saved."""
        self.__dict__.clear()
        self.freed = True

    def __repr__(self) -> str:
        return f"<{self.name}>"
