"""The floor: the same workloads on the least framework that keeps our guarantees.

How close to hand-written NumPy can a CPython autograd framework get? This file
holds a minimal one (about 140 code lines) that keeps exactly the guarantees the
real core gives on the benchmarked paths, and drops everything else:

* kept: a Tensor object per result (data, grad, grad_fn, requires_grad, a
  version counter); an op object per recorded op with its inputs, which of
  them need a gradient, their versions and a weak reference to its output;
  a topological sort; a backward loop that checks each saved tensor's version,
  the number of gradients an op returns and each one's shape and dtype, adds
  up gradients and hands every leaf a ``.grad`` Tensor of its own; an
  optimizer loop that bumps each parameter's version; class indices checked
  (in C, by the flat index of each pick, as ours); Python numbers as 0-d
  arrays of the tensor's dtype.
* dropped: devices, dtype promotion, broadcasting, hooks, anomaly mode,
  retain_graph and create_graph, ``grad()``, views sharing versions, error
  messages, module registries, parameter groups and every option.

Timed in the same run as ours and the hand-written NumPy programs
(``tinygrad-opt bench --only floor``), the floor's ratio is what our ratio
could reach without giving up a guarantee; what lies between the two is ours
to take. A third column splits that gap: ours with our plain backward pass
(``fast_backward.backward``, the engine's twin that ``loss.backward()`` runs)
replaced by the floor's loop (``the_floor_loop``), so our ops, modules, loss
and optimizer with the leanest backward loop that keeps the checks: what it
saves is the price of our engine's structure (hooks, ``retain_grad``, the
no-alias copies of ``.grad``, the kind and device checks), the rest lies
outside the engine. The test tests/test_floor.py checks that the floor computes the
same numbers as tinygrad_opt.
"""

from __future__ import annotations

import contextlib
import weakref

import numpy as np

from tinygrad_opt.autograd import fast_backward
from tinygrad_opt.autograd.grad_mode import flags
from tinygrad_opt.tensor import Tensor as OurTensor
from .common import compare


class Tensor:
    __slots__ = ("data", "grad", "grad_fn", "requires_grad", "versions", "__weakref__")

    def __init__(self, data, requires_grad=False):
        self.data, self.grad, self.grad_fn = data, None, None
        self.requires_grad, self.versions = requires_grad, [0]

    def __mul__(self, other):
        return Mul.apply(self, _constant(other, self))

    def __add__(self, other):
        return Add.apply(self, _constant(other, self))

    def __sub__(self, other):
        return Sub.apply(self, _constant(other, self))

    def tanh(self):
        return Tanh.apply(self)

    def sum(self):
        return Sum.apply(self)


def _constant(value, like):
    return value if isinstance(value, Tensor) else Tensor(np.asarray(value, like.data.dtype))


class Function:
    freed = False

    @classmethod
    def apply(cls, *inputs):
        function = cls()
        arrays, needs, versions = [], [], []
        for x in inputs:
            arrays.append(x.data)
            needs.append(x.requires_grad)
            versions.append(x.versions[0])
        output = Tensor(function.forward(*arrays))
        if True in needs:
            function.inputs, function.needs_input_grad = inputs, tuple(needs)
            function.versions = (*versions, 0)
            function.output = weakref.ref(output)
            output.grad_fn, output.requires_grad = function, True
        return output

    def saved_input(self, i):
        if self.inputs[i].versions[0] != self.versions[i]:
            raise RuntimeError("modified by an in-place operation")
        return self.inputs[i].data

    def saved_output(self):
        output = self.output()
        if output.versions[0] != self.versions[-1]:
            raise RuntimeError("modified by an in-place operation")
        return output.data


class Mul(Function):
    def forward(self, a, b):
        return a * b

    def backward(self, g):
        return (g * self.saved_input(1) if self.needs_input_grad[0] else None,
                g * self.saved_input(0) if self.needs_input_grad[1] else None)


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, (-g if self.needs_input_grad[1] else None)


class Tanh(Function):
    def forward(self, x):
        return np.tanh(x)

    def backward(self, g):
        y = self.saved_output()
        return g * (1 - y * y)


class Sum(Function):
    def forward(self, x):
        self.shape = x.shape
        return np.asarray(x.sum())

    def backward(self, g):
        return np.broadcast_to(g, self.shape).copy()


class Linear(Function):
    """x Wᵀ + b on a 2-D x, its products by ``dot`` as ours (ops/fused.py: Linear)."""

    def forward(self, x, weight, bias):
        out = x.dot(weight.T)
        out += bias
        return out

    def backward(self, g):
        grad_x = g.dot(self.saved_input(1)) if self.needs_input_grad[0] else None
        return grad_x, g.T.dot(self.saved_input(0)), g.sum(axis=0)


class Relu(Function):
    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, g):
        return np.where(self.saved_output() > 0, g, 0)


class CrossEntropy(Function):
    """Mean softmax cross-entropy over class indices, the same formulas as ours."""

    def forward(self, x, target):
        self.scale = 1 / x.shape[0]
        shifted = x - x.max(axis=1, keepdims=True)
        self.exps = np.exp(shifted)
        self.sums = self.exps.sum(axis=1, keepdims=True)
        try:  # the class check, as ours: ValueError for a class outside 0..C-1
            self.picks = np.ravel_multi_index((np.arange(x.shape[0]), target), x.shape)
        except ValueError:
            raise IndexError("target out of range") from None
        picked = shifted.reshape(-1)[self.picks] - np.log(self.sums[:, 0])
        return np.asarray(-picked.sum() * self.scale)

    def backward(self, g):
        grad = self.exps / self.sums
        grad.reshape(-1)[self.picks] -= 1
        grad *= g * self.scale
        return grad, None


def backward(loss, make_tensor=Tensor):
    """The backward loop, with the checks the real engine makes. (``make_tensor``
    wraps a leaf's gradient: ours runs our ops through this loop, see main.)"""
    order, visited, stack = [], set(), [(loss, False)]
    while stack:
        tensor, inputs_done = stack.pop()
        if inputs_done:
            order.append(tensor)
        elif id(tensor) not in visited:
            visited.add(id(tensor))
            stack.append((tensor, True))
            function = tensor.grad_fn
            if function is not None:
                if function.freed:
                    raise RuntimeError("backward through a freed graph")
                for x, needed in zip(function.inputs, function.needs_input_grad):
                    if needed and id(x) not in visited:
                        stack.append((x, False))
    grads = {id(loss): np.ones_like(loss.data)}
    for tensor in reversed(order):
        grad = grads.pop(id(tensor), None)
        if grad is None:
            continue
        function = tensor.grad_fn
        if function is None:
            tensor.grad = make_tensor(grad if tensor.grad is None else tensor.grad.data + grad)
            continue
        input_grads = function.backward(grad)
        if type(input_grads) is not tuple:
            input_grads = (input_grads,)
        if len(input_grads) != len(function.inputs):
            raise RuntimeError("wrong number of gradients")
        for x, input_grad, needed in zip(function.inputs, input_grads, function.needs_input_grad):
            if input_grad is not None and needed:
                if input_grad.shape != x.data.shape or input_grad.dtype != x.data.dtype:
                    raise RuntimeError("wrong gradient")
                key = id(x)
                grads[key] = grads[key] + input_grad if key in grads else input_grad
        function.__dict__.clear()
        function.freed = True


def ours_with_the_floor_loop(tensor, gradient=None, retain_graph=False, create_graph=False):
    """``engine.backward`` for a plain ``loss.backward()`` of ours, run by the floor's
    loop: our ops and their backward formulas, without our engine's structure (its
    ``receive`` callback, hooks, ``grad()``, the kind checks of each gradient, the
    grad-mode switch as a context manager). Timed in place of ours (``main``), it
    tells how much of the gap to the floor is the engine and how much lies elsewhere."""
    if gradient is not None or retain_graph or create_graph:
        raise NotImplementedError("the floor's loop runs a plain backward of a scalar only")
    previous, flags.grad = flags.grad, False  # our formulas run on arrays, as in ours
    try:
        backward(tensor, make_tensor=OurTensor._make)
    finally:
        flags.grad = previous


@contextlib.contextmanager
def the_floor_loop():
    """Inside the block, our ``loss.backward()`` runs by ``ours_with_the_floor_loop``."""
    ours, fast_backward.backward = fast_backward.backward, ours_with_the_floor_loop
    try:
        yield
    finally:
        fast_backward.backward = ours


def chain(x, length):
    """Our op_overhead chain (mul, add, tanh, sub), forward and backward."""
    from .op_overhead import chain_of

    def run():
        backward(chain_of(x, length).sum())
        x.grad = None
    return run


class MLP:
    """Linear-ReLU-Linear with SGD: one training step as ``mlp_step.ours`` takes it."""

    def __init__(self, model, x, y, lr=0.01):
        linears = [layer for layer in model if hasattr(layer, "weight")]
        self.params = [Tensor(p.data.copy(), requires_grad=True)
                       for layer in linears for p in (layer.weight, layer.bias)]
        self.x, self.y, self.lr = Tensor(x), Tensor(y), lr

    def step(self):
        w1, b1, w2, b2 = self.params
        for p in self.params:
            p.grad = None
        hidden = Relu.apply(Linear.apply(self.x, w1, b1))
        loss = CrossEntropy.apply(Linear.apply(hidden, w2, b2), self.y)
        backward(loss)
        for p in self.params:
            p.data -= self.lr * p.grad.data
            p.versions[0] += 1
        return loss


def without_layers(inputs, labels, lr=0.01):
    """Our small SGD step with the layers above the engine taken away one by one: each
    step keeps the previous one's removals. (name, step function) pairs; they compute
    what ``mlp_step.ours`` computes (tests/test_floor.py)."""
    import tinygrad_opt as tg
    from tinygrad_opt import nn, optim
    from tinygrad_opt.ops import fused
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    first, second = model[0], model[2]
    params = list(model.parameters())
    optimizer, loss_fn = optim.SGD(params, lr=lr), nn.CrossEntropyLoss()
    x, y = tg.tensor(inputs), tg.tensor(labels)

    def logits():  # the modules' forward, as the fused ops they call
        hidden = fused.relu(fused.linear(x, first.weight, first.bias))
        return fused.linear(hidden, second.weight, second.bias)

    def ours():
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

    def no_modules():
        optimizer.zero_grad()
        loss_fn(logits(), y).backward()
        optimizer.step()

    def no_loss_checks():
        optimizer.zero_grad()
        fused.CrossEntropy.apply(logits(), y, scale=1 / len(labels)).backward()
        optimizer.step()

    def no_optimizer():
        for p in params:
            p.grad = None
        fused.CrossEntropy.apply(logits(), y, scale=1 / len(labels)).backward()
        for p in params:
            p.data -= lr * p.grad.data
            p._version += 1
    return [("ours", ours), ("modules called as their fused ops", no_modules),
            ("and the loss as the fused op, unchecked", no_loss_checks),
            ("and the SGD update as a bare loop", no_optimizer)], params


def main(quick: bool = False):
    """Ratios to hand-written NumPy of ours, of ours with the floor's backward loop
    (``the_floor_loop``) and of the floor, each workload timed in one run."""
    from tinygrad_opt import nn
    from . import mlp_step, op_overhead
    rows = []
    x = Tensor(np.random.default_rng(0).random(8, dtype=np.float32), requires_grad=True)
    repeats = 5 if quick else 15
    reference = op_overhead.numpy_reference((8,))
    ours = compare(op_overhead.ours((8,)), reference, repeats=repeats, warmup=1)[2]
    with the_floor_loop():
        ours_loop = compare(op_overhead.ours((8,)), reference, repeats=repeats, warmup=1)[2]
    floor = compare(chain(x, op_overhead.CHAIN), reference, repeats=repeats, warmup=1)[2]
    rows.append(("per-op chain on (8,), fwd + bwd", ours, ours_loop, floor))
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((32, 64)).astype(np.float32)
    labels = rng.integers(0, 10, 32)
    hand = mlp_step.HandMLP((64, 64, 10), 32, "sgd")
    repeats = 10 if quick else 30
    ours_step = mlp_step.ours((64, 64, 10), 32, "sgd", inputs, labels)
    ours = compare(ours_step, lambda: hand.step(inputs, labels), repeats=repeats, number=20)[2]
    with the_floor_loop():
        ours_loop = compare(ours_step, lambda: hand.step(inputs, labels), repeats=repeats,
                            number=20)[2]
    floor_mlp = MLP(nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)),
                    inputs, labels)
    floor = compare(floor_mlp.step, lambda: hand.step(inputs, labels), repeats=repeats,
                    number=20)[2]
    rows.append(("MLP 64-64-10, batch 32, sgd step", ours, ours_loop, floor))
    print("\nThe floor: a minimal framework with our guarantees (benchmarks/floor.py), "
          "ratios to hand-written NumPy")
    print(f"  {'workload':34} |  ours | ours, the floor's backward loop | floor")
    for name, ours, ours_loop, floor in rows:
        print(f"  {name:34} | {ours:4.2f}x | {ours_loop:30.2f}x | {floor:4.2f}x")
    print("\nThe small SGD step without the layers above the engine (cumulative), "
          "ratios to hand-written NumPy")
    for name, step in without_layers(inputs, labels)[0]:
        ratio = compare(step, lambda: hand.step(inputs, labels), repeats=repeats, number=20)[2]
        print(f"  {name:42} | {ratio:4.2f}x")
    return rows


if __name__ == "__main__":
    main()
