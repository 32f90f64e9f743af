"""Fuzzing the backward engine (autograd/engine.py) on random graphs, against central
finite differences of the same program evaluated by NumPy.

A program is 1-3 float64 leaves of small, mutually broadcastable shapes, then 3-10 nodes,
each an op on earlier leaves/nodes (reuse allowed: a DAG with fan-out): add, sub, mul
(broadcasting), mul by a leaf, tanh, exp(tanh), sum over a dim (keepdim or not), matmul
where the shapes allow, a slice, cat of two values, times a constant. 1-3 of the nodes
(repeats allowed) are the outputs, weighted by fixed random arrays w_k:
L = sum_k <w_k, out_k>.

The program is a list of ``(op, args)`` interpreted twice: on tinygrad_opt Tensors and on
NumPy arrays. The NumPy evaluator takes an additive perturbation at any value (leaf or
node), so central differences give dL/d(value) for leaves and intermediates alike.
Checked (mirroring PyTorch's ``torch.autograd.grad``, ``backward``, ``retain_grad``,
``register_hook``):

* grad(outputs, inputs, grad_outputs=w) for random leaves and intermediates as inputs;
  an input that reaches no output (decided from the program's structure) raises, or is
  None with allow_unused=True;
* retain_graph=True: a second grad gives the same values, a third (after one that did
  not retain) raises the freed-graph error; backward twice with retain_graph gives
  .grad = 2 x;
* retain_grad() on random intermediates: their .grad and the leaves' .grad after backward;
* create_graph=True: the same first-order values, and second order against central
  differences of the framework's own first-order gradient;
* register_hook(g * c) on a random intermediate: leaf grad = grad + (c - 1) J^T dL/dnode;
* device='strict' gives the same gradients as 'cpu'.

``TINYGRAD_OPT_ENGINE_FUZZ_EXAMPLES=500`` draws more programs per test
(``HYPOTHESIS_PROFILE=explore``: new ones).
"""

import numpy as np
import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st

import tinygrad_opt as tg
from fuzzing import examples, fuzz_settings

EXAMPLES = examples("TINYGRAD_OPT_ENGINE_FUZZ_EXAMPLES", 400)
SETTINGS = fuzz_settings(EXAMPLES)

EPS = 1e-6
RTOL, ATOL = 1e-5, 1e-6
CONSTANTS = (0.5, -0.75, 1.5, 2.0, -1.25)
KINDS = ("add", "sub", "mul", "leafmul", "tanh", "exptanh", "sum", "matmul", "slice",
         "cat", "scale")
FREED = "backward through the graph a second time"
UNUSED = "was not used to compute the outputs"


# --- programs -------------------------------------------------------------------------

class Program:
    def __init__(self, leaf_shapes, ops, outputs, seed):
        self.leaf_shapes, self.ops, self.outputs, self.seed = leaf_shapes, ops, outputs, seed
        self.n_leaves = len(leaf_shapes)
        self.size = self.n_leaves + len(ops)
        rng = np.random.default_rng(seed)
        self.leaves = [rng.uniform(-1.2, 1.2, shape) for shape in leaf_shapes]
        values = evaluate_np(self, self.leaves)
        self.shapes = [np.shape(v) for v in values]
        self.values = values
        self.weights = [rng.standard_normal(self.shapes[k]) for k in outputs]
        self.rng = rng  # for further per-check draws
        # ancestors[i]: the values i is computed from (not i itself)
        self.ancestors = []
        for i in range(self.size):
            if i < self.n_leaves:
                self.ancestors.append(set())
            else:
                args = operands(self.ops[i - self.n_leaves])
                self.ancestors.append(set(args).union(*(self.ancestors[a] for a in args)))

    def reaches(self, i) -> bool:
        """Does value i feed some output (or is one)?"""
        return any(i == k or i in self.ancestors[k] for k in self.outputs)

    def strictly_below(self, i) -> bool:
        return any(i in self.ancestors[k] for k in self.outputs)

    def __repr__(self):
        lines = [f"leaves {self.leaf_shapes} seed {self.seed}"]
        for k, op in enumerate(self.ops):
            lines.append(f"v{self.n_leaves + k} = {op}")
        lines.append(f"outputs {self.outputs}")
        return "\n".join(lines)


def operands(op):
    name = op[0]
    if name in ("add", "sub", "mul", "leafmul", "matmul", "cat"):
        return (op[1], op[2])
    return (op[1],)


def _broadcast(s, t):
    try:
        shape = np.broadcast_shapes(s, t)
    except ValueError:
        return None
    return shape if int(np.prod(shape)) <= 12 else None


def _matmul_shape(s, t):
    if len(s) == 0 or len(t) == 0 or s[-1] != t[0] or len(t) > 2:
        return None
    return s[:-1] + t[1:]


def _cat_shape(s, t, dim):
    if len(s) != len(t) or len(s) == 0 or any(a != b for d, (a, b) in enumerate(zip(s, t))
                                                 if d != dim):
        return None
    shape = list(s)
    shape[dim] += t[dim]
    return tuple(shape) if int(np.prod(shape)) <= 12 else None


@st.composite
def programs(draw):
    r, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pool = [(r, c), (c,), (1, c), (r, 1), (c, r)]
    n_leaves = draw(st.integers(1, 3))
    leaf_shapes = [draw(st.sampled_from(pool)) for _ in range(n_leaves)]
    shapes = list(leaf_shapes)
    ops = []
    for _ in range(draw(st.integers(3, 10))):
        kind = draw(st.sampled_from(KINDS))
        i = draw(st.integers(0, len(shapes) - 1))
        s = shapes[i]
        op, shape = None, None
        if kind in ("add", "sub", "mul", "leafmul"):
            pool_j = range(n_leaves) if kind == "leafmul" else range(len(shapes))
            js = [j for j in pool_j if _broadcast(s, shapes[j]) is not None]
            if js:
                j = draw(st.sampled_from(js))
                op = ("mul" if kind == "leafmul" else kind, i, j)
                shape = _broadcast(s, shapes[j])
        elif kind == "matmul":
            js = [j for j in range(len(shapes)) if _matmul_shape(s, shapes[j]) is not None]
            if js:
                j = draw(st.sampled_from(js))
                op, shape = ("matmul", i, j), _matmul_shape(s, shapes[j])
        elif kind == "cat" and len(s) > 0:
            dim = draw(st.integers(0, len(s) - 1))
            js = [j for j in range(len(shapes)) if _cat_shape(s, shapes[j], dim) is not None]
            if js:
                j = draw(st.sampled_from(js))
                op, shape = ("cat", i, j, dim), _cat_shape(s, shapes[j], dim)
        elif kind == "sum" and len(s) > 0:
            dim, keep = draw(st.integers(0, len(s) - 1)), draw(st.booleans())
            op = ("sum", i, dim, keep)
            shape = s[:dim] + ((1,) if keep else ()) + s[dim + 1:]
        elif kind == "slice" and len(s) > 0:
            dim = draw(st.integers(0, len(s) - 1))
            n = s[dim]
            start = draw(st.integers(0, n - 1))
            stop = draw(st.integers(start + 1, n))
            step = draw(st.integers(1, 2))
            op = ("slice", i, dim, start, stop, step)
            shape = s[:dim] + (len(range(start, stop, step)),) + s[dim + 1:]
        elif kind == "scale":
            op, shape = ("scale", i, draw(st.sampled_from(CONSTANTS))), s
        if op is None:  # the kind fits no operand: a unary op instead
            op, shape = (draw(st.sampled_from(("tanh", "exptanh"))), i), s
        ops.append(op)
        shapes.append(shape)
    nodes = range(n_leaves, len(shapes))
    outputs = [len(shapes) - 1] + draw(st.lists(st.sampled_from(nodes), max_size=2))
    program = Program(leaf_shapes, ops, outputs, draw(st.integers(0, 2**32 - 1)))
    assume(all(np.all(np.abs(v) < 30) for v in program.values))
    return program


# --- the two evaluators ---------------------------------------------------------------

def apply(op, values, on_tensors):
    name, a = op[0], values[op[1]]
    if name == "add":
        return a + values[op[2]]
    if name == "sub":
        return a - values[op[2]]
    if name == "mul":
        return a * values[op[2]]
    if name == "matmul":
        return a @ values[op[2]]
    if name == "tanh":
        return a.tanh() if on_tensors else np.tanh(a)
    if name == "exptanh":
        return a.tanh().exp() if on_tensors else np.exp(np.tanh(a))
    if name == "sum":
        return a.sum(op[2], keepdim=op[3]) if on_tensors else np.sum(a, op[2], keepdims=op[3])
    if name == "slice":
        _, _, dim, start, stop, step = op
        return a[(slice(None),) * dim + (slice(start, stop, step),)]
    if name == "cat":
        b, dim = values[op[2]], op[3]
        return tg.cat([a, b], dim) if on_tensors else np.concatenate([a, b], dim)
    if name == "scale":
        return a * op[2]
    raise AssertionError(name)


def evaluate_np(program, leaves, perturb=None, ops=None):
    """Every value (leaves, then nodes) on NumPy; ``perturb=(i, delta)`` adds delta to value i."""
    values = []
    for i in range(program.n_leaves + len(program.ops)):
        v = np.asarray(leaves[i], dtype=np.float64) if i < program.n_leaves else \
            np.asarray(apply((ops or program.ops)[i - program.n_leaves], values, False),
                       dtype=np.float64)
        if perturb is not None and perturb[0] == i:
            v = v + perturb[1]
        values.append(v)
    return values


def build_tg(program, device="cpu", leaves=None):
    """The leaves as Tensors that require grad, and every value (leaves, then nodes)."""
    leaves = program.leaves if leaves is None else leaves
    values = [tg.tensor(np.array(x), dtype=tg.float64, requires_grad=True, device=device)
              for x in leaves]
    for op in program.ops:
        values.append(apply(op, values, True))
    return values


def loss_np(program, values):
    return sum(float(np.sum(w * values[k])) for k, w in zip(program.outputs, program.weights))


def fd_grad(program, i, loss=None, ops=None):
    """Central differences of ``loss(values)`` (default L) with respect to value i."""
    loss = loss or (lambda values: loss_np(program, values))
    shape = program.shapes[i]
    grad = np.zeros(shape)
    for j in range(int(np.prod(shape))):
        delta = np.zeros(shape)
        delta.flat[j] = EPS
        up = loss(evaluate_np(program, program.leaves, (i, delta), ops))
        down = loss(evaluate_np(program, program.leaves, (i, -delta), ops))
        grad.flat[j] = (up - down) / (2 * EPS)
    return grad


def grad_outputs(program, device="cpu"):
    return [tg.tensor(w, dtype=tg.float64, device=device) for w in program.weights]


def tg_loss(program, values, device="cpu"):
    loss = None
    for k, w in zip(program.outputs, grad_outputs(program, device)):
        term = (values[k] * w).sum()
        loss = term if loss is None else loss + term
    return loss


def check(actual, expected, what, rtol=RTOL, atol=ATOL):
    assert actual is not None, f"{what}: None where a gradient was expected"
    data = actual.numpy() if isinstance(actual, tg.Tensor) else np.asarray(actual)
    assert data.shape == np.shape(expected), f"{what}: shape {data.shape} vs {np.shape(expected)}"
    np.testing.assert_allclose(data, expected, rtol=rtol, atol=atol, err_msg=what)


def draw_inputs(data, program):
    return data.draw(st.lists(st.integers(0, program.size - 1), min_size=1, max_size=4,
                              unique=True), label="inputs")


def draw_reaching_inputs(data, program):
    """Drawn inputs that reach an output (at least one: the draw is rejected otherwise)."""
    note(repr(program))
    inputs = [i for i in draw_inputs(data, program) if program.reaches(i)]
    assume(inputs)
    return inputs


# --- the fuzzers ------------------------------------------------------------------------

@SETTINGS
@given(programs(), st.data())
def test_grad_of_leaves_and_intermediates_matches_finite_differences(program, data):
    note(repr(program))
    inputs = draw_inputs(data, program)
    allow_unused = data.draw(st.booleans(), label="allow_unused")
    values = build_tg(program)
    outputs = [values[k] for k in program.outputs]
    unused = [i for i in inputs if not program.reaches(i)]
    if unused and not allow_unused:
        with pytest.raises(RuntimeError, match=UNUSED):
            tg.autograd.grad(outputs, [values[i] for i in inputs], grad_outputs(program))
        return
    grads = tg.autograd.grad(outputs, [values[i] for i in inputs], grad_outputs(program),
                             allow_unused=allow_unused)
    assert len(grads) == len(inputs)
    for i, g in zip(inputs, grads):
        if i in unused:
            assert g is None, f"v{i} reaches no output but got a gradient"
        else:
            check(g, fd_grad(program, i), f"dL/dv{i}")


@SETTINGS
@given(programs(), st.data())
def test_retain_graph_repeats_and_plain_grad_frees(program, data):
    inputs = draw_reaching_inputs(data, program)
    values = build_tg(program)
    outputs = [values[k] for k in program.outputs]
    tensors = [values[i] for i in inputs]
    first = tg.autograd.grad(outputs, tensors, grad_outputs(program), retain_graph=True)
    second = tg.autograd.grad(outputs, tensors, grad_outputs(program))
    for i, g1, g2 in zip(inputs, first, second):
        expected = fd_grad(program, i)
        check(g1, expected, f"dL/dv{i} (retained)")
        check(g2, g1.numpy(), f"dL/dv{i} (second)", rtol=1e-12, atol=0)
    if any(program.strictly_below(i) for i in inputs):  # some op ran and was freed
        with pytest.raises(RuntimeError, match=FREED):
            tg.autograd.grad(outputs, tensors, grad_outputs(program))

    # backward after grad(retain_graph=True) accumulates into .grad; twice: 2x
    values = build_tg(program)
    leaves = values[:program.n_leaves]
    loss = tg_loss(program, values)
    used = [i for i in range(program.n_leaves) if program.reaches(i)]
    tg.autograd.grad(loss, [leaves[i] for i in used], retain_graph=True)
    assert all(leaf.grad is None for leaf in leaves), "grad() must leave .grad alone"
    loss.backward(retain_graph=True)
    expected = {i: fd_grad(program, i) for i in used}
    for i, leaf in enumerate(leaves):
        if i in used:
            check(leaf.grad, expected[i], f"leaf {i} .grad after one backward")
        else:
            assert leaf.grad is None
    loss.backward()
    for i in used:
        check(leaves[i].grad, 2 * expected[i], f"leaf {i} .grad after two backwards")
    with pytest.raises(RuntimeError, match=FREED):
        loss.backward()


@SETTINGS
@given(programs(), st.data())
def test_retain_grad_on_intermediates(program, data):
    note(repr(program))
    nodes = range(program.n_leaves, program.size)
    retained = data.draw(st.lists(st.sampled_from(nodes), max_size=4, unique=True),
                         label="retained")
    values = build_tg(program)
    for i in retained:
        values[i].retain_grad()
    tg_loss(program, values).backward()
    for i in list(range(program.n_leaves)) + retained:
        if program.reaches(i):
            check(values[i].grad, fd_grad(program, i), f"v{i}.grad")
        else:
            assert values[i].grad is None, f"v{i} reaches no output but has a .grad"
    for i in set(nodes) - set(retained):  # (_grad: reading .grad of a non-leaf warns)
        assert values[i]._grad is None, f"v{i}.grad without retain_grad"


def first_order(program, leaves, p):
    """The framework's dL/d(leaf p) at ``leaves`` (a plain backward), as an array."""
    values = build_tg(program, leaves=leaves)
    outputs = [values[k] for k in program.outputs]
    (g,) = tg.autograd.grad(outputs, [values[p]], grad_outputs(program))
    return g.numpy()


@SETTINGS
@given(programs(), st.data())
def test_create_graph_first_and_second_order(program, data):
    note(repr(program))
    used = [i for i in range(program.n_leaves) if program.reaches(i)]
    assume(used)
    values = build_tg(program)
    outputs = [values[k] for k in program.outputs]
    leaves = [values[i] for i in used]
    firsts = tg.autograd.grad(outputs, leaves, grad_outputs(program), create_graph=True)
    for i, g in zip(used, firsts):
        check(g, fd_grad(program, i), f"dL/dv{i} (create_graph)")
    p = data.draw(st.sampled_from(range(len(used))), label="p")
    v = program.rng.standard_normal(program.shapes[used[p]])
    # oracle: central differences of <first_order_p(leaves), v>, the framework's own gradient
    expected = []
    for q in used:
        fd = np.zeros(program.shapes[q])
        for j in range(fd.size):
            shifted = []
            for sign in (1, -1):
                leaves_np = [x.copy() for x in program.leaves]
                leaves_np[q] = leaves_np[q] + 0.0
                leaves_np[q].flat[j] += sign * 1e-5
                shifted.append(np.sum(first_order(program, leaves_np, used[p]) * v))
            fd.flat[j] = (shifted[0] - shifted[1]) / 2e-5
        expected.append(fd)
    s = (firsts[p] * tg.tensor(v, dtype=tg.float64)).sum()
    if not s.requires_grad:  # the first-order gradient does not depend on the leaves
        for fd in expected:
            np.testing.assert_allclose(fd, 0, atol=1e-4)
        return
    seconds = tg.autograd.grad(s, leaves, allow_unused=True)
    for q, g, fd in zip(used, seconds, expected):
        if g is None:
            np.testing.assert_allclose(fd, 0, atol=1e-4, err_msg=f"d2 v{q}: None, FD nonzero")
        else:
            check(g, fd, f"d/dv{q} <dL/dv{used[p]}, v>", rtol=1e-4, atol=1e-4)

    # backward(create_graph=True) twice: .grad = 2x, and .grad differentiable the same way
    values = build_tg(program)
    loss = tg_loss(program, values)
    loss.backward(create_graph=True)
    loss.backward(create_graph=True)
    for i in used:
        check(values[i].grad, 2 * fd_grad(program, i), f"v{i}.grad after two create_graph")
    g = values[used[p]].grad
    if g.requires_grad:
        seconds = tg.autograd.grad((g * tg.tensor(v, dtype=tg.float64)).sum(),
                                   [values[i] for i in used], allow_unused=True)
        for q, g2, fd in zip(used, seconds, expected):
            if g2 is None:
                np.testing.assert_allclose(fd, 0, atol=1e-4)
            else:
                check(g2, 2 * fd, f"d/dv{q} <v{used[p]}.grad, v>", rtol=1e-4, atol=1e-4)
    else:
        for fd in expected:
            np.testing.assert_allclose(fd, 0, atol=1e-4)


@SETTINGS
@given(programs(), st.data(), st.sampled_from((0.0, -0.5, 2.0, 3.0)))
def test_hook_scaling_an_intermediate_gradient(program, data, c):
    note(repr(program))
    nodes = [i for i in range(program.size) if program.reaches(i)]  # leaves too
    node = data.draw(st.sampled_from(nodes), label="hooked")
    used = [i for i in range(program.n_leaves) if program.reaches(i)]
    g_node = fd_grad(program, node)  # dL/dnode, held fixed below

    def through_node(values):  # <dL/dnode, node(leaves)>
        return float(np.sum(g_node * values[node]))

    expected = {i: fd_grad(program, i) + (c - 1) * fd_grad(program, i, through_node)
                if i in program.ancestors[node] or i == node else fd_grad(program, i)
                for i in used}
    seen = []
    values = build_tg(program)
    retain = data.draw(st.sampled_from(("no", "before", "after")), label="retain_grad")
    if retain == "before" and node >= program.n_leaves:
        values[node].retain_grad()
    values[node].register_hook(lambda g: seen.append(g.numpy().copy()) or g * c)
    values[node].register_hook(lambda g: None)  # a hook that returns None changes nothing
    if retain == "after" and node >= program.n_leaves:
        values[node].retain_grad()
    tg_loss(program, values).backward()
    assert len(seen) == 1
    check(seen[0], g_node, f"the gradient the hook on v{node} saw")
    if retain != "no" or node < program.n_leaves:  # PyTorch >= 2.0: .grad of a retained tensor is after its hooks
        check(values[node].grad, c * g_node, f"v{node}.grad (retain_grad {retain} the hook)")
    for i in used:
        check(values[i].grad, expected[i], f"v{i}.grad with the hook on v{node}")
    # the same hook in grad(): tensor hooks fire there too
    values = build_tg(program)
    values[node].register_hook(lambda g: g * c)
    outputs = [values[k] for k in program.outputs]
    grads = tg.autograd.grad(outputs, [values[i] for i in used], grad_outputs(program))
    for i, g in zip(used, grads):
        check(g, expected[i], f"grad() dL/dv{i} with the hook on v{node}")


@SETTINGS
@given(programs(), st.data())
def test_strict_device_gives_the_cpu_gradients(program, data):
    inputs = draw_reaching_inputs(data, program)
    results = {}
    for device in ("cpu", "strict"):
        values = build_tg(program, device)
        outputs = [values[k] for k in program.outputs]
        grads = tg.autograd.grad(outputs, [values[i] for i in inputs],
                                 grad_outputs(program, device), retain_graph=True)
        assert all(g.device == device for g in grads)
        tg_loss(program, values, device).backward()
        leaf_grads = [None if x.grad is None else x.grad.numpy()
                      for x in values[:program.n_leaves]]
        results[device] = ([g.numpy() for g in grads], leaf_grads)
    for a, b in zip(results["cpu"][0] + results["cpu"][1],
                    results["strict"][0] + results["strict"][1]):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)
    for i, g in zip(inputs, results["cpu"][0]):
        check(g, fd_grad(program, i), f"dL/dv{i}")


# --- the oracle can fail ----------------------------------------------------------------

FIXED = Program([(2, 3), (3,)], [("mul", 0, 1), ("exptanh", 2), ("sum", 3, 1, True),
                                 ("matmul", 0, 1), ("add", 4, 5)], [6, 3], seed=7)


def test_meta_the_oracle_catches_a_wrong_gradient():
    values = build_tg(FIXED)
    grads = tg.autograd.grad([values[k] for k in FIXED.outputs], [values[0], values[3]],
                             grad_outputs(FIXED))
    check(grads[0], fd_grad(FIXED, 0), "dL/dv0")
    check(grads[1], fd_grad(FIXED, 3), "dL/dv3")
    with pytest.raises(AssertionError):
        check(grads[0] * 1.001, fd_grad(FIXED, 0), "scaled")
    with pytest.raises(AssertionError):  # a gradient of another value
        check(grads[1], fd_grad(FIXED, 2), "wrong value")
    wrong_ops = list(FIXED.ops)
    wrong_ops[1] = ("tanh", 2)  # NumPy's program differs from the framework's
    with pytest.raises(AssertionError):
        check(grads[0], fd_grad(FIXED, 0, ops=wrong_ops), "wrong program")


def test_meta_the_reach_analysis_and_fd_of_intermediates():
    assert FIXED.reaches(0) and FIXED.reaches(3) and FIXED.reaches(5)
    lone = Program([(2,), (2,)], [("tanh", 0), ("scale", 2, 2.0)], [3], seed=1)
    assert not lone.reaches(1)
    np.testing.assert_allclose(fd_grad(lone, 2), 2.0 * lone.weights[0], rtol=1e-8)
    np.testing.assert_allclose(fd_grad(lone, 1), 0, atol=1e-12)


# --- what the fuzzer found ----------------------------------------------------------------

def test_grad_with_an_input_listed_twice():
    """``engine.grad`` kept one position per input (``{id: index}``): an input listed
    twice had its first slot empty and grad raised 'input 0 was not used' (with
    allow_unused, a silent None). As torch.autograd.grad: the gradient in both slots, each
    a tensor of its own."""
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    y = tg.tensor([3.0], dtype=tg.float64, requires_grad=True)
    gx, gy, gx_again = tg.autograd.grad((x * x * y).sum(), [x, y, x])
    assert gx.tolist() == [6.0, 12.0] and gx_again.tolist() == [6.0, 12.0]
    assert gy.tolist() == [5.0] and gx is not gx_again


def test_a_second_backward_raises_even_through_ops_that_saved_nothing():
    """Stricter than PyTorch, on purpose (docs/deviations.md): a backward without
    retain_graph releases every op of the graph, inputs and all (the edges of the graph are
    the input tensors, which hold their arrays), so a second backward through it raises.
    PyTorch keeps the edges and frees only saved tensors: ``y = (x + 1).sum()`` backward
    twice works there (Add and Sum save nothing)."""
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    y = (x + 1).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()
    assert x.grad.tolist() == [1.0, 1.0]
