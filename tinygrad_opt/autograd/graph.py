"""The graph as PyTorch shows it (``torch.autograd.graph``): each op a ``Node`` whose
``next_functions`` lead toward the leaves, as tools that draw or walk a graph read it.

Every op (``Function``, function.py) is a ``Node``. Its ``next_functions`` hold one
``(node, 0)`` pair per input, in the order of its inputs:

* an input made by an op: that op's node;
* a leaf that requires grad: its ``AccumulateGrad`` node (``.variable`` is the leaf),
  the step where backward adds into ``.grad``: the same node object for the same leaf
  while an op that has shown it (or anyone else) holds it;
* an input that needs no gradient: ``(None, 0)``.

(The 0 is PyTorch's output number; every op here has one output.) Backward without
``retain_graph`` frees the ops it ran, and their edges with them: ``next_functions`` of a
freed op raises, where PyTorch keeps the edges.
"""

from __future__ import annotations

import weakref

__all__ = ["Node", "AccumulateGrad"]


class Node:
    """What every op offers besides its math: PyTorch's view of the graph."""

    @property
    def next_functions(self) -> tuple:
        """``((node, 0), ...)``: one pair per input, toward the leaves (module docstring)."""
        if self.freed:
            raise RuntimeError(
                f"next_functions of {self!r}: backward has freed this part of the graph "
                "(pass retain_graph=True to backward to walk it afterwards)")
        inputs = self.__dict__.get("inputs", ())  # (an op run on arrays records none)
        edges = tuple(_edge(x) if needed else (None, 0)
                      for x, needed in zip(inputs, self.needs_input_grad))
        self.__dict__["_edges"] = edges  # the op holds its leaves' nodes, as PyTorch's graph
        return edges


class AccumulateGrad(Node):
    """The node of a leaf that requires grad: backward adds its gradient into
    ``variable.grad`` there. It has no inputs."""

    freed = False
    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


_accumulators: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # id(leaf) ->


def _edge(tensor) -> tuple:
    if tensor.grad_fn is not None:
        return (tensor.grad_fn, 0)
    node = _accumulators.get(id(tensor))
    if node is None or node.variable is not tensor:  # (none held, or a reused id)
        node = _accumulators[id(tensor)] = AccumulateGrad(tensor)
    return (node, 0)
