"""``Function``: one primitive op, with its backward right under its forward.

Calling ``Mul.apply(a, b)`` does three things:

1. runs ``forward`` on the inputs' arrays (``a.data * b.data``);
2. wraps the result in a new Tensor;
3. if grad mode is on and some input requires grad, records the op in the
   graph: the new tensor's ``grad_fn`` is this Function object, which keeps
   its ``inputs`` (to walk the graph backward) and whatever ``forward`` saved
   for ``backward``.

``backward`` receives the gradient of the loss with respect to the output (a
Tensor) and returns one gradient per input (a Tensor, or None where no
gradient is needed). It is written with Tensor ops, so that with
``create_graph=True`` the backward pass is itself recorded and can be
differentiated again (Hessians, Newton's method).

The op refers to its output only weakly: the output holds the op (its
``grad_fn``), not the other way round, so no reference cycle keeps arrays alive.
"""

from __future__ import annotations

import weakref

from tinygrad_opt import backend
from tinygrad_opt.autograd import anomaly, grad_mode

import tinygrad_opt.tensor as tensor_module  # Function.apply makes Tensors


class Function:
    """Base class of every primitive op. Subclasses define forward and backward.

    ``forward`` may keep on ``self`` what ``backward`` needs (options such as
    ``dim``, or a mask array); ``backward`` reads the input Tensors from
    ``self.inputs`` and the output Tensor from ``self.output``.
    """

    freed = False  # becomes True once backward has run without retain_graph
    trace = None   # where the op was created (only recorded under detect_anomaly)

    def forward(self, *arrays):
        """Compute the output array from the input arrays."""
        raise NotImplementedError

    def backward(self, grad_output):
        """Return the gradient for each input, given the output's gradient."""
        raise NotImplementedError

    @property
    def output(self):
        """The Tensor this op produced (alive whenever backward can reach the op)."""
        return self.output_ref()

    @property
    def name(self) -> str:
        return type(self).__name__

    @classmethod
    def apply(cls, *inputs, **options):
        """Run the op on Tensors and, in grad mode, record it in the graph."""
        function = cls()
        output_data = function.forward(*[tensor.data for tensor in inputs], **options)
        if type(output_data) not in backend.ARRAY_TYPES:
            output_data = backend.as_array(output_data)  # NumPy returns 0-d results as scalars
        output = tensor_module.Tensor._make(output_data)
        if not grad_mode._enabled:
            return output
        needs_input_grad = tuple([tensor.requires_grad for tensor in inputs])
        if True in needs_input_grad:
            function.inputs = inputs
            function.needs_input_grad = needs_input_grad
            function.output_ref = weakref.ref(output)
            if anomaly._enabled:
                function.trace = anomaly.creation_trace()
            output.grad_fn = function
            output.requires_grad = True
        return output

    def release(self) -> None:
        """After backward without retain_graph: drop inputs and everything saved."""
        self.__dict__.clear()
        self.freed = True

    def __repr__(self) -> str:
        return f"<{self.name}>"
