"""Where the time of a small training step goes (``tinygrad-opt bench --only profile``).

The small MLP step (64-64-10, batch 32, SGD) is where the framework's fixed
costs show: its arrays are tiny, so most of the time is Python. Three tables,
all medians over many steps of one run:

1. the step split into its parts (zero_grad, forward, loss, backward,
   optimizer step) next to the hand-written NumPy step;
2. the backward pass split by op (each Function's ``backward``, the
   topological sort, the accumulation into the leaves' ``.grad``);
3. single Tensor operations of that step against the NumPy call they wrap, on
   the same arrays: the difference is the per-op cost (dispatch, checks,
   ``Function.apply``, the output Tensor).
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict

import numpy as np

import tinygrad_opt as tg
from .common import compare, format_time, measure
from .mlp_step import HandMLP
from tinygrad_opt import nn, optim
from tinygrad_opt.autograd import engine, fast_backward, grad_mode

STEPS = 2000


def _setup(seed=0):
    """The data (as arrays and as Tensors), the model, its optimizer and the loss."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((32, 64)).astype(np.float32)
    y = rng.integers(0, 10, 32)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    return x, y, tg.tensor(x), tg.tensor(y), model, optimizer, nn.CrossEntropyLoss()


def step_parts(steps: int):
    """Median seconds of each part of our step, and of the hand-written step."""
    x, y, inputs, targets, model, optimizer, loss_fn = _setup()
    parts = defaultdict(list)
    for index in range(steps):
        clock = [time.perf_counter()]
        optimizer.zero_grad()
        clock.append(time.perf_counter())
        scores = model(inputs)
        clock.append(time.perf_counter())
        loss = loss_fn(scores, targets)
        clock.append(time.perf_counter())
        loss.backward()
        clock.append(time.perf_counter())
        optimizer.step()
        clock.append(time.perf_counter())
        if index >= steps // 10:  # after warm-up
            for name, start, end in zip(("zero_grad", "forward", "loss", "backward", "step"),
                                        clock, clock[1:]):
                parts[name].append(end - start)
    hand = HandMLP((64, 64, 10), 32, "sgd")
    hand_times = []
    for index in range(steps):
        start = time.perf_counter()
        hand.step(x, y)
        if index >= steps // 10:
            hand_times.append(time.perf_counter() - start)
    return ({name: statistics.median(times) for name, times in parts.items()},
            statistics.median(hand_times))


def backward_by_op(steps: int):
    """Mean seconds of backward per step, and of each op's backward and the engine's parts."""
    _, _, inputs, targets, model, optimizer, loss_fn = _setup()
    spent = defaultdict(float)
    originals = {}

    def timed(name, function):
        def wrapper(*args):
            start = time.perf_counter()
            result = function(*args)
            spent[name] += time.perf_counter() - start
            return result
        return wrapper

    graph = engine.topological_order([loss_fn(model(inputs), targets)])
    classes = {type(tensor.grad_fn) for tensor in graph if tensor.grad_fn is not None}
    for cls in classes:
        originals[cls] = cls.backward
        cls.backward = timed(f"{cls.__name__}.backward", cls.backward)
    sort, deliver = fast_backward._order, engine._as_tensor  # (the twin runs a plain pass)
    fast_backward._order = timed("topological sort", sort)
    engine._as_tensor = timed("hand gradients to .grad", deliver)
    total = 0.0
    try:
        for _ in range(steps):
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            start = time.perf_counter()
            loss.backward()
            total += time.perf_counter() - start
    finally:
        for cls, backward in originals.items():
            cls.backward = backward
        fast_backward._order, engine._as_tensor = sort, deliver
    rows = sorted(spent.items(), key=lambda item: -item[1])
    return total / steps, [(name, seconds / steps) for name, seconds in rows]


def op_costs(repeats: int):
    """(operation, ours, NumPy) for single operations of the step, under no_grad."""
    rng = np.random.default_rng(0)
    g = tg.tensor(rng.standard_normal((32, 10)).astype(np.float32))
    w = tg.tensor(rng.standard_normal((10, 64)).astype(np.float32))
    x = tg.tensor(rng.standard_normal((32, 64)).astype(np.float32))
    a, b, c = g.data, w.data, x.data
    cases = [("g @ w", lambda: g @ w, lambda: a @ b),
             ("g.T @ x", lambda: g.T @ x, lambda: a.T @ c),
             ("g.sum(0)", lambda: g.sum(0), lambda: a.sum(0)),
             ("g * 0.5", lambda: g * 0.5, lambda: a * 0.5),
             ("g * g", lambda: g * g, lambda: a * a)]
    def many(function):
        return lambda: [function() for _ in range(200)]
    rows = []
    with grad_mode.no_grad():
        for name, mine, reference in cases:
            t_mine, t_reference, _, _ = compare(many(mine), many(reference), repeats=repeats)
            rows.append((name, t_mine / 200, t_reference / 200))
    return rows


def chain_parts(repeats: int):
    """Where one op of the per-op chain on (8,) goes (``op_overhead``: mul, add, tanh, sub
    over and over, forward and backward): seconds per op of each part, ours, the floor's
    (benchmarks/floor.py) and NumPy's by hand. Each part is timed alone; the forward's
    dispatch is what ``y * 0.999`` costs beyond making the number a Tensor and
    ``Function.apply``, the backward's loop what ``backward()`` costs beyond the order
    (freeing the graph included: the forward's timings keep their graphs alive)."""
    from . import floor, op_overhead
    from tinygrad_opt.ops import elementwise, shape
    length = op_overhead.CHAIN
    x = tg.rand(8, requires_grad=True)
    three = x * 1.0  # an op's output, as the chain's inputs are
    constant = shape.as_operand(0.999, three, "Mul")
    a, c = three.data, constant.data

    def per_op(function, calls=200):
        seconds, _ = measure(lambda: [function() for _ in range(calls)], repeats)
        return seconds / calls
    ops = [(lambda: three * 0.999, elementwise.Mul, lambda: a * c, True),
           (lambda: three + 0.001, elementwise.Add, lambda: a + c, True),
           (lambda: three.tanh(), elementwise.Tanh, lambda: np.tanh(a), False),
           (lambda: three - 0.001, elementwise.Sub, lambda: a - c, True)]
    number = apply = numpy_forward = total = 0.0
    for whole, op, numpy_call, binary in ops:
        inputs = (three, constant) if binary else (three,)
        total += per_op(whole) / 4
        apply += per_op(lambda: op.apply(*inputs)) / 4
        numpy_forward += per_op(numpy_call) / 4
        if binary:
            number += per_op(lambda: shape.as_operand(0.999, three, "Mul")) / 4
    chain, kept = op_overhead.chain_of, []  # (graphs kept: freeing one is backward's part)
    forward = measure(lambda: kept.append(chain(x, length).sum()), repeats)[0] / length
    kept.clear()
    with_backward = measure(lambda: chain(x, length).sum().backward(), repeats)[0] / length
    loss = chain(x, length).sum()
    order = measure(lambda: fast_backward._order(loss), repeats)[0] / length
    hand = op_overhead.numpy_reference((8,), length)
    x_floor = floor.Tensor(x.data.copy(), requires_grad=True)
    floor_forward = measure(lambda: kept.append(chain(x_floor, length).sum()),
                            repeats)[0] / length
    kept.clear()
    floor_both = measure(floor.chain(x_floor, length), repeats)[0] / length
    return {"forward": forward, "dispatch": total - number - apply, "number": number,
            "apply": apply - numpy_forward, "numpy_forward": numpy_forward,
            "backward": with_backward - forward, "order": order,
            "loop": with_backward - forward - order, "floor_forward": floor_forward,
            "floor_backward": floor_both - floor_forward,
            "hand": measure(hand, repeats)[0] / length}


def print_chain_parts(parts: dict) -> None:
    print("\nThe per-op chain on (8,), fwd + bwd: where one op's time goes (alone, per op)")
    rows = [("forward, all of it", parts["forward"], parts["floor_forward"]),
            ("  dispatch: Tensor.__mul__ ... _binary, dtype and shape checks",
             parts["dispatch"], None),
            ("  the Python number made a 0-d Tensor (as_operand)", parts["number"], None),
            ("  Function.apply: records the op, the output Tensor", parts["apply"], None),
            ("  NumPy's forward call", parts["numpy_forward"], None),
            ("backward, all of it", parts["backward"], parts["floor_backward"]),
            ("  the topological order", parts["order"], None),
            ("  the loop: formulas, checks of what they return, sums", parts["loop"], None)]
    print(f"  {'part':58} {'ours':>11} {'the floor':>11}")
    for name, ours, floor_seconds in rows:
        floor_text = "" if floor_seconds is None else format_time(floor_seconds)
        print(f"  {name:58} {format_time(ours)} {floor_text:>11}")
    ours, floor_total = parts["forward"] + parts["backward"], \
        parts["floor_forward"] + parts["floor_backward"]
    print(f"  {'total (NumPy by hand: ' + format_time(parts['hand']).strip() + ')':58} "
          f"{format_time(ours)} {format_time(floor_total)}   ratios "
          f"{ours / parts['hand']:.2f}x and {floor_total / parts['hand']:.2f}x")


def main(quick: bool = False):
    steps = STEPS // (4 if quick else 1)
    parts, hand = step_parts(steps)
    total = sum(parts.values())
    print(f"\nProfile of the MLP 64-64-10 SGD step (batch 32), medians of {steps} steps")
    print(f"  {'part':<12} {'ours':>11} {'share':>6}")
    for name, seconds in parts.items():
        print(f"  {name:<12} {format_time(seconds)} {seconds / total:6.0%}")
    print(f"  {'total':<12} {format_time(total)}   (hand-written NumPy step: "
          f"{format_time(hand).strip()}, ratio {total / hand:.2f}x)")

    backward_total, rows = backward_by_op(steps)
    print(f"\n  backward, {format_time(backward_total).strip()} a step (timed again, with a "
          "timer around each op), by op:")
    for name, seconds in rows:
        print(f"    {name:<26} {format_time(seconds)} {seconds / backward_total:6.0%}")

    print("\n  single operations under no_grad, ours vs the NumPy call inside:")
    print(f"    {'operation':<12} {'ours':>11} {'NumPy':>11} {'overhead':>11}")
    for name, mine, reference in op_costs(repeats=5 if quick else 15):
        print(f"    {name:<12} {format_time(mine)} {format_time(reference)} "
              f"{format_time(mine - reference)}")
    print_chain_parts(chain_parts(repeats=5 if quick else 15))
    return parts, hand, rows


if __name__ == "__main__":
    main()
