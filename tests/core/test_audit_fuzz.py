"""Fuzzing the core's gradients: random small programs against central differences.

The promise under test: a gradient is right or an error, never silently wrong.

Hypothesis draws a program: leaves (float64, requiring grad), then a few steps, each
one core operation on tensors already made (so tensors fan out, and ``x * x`` uses one
tensor twice): elementwise ops and broadcasting, reductions, shape ops, indexing,
matmul, ``buf[index] = value`` into tensors that do and do not require grad, ``+=``,
``-=``, ``*=``, ``/=`` (also into views), ``clone``, ``detach`` and ``retain_grad``.
The loss is L = Σ_t Σ t·W_t over every tensor made, with fixed random weights W_t.

The oracle is (L(x + ε·e_i) − L(x − ε·e_i)) / (2ε), from the same program run with
leaves that do not require grad (so every write is a plain array write). Values are
drawn away from kinks and ties (each op reports its distance to the nearest kink, and
examples closer than ``MARGIN`` are rejected) and inside the domains of log, sqrt, /
and ** (their operands pass through x² + c first), so finite differences are valid.

Each program runs with ``backward()`` and with ``tg.autograd.grad(create_graph=True)``;
some also check second derivatives (a Hessian-vector product against differences of
the first gradient). A model of what each op saves predicts the in-place writes that
must raise (``Mul`` saves the other operand, ``Exp`` its output, ...): such programs must
raise, naming the op, from both passes, and no other program may raise. A second test
writes to one tensor after the forward: it must raise iff an op saved that memory, and
otherwise leave every gradient as it was.

``AUDIT_FUZZ_EXAMPLES=2000`` runs more examples (the default keeps the file fast);
``AUDIT_FUZZ_KNOWN_BUGS=1`` also draws the patterns of the xfail tests at the end.
"""

import os
from dataclasses import dataclass, field

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt.ops import view_writes

EXAMPLES = int(os.environ.get("AUDIT_FUZZ_EXAMPLES", "80"))
KNOWN_BUGS = os.environ.get("AUDIT_FUZZ_KNOWN_BUGS") == "1"
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))
EPS, ATOL, RTOL = 1e-6, 1e-5, 1e-4
MARGIN = 1e-3        # the least distance from a kink or a tie
MAX_SIZE = 36        # elements per tensor
MAX_STEPS = 9
MODIFIED = "modified by an in-place operation"
f64 = np.float64


def owner(array):
    """The array that owns the memory ``array`` looks into (NumPy's ``base`` chain)."""
    while array.base is not None:
        array = array.base
    return array


def shares(a, b) -> bool:
    """Whether two tensors look into one memory (views of one base share its version
    counter, as in PyTorch, even where the elements they see do not overlap)."""
    return owner(a.data) is owner(b.data)


# --- a program and one run of it ---

@dataclass
class Program:
    leaves: list = field(default_factory=list)     # the leaves' values (float64 arrays)
    steps: list = field(default_factory=list)      # callables step(run)
    text: list = field(default_factory=list)       # one line per step, for failure reports
    frozen: dict = field(default_factory=dict)     # detach: step -> the value it froze
    retained: list = field(default_factory=list)   # [env index]: retain_grad checked

    def __repr__(self):
        values = [f"leaf{i} = {np.array2string(v, precision=17, separator=', ')}"
                  for i, v in enumerate(self.leaves)]
        return "\n".join(["program:"] + self.text + values)


class Run:
    """The program executed once. ``grad``: leaves require grad and every op records;
    otherwise nothing requires grad (the finite-difference runs). ``perturb`` adds
    ``delta`` at one element of a leaf, or of an env tensor right after a given step."""

    def __init__(self, program, grad, perturb=None):
        self.program, self.grad, self.perturb = program, grad, perturb
        self.env, self.made = [], {}  # made: leaf index -> its tensor
        self.saved = []        # [(tensor, name of the op that reads it in backward)]
        self.expected = set()  # names of ops whose saved tensors were overwritten
        self.margin = np.inf
        self.step = -1
        self.made_at = []      # env index -> the step that made it
        self.last_write = {}   # env index -> the last step that wrote its memory
        self.detached = set()  # ids of the detach() results (they share memory here)

    # building blocks the steps call
    def leaf(self, index):
        values = self.program.leaves[index].copy()
        if self.perturb and self.perturb[0] == "leaf" and self.perturb[1] == index:
            values[np.unravel_index(self.perturb[2], values.shape)] += self.perturb[3]
        x = tg.tensor(values, dtype=tg.float64, requires_grad=self.grad)
        self.made[index] = x
        return self.push(x)

    def push(self, x):
        self.env.append(x)
        self.made_at.append(self.step)
        return x

    @property
    def leaves(self):
        """The leaves the run made (an operand drawn but not used makes none), in order."""
        return [self.made[index] for index in sorted(self.made)]

    def pop(self):
        self.made_at.pop()
        return self.env.pop()

    def kink(self, distances):
        distances = np.asarray(distances, dtype=f64)
        if distances.size:
            self.margin = min(self.margin, float(np.abs(distances).min()))

    def save(self, name, *tensors):
        """Op ``name`` reads these tensors in backward (only ops that record save)."""
        if self.grad:
            self.saved += [(t, name) for t in tensors]

    def wrote(self, target):
        """An in-place write into ``target``'s memory: every op that saved it must raise."""
        if not self.grad:
            return
        for tensor, name in self.saved:
            if shares(tensor, target):
                self.expected.add(name)
        for index, tensor in enumerate(self.env):
            if shares(tensor, target):
                self.last_write[index] = self.step

    def execute(self):
        for self.step, step in enumerate(self.program.steps):
            step(self)
            if self.perturb and self.perturb[0] == "env" and self.perturb[4] == self.step:
                _, index, flat, delta, _ = self.perturb
                x = self.env[index]
                with tg.no_grad():
                    x.data[np.unravel_index(flat, x.shape)] += delta
        return self

    def loss(self, weights):
        total = None
        for x, w in zip(self.env, weights):
            term = (x * tg.tensor(w)).sum()
            total = term if total is None else total + term
        return total


def recorded(*tensors) -> bool:
    return tg.is_grad_enabled() and any(t.requires_grad for t in tensors)


def positive(x, c=0.5):
    """x² + c > 0: the operand of log, sqrt, / and the base of ** (Mul saves x)."""
    return x * x + c


# --- drawing shapes and operands ---

def small(shape) -> bool:
    return int(np.prod(shape)) <= MAX_SIZE and len(shape) <= 4


def broadcast_partner(data, shape, grow=True):
    """A shape that broadcasts with ``shape`` into ``shape`` itself (or, when ``grow``,
    one more dim)."""
    dims = list(shape)
    dims = [1 if data.draw(st.booleans()) else size for size in dims]
    drop = data.draw(st.integers(0, len(dims)))
    dims = dims[drop:]
    if grow and drop == 0 and len(shape) < 3 and data.draw(st.integers(0, 3)) == 0:
        dims = [data.draw(st.integers(1, 2))] + dims
    return tuple(dims)


def operand(data, run, shape, *, exact=False, real=True):
    """Step parts: a tensor whose shape broadcasts with ``shape`` (to ``shape`` exactly
    when ``exact``): one already made, or a new leaf. Returns (getter, text)."""
    def fits(x):
        try:
            out = np.broadcast_shapes(x.shape, shape)
        except ValueError:
            return False
        return out == tuple(shape) if exact else small(out)
    made = [i for i, x in enumerate(run.env) if fits(x)]
    if made and data.draw(st.integers(0, 2)) > 0:
        index = data.draw(st.sampled_from(made))
        return (lambda run: run.env[index]), f"t{index}"
    new_shape = tuple(shape) if exact and data.draw(st.booleans()) else \
        broadcast_partner(data, shape, grow=not exact)
    values = data.draw(hnp.arrays(f64, new_shape, elements=st.floats(-2, 2)))
    if not real:
        values = np.abs(values) + 0.5
    leaf = new_leaf(run, values)
    return (lambda run: run.leaf(leaf)), f"leaf{leaf}{new_shape}"


def new_leaf(run, values):
    run.program.leaves.append(np.asarray(values, dtype=f64))
    return len(run.program.leaves) - 1


def pick(data, run, keep=lambda x: True):
    choices = [i for i, x in enumerate(run.env) if keep(x)]
    return data.draw(st.sampled_from(choices)) if choices else None


# --- the steps: each draws its parameters and returns (step, text) or None ---

UNARY = {  # name: (function, kink distances, what backward reads: (op, "in"/"out"))
    "exp": (lambda x: (x * 0.5).exp(), None, [("Exp", "out")]),
    "log": (lambda x: positive(x).log(), None, [("Mul", "in")]),
    "sqrt": (lambda x: positive(x, 0.25).sqrt(), None, [("Mul", "in"), ("Sqrt", "out")]),
    "tanh": (lambda x: x.tanh(), None, [("Tanh", "out")]),
    "sigmoid": (lambda x: x.sigmoid(), None, [("Sigmoid", "out")]),
    "sin": (lambda x: x.sin(), None, [("Sin", "in")]),
    "relu": (lambda x: x.relu(), lambda v: v, [("Relu", "out")]),
    "abs": (lambda x: x.abs(), lambda v: v, [("Abs", "in")]),
    "neg": (lambda x: -x, None, []),
    "clamp": (lambda x: x.clamp(-0.5, 0.7), lambda v: np.minimum(abs(v + 0.5), abs(v - 0.7)),
              [("Clip", "in")]),
    "clamp_min": (lambda x: x.clamp(min=0.3), lambda v: v - 0.3, [("Clip", "in")]),
    "square": (lambda x: x * x, None, [("Mul", "in")]),
    "twice": (lambda x: x + x, None, []),
    "self_div": (lambda x: x / positive(x, 1.0), None, [("Mul", "in"), ("Div", "in")]),
    "self_max": (lambda x: tg.maximum(x, x), None, [("Maximum", "in")]),
    "clone": (lambda x: x.clone(), None, []),
}


def step_unary(data, run):
    index = pick(data, run)
    name = data.draw(st.sampled_from(sorted(UNARY)))
    function, kink, reads = UNARY[name]

    def step(run):
        x = run.env[index]
        y = run.push(function(x))
        if kink is not None:
            run.kink(kink(x.numpy()))
        if recorded(x):
            for op, which in reads:
                run.save(op, x if which == "in" else y)
    return step, f"{name}(t{index})"


def step_binary(data, run):
    index = pick(data, run)
    shape = run.env[index].shape
    get_other, other_text = operand(data, run, shape)
    name = data.draw(st.sampled_from(
        ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "where", "clamp", "rsub"]))
    mask_shape = broadcast_partner(data, shape, grow=False)  # fits whatever x·y gives
    mask = data.draw(hnp.arrays(np.bool_, mask_shape))
    bound = data.draw(st.floats(0.2, 1.0))

    def step(run):
        x, y = run.env[index], get_other(run)
        rec, rec_x, rec_y = recorded(x, y), recorded(x), recorded(y)
        xv, yv = x.numpy(), y.numpy()
        if name == "add":
            out = x + y
        elif name == "sub":
            out = x - y
        elif name == "rsub":
            out = 2.0 - y * 1.5 + x
        elif name == "mul":
            out = x * y
            run.save("Mul", *([x] if rec_y else []), *([y] if rec_x else []))
        elif name == "div":
            out = x / positive(y)
            run.save("Div", *([x] if rec else []))
            run.save("Mul", *([y] if rec_y else []))
        elif name == "pow":
            out = positive(x) ** y
            if not KNOWN_BUGS:  # b = 0 exactly: test_pow_mixed_second_derivative_at_...
                run.kink(np.where(yv == 0, 0.0, 1.0))
            run.save("Pow", *([y] if rec else []))
            run.save("Mul", *([x] if rec_x else []))
            if rec_y:
                run.save("Pow", out)
        elif name in ("maximum", "minimum"):
            out = getattr(tg, name)(x, y)
            run.kink(xv - yv)
            run.save(name.capitalize(), *([x, y] if rec else []))
        elif name == "where":
            out = tg.where(tg.tensor(mask), x, y)
            # Where reads only its condition in backward, as PyTorch (test_where_...)
        else:  # clamp with tensor bounds: low = y, high = y + bound
            high = y + bound
            out = x.clamp(y, high)
            run.kink(np.concatenate([np.ravel(xv - yv), np.ravel(xv - yv - bound)]))
            run.save("ClampByTensors", *([x, y, high] if rec else []))  # (masks: all three)
        run.push(out)
    return step, f"{name}(t{index}, {other_text})"


def step_reduce(data, run):
    index = pick(data, run, lambda x: x.data.size > 0)
    if index is None:
        return None
    x0 = run.env[index]
    name = data.draw(st.sampled_from(["sum", "mean", "max", "min", "var", "std", "logsumexp"]))
    if x0.ndim == 0 or data.draw(st.integers(0, 3)) == 0:
        dim = None
    elif data.draw(st.booleans()):
        dim = data.draw(st.integers(-x0.ndim, x0.ndim - 1))
    else:
        dim = tuple(data.draw(st.sets(st.integers(0, x0.ndim - 1), min_size=1)))
    keepdim = data.draw(st.booleans())
    unbiased = data.draw(st.booleans())
    dims = tuple(range(x0.ndim)) if dim is None else \
        tuple(d % x0.ndim for d in (dim if isinstance(dim, tuple) else (dim,)))
    count = int(np.prod([x0.shape[d] for d in dims]))
    if name in ("var", "std") and count <= (1 if unbiased else 0):
        return None

    def step(run):
        x = run.env[index]
        if name in ("var", "std"):
            y = getattr(x, name)(dim, unbiased, keepdim)
            if name == "std":
                run.kink(np.sqrt(np.var(x.numpy(), axis=dims)) * 10)
        else:
            y = getattr(x, name)(dim, keepdim=keepdim)
        if name in ("max", "min"):
            values = np.sort(np.moveaxis(x.numpy(), dims, range(-len(dims), 0)).reshape(
                x.shape[:0] + tuple(s for d, s in enumerate(x.shape) if d not in dims) + (-1,)),
                axis=-1)
            if values.shape[-1] > 1:
                run.kink(values[..., 1:] - values[..., :-1])
            if recorded(x):
                run.save("Max", x, y)
        run.push(y)
    return step, f"t{index}.{name}({dim}, keepdim={keepdim})"


def random_reshape(data, shape):
    size = int(np.prod(shape))
    dims = []
    rest = size
    while rest > 1 and len(dims) < 3:
        factor = data.draw(st.sampled_from([d for d in range(1, rest + 1) if rest % d == 0]))
        dims.append(factor)
        rest //= factor
    dims.append(rest)
    dims = [d for d in dims if d != 1 or data.draw(st.booleans())]
    if size == 0 or int(np.prod(dims)) != size:
        return tuple(shape)
    if dims and data.draw(st.booleans()):
        dims[data.draw(st.integers(0, len(dims) - 1))] = -1
    return tuple(dims)


def step_shape(data, run):
    index = pick(data, run)
    x0 = run.env[index]
    nd = x0.ndim
    kinds = ["reshape", "unsqueeze", "flatten", "squeeze", "expand"]
    if nd >= 1:
        kinds += ["permute", "transpose", "cat", "stack", "split", "chunk", "T"]
    kind = data.draw(st.sampled_from(kinds))
    text = f"{kind}(t{index}"
    if kind == "reshape":
        new_shape = random_reshape(data, x0.shape)
        apply = lambda run, x: [x.reshape(new_shape)]  # noqa: E731
        text += f", {new_shape}"
    elif kind == "unsqueeze":
        dim = data.draw(st.integers(-nd - 1, nd))
        apply = lambda run, x: [x.unsqueeze(dim)]  # noqa: E731
        text += f", {dim}"
    elif kind == "flatten":
        start = data.draw(st.integers(0, max(nd - 1, 0)))
        end = data.draw(st.integers(start, max(nd - 1, 0)))
        apply = lambda run, x: [x.flatten(start, end)]  # noqa: E731
        text += f", {start}, {end}"
    elif kind == "squeeze":
        ones = [d for d in range(nd) if x0.shape[d] == 1]
        dim = data.draw(st.sampled_from([None] + ones + [tuple(ones)] if ones else [None]))
        apply = lambda run, x: [x.squeeze(dim)]  # noqa: E731
        text += f", {dim}"
    elif kind == "expand":
        target = [data.draw(st.integers(1, 3)) if size == 1 else size for size in x0.shape]
        if nd < 3 and data.draw(st.booleans()):
            target = [2] + target
        if not small(target):
            return None
        spelled = [-1 if size == t and data.draw(st.booleans()) and i >= len(target) - nd
                   else t for i, (size, t) in enumerate(zip((None,) * (len(target) - nd)
                                                            + x0.shape, target))]
        apply = lambda run, x: [x.expand(*spelled)]  # noqa: E731
        text += f", {spelled}"
    elif kind == "permute":
        dims = data.draw(st.permutations(range(nd)))
        dims = [d - nd if data.draw(st.booleans()) else d for d in dims]
        apply = lambda run, x: [x.permute(*dims)]  # noqa: E731
        text += f", {dims}"
    elif kind == "transpose":
        d0, d1 = data.draw(st.integers(-nd, nd - 1)), data.draw(st.integers(-nd, nd - 1))
        apply = lambda run, x: [x.transpose(d0, d1)]  # noqa: E731
        text += f", {d0}, {d1}"
    elif kind == "T":
        apply = lambda run, x: [x.T]  # noqa: E731
    elif kind in ("cat", "stack"):
        dim = data.draw(st.integers(-nd, nd - 1)) if kind == "cat" else \
            data.draw(st.integers(-nd - 1, nd))
        other_shape = list(x0.shape)
        if kind == "cat":
            other_shape[dim] = data.draw(st.integers(1, 2))
        get_other, other_text = operand(data, run, tuple(other_shape), exact=True)
        first = data.draw(st.booleans())

        def apply(run, x):
            y = get_other(run)
            if y.shape != tuple(other_shape):
                y = y.expand(*other_shape)
            pair = [x, y] if first else [y, x]
            return [tg.cat(pair, dim) if kind == "cat" else tg.stack(pair, dim)]
        text += f", {other_text}, dim={dim}"
    else:  # split, chunk: every piece is kept
        dim = data.draw(st.integers(-nd, nd - 1))
        length = x0.shape[dim]
        if kind == "chunk":
            chunks = data.draw(st.integers(1, 3))
            apply = lambda run, x: list(x.chunk(chunks, dim))  # noqa: E731
            text += f", {chunks}, {dim}"
        elif data.draw(st.booleans()) and length > 0:
            size = data.draw(st.integers(1, length))
            apply = lambda run, x: list(x.split(size, dim))  # noqa: E731
            text += f", {size}, {dim}"
        else:
            cut = data.draw(st.integers(0, length))
            apply = lambda run, x: list(x.split([cut, length - cut], dim))  # noqa: E731
            text += f", [{cut}, {length - cut}], {dim}"

    def step(run):
        for y in apply(run, run.env[index]):
            run.push(y)
    return step, text + ")"


def draw_index(data, shape, *, repeats=True, allow_none=True):
    """An index into ``shape``: ints (negative too), slices with steps, None, ``...``, one
    integer array (repeats allowed unless told), or a boolean mask over leading dims."""
    nd = len(shape)
    kind = data.draw(st.sampled_from(["basic", "array", "mask", "mixed"]))
    if nd == 0:
        return data.draw(st.sampled_from([(), Ellipsis, None] if allow_none else [(), Ellipsis]))
    if kind == "mask":
        lead = data.draw(st.integers(1, nd))
        mask = data.draw(hnp.arrays(np.bool_, shape[:lead]))
        return tg.tensor(mask) if data.draw(st.booleans()) else mask
    parts = []
    array_dim = data.draw(st.integers(0, nd - 1)) if kind in ("array", "mixed") else -1
    count = data.draw(st.integers(1, nd))
    for dim in range(count):
        size = shape[dim]
        if dim == array_dim:
            length = data.draw(st.integers(1, 4))
            if not size:
                return tuple(parts) + (slice(None),)
            values = data.draw(st.lists(st.integers(-size, size - 1), min_size=1,
                                        max_size=length, unique_by=None if repeats else
                                        (lambda v: v % size)))
            parts.append(values if data.draw(st.booleans()) else tg.tensor(values))
            continue
        choice = data.draw(st.integers(0, 4 if size else 0))
        if choice >= 3 and kind != "array":
            parts.append(data.draw(st.integers(-size, size - 1)))
        else:
            start = data.draw(st.one_of(st.none(), st.integers(-size - 1, size)))
            stop = data.draw(st.one_of(st.none(), st.integers(-size - 1, size + 1)))
            parts.append(slice(start, stop, data.draw(st.sampled_from([None, 1, 2]))))
    if allow_none and data.draw(st.integers(0, 3)) == 0:
        parts.insert(data.draw(st.integers(0, len(parts))), None)
    if data.draw(st.integers(0, 3)) == 0 and all(p is not Ellipsis for p in parts):
        # (not in front of the parts when repeats are ruled out: ``...`` first would move
        # the index array onto another dim, where its values may repeat: -2 and 1 of 3)
        at = data.draw(st.integers(0, len(parts))) if repeats else len(parts)
        parts.insert(at, Ellipsis)
    return tuple(parts) if len(parts) != 1 or data.draw(st.booleans()) else parts[0]


def index_text(index):
    if isinstance(index, tg.Tensor):
        return f"tensor({index.tolist()})"
    if isinstance(index, tuple):
        return "(" + ", ".join(index_text(i) for i in index) + ")"
    return repr(index).replace("Ellipsis", "...")


def slot_shape(shape, index):
    """The shape x[index] has (ours: PyTorch's placement; tried on a stand-in tensor)."""
    with tg.no_grad():
        return tg.zeros(shape, dtype=tg.float64)[index].shape


def step_getitem(data, run):
    index = pick(data, run)
    idx = draw_index(data, run.env[index].shape)
    try:
        slot_shape(run.env[index].shape, idx)
    except (IndexError, ValueError, TypeError):
        return None

    def step(run):
        run.push(run.env[index][idx])
    return step, f"t{index}[{index_text(idx)}]"


def step_matmul(data, run):
    index = pick(data, run, lambda x: x.ndim >= 1)
    if index is None:
        return None
    shape = run.env[index].shape
    k = shape[-1]
    m = data.draw(st.integers(1, 3))
    rank = data.draw(st.integers(1, 3))
    other = (k,) if rank == 1 else (k, m) if rank == 2 else (data.draw(st.integers(1, 2)), k, m)
    if len(shape) >= 3 and rank == 3 and data.draw(st.booleans()):
        other = (1,) + other[1:]
    get_other, other_text = operand(data, run, other, exact=True)
    left = data.draw(st.booleans()) and len(shape) >= 2 and shape[-2] == shape[-1]

    def step(run):
        x, y = run.env[index], get_other(run)
        if y.shape != other:
            y = y.expand(*other)
        out = y @ x if left and y.ndim >= 2 and y.shape[-1] == x.shape[-2] else x @ y
        if not small(out.shape):
            raise AssertionError("drawn too big")
        run.save("MatMul", *([x] if recorded(y) else []), *([y] if recorded(x) else []))
        run.push(out)
    try:
        with tg.no_grad():
            out_shape = np.matmul(np.zeros(shape), np.zeros(other)).shape
    except ValueError:
        return None
    if not small(out_shape):
        return None
    return step, f"t{index} @ {other_text}"


def write_target(data, run, kind):
    """The tensor a write goes into: an op's output, a clone, a new buffer of zeros that
    needs no grad, or a view (a recorded write into a view is refused: see deviations)."""
    if kind == "buffer":
        shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3))
        return (lambda run: run.push(tg.zeros(shape, dtype=tg.float64))), f"zeros{shape}", True
    index = pick(data, run, lambda x: x.data.flags.writeable)  # (not expand's output)
    if index is None:
        return None
    if kind == "clone":
        return (lambda run: run.push(run.env[index].clone())), f"t{index}.clone()", True
    if kind == "view" and run.env[index].ndim:
        size = run.env[index].shape[0]
        if size:
            row = data.draw(st.integers(-size, size - 1))
            return (lambda run: run.push(run.env[index][row])), f"t{index}[{row}]", True
    return (lambda run: run.env[index]), f"t{index}", False


def aliases_a_view(run, target):
    """Whether another tensor made earlier looks into ``target``'s memory (a view that a
    write into ``target`` remakes: its retained gradient is not the model's)."""
    return any(x is not target and shares(x, target) for x in run.env)


def unmodelled_write(run, target):
    """Whether a write into ``target`` changes memory that another tensor shares in a way
    the model cannot follow: a detach() result (the model runs detach() as a constant
    copy, which the write would not reach: PyTorch's detach() caveat), or a tensor whose
    gradient is retained (its .grad then holds what flows through its views too, which the
    model's differences, a perturbed copy of that tensor seen by no view, leave out)."""
    retained = {id(run.env[j]) for j in run.program.retained if j < len(run.env)}
    return any(x is not target and shares(x, target) and
               (id(x) in run.detached or id(target) in run.detached or id(x) in retained)
               for x in run.env)


def do_write(run, target, write):
    """Run ``write``; a RuntimeError at the write itself is allowed only for a leaf that
    requires grad, or a view of another tensor (the documented refusals)."""
    root = view_writes._root(target)  # a write into a view writes the tensor it looks into
    rec_leaf = root.requires_grad and root.grad_fn is None
    try:
        write()
    except RuntimeError as error:
        allowed = (rec_leaf and "leaf" in str(error)) or \
            ("view" in str(error) and target.data.base is not None)
        assert allowed, f"unexpected error at the write: {error}"
        return False
    run.wrote(target)
    return True


def drawn_write(data, run, kinds):
    """(get_target, its text, a probe of it) for a write step, or None: the probe is the
    target as the run has it now (a pushed view is taken out again)."""
    drawn_target = write_target(data, run, data.draw(st.sampled_from(kinds)))
    if drawn_target is None:
        return None
    get_target, target_text, pushes = drawn_target
    probe = get_target(run)
    if pushes:
        run.pop()
    return get_target, target_text, probe


def step_setitem(data, run):
    drawn = drawn_write(data, run, ["op", "clone", "buffer", "buffer", "view"])
    if drawn is None:
        return None
    get_target, target_text, probe = drawn
    idx = draw_index(data, probe.shape, repeats=False)
    try:
        slot = probe.data[tuple(i.data if isinstance(i, tg.Tensor) else i for i in idx)
                          if isinstance(idx, tuple) else
                          (idx.data if isinstance(idx, tg.Tensor) else idx)].shape
    except (IndexError, ValueError, TypeError):
        return None
    if data.draw(st.integers(0, 5)) == 0:
        value_text, get_value = "0.75", (lambda run: 0.75)
    else:
        get_value, value_text = operand(data, run, slot, exact=True)
    ok = {"ok": True}

    def step(run):
        target = get_target(run)
        if run.grad and unmodelled_write(run, target):
            ok["ok"] = False
            return
        value = get_value(run)
        if isinstance(value, tg.Tensor) and value.shape != slot and \
                np.broadcast_shapes(value.shape, slot) != slot:
            raise AssertionError("drawn a value that does not fit")

        def write():
            target[idx] = value
        ok["ok"] = do_write(run, target, write) if run.grad else (write() or True)
    return step, f"{target_text}[{index_text(idx)}] = {value_text}", ok


def step_inplace(data, run):
    drawn = drawn_write(data, run, ["op", "op", "clone", "buffer", "view"])
    if drawn is None:
        return None
    get_target, target_text, probe = drawn
    op = data.draw(st.sampled_from(["+=", "-=", "*=", "/="]))
    get_value, value_text = operand(data, run, probe.shape, exact=True, real=op != "/=")
    number = data.draw(st.booleans()) and data.draw(st.booleans())
    ok = {"ok": True}

    def step(run):
        target = get_target(run)
        if run.grad and unmodelled_write(run, target):
            ok["ok"] = False
            return
        value = original = 1.25 if number else get_value(run)
        if op == "/=" and not number:
            value = positive(original)

        def write():
            nonlocal target
            if op == "+=":
                target += value
            elif op == "-=":
                target -= value
            elif op == "*=":
                target *= value
            else:
                target /= value
        if op == "/=" and not number:
            run.save("Mul", *([original] if recorded(original) else []))
        if op == "*=" and not number:  # Mul(old target, value) reads value for the target
            run.save("Mul", *([value] if recorded(target) else []))
        ok["ok"] = do_write(run, target, write) if run.grad else (write() or True)
    return step, f"{target_text} {op} {value_text if not number else '1.25'}", ok


def step_detach(data, run):
    index = pick(data, run)
    position = len(run.program.steps)

    def step(run):
        x = run.env[index]
        if run.perturb is None:
            run.program.frozen.setdefault(position, x.numpy().copy())
            detached = x.detach()
            run.detached.add(id(detached))
            run.push(detached)
        else:  # the constant the detach gave in the unperturbed run, as differences need
            run.push(tg.tensor(run.program.frozen[position]))
    return step, f"t{index}.detach()"


def step_retain(data, run):
    index = pick(data, run, lambda x: x.grad_fn is not None and x.data.size > 0
                 and not aliases_a_view(run, x))
    if index is None:
        return None

    def step(run):
        if run.grad:
            run.env[index].retain_grad()
    run.program.retained.append(index)
    return step, f"t{index}.retain_grad()"


STEPS = [step_unary] * 3 + [step_binary] * 3 + [step_reduce, step_shape, step_shape,
                                                  step_getitem, step_getitem, step_matmul,
                                                  step_setitem, step_setitem, step_inplace,
                                                  step_inplace, step_detach, step_retain]




class _Drawer:
    """``data.draw`` for the draw function of ``st.composite``."""

    def __init__(self, draw):
        self.draw = draw


@st.composite
def programs(draw, max_steps=MAX_STEPS):
    """(program, its recorded run), drawn step by step while the run executes them.
    A new leaf an operand needs is made when its step runs (``run.leaf``)."""
    data = _Drawer(draw)
    program = Program()
    run = Run(program, grad=True)
    for _ in range(data.draw(st.integers(1, 2))):
        shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3))
        values = data.draw(hnp.arrays(f64, shape, elements=st.floats(-2, 2)))
        leaf = new_leaf(run, values)
        program.text.append(f"leaf{leaf}{shape}")
        program.steps.append(lambda run, leaf=leaf: run.leaf(leaf))
        run.step = len(program.steps) - 1
        run.leaf(leaf)
    for _ in range(data.draw(st.integers(min(2, max_steps), max_steps))):
        leaves_before, env_before = len(program.leaves), len(run.env)
        drawn = data.draw(st.sampled_from(STEPS))(data, run)
        if drawn is None:
            del program.leaves[leaves_before:]
            continue
        run.step = len(program.steps)
        saved, expected = len(run.saved), set(run.expected)
        try:
            drawn[0](run)
        except Exception as error:  # a bug of the drawing, or of the core: show the program
            raise AssertionError(f"{program!r}\nthen {drawn[1]}: {error!r}") from error
        if len(drawn) == 3 and not drawn[2]["ok"]:  # a refused write: left out
            del run.saved[saved:]
            run.expected = expected
            del run.env[env_before:], run.made_at[env_before:]
            for leaf in range(leaves_before, len(program.leaves)):
                run.made.pop(leaf, None)
            del program.leaves[leaves_before:]
            continue
        assume(all(small(x.shape) for x in run.env[env_before:]))
        program.steps.append(drawn[0])
        made = f"   # -> t{env_before}..t{len(run.env) - 1}" if len(run.env) > env_before else ""
        program.text.append(drawn[1] + made)
    return program, run


def draw_weights(data, run):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    return [rng.normal(size=x.shape) for x in run.env]


def usable(run) -> bool:
    """Away from kinks and ties, and values of a sane size."""
    values = [x.numpy() for x in run.env]
    return run.margin > MARGIN and all(np.isfinite(v).all() and np.abs(v).max(initial=0) < 1e3
                                       for v in values)


def as_array(grad, like):
    return np.zeros(like.shape) if grad is None else grad.numpy()


def backward_grads(program, weights, perturb=None):
    run = Run(program, grad=True, perturb=perturb).execute()
    run.loss(weights).backward()
    return run, [as_array(x.grad, x) for x in run.leaves]


def autograd_grads(program, weights):
    run = Run(program, grad=True).execute()
    grads = tg.autograd.grad(run.loss(weights), run.leaves, create_graph=True,
                             allow_unused=True)
    return [as_array(g, x) for g, x in zip(grads, run.leaves)]


def numeric(loss_of, shape, where):
    """Central differences of the number ``loss_of(perturb)`` at every element."""
    grad = np.zeros(shape)
    for flat in range(grad.size):
        plus = loss_of(where(flat, EPS))
        minus = loss_of(where(flat, -EPS))
        grad[np.unravel_index(flat, shape)] = (plus - minus) / (2 * EPS)
    return grad


def value_loss(program, weights):
    return lambda perturb: Run(program, grad=False, perturb=perturb).execute().loss(
        weights).item()


def close(ours, expected, what, program):
    np.testing.assert_allclose(ours, expected, rtol=RTOL, atol=ATOL,
                               err_msg=f"{what}\n{program!r}")


def assert_raises_naming(program, weights, expected, pass_name):
    run = Run(program, grad=True).execute()
    loss = run.loss(weights)
    with pytest.raises(RuntimeError, match=MODIFIED) as info:
        if pass_name == "backward":
            loss.backward()
        else:
            tg.autograd.grad(loss, run.leaves, allow_unused=True)
    message = str(info.value)
    assert any(f"of {name}, of shape" in message for name in expected), \
        f"{message} names none of {expected}\n{program!r}"


@SETTINGS
@given(st.data())
def test_random_programs_match_finite_differences(data):
    program, run = data.draw(programs())
    assume(usable(run))
    weights = draw_weights(data, run)
    if run.expected:  # a write into a tensor an op saved: both passes must refuse
        for pass_name in ("backward", "grad"):
            assert_raises_naming(program, weights, run.expected, pass_name)
        return
    recorded_run, ours = backward_grads(program, weights)
    theirs = autograd_grads(program, weights)
    loss_of = value_loss(program, weights)
    for k, i in enumerate(sorted(recorded_run.made)):
        expected = numeric(loss_of, program.leaves[i].shape,
                           lambda flat, d, i=i: ("leaf", i, flat, d))
        close(ours[k], expected, f"backward: leaf{i}", program)
        close(theirs[k], expected, f"autograd.grad: leaf{i}", program)
    for j in sorted(set(program.retained)):
        x = recorded_run.env[j]
        after = max(recorded_run.made_at[j], run.last_write.get(j, -1))
        expected = numeric(loss_of, x.shape, lambda flat, d: ("env", j, flat, d, after))
        close(as_array(x.grad, x), expected, f"retain_grad: t{j}", program)


@SETTINGS
@given(st.data())
def test_second_derivatives_of_random_programs(data):
    """d/dx Σ_i <dL/dx_i, V_i> from create_graph=True against differences of backward."""
    program, run = data.draw(programs(max_steps=4))
    assume(usable(run) and not run.expected)
    weights = draw_weights(data, run)
    rng = np.random.default_rng(7)
    fresh = Run(program, grad=True).execute()
    directions = [rng.normal(size=leaf.shape) for leaf in fresh.leaves]
    grads = tg.autograd.grad(fresh.loss(weights), fresh.leaves, create_graph=True,
                             allow_unused=True)
    terms = [(g * tg.tensor(v)).sum() for g, v in zip(grads, directions)
             if g is not None and g.requires_grad]
    if terms:
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        ours = tg.autograd.grad(total, fresh.leaves, allow_unused=True)
    else:
        ours = [None] * len(fresh.leaves)

    def projected(perturb):
        _, first = backward_grads(program, weights, perturb)
        return sum(float((g * v).sum()) for g, v in zip(first, directions))
    for k, i in enumerate(sorted(fresh.made)):
        leaf = fresh.made[i]
        expected = numeric(projected, leaf.shape, lambda flat, d, i=i: ("leaf", i, flat, d))
        close(as_array(ours[k], leaf), expected, f"second derivative: leaf{i}", program)


WRITES = ["no_grad", "detach", "recorded"]


@SETTINGS
@given(st.data())
def test_a_write_after_the_forward_raises_iff_an_op_saved_it(data):
    """Between forward and backward, write into one tensor: backward raises, naming an op
    that saved that memory, or (no op saved it) gives the gradients of the unwritten run."""
    program, run = data.draw(programs())
    assume(usable(run) and not run.expected)
    weights = draw_weights(data, run)
    _, reference = backward_grads(program, weights)
    for pass_name in ("backward", "grad"):
        fresh = Run(program, grad=True).execute()
        loss = fresh.loss(weights)
        index = data.draw(st.integers(0, len(fresh.env) - 1))
        target = fresh.env[index]
        if not target.data.flags.writeable:  # expand's output (test_writing_an_expanded_...)
            continue
        kind = data.draw(st.sampled_from(WRITES))
        if kind == "recorded" and (target.grad_fn is None or target.data.base is not None):
            kind = "no_grad"
        if kind == "no_grad":
            with tg.no_grad():
                target += 0.5
        elif kind == "detach":
            target.detach()[...] = 3.0
        else:
            target[...] = target.clone() * 2.0
        savers = {name for tensor, name in fresh.saved if shares(tensor, target)}
        text = f"{program!r}\nthen {kind} write into t{index}, {pass_name}"
        if savers:
            with pytest.raises(RuntimeError, match=MODIFIED) as info:
                if pass_name == "backward":
                    loss.backward()
                else:
                    tg.autograd.grad(loss, fresh.leaves, allow_unused=True)
            assert any(f"of {name}, of shape" in str(info.value) for name in savers), \
                f"{info.value} names none of {savers}\n{text}"
            continue
        if pass_name == "backward":
            loss.backward()
            grads = [as_array(x.grad, x) for x in fresh.leaves]
        else:
            grads = [as_array(g, x) for g, x in zip(
                tg.autograd.grad(loss, fresh.leaves, allow_unused=True), fresh.leaves)]
        for i, (ours, expected) in enumerate(zip(grads, reference)):
            np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12,
                                       err_msg=f"leaf{i}\n{text}")


# --- the bugs the fuzzer found, each in a few lines (xfail while the core has them) ---

def f64_leaf(values, requires_grad=True):
    return tg.tensor(np.asarray(values, dtype=f64), requires_grad=requires_grad)


@pytest.mark.parametrize("make_view", [lambda h: h[0], lambda h: h.reshape(3, 1)[0, 0]],
                         ids=["getitem", "reshape"])
def test_view_read_after_a_recorded_write_to_its_base(make_view):
    # v looks into h; h[0] = w is recorded, so v now holds w: loss = v² = w², dL/dw = 2w = 10
    # and a gets nothing. PyTorch regenerates v's grad_fn from h's new one.
    a = f64_leaf([1.0, 2.0, 3.0])
    w = f64_leaf(5.0)
    h = a * 1
    v = make_view(h)
    h[0] = w
    assert v.item() == 5.0
    # It used to give a.grad = [10, 0, 0] and no w.grad, then it raised; now v is made
    # again from h's new graph when it is used (engine.remake_stale_views), as PyTorch:
    (v * v).backward()
    assert w.grad.item() == 10.0
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 0.0, 0.0])


def test_pow_mixed_second_derivative_at_a_zero_exponent():
    # y = a^b; dy/da = b·a^(b−1); d²y/(db da) = a^(b−1) + b·a^(b−1)·log a = 1/a at b = 0.
    a = f64_leaf(2.0)
    b = f64_leaf(0.0)
    (grad_a,) = tg.autograd.grad(a ** b, [a], create_graph=True)
    (mixed,) = tg.autograd.grad(grad_a, [b])
    assert mixed.item() == pytest.approx(0.5)


def test_where_backward_does_not_need_its_branches():
    a = f64_leaf([1.0, -2.0])
    b = f64_leaf([3.0, 4.0], requires_grad=False)
    y = tg.where(tg.tensor([True, False]), a, b)
    with tg.no_grad():
        b += 1  # PyTorch: where's backward saves only the condition
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 0.0])


@pytest.mark.parametrize("make", [
    lambda A, v: A @ v,                      # a view of the private (3, 1) product
    lambda A, v: A[:, [0, 2]],               # fancy indexing next to a slice: a copy
    lambda A, v: A.T.reshape(-1),            # reshape of a transposed tensor: a copy
    lambda A, v: A.logsumexp(0),             # a view of a private (1, 4) result
], ids=["matvec", "fancy_with_slice", "reshape_copy", "logsumexp_dim"])
def test_in_place_add_into_a_fresh_result_is_recorded(make):
    A = f64_leaf(np.arange(12.0).reshape(3, 4) / 10)
    v = f64_leaf([1.0, 2.0, 3.0, 4.0])
    y = make(A, v)
    expected = y.numpy() + 1
    y += 1  # PyTorch: a non-leaf that is not a view of a tensor the user holds
    np.testing.assert_allclose(y.numpy(), expected)
    y.sum().backward()
    assert A.grad is not None


def test_writing_an_expanded_tensor_is_a_runtime_error():
    t = f64_leaf([1.0, 2.0, 3.0]) * 1
    expanded = t.expand(2, 3)
    with pytest.raises(RuntimeError, match="expand"):
        with tg.no_grad():
            expanded += 1


@pytest.mark.parametrize("write", ["+=", "setitem", "fill_", "copy_", "recorded"])
def test_no_write_into_memory_that_many_elements_share(write, device):
    """As PyTorch: a view whose elements repeat (a stride of 0 along a dim of size > 1)
    cannot be written, before anything is written (NumPy's broadcast views are read-only,
    but CuPy's are not: the 'strict' device runs the same check as 'cuda')."""
    t = tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64, device=device)
    expanded = t.expand(2, 3)
    writes = {"+=": lambda: expanded.__iadd__(1.0),
              "setitem": lambda: expanded.__setitem__((0, 1), 5.0),
              "fill_": lambda: expanded.fill_(0.0),
              "copy_": lambda: expanded.copy_(tg.ones(2, 3, dtype=tg.float64, device=device)),
              "recorded": lambda: expanded.__setitem__(
                  0, tg.ones(3, dtype=tg.float64, device=device, requires_grad=True))}
    with pytest.raises(RuntimeError, match=r"more than one element .* clone\(\) it first"):
        writes[write]()
    assert t.tolist() == [1.0, 2.0, 3.0] and t._version == 0
    row = t.reshape(1, 3)  # a view whose elements do not repeat takes the write, into t
    row += 1.0
    assert t.tolist() == [2.0, 3.0, 4.0]
