"""The plain ``loss.backward()`` twin (autograd/fast_backward.py) against its oracle,
the readable engine (``engine.backward``, reached with ``fast_backward.ENABLED = False``).

``run_both(build)`` runs the same graph-building function twice from the same seed, once
through the twin and once through the engine, and asserts that every watched tensor's
``.data`` and ``.grad`` (and every value a build noted: hook arguments, parameters after
optimizer steps) are bit-for-bit the same, that an error is the same type with the same
message, and that grad mode is on again afterwards. The dispatch tests check which calls
the twin hands to ``engine.backward`` and that it frees the graph as the engine does.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_opt as tg
from fuzzing import fuzz_settings
from tinygrad_opt import backend, nn, optim
from tinygrad_opt.autograd import engine, fast_backward
from tinygrad_opt.autograd.grad_mode import keep_graph

DTYPES = pytest.mark.parametrize("dtype", [tg.float32, tg.float64], ids=["f32", "f64"])


@pytest.fixture(autouse=True)
def _plain_process(monkeypatch):
    """``engine.rewirings`` counts recorded ``x[i] = v`` for the whole process (another test
    may have made one): start each test from a process where the twin may run."""
    monkeypatch.setattr(engine, "rewirings", 0)
    monkeypatch.setattr(fast_backward, "ENABLED", True)


# --- the comparison helper --------------------------------------------------------------

def host(x):
    """A host copy of a Tensor's or an array's values."""
    return np.array(backend.to_host(x.data if isinstance(x, tg.Tensor) else x), copy=True)


class Record:
    """What one run leaves to compare: tensors (their data and .grad) and noted values."""

    def __init__(self):
        self.tensors, self.values = [], []

    def watch(self, *tensors):
        self.tensors.extend(tensors)
        return tensors[0] if len(tensors) == 1 else tensors

    def note(self, value):
        self.values.append(host(value))


def _one_run(build, enabled, seed, device, dtype):
    previous = fast_backward.ENABLED
    fast_backward.ENABLED = enabled
    try:
        tg.manual_seed(seed)
        record, error = Record(), None
        try:
            build(record, np.random.default_rng(seed), device, dtype)
        except Exception as exc:  # noqa: BLE001 (compared below)
            error = exc
        assert tg.is_grad_enabled(), f"grad mode left off (ENABLED={enabled})"
        snapshot = [(host(t), None if t.grad is None else
                     (type(t.grad), t.grad.device, host(t.grad))) for t in record.tensors]
        return snapshot, record.values, error
    finally:
        fast_backward.ENABLED = previous


def same_bits(a, b, what):
    assert (a.dtype, a.shape) == (b.dtype, b.shape), f"{what}: {a.dtype, a.shape}{b.dtype, b.shape}"
    same = np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()
    assert same, f"{what} differs:\ntwin   {a}\nengine {b}"


def run_both(build, seed=0, device="cpu", dtype=tg.float64):
    """Run ``build(record, rng, device, dtype)`` by the twin and by the engine; assert the
    same results. Returns the twin's error (None when the pass succeeded)."""
    fast, fast_values, fast_error = _one_run(build, True, seed, device, dtype)
    slow, slow_values, slow_error = _one_run(build, False, seed, device, dtype)
    assert type(fast_error) is type(slow_error), f"errors: {fast_error!r} vs {slow_error!r}"
    assert str(fast_error) == str(slow_error)
    assert len(fast) == len(slow) and len(fast_values) == len(slow_values)
    for i, ((data, grad), (data2, grad2)) in enumerate(zip(fast, slow)):
        same_bits(data, data2, f"tensor {i} data")
        assert (grad is None) == (grad2 is None), f"tensor {i}: .grad None in one run only"
        if grad is not None:
            assert grad[:2] == grad2[:2], f"tensor {i}: .grad type/device {grad[:2]} vs {grad2[:2]}"
            same_bits(grad[2], grad2[2], f"tensor {i} .grad")
    for i, (value, value2) in enumerate(zip(fast_values, slow_values)):
        same_bits(value, value2, f"noted value {i}")
    return fast_error


def leaf(rng, shape, device, dtype, requires_grad=True):
    return tg.tensor(rng.standard_normal(shape), dtype=dtype, device=device,
                     requires_grad=requires_grad)


# --- graphs ---------------------------------------------------------------------------

@DTYPES
def test_mlp_training_steps(device, dtype):
    """Three SGD steps of Linear-ReLU-Linear with cross entropy: the same grads and the
    same parameters after every step."""
    def build(record, rng, device, dtype):
        model = nn.Sequential(nn.Linear(5, 8, device=device, dtype=dtype), nn.ReLU(),
                              nn.Linear(8, 3, device=device, dtype=dtype))
        params = record.watch(*model.parameters())
        opt = optim.SGD(params, lr=0.1, momentum=0.9)
        loss_fn = nn.CrossEntropyLoss()
        for _ in range(3):
            inputs = tg.tensor(rng.standard_normal((6, 5)), dtype=dtype, device=device)
            labels = tg.tensor(rng.integers(0, 3, 6), device=device)
            opt.zero_grad()
            loss = loss_fn(model(inputs), labels)
            loss.backward()
            for p in params:
                record.note(p.grad)
            opt.step()
            for p in params:
                record.note(p)
    assert run_both(build, device=device, dtype=dtype) is None


def random_graph(record, rng, device, dtype):
    """Leaves of shape (3, 4) and (4,), then random ops on a pool with reuse (fan-out:
    gradients are summed), a retained intermediate, hooks, an unused leaf."""
    pool = list(record.watch(*[leaf(rng, (3, 4), device, dtype) for _ in range(3)]))
    vector = record.watch(leaf(rng, (4,), device, dtype))
    record.watch(leaf(rng, (2,), device, dtype))  # used nowhere: .grad stays None
    pool.append(leaf(rng, (3, 4), device, dtype, requires_grad=False))
    pick = lambda: pool[rng.integers(len(pool))]  # noqa: E731
    ops = [
        lambda a, b: a + b, lambda a, b: a - b * 0.5, lambda a, b: a * b,
        lambda a, b: a / (b * b + 1), lambda a, b: a.tanh(), lambda a, b: a.sin() * a,
        lambda a, b: a.relu() + b.sigmoid(), lambda a, b: a.maximum(b),
        lambda a, b: a + vector, lambda a, b: a * b.sum(0, keepdim=True),
        lambda a, b: a - b.mean(1, keepdim=True), lambda a, b: (a @ b.T) @ b.tanh() * 0.1,
        lambda a, b: a.reshape(4, 3).transpose(0, 1) * b, lambda a, b: a[[2, 0, 0]] + b,
        lambda a, b: a[:, [3, 1, 0, 2]] * b, lambda a, b: a.max(1, keepdim=True) * b,
        lambda a, b: a.softmax(-1) * b, lambda a, b: (a.abs() + 1).log() + b.exp().tanh(),
        lambda a, b: a.flatten().reshape(3, 4) + a,
    ]
    for step in range(int(rng.integers(2, 9))):
        node = ops[rng.integers(len(ops))](pick(), pick())
        if not node.requires_grad:
            continue
        if step == 1:
            node.retain_grad()
            record.watch(node)
        if step == 2:
            node.register_hook(lambda g: g * 3)
        pool.append(node)
    nodes = [t for t in pool if t.requires_grad]
    loss = sum((nodes[rng.integers(len(nodes))] * 0.5).sum() for _ in range(2))
    loss = loss + nodes[-1].mean()
    loss.backward()


@DTYPES
@given(seed=st.integers(0, 2 ** 20))
@fuzz_settings(30)
def test_random_graphs(seed, dtype, device):
    """Random compositions of elementwise, reduction, broadcast, matmul, reshape and
    indexing ops with shared subexpressions give the same gradients bit for bit."""
    run_both(random_graph, seed=seed, device=device, dtype=dtype)


@DTYPES
def test_small_graphs(device, dtype):
    """A leaf that is the loss, x.sum(), a leaf used twice, two leaves, accumulation over
    two backward calls without zeroing."""
    def is_loss(record, rng, device, dtype):
        record.watch(tg.tensor(3.0, dtype=dtype, device=device, requires_grad=True)).backward()

    def summed(record, rng, device, dtype):
        record.watch(leaf(rng, (2, 3), device, dtype)).sum().backward()

    def used_twice(record, rng, device, dtype):
        x = record.watch(leaf(rng, (3,), device, dtype))
        (x * x + x).sum().backward()

    def two_leaves(record, rng, device, dtype):
        a, b = record.watch(leaf(rng, (3,), device, dtype), leaf(rng, (3,), device, dtype))
        (a + b).sum().backward()

    def accumulated(record, rng, device, dtype):
        x = record.watch(leaf(rng, (3,), device, dtype))
        (x * 2).sum().backward()
        record.note(x.grad)
        (x.exp() * x).sum().backward()

    def one_element_losses(record, rng, device, dtype):  # shapes (1,), (1, 1), and leaves
        x = record.watch(leaf(rng, (2, 3), device, dtype))
        for shape in ((1,), (1, 1)):
            loss = (x * x).sum().reshape(shape)
            loss.backward()
            record.note(x.grad)
        for shape in ((), (1,), (1, 1)):  # the root itself a leaf: its .grad is ones
            root = record.watch(leaf(rng, shape, device, dtype))
            root.backward()

    for build in (is_loss, summed, used_twice, two_leaves, accumulated, one_element_losses):
        assert run_both(build, device=device, dtype=dtype) is None


@pytest.mark.parametrize("enabled", [True, False], ids=["twin", "engine"])
def test_no_grad_aliases_another_array(device, enabled, monkeypatch):
    """No .grad is a view, or shares memory with another .grad or an earlier one."""
    monkeypatch.setattr(fast_backward, "ENABLED", enabled)
    rng = np.random.default_rng(0)
    x = leaf(rng, (2, 3), device, tg.float64)
    x.sum().backward()  # the gradient reaching x is a broadcast view of the ones
    a, b = leaf(rng, (3,), device, tg.float64), leaf(rng, (3,), device, tg.float64)
    (a + b).sum().backward()  # Add hands the same array to both
    old = a.grad
    (a * 1).sum().backward()  # accumulation: a new array
    grads = [x.grad, a.grad, b.grad, old]
    owners = [backend.memory_owner(g.data) for g in grads]
    assert len({id(owner) for owner in owners}) == len(grads)
    assert all(owner is g.data or owner is getattr(g.data, "_array", None)
               for owner, g in zip(owners, grads))  # not views
    with tg.no_grad():
        a.grad.zero_()
    np.testing.assert_array_equal(host(old), np.ones(3))
    np.testing.assert_array_equal(host(b.grad), np.ones(3))


def test_hooks_and_retain_grad(device):
    """Hooks on leaves and intermediates (None, a replacement, one that records what it
    saw) and retain_grad() on an intermediate."""
    def build(record, rng, device, dtype):
        x, w = record.watch(leaf(rng, (3,), device, dtype), leaf(rng, (3,), device, dtype))
        h = record.watch(x * w)
        h.retain_grad()
        h.register_hook(lambda g: None)
        h.register_hook(lambda g: g * 2)
        h.register_hook(lambda g: record.note(g))
        x.register_hook(lambda g: record.note(g))
        w.register_hook(lambda g: -g)
        (h.tanh() * h + x).sum().backward()
    run_both(build, device=device)


# The twin once handed the copy it keeps in a retained tensor's .grad on to the op's
# backward (the engine hands on the original): a hook below that changed its gradient in
# place changed the retained .grad too (5 against 1).
def test_an_in_place_hook_below_does_not_change_a_retained_grad(device):
    """h = s + 0 retains its grad; a hook on s scales its gradient in place: h.grad, and
    x.grad, are the same from both."""
    def build(record, rng, device, dtype):
        x = record.watch(leaf(rng, (2,), device, dtype))
        s = (x * x).sum()
        h = record.watch(s + 0.0)  # Add hands its gradient on unchanged
        h.retain_grad()
        s.register_hook(lambda g: g.mul_(5) and None)
        h.backward()
    run_both(build, device=device)


def test_inf_and_nan_gradients(device):
    """Masks meeting inf and NaN upstream gradients give the same values."""
    def build(record, rng, device, dtype):
        x = record.watch(tg.tensor([-1.0, 4.0, 0.0], dtype=dtype, device=device,
                                   requires_grad=True))
        (x.relu().sqrt().sum() + (x * 0).log().sum()).backward()
    with np.errstate(all="ignore"):
        run_both(build, device=device)


# --- errors ---------------------------------------------------------------------------

@pytest.mark.parametrize("write", ["add_", "setitem"])
def test_in_place_write_to_a_saved_tensor(device, write):
    """An input written in place after forward: the same version error from both."""
    def build(record, rng, device, dtype):
        w = record.watch(leaf(rng, (3,), device, dtype))
        x = leaf(rng, (3,), device, dtype, requires_grad=False)
        y = (w * x).sum()
        if write == "add_":
            x.add_(1)
        else:
            x[0] = 100.0
        y.backward()
    error = run_both(build, device=device)
    assert isinstance(error, RuntimeError) and "modified by an in-place" in str(error)


def test_other_errors(device):
    """A freed graph, a non-scalar loss, a loss that requires no grad: the same errors."""
    def freed(record, rng, device, dtype):
        x = record.watch(leaf(rng, (3,), device, dtype))
        y = (x * x).exp().sum()
        y.backward()
        y.backward()

    def non_scalar(record, rng, device, dtype):
        (record.watch(leaf(rng, (3,), device, dtype)) * 2).backward()

    def no_grad_loss(record, rng, device, dtype):
        leaf(rng, (3,), device, dtype, requires_grad=False).sum().backward()

    for build, words in [(freed, "second time"), (non_scalar, "scalar outputs"),
                         (no_grad_loss, "does not require grad")]:
        assert words in str(run_both(build, device=device))


class Custom(tg.autograd.Function):
    """y = a·b (core style); ``kind`` picks what backward returns."""

    kind = "right"

    def forward(self, a, b):
        return a * b

    def backward(self, g):
        a, b = self.saved_inputs
        kind = self.kind
        return {"right": lambda: (g * b, g * a), "too_few": lambda: g * b,
                "too_many": lambda: (g * b, g * a, g), "shape": lambda: (g.reshape(1), g * a),
                "dtype": lambda: ((g * b).astype("float32"), g * a),
                "tensor": lambda: (tg.Tensor._make(g * b), g * a),
                "scalar": lambda: (b.dtype.type(2.0), g * a), "none": lambda: (None, g * a),
                "unneeded": lambda: (g * b, g.reshape(1, 1))}[kind]()


@pytest.mark.parametrize("kind", ["right", "too_few", "too_many", "shape", "dtype", "tensor",
                                  "scalar", "none", "unneeded"])
def test_custom_function_returns(device, kind, monkeypatch):
    """Whatever a custom Function's backward returns, both give the same result or error.
    (0-d inputs, so a NumPy scalar is a valid gradient; for 'unneeded' b needs no grad and
    gets a malformed one, which is ignored.)"""
    monkeypatch.setattr(Custom, "kind", kind)

    def build(record, rng, device, dtype):
        a = record.watch(leaf(rng, (), device, dtype))
        b = record.watch(leaf(rng, (), device, dtype, requires_grad=kind != "unneeded"))
        (Custom.apply(a.exp(), b) * 3).backward()
    error = run_both(build, device=device)
    if kind in ("right", "none", "unneeded") or (kind == "scalar" and device == "cpu"):
        assert error is None
    if kind in ("too_few", "too_many", "shape", "dtype", "tensor"):
        assert isinstance(error, RuntimeError) and "Custom.backward returned" in str(error)


# --- dispatch -------------------------------------------------------------------------

@pytest.fixture
def engine_calls(monkeypatch):
    """The calls that reach engine.backward (which still runs)."""
    calls, original = [], engine.backward

    def spy(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)
    monkeypatch.setattr(engine, "backward", spy)
    return calls


def small_loss(device="cpu"):
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, device=device, requires_grad=True)
    return x, (x.exp() * x).sum()


def test_a_plain_pass_runs_by_the_twin_and_frees_every_op(engine_calls, device):
    """A plain backward never reaches engine.backward, and releases each op, as the engine."""
    for enabled in (True, False):
        fast_backward.ENABLED = enabled
        x, loss = small_loss(device)
        functions = [t.grad_fn for t in engine.topological_order([loss]) if t.grad_fn]
        assert len(functions) == 3 and not any(f.freed for f in functions)
        loss.backward()
        assert all(f.freed for f in functions) and len(engine_calls) == (not enabled)
    assert engine.rewirings == 0


@pytest.mark.parametrize("case", ["gradient", "retain_graph", "keep_graph", "bad_gradient"])
def test_gradient_retain_graph_and_keep_graph_run_by_the_twin(engine_calls, case):
    """``gradient=``, ``retain_graph=True`` and ``keep_graph()`` are plain passes too: the
    twin runs them (a bad ``gradient=`` raises the engine's own error from the twin),
    and only a pass that retains the graph leaves its ops unfreed."""
    x, loss = small_loss()
    functions = [t.grad_fn for t in engine.topological_order([loss]) if t.grad_fn]
    if case == "keep_graph":
        with keep_graph():
            loss.backward()
    elif case == "bad_gradient":
        with pytest.raises(RuntimeError, match="gradient shape"):
            loss.backward(tg.tensor([1.0, 2.0], dtype=tg.float64))
    else:
        loss.backward(**{"gradient": {"gradient": tg.tensor(2.0, dtype=tg.float64)},
                         "retain_graph": {"retain_graph": True}}[case])
    assert engine_calls == [] and tg.is_grad_enabled()
    retained = case in ("retain_graph", "keep_graph", "bad_gradient")
    assert all(f.freed is not retained for f in functions)


@pytest.mark.parametrize("case", ["create_graph", "anomaly", "non_scalar", "no_grad_loss",
                                  "freed", "disabled"])
def test_every_other_call_goes_to_the_engine(engine_calls, case, monkeypatch):
    """Each case the twin does not handle reaches engine.backward (errors included)."""
    x, loss = small_loss()
    switch = {"anomaly": tg.autograd.detect_anomaly}.get(case)
    if case == "disabled":
        monkeypatch.setattr(fast_backward, "ENABLED", False)
    if case in ("non_scalar", "no_grad_loss", "freed"):
        if case == "freed":
            loss.backward()
            assert engine_calls == []
        culprit = {"non_scalar": x * 2, "no_grad_loss": x.detach().sum(), "freed": loss}[case]
        with pytest.raises(RuntimeError, match="scalar outputs|does not require|second time"):
            culprit.backward()
    elif switch is not None:
        with switch():
            loss.backward()
    else:
        loss.backward(**{"create_graph": {"create_graph": True}}.get(case, {}))
    assert len(engine_calls) == 1 and tg.is_grad_enabled()


def test_recorded_writes(device):
    """After a recorded ``x[i] = v`` (the process's rewirings count is then non-zero) the
    twin still runs, and reads each op's inputs as the op used them, as the engine: a
    write into a buffer, a write into an intermediate, a view taken before a write and
    used after it, ``x += v`` on a view of a non-leaf."""
    def into_buffer(record, rng, device, dtype):
        w, x = record.watch(leaf(rng, (2,), device, dtype), leaf(rng, (3,), device, dtype))
        buf = tg.zeros(3, dtype=dtype, device=device)
        buf[0:2] = w * 2
        (buf * x).sum().backward()

    def into_intermediate(record, rng, device, dtype):
        w, u = record.watch(leaf(rng, (3,), device, dtype), leaf(rng, (), device, dtype))
        h = w * 1.5
        before = (h * 2.0).sum()  # used h before the write: its gradient goes to the old h
        h[0] = u * 5
        (before + (h * h.exp()).sum()).backward()

    def stale_view(record, rng, device, dtype):
        w = record.watch(leaf(rng, (2,), device, dtype))
        buf = tg.ones(4, dtype=dtype, device=device)
        view = buf[0:2]
        buf[0:2] = w.tanh()
        (view * 3 + buf.sum()).sum().backward()

    def added_into_a_view(record, rng, device, dtype):
        w, v = record.watch(leaf(rng, (2, 3), device, dtype), leaf(rng, (3,), device, dtype))
        h = w.sin()
        row = h[1]
        row += v * v
        (h * w).sum().backward()

    for build in (into_buffer, into_intermediate, stale_view, added_into_a_view):
        assert run_both(build, device=device) is None
    assert engine.rewirings > 0


def test_given_gradients_and_retained_graphs(device):
    """Passes with ``gradient=`` (a non-scalar output, a Tensor the caller keeps, a NumPy
    array, a float32 output with its own dtype), with ``retain_graph=True`` (a second and
    a third pass over the same graph, the last one freeing it, then the freed-graph
    error), and under ``keep_graph()``: the same gradients bit for bit and the same
    errors by the twin as by the engine."""
    def non_scalar(record, rng, device, dtype):
        w, x = record.watch(leaf(rng, (3, 2), device, dtype), leaf(rng, (2,), device, dtype))
        y = (w * x).tanh() @ x                            # (3,)
        seed = tg.tensor(rng.standard_normal(3), dtype=dtype, device=device)
        y.backward(seed)
        record.note(seed)                                 # the caller's gradient unchanged

    def array_gradient(record, rng, device, dtype):
        w = record.watch(leaf(rng, (2, 2), device, dtype))
        (w.exp() * 3).backward(rng.standard_normal((2, 2)))   # the leaf gets it as .grad

    def passthrough(record, rng, device, dtype):
        w, v = record.watch(leaf(rng, (2,), device, dtype), leaf(rng, (2,), device, dtype))
        seed = tg.tensor(rng.standard_normal(2), dtype=dtype, device=device)
        (w * 1).backward(seed)
        v.backward(seed)                                  # the leaf itself: seed reaches it
        seed.data[...] = 7                                # a .grad never aliases it
        record.note(w.grad)
        record.note(v.grad)

    def retained(record, rng, device, dtype):
        w, b = record.watch(leaf(rng, (3,), device, dtype), leaf(rng, (), device, dtype))
        loss = ((w * b).sigmoid() * w).sum()
        loss.backward(retain_graph=True)
        record.note(w.grad)
        loss.backward(retain_graph=True)                  # accumulates into .grad
        record.note(b.grad)
        loss.backward()                                   # frees the graph
        loss.backward()                                   # the freed-graph error

    def kept(record, rng, device, dtype):
        w = record.watch(leaf(rng, (2, 3), device, dtype))
        with keep_graph():
            loss = (w.relu() * w).sum()
            loss.backward()
        record.note(w.grad)
        loss.backward()                                   # the graph was kept

    for build in (non_scalar, array_gradient, passthrough, kept):
        for dtype in (tg.float64, tg.float32):
            assert run_both(build, device=device, dtype=dtype) is None
    error = run_both(retained, device=device)
    assert isinstance(error, RuntimeError) and "second time" in str(error)


# --- the helper can fail --------------------------------------------------------------

def test_the_helper_sees_a_difference(monkeypatch):
    """A backward formula changed in one run only, or an error raised in one run only,
    or grad mode left off: run_both raises AssertionError."""
    from tinygrad_opt.ops import elementwise
    exp_backward = elementwise.Exp.backward

    def off_by_ulp(self, g):  # the engine's run only
        grad = exp_backward(self, g)
        return grad if fast_backward.ENABLED else np.nextafter(grad, np.inf)
    monkeypatch.setattr(elementwise.Exp, "backward", off_by_ulp)

    def exp_graph(record, rng, device, dtype):
        x = record.watch(leaf(rng, (3,), device, dtype))
        x.exp().sum().backward()
    with pytest.raises(AssertionError, match="grad differs"):
        run_both(exp_graph)

    def raises_in_twin_only(record, rng, device, dtype):
        if fast_backward.ENABLED:
            raise RuntimeError("only here")
    with pytest.raises(AssertionError, match="errors"):
        run_both(raises_in_twin_only)

    def leaves_grad_off(record, rng, device, dtype):
        tg.set_grad_enabled(False)
    try:
        with pytest.raises(AssertionError, match="grad mode"):
            run_both(leaves_grad_off)
    finally:
        tg.set_grad_enabled(True)


# --- the order itself: the twin's _order lists the engine's order, tensor for tensor -----

@fuzz_settings(max_examples=60)
@given(data=st.data())
def test_the_twins_order_is_the_engines(data):
    """Random graphs of leaves (some not requiring grad), shared inputs and diamonds:
    ``fast_backward._order`` (a leaf listed when popped, without the engine's marker) gives
    exactly ``engine.topological_order``'s list, so both run the same backward formulas and
    fire the same hooks in the same order."""
    leaves = [tg.tensor(np.ones(2), requires_grad=i < 2 or data.draw(st.booleans()))
              for i in range(data.draw(st.integers(2, 4)))]
    made = list(leaves)
    for _ in range(data.draw(st.integers(2, 12))):
        a, b = data.draw(st.sampled_from(made)), data.draw(st.sampled_from(made))
        op = data.draw(st.sampled_from(["add", "mul", "tanh", "sub"]))
        made.append(a.tanh() if op == "tanh" else getattr(a, f"__{op}__")(b))
    root = made[-1].sum()
    twin = fast_backward._order(root)
    engine_order = engine.topological_order([root])
    assert [id(t) for t in twin] == [id(t) for t in engine_order]


def test_the_twins_order_with_a_leaf_before_a_subgraph_is_the_engines():
    """a + tanh(b): the engine lists b, tanh, then a (a is popped after b's subgraph)."""
    a, b = (tg.tensor(np.ones(2), requires_grad=True) for _ in range(2))
    loss = (a + b.tanh()).sum()
    assert [id(t) for t in fast_backward._order(loss)] == \
        [id(t) for t in engine.topological_order([loss])]


def test_the_twins_order_of_a_training_graph_is_the_engines():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    loss = nn.CrossEntropyLoss()(model(tg.randn(6, 4)), tg.tensor(np.array([0, 1, 2, 0, 1, 2])))
    assert [id(t) for t in fast_backward._order(loss)] == \
        [id(t) for t in engine.topological_order([loss])]
