"""Fuzzing writes through views (ops/view_writes.py, indexing.setitem, the in-place
operators and methods) against oracles that do not use the framework's autograd.

A program is a few lines of Python drawn at random: take a view of x (slices with negative
steps, ints, None, ``.T``, ``PERMUTE``, ``SWAP``, reshapes, diagonals, views of views),
write into it (``v[...] = e``, ``v += e``, ``v -= e``, ``v *= e``, ``v[i, 1:] op= e``, masks
and index arrays ``v[M0] op= e``, ``v[[0, 2], [1, 3]] op= e``, the methods ``add_``,
``mul_``, ``div_``, ``copy_``, ``fill_``, ``zero_``, ``exp_``, ``neg_``, ``fill_diagonal_``,
``index_put_(accumulate=True)``), keep intermediates (``keep.append(v * 0.5)``,
``EXP(v)``, ``v * v``, ``SIN(v)``, ``v * b[1:4]``, the view itself), derive tensors of
their own (``t0 = v * 0.5``) and write through their views too. The values e come from b
(broadcast), from views of x (as they are, ``* c``, ``SIN``) and from numbers. x is
``a.clone() * 1``, or (one program in four) a constant buffer that needs no grad until a
write puts b into it. The same text runs on tinygrad_opt Tensors and on NumPy arrays
(adapters such as ``EXP``, ``PERMUTE``, ``DIAG``, ``ADD_`` spell what the two spell
apart), so

* NumPy (float64) gives the forward values, and
* central finite differences of the NumPy program give dL/da and dL/db, where
  L = Σ x·W + Σ_k Σ keep_k·W_k (+ Σ b·W_b for a buffer x), fixed random weights W.

The framework must give those gradients, or a RuntimeError that is its version error
(an op's saved tensor was overwritten, PyTorch's "modified by an inplace operation") or
its documented view-after-write error; never a wrong number, never another exception.
Where PyTorch surely does not raise (``Draft.unsure`` is empty: no op saved a tensor that
a later write changed, no partial overlap of a written value and its target) no error is
accepted at all. The same program also runs through ``tg.autograd.grad(create_graph=True)``
and on the 'strict' device ('cuda' with ``pytest --device cuda``), which must agree with
the plain CPU backward: values, gradients, or the kind of error.

``TINYGRAD_OPT_VIEW_FUZZ_EXAMPLES=2000`` draws more programs (``HYPOTHESIS_PROFILE=explore``:
new ones). A failure prints the program as text: a repro with ``a``, ``b`` from its seed.
"""

from collections import Counter

import numpy as np
import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st

import tinygrad_opt as tg
from fuzzing import examples, fuzz_settings

EXAMPLES = examples("TINYGRAD_OPT_VIEW_FUZZ_EXAMPLES", 800)
SETTINGS = fuzz_settings(EXAMPLES)

VERSION_ERROR = "modified by an in-place operation"
VIEW_ERROR = "an input is a view used after a recorded x[...] = v"
ACCEPTED = {"version": VERSION_ERROR, "view-after-write": VIEW_ERROR}
SEEN_ERRORS = Counter()  # the accepted errors met, by the start of their message

X_SHAPES = [(3, 4), (2, 3, 4)]
B_SIZE = 5
CONSTANTS = (0.5, -0.75, 1.5, 2.0, -1.25, 0.25)
EPS = 1e-6


# --- the two libraries: what the program text calls ---------------------------------

def _numpy_diagonal(v, offset, dim1=0, dim2=1):
    view = np.diagonal(v, offset, dim1, dim2)
    view.flags.writeable = True  # NumPy's diagonal is read-only; PyTorch's is writable
    return view


def _numpy_add_at(v, index, values):
    np.add.at(v, tuple(np.asarray(i) for i in index), values)


NUMPY_NAMES = {"EXP": np.exp, "SIN": np.sin,
               "PERMUTE": lambda v, dims: v.transpose(dims),
               "SWAP": lambda v, d0, d1: np.swapaxes(v, d0, d1),
               "DIAG": _numpy_diagonal,
               # PyTorch's in-place methods, as NumPy writes them
               "ADD_": lambda v, e, alpha: np.add(v, np.multiply(e, alpha), out=v),
               "MUL_": lambda v, e: np.multiply(v, e, out=v),
               "DIV_": lambda v, e: np.divide(v, e, out=v),
               "COPY_": np.copyto,
               "FILL_": lambda v, e: v.fill(e),
               "ZERO_": lambda v: v.fill(0),
               "EXP_": lambda v: np.exp(v, out=v),
               "NEG_": lambda v: np.negative(v, out=v),
               "FILL_DIAG_": np.fill_diagonal,
               "ADD_AT_": _numpy_add_at,
               "CLONE": np.copy}


def _tg_add_at(v, index, values):  # index_put_ with accumulate: repeats add up
    v.index_put_(tuple(tg.tensor(i, device=v.device) for i in index), values,
                 accumulate=True)


TG_NAMES = {"EXP": lambda v: v.exp(), "SIN": lambda v: v.sin(),
            "PERMUTE": lambda v, dims: v.permute(*dims),
            "SWAP": lambda v, d0, d1: v.transpose(d0, d1),
            "DIAG": lambda v, offset, dim1=0, dim2=1: v.diagonal(offset, dim1, dim2),
            "ADD_": lambda v, e, alpha: v.add_(e, alpha=alpha),
            "MUL_": lambda v, e: v.mul_(e),
            "DIV_": lambda v, e: v.div_(e),
            "COPY_": lambda v, e: v.copy_(e),
            "FILL_": lambda v, e: v.fill_(e),
            "ZERO_": lambda v: v.zero_(),
            "EXP_": lambda v: v.exp_(),
            "NEG_": lambda v: v.neg_(),
            "FILL_DIAG_": lambda v, e: v.fill_diagonal_(e),
            "ADD_AT_": _tg_add_at,
            "CLONE": lambda v: v.clone()}


class Program:
    """Lines of Python over x, b, keep and the adapters; ``consts`` are the masks."""

    def __init__(self, x_shape, lines, consts, seed, unsure, buffer=False):
        self.x_shape, self.lines, self.consts, self.seed = x_shape, lines, consts, seed
        self.buffer = buffer  # x: a constant buffer that requires no grad (else a.clone() * 1)
        self.unsure = unsure  # a reason PyTorch may raise, or "" where it surely does not
        self.code = compile("\n".join(lines), "<program>", "exec")

    def inputs(self):
        rng = np.random.default_rng(self.seed)
        return (rng.standard_normal(self.x_shape) * 0.7, rng.standard_normal(B_SIZE) * 0.7)

    def __repr__(self):
        masks = "".join(f"{name} = np.array({value.tolist()})\n"
                        for name, value in self.consts.items())
        body = "\n".join(self.lines)
        start = "x = BUFFER.copy()  # (no grad)" if self.buffer else "x = a.clone() * 1"
        return (f"\n# x_shape={self.x_shape} seed={self.seed} unsure={self.unsure!r}\n"
                f"{masks}{start}; keep = []\n{body}\n")


def buffer_values(shape):
    return np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape)


def weights(shape, i):
    return np.asarray(np.random.default_rng(1000 + i).standard_normal(shape), np.float64)


def run_numpy(program, a, b):
    """(x, keeps, L) of the program on NumPy copies of a and b."""
    keep = []
    x = buffer_values(a.shape) if program.buffer else a.copy() * 1
    names = dict(NUMPY_NAMES, x=x, b=b.copy(), keep=keep, **program.consts)
    with np.errstate(all="ignore"):  # (an overflow: the fuzzers then skip the program)
        exec(program.code, names)
    x = names["x"]
    keeps = [np.asarray(k, dtype=np.float64).copy() for k in keep]
    with np.errstate(all="ignore"):
        loss = float((x * weights(x.shape, 0)).sum())
        loss += sum(float((k * weights(k.shape, i + 1)).sum()) for i, k in enumerate(keeps))
        if program.buffer:  # (so that the loss requires grad however the writes went)
            loss += float((b * weights(b.shape, -1)).sum())
    return x.copy(), keeps, loss


def magnitude(x, keeps, loss):
    """The largest |value| of x, the keeps and the loss (at least 1; inf if not finite)."""
    values = np.concatenate([np.ravel(x), np.ravel(loss)] + [np.ravel(k) for k in keeps])
    return float(np.abs(values).max(initial=1.0)) if np.isfinite(values).all() else np.inf


def finite_differences(program, a, b):
    """dL/da, dL/db by central differences of the NumPy program."""
    grads = []
    for which in (0, 1):
        base = (a, b)[which]
        grad = np.zeros_like(base)
        for position in np.ndindex(base.shape):
            values = []
            for sign in (1, -1):
                moved = base.copy()
                moved[position] += sign * EPS
                args = (moved, b) if which == 0 else (a, moved)
                values.append(run_numpy(program, *args)[2])
            grad[position] = (values[0] - values[1]) / (2 * EPS)
        grads.append(grad)
    return grads


class Outcome:
    """What the framework did: values, then gradients or an error category."""

    def __init__(self):
        self.x = self.keeps = self.loss = self.grads = None
        self.error = None  # category in ACCEPTED
        self.message = ""


def classify(error, program):
    message = str(error)
    for category, text in ACCEPTED.items():
        if isinstance(error, RuntimeError) and text in message:
            SEEN_ERRORS[message.split(":")[0] + ": " + text] += 1
            return category
    raise AssertionError(f"unexpected {type(error).__name__}: {message}\n"
                         f"program: {program!r}") from error


def run_tg(program, a, b, device="cpu", mode="backward"):
    """The program on tinygrad_opt Tensors; gradients by loss.backward() or by
    tg.autograd.grad(..., create_graph=True)."""
    outcome = Outcome()
    ta = tg.tensor(a, dtype=tg.float64, device=device, requires_grad=True)
    tb = tg.tensor(b, dtype=tg.float64, device=device, requires_grad=True)
    keep = []
    x = tg.tensor(buffer_values(a.shape), dtype=tg.float64, device=device) \
        if program.buffer else ta.clone() * 1
    names = dict(TG_NAMES, x=x, b=tb, keep=keep, **program.consts)
    try:
        exec(program.code, names)
    except Exception as error:  # the forward never raises the accepted errors either
        raise AssertionError(f"the forward raised {type(error).__name__}: {error}\n"
                             f"program: {program!r}") from error
    x = names["x"]
    loss = (x * tg.tensor(weights(x.shape, 0), dtype=tg.float64, device=device)).sum()
    for i, k in enumerate(keep):
        loss = loss + (k * tg.tensor(weights(k.shape, i + 1), dtype=tg.float64,
                                    device=device)).sum()
    if program.buffer:
        loss = loss + (tb * tg.tensor(weights(b.shape, -1), dtype=tg.float64,
                                      device=device)).sum()
    outcome.x, outcome.keeps = x.numpy().copy(), [k.numpy().copy() for k in keep]
    outcome.loss = float(loss.item())
    try:
        if mode == "backward":
            loss.backward()
            got = (ta.grad, tb.grad)
        else:
            got = tg.autograd.grad(loss, [ta, tb], create_graph=True, allow_unused=True)
    except Exception as error:
        outcome.error, outcome.message = classify(error, program), str(error)
        return outcome
    outcome.grads = [np.zeros(t.shape) if g is None else g.numpy().copy()
                     for t, g in zip((ta, tb), got)]
    return outcome


def check_against_oracles(program, require_no_error=False, fuzzing=False):
    """The framework's values equal NumPy's; its gradients equal the finite differences,
    or it raised an accepted error (none where ``require_no_error``)."""
    a, b = program.inputs()
    x, keeps, loss = run_numpy(program, a, b)
    scale = magnitude(x, keeps, loss)
    if fuzzing:
        note(f"program: {program!r}")
        assume(scale < 1e4)  # (finite differences lose digits on huge values)
    assert scale < 1e4, program
    got = run_tg(program, a, b)
    np.testing.assert_allclose(got.x, x, rtol=1e-12, atol=1e-12, err_msg="x")
    assert len(got.keeps) == len(keeps)
    for i, (mine, expected) in enumerate(zip(got.keeps, keeps)):
        np.testing.assert_allclose(mine, expected, rtol=1e-12, atol=1e-12,
                                   err_msg=f"keep[{i}]")
    np.testing.assert_allclose(got.loss, loss, rtol=1e-11, atol=1e-11)
    if got.error is not None:
        assert not (require_no_error or not program.unsure), (
            f"raised where PyTorch does not: {got.message}\nprogram: {program!r}")
        return got
    numeric = finite_differences(program, a, b)
    for name, mine, expected in zip("ab", got.grads, numeric):
        tolerance = 1e-6 * max(1.0, float(np.abs(expected).max(initial=0)), scale)
        np.testing.assert_allclose(mine, expected, rtol=1e-5, atol=tolerance,
                                   err_msg=f"d loss / d {name}; program: {program!r}")
    return got


def check_same(first, second, what, program):
    """Two runs of the framework agree: values, and gradients or the error's kind."""
    assert len(second.keeps) == len(first.keeps)
    np.testing.assert_allclose(second.loss, first.loss, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(second.x, first.x, rtol=1e-13, atol=1e-13)
    for mine, expected in zip(second.keeps, first.keeps):
        np.testing.assert_allclose(mine, expected, rtol=1e-13, atol=1e-13)
    assert second.error == first.error, (
        f"{what}: error {second.error!r} ({second.message}) where the plain CPU backward "
        f"gave {first.error!r} ({first.message})\nprogram: {program!r}")
    if first.error is None:
        for mine, expected in zip(second.grads, first.grads):
            np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12,
                                       err_msg=f"{what}; program: {program!r}")


# --- drawing programs ---------------------------------------------------------------

def _slice_text(start, stop, step):
    text = f"{'' if start is None else start}:{'' if stop is None else stop}"
    return text if step is None else f"{text}:{step}"


class Draft:
    """A program being drawn. ``twins`` holds a NumPy twin of every name (views of an
    arange x, whose values name x's elements), run line by line, so each draw knows the
    shapes it works with and which elements of x a view holds."""

    def __init__(self, draw, x_shape, buffer=False):
        self.draw, self.x_shape, self.buffer = draw, x_shape, buffer
        self.lines, self.consts = [], {}
        self.twins = dict(NUMPY_NAMES, x=np.arange(float(np.prod(x_shape))).reshape(x_shape),
                          b=np.zeros(B_SIZE), keep=[])
        self.names = ["x"]
        self.roots = []  # tensors derived from views of x, of their own memory
        self.saving_keep = False  # an op kept so far saved a view of x (v*v, SIN(v), v*b)
        self.unsure = []

    # helpers
    def shape(self, name):
        return np.shape(self.twins[name])

    def pick(self, choices):
        return self.draw(st.sampled_from(choices))

    def integer(self, low, high):
        return self.draw(st.integers(low, high))

    def add_line(self, line, run=True):
        self.lines.append(line)
        if run:
            exec(line, self.twins)

    def a_slice(self, n):
        if n == 0:
            return ":"
        start = self.draw(st.one_of(st.none(), st.integers(-n, n - 1)))
        stop = self.draw(st.one_of(st.none(), st.integers(-n, n)))
        step = self.pick([None, 1, 2, -1, -2, 3])
        if not len(range(n)[slice(start, stop, step)]):
            start = stop = None  # (an empty slice now and then would waste the step)
        return _slice_text(start, stop, step)

    def basic_index(self, shape):
        """ints and slices for the leading dims of ``shape``."""
        parts = []
        for n in shape[:self.integer(1, len(shape))]:
            if n and self.draw(st.booleans()):
                parts.append(str(self.integer(-n, n - 1)))
            else:
                parts.append(self.a_slice(n))
        return ", ".join(parts)

    def constant(self):
        return repr(self.pick(CONSTANTS))

    # expressions: text whose shape broadcasts to the written region's
    def expression(self, region, mode, written, scalar_only=False):
        """``written``: the elements of x (ids in the arange twin) that the write reaches,
        None for a mask or index-array write (it reads a copy, then puts it back)."""
        def fits(shape):
            try:
                return np.broadcast_shapes(shape, region) == region
            except ValueError:
                return False
        options = ["const", "b_scalar", "view_sum"]
        n = region[-1] if region else 0
        if not scalar_only and region and 1 <= n <= B_SIZE:
            options.append("b_row")
        if not scalar_only and len(region) >= 2 and 1 <= region[-2] <= B_SIZE:
            options.append("b_column")
        views = [name for name in self.names if fits(self.shape(name))]
        if views and not scalar_only:
            options += ["view_times"] * 2 + ["view_raw"] * 2 + ["view_sin"]
        kind = self.pick(options)
        if kind == "const":
            return self.constant()
        if kind == "b_scalar":
            return f"b[{self.integer(-B_SIZE, B_SIZE - 1)}] * {self.constant()}"
        if kind == "b_row":
            start = self.integer(0, B_SIZE - n)
            text = f"b[{start}:{start + n}]"
            return text if self.draw(st.booleans()) else f"{text} * {self.constant()}"
        if kind == "b_column":
            m = region[-2]
            start = self.integer(0, B_SIZE - m)
            return f"b[{start}:{start + m}].reshape(({m}, 1))"
        if kind == "view_sum":  # (sum and * number save nothing)
            return f"{self.pick(self.names)}.sum() * {self.constant()}"
        name = self.pick(views)
        if kind == "view_times":
            return f"{name} * {self.constant()}"
        if kind == "view_sin":  # sin saves its input, a view of x, and the write changes x
            self.unsure.append("SIN(view of x) as a value")
            return f"SIN({name})"
        # the view itself: mul_ saves it (the write changes it: PyTorch raises); copy_ and
        # add_ refuse a source that overlaps the written elements; index_put_ any overlap
        if mode == "*=":
            self.unsure.append("t *= (view of x): mul_ saved the view")
        elif written is None and mode == "=":
            self.unsure.append("t[mask or indices] = (view of x)")
        elif written is not None and \
                np.intersect1d(np.ravel(self.twins[name]), written).size:
            self.unsure.append("a value that overlaps the written elements")
        return name

    def writes(self):
        if self.saving_keep:
            self.unsure.append("a write after an op saved a view of x")

    # steps
    def view(self):
        source = self.pick(self.names)
        twin = self.twins[source]
        ndim = twin.ndim
        options = ["slice"] if ndim else []
        if ndim >= 1 and twin.shape[0]:
            options.append("int")
        if ndim >= 2:
            options += ["T", "permute", "swap"]
            if twin.shape[1]:
                options.append("int_axis1")
        if ndim >= 2:
            options.append("diag")
        if ndim and twin.size > 1:  # (a copy where the elements do not line up, as PyTorch)
            options.append("reshape")
        if ndim:
            options.append("none")
        if not options:
            return
        kind = self.pick(options)
        if kind == "slice":
            index = self.basic_index(twin.shape)
            if all(part.strip().lstrip("-").isdigit() for part in index.split(",")) and \
                    len(index.split(",")) == ndim:
                index += ", ..."  # (NumPy copies an element out; x[1, 2, ...] is a view)
            text = f"{source}[{index}]"
        elif kind == "int":  # (a 1-D NumPy array gives a copied scalar for x[1]: add ...)
            i = self.integer(-twin.shape[0], twin.shape[0] - 1)
            text = f"{source}[{i}]" if ndim >= 2 else f"{source}[{i}, ...]"
        elif kind == "int_axis1":
            i = self.integer(-twin.shape[1], twin.shape[1] - 1)
            text = f"{source}[:, {i}]" if ndim >= 3 or self.draw(st.booleans()) \
                else f"{source}[:, {i}, ...]"
        elif kind == "T":
            text = f"{source}.T"
        elif kind == "permute":
            dims = tuple(self.draw(st.permutations(range(ndim))))
            text = f"PERMUTE({source}, {dims})"
        elif kind == "swap":
            d0, d1 = self.integer(-ndim, ndim - 1), self.integer(-ndim, ndim - 1)
            text = f"SWAP({source}, {d0}, {d1})"
        elif kind == "diag" and ndim == 2:
            text = f"DIAG({source}, {self.integer(-1, 1)})"
        elif kind == "diag":
            dims = self.draw(st.permutations(range(ndim)))
            text = f"DIAG({source}, {self.integer(-1, 1)}, {dims[0]}, {dims[1] - ndim})"
        elif kind == "none":  # a new dim of size 1, first or after the first
            text = self.pick([f"{source}[None]", f"{source}[:, None]"])
        else:
            size = twin.size
            factors = [d for d in range(1, size + 1) if size % d == 0]
            first = self.pick(factors)
            shape = self.pick([(size,), (first, size // first), (first, -1)])
            text = f"{source}.reshape({shape})"
        name = f"v{len(self.names) - 1}"
        self.add_line(f"{name} = {text}")
        self.names.append(name)

    def write(self):
        target = self.pick(self.names)
        shape = self.shape(target)
        mode = self.pick(["=", "+=", "-=", "*="])
        index = "..."
        if shape and self.draw(st.booleans()):
            index = self.basic_index(shape)
        written = np.ravel(self.twins[target][eval(f"np.s_[{index}]")])
        region = np.shape(self.twins[target][eval(f"np.s_[{index}]")])
        value = self.expression(region, mode, written)
        self.writes()
        if index == "..." and mode != "=":
            self.add_line(f"{target} {mode} {value}", run=False)
        else:
            self.add_line(f"{target}[{index}] {mode} {value}", run=False)

    def keep(self):
        source = self.pick(self.names)
        shape = self.shape(source)
        options = ["times", "exp", "square", "sin", "sum", "raw"]
        if shape and 1 <= shape[-1] <= B_SIZE:
            options.append("times_b")
        kind = self.pick(options)
        if kind in ("square", "sin", "times_b"):
            self.saving_keep = True
        if kind == "times_b":
            start = self.integer(0, B_SIZE - shape[-1])
            text = f"{source} * b[{start}:{start + shape[-1]}]"
        else:
            text = {"times": f"{source} * {self.constant()}", "exp": f"EXP({source})",
                    "square": f"{source} * {source}", "sin": f"SIN({source})",
                    "sum": f"{source}.sum() * {self.constant()}", "raw": source}[kind]
        self.add_line(f"keep.append({text})", run=False)

    def masked(self):
        """t[M] op= e with a fixed boolean mask M of t's shape."""
        target = self.pick(self.names)
        shape = self.shape(target)
        if not shape or not np.prod(shape):
            return
        size = int(np.prod(shape))
        mask = np.array(self.draw(st.lists(st.booleans(), min_size=size, max_size=size)),
                        dtype=bool).reshape(shape)
        name = f"M{len(self.consts)}"
        self.consts[name] = mask
        count = int(mask.sum())
        options = ["scalar"]
        if 1 <= count <= B_SIZE:
            options.append("b")
        options.append("self")
        kind = self.pick(options)
        mode = self.pick(["=", "+=", "-=", "*="])
        if kind == "scalar":
            value = self.expression((count,), mode, None, scalar_only=True)
        elif kind == "b":
            start = self.integer(0, B_SIZE - count)
            value = f"b[{start}:{start + count}]"
        else:
            value = f"{target}[{name}] * {self.constant()}"
        self.writes()
        self.add_line(f"{target}[{name}] {mode} {value}", run=False)

    def fancy(self):
        """t[[i..], [j..]] op= e, t[[i..]] op= e, t[i, [j..]] op= e (no repeated element)."""
        target = self.pick(self.names)
        shape = self.shape(target)
        if not shape or not np.prod(shape):
            return
        options = ["full", "rows"] + (["mixed"] if len(shape) >= 2 else [])
        kind = self.pick(options)
        scalar_only = False
        if kind == "full":
            size = int(np.prod(shape))
            flat = self.draw(st.lists(st.integers(0, size - 1), min_size=1,
                                      max_size=min(4, size), unique=True))
            arrays = np.unravel_index(flat, shape)
            lists = [[int(i) - (n if self.draw(st.booleans()) else 0) for i in array]
                     for array, n in zip(arrays, shape)]
            index = ", ".join(str(part) for part in lists)
            region = (len(flat),)
        elif kind == "rows":
            rows = self.draw(st.lists(st.integers(0, shape[0] - 1), min_size=1,
                                      max_size=shape[0], unique=True))
            index = str(rows)
            region = (len(rows), *shape[1:])
        else:
            i = self.integer(-shape[0], shape[0] - 1)
            axis = self.integer(1, len(shape) - 1)
            columns = self.draw(st.lists(st.integers(-shape[axis], shape[axis] - 1),
                                         min_size=1, max_size=shape[axis],
                                         unique_by=lambda c: c % shape[axis]))
            index = ", ".join([str(i)] + [":"] * (axis - 1) + [str(columns)])
            region = np.shape(self.twins[target][eval(f"np.s_[{index}]")])
            # t[0, :, [1, 2]]: NumPy puts the array's dim first, PyTorch the slice's
            scalar_only = axis > 1
        mode = self.pick(["=", "+=", "-=", "*="])
        value = self.expression(region, mode, None, scalar_only=scalar_only)
        self.writes()
        self.add_line(f"{target}[{index}] {mode} {value}", run=False)

    def method(self):
        """PyTorch's in-place methods (x.add_(e, alpha=c), x.exp_(), ...) on a view."""
        target = self.pick(self.names)
        shape = self.shape(target)
        written = np.ravel(self.twins[target])
        options = ["ADD_", "MUL_", "DIV_", "COPY_", "FILL_", "ZERO_", "EXP_", "NEG_"]
        if len(shape) == 2:
            options.append("FILL_DIAG_")
        if shape and np.prod(shape):
            options.append("ADD_AT_")
        kind = self.pick(options)
        self.writes()
        if kind == "ADD_":
            value = self.expression(shape, "+=", written)
            line = f"ADD_({target}, {value}, {self.constant()})"
        elif kind == "MUL_":
            line = f"MUL_({target}, {self.expression(shape, '*=', written)})"
        elif kind == "DIV_":  # (by numbers away from 0, or by e^b)
            value = self.pick([self.constant(), f"EXP(b[{self.integer(0, B_SIZE - 1)}])"])
            line = f"DIV_({target}, {value})"
        elif kind == "COPY_":
            line = f"COPY_({target}, {self.expression(shape, '=', written)})"
        elif kind == "FILL_":
            line = f"FILL_({target}, {self.expression(shape, '=', written, True)})"
        elif kind == "FILL_DIAG_":  # (PyTorch's fill value is a number)
            line = f"FILL_DIAG_({target}, {self.constant()})"
        elif kind == "ADD_AT_":  # repeated places add up
            size = int(np.prod(shape))
            flat = self.draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=5))
            index = tuple(array.tolist() for array in np.unravel_index(flat, shape))
            value = self.expression((len(flat),), "=", None)
            line = f"ADD_AT_({target}, {index}, {value})"
        else:
            line = f"{kind}({target})"
            if kind == "EXP_":  # exp_ saves its result: x itself, which a later write changes
                self.saving_keep = True
        self.add_line(line, run=False)

    def derive(self):
        """t_k = f(a view): a tensor of its own memory (no view), written into and viewed as
        x is; its final values join the loss."""
        source = self.pick(self.names)
        twin = self.twins[source]
        if not twin.ndim:
            return
        kind = self.pick(["times", "clone", "exp", "sin"])
        text = {"times": f"{source} * {self.constant()}", "clone": f"CLONE({source})",
                "exp": f"EXP({source})", "sin": f"SIN({source})"}[kind]
        if kind in ("exp", "sin"):  # exp saves its output (t_k), sin its input
            self.saving_keep = True
        name = f"t{len(self.roots)}"
        self.roots.append(name)
        self.names.append(name)
        self.twins[name] = np.arange(twin.size, dtype=float).reshape(twin.shape) + \
            1000 * len(self.roots)  # (element ids of its own)
        self.add_line(f"{name} = {text}", run=False)

    def program(self, seed):
        lines = self.lines + [f"keep.append({name})" for name in self.roots]
        return Program(self.x_shape, lines, self.consts, seed,
                       "; ".join(dict.fromkeys(self.unsure)), self.buffer)


STEPS = (["view"] * 3 + ["write"] * 4 + ["keep"] * 2 + ["masked", "fancy"] + ["method"] * 2 +
         ["derive"])


@st.composite
def programs(draw, max_steps=10):
    draft = Draft(draw, draw(st.sampled_from(X_SHAPES)), buffer=draw(st.sampled_from(
        [False, False, False, True])))
    for _ in range(draw(st.integers(2, max_steps))):
        getattr(draft, draw(st.sampled_from(STEPS)))()
    return draft.program(draw(st.integers(0, 2 ** 16)))


def hand_written(x_shape, text, seed=0, **consts):
    """A hand-written program; unsure="" (PyTorch does not raise on it)."""
    lines = [line.strip() for line in text.strip().splitlines()]
    return Program(x_shape, lines, {k: np.asarray(v) for k, v in consts.items()}, seed, "")


def fuzz_inputs(program):
    """a, b for the program, whose values stay moderate (no overflow to compare)."""
    note(f"program: {program!r}")
    a, b = program.inputs()
    assume(magnitude(*run_numpy(program, a, b)) < 1e4)
    return a, b


# --- the fuzzers --------------------------------------------------------------------

@SETTINGS
@given(program=programs())
def test_values_and_gradients_match_numpy_and_finite_differences(program):
    check_against_oracles(program, fuzzing=True)


@SETTINGS
@given(program=programs())
def test_autograd_grad_with_create_graph_agrees_with_backward(program):
    a, b = fuzz_inputs(program)
    check_same(run_tg(program, a, b), run_tg(program, a, b, mode="grad"),
               "tg.autograd.grad(create_graph=True)", program)


@SETTINGS
@given(program=programs())
def test_the_other_device_agrees_with_the_cpu(program, pytestconfig):
    # 'strict' (the NumPy stand-in for CuPy), or 'cuda' with pytest --device cuda
    device = pytestconfig.getoption("--device")
    a, b = fuzz_inputs(program)
    check_same(run_tg(program, a, b), run_tg(program, a, b, device=device),
               f"device={device!r}", program)


def test_the_fuzzer_can_fail():
    """A wrong gradient is caught: the oracle of a program that differs from what ran."""
    honest = hand_written((3, 4), "v0 = x[0]\nv0 *= b[0:4]")
    liar = hand_written((3, 4), "v0 = x[0]\nv0 *= b[1:5]")
    a, b = honest.inputs()
    numeric = finite_differences(liar, a, b)
    got = run_tg(honest, a, b)
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(got.grads[1], numeric[1], rtol=1e-5, atol=1e-6)


# --- hand-picked programs on which PyTorch does not raise ----------------------------
# Only numbers multiply (v * 0.5 and v *= 2.0 save no tensor), sums, exp (it saves its
# output, a new tensor that nothing writes), views kept as they are, and writes (copy_,
# add_, index_put_) that save nothing: PyTorch computes the gradient, and so must we.

NO_RAISE = {
    "row_set_between_reads": ((3, 4), """
        v0 = x[0]
        keep.append(v0 * 2.0)
        v0[...] = b[0:4] * 0.5
        keep.append(v0 * 3.0)"""),
    "transpose_row_add": ((3, 4), """
        v0 = x.T
        v0[1] += b[0]
        v0[2] *= 2.0
        v0[:, 1] -= b[1:5]"""),
    "columns": ((3, 4), """
        x[:, 0] += b[0:3]
        x[:, 1] *= -0.5
        x[:, 2] = b[2:5] * 2.0"""),
    "raw_view_kept_then_written": ((3, 4), """
        v0 = x[1:]
        keep.append(v0)
        x[2] = b[0:4]
        v0[0, ::-1] *= 1.5"""),
    "exp_kept_then_its_input_written": ((3, 4), """
        v0 = x[0]
        keep.append(EXP(v0))
        x[0] = 1.0
        v0 += b[1]"""),
    "diagonal_of_a_slice": ((3, 4), """
        v0 = DIAG(x[:, :3], 0)
        v0 *= 2.0
        v0 += b[0:3]
        keep.append(DIAG(x, 1) * 0.5)"""),
    "reshape_negative_step": ((3, 4), """
        v0 = x.reshape((12,))
        v0[::-2] = b[0] * 2.0
        v0[1:4] += b[1:4]"""),
    "mask_and_index_arrays": ((3, 4), """
        x[M0] += b[0]
        x[[0, 2], [1, 3]] *= 1.5
        x[[0, -1], [-1, 0]] -= b[3:5]
        x[[1]] = b[1:5]"""),
    "stale_view_as_value": ((3, 4), """
        v0 = x[0]
        x[0] = b[0:4]
        x[1] = v0 * 2.0
        keep.append(v0 * 0.25)"""),
    "view_of_a_stale_view": ((2, 3, 4), """
        v0 = x[1, :, ::-1]
        x[1] += b[0]
        v1 = v0.T
        v1[0] -= b[1:4]
        keep.append(v1.sum() * 0.5)"""),
    "permute_then_reshape_of_a_row": ((2, 3, 4), """
        v0 = PERMUTE(x, (2, 0, 1))
        v0[1:3] += b[0:3]
        v1 = x[0].reshape((4, 3))
        v1 += b[2:5]
        keep.append(v0 * 0.5)"""),
    "swap_and_column_views": ((2, 3, 4), """
        v0 = SWAP(x, 0, 2)
        v1 = v0[:, 1]
        v1[...] = v0[:, 2] * -0.5
        v1 += b[0]
        keep.append(x[:, 2] * 2.0)"""),
    "zero_d_views": ((3, 4), """
        v0 = x[1]
        v1 = v0[2, ...]
        v1 -= b[3]
        v1 *= 2.0
        keep.append(v1)"""),
    "mask_on_a_transposed_view": ((3, 4), """
        v0 = x.T
        v0[M1] = b[4] * 0.5
        v0[M1] *= 2.0"""),
    "methods_on_views": ((3, 4), """
        v0 = x[:, 1:3]
        ADD_(v0, b[0:2], -2.0)
        COPY_(x[0], b[1:5])
        FILL_(x[2, ::2], b[0] * 0.5)
        ZERO_(v0[1])
        NEG_(x.T[3])
        FILL_DIAG_(x[:, :3], 0.25)
        ADD_AT_(x[1], ([0, 0, 3],), b[2:5])"""),
    "buffer_filled_through_views": ((3, 4), """
        v0 = x[1]
        v1 = x.T[2]
        x[0] = b[0:4]
        v0[...] = b[1:5] * 2.0
        v1 += b[0]
        keep.append(v0 * 0.5)""", True),
    "derived_tensor_written_through_its_view": ((3, 4), """
        t0 = x[0:2] * 0.5
        t0[1, ::-1] += b[0:4]
        x[0] = t0[1] * 2.0
        keep.append(t0)"""),
}


@pytest.mark.parametrize("name", NO_RAISE)
def test_pytorch_does_not_raise_so_neither_may_we(name):
    x_shape, text, *buffer = NO_RAISE[name]
    masks = {"M0": np.arange(12).reshape(3, 4) % 3 == 0, "M1": np.eye(4, 3, dtype=bool)}
    prog = hand_written(x_shape, text, **{k: v for k, v in masks.items() if k in text})
    prog.buffer = bool(buffer)
    got = check_against_oracles(prog, require_no_error=True)
    assert got.error is None and got.grads is not None
    assert np.abs(got.grads[1]).max() > 0  # b reached the loss


# --- where PyTorch raises "modified by an inplace operation", so do we -----------------

SAVED_THEN_WRITTEN = {
    "square_saves_the_view": "v0 = x[0]\nkeep.append(v0 * v0)\nx[0] = b[0:4]",
    "sin_saves_its_input": "v0 = x.T[1]\nkeep.append(SIN(v0))\nx[2, 1] += b[0]",
    "times_b_saves_the_view": "v0 = x[:, 0]\nkeep.append(v0 * b[0:3])\nx[M0] *= 2.0",
    "exp_saves_its_output": "t0 = EXP(x[0])\nt0[1] = b[0] * 1.0\nkeep.append(t0)",
    "exp_in_place_saves_x": "EXP_(x[1])\nx[2] = b[1]",
    "mul_in_place_saves_the_other": "v0 = x[0]\nv0 *= x[1]",
}


@pytest.mark.parametrize("name", SAVED_THEN_WRITTEN)
def test_a_saved_tensor_overwritten_raises_the_version_error(name):
    prog = hand_written((3, 4), SAVED_THEN_WRITTEN[name], M0=np.eye(3, 4, dtype=bool))
    prog.unsure = "an op saved what a later write changes"
    a, b = prog.inputs()
    got = run_tg(prog, a, b)
    np.testing.assert_allclose(got.x, run_numpy(prog, a, b)[0], rtol=1e-12)
    if name == "exp_in_place_saves_x":  # exp_ here computes exp of a clone: no error,
        check_against_oracles(prog)  # (PyTorch's would raise) but the right gradient
        return
    assert got.error == "version", got.grads
    assert "version" == run_tg(prog, a, b, mode="grad").error


# --- a bug this fuzzer found, fixed (ops/index_order.py) -------------------------------

INT_SLICE_ARRAY = {
    # x[0, :, cols] reads as PyTorch (x[0][:, cols], shape (3, len(cols))); the write put
    # it back in NumPy's order (shape (len(cols), 3)): a transposed slab, or an error
    "times_one_transposes": ((2, 3, 3), "x[0, :, [0, 1, 2]] *= 1.0"),
    "plus_raises_valueerror": ((2, 3, 4), "x[0, :, [0, 1]] += 1.0"),
    "through_a_view": ((2, 3, 3), "v0 = x[1:]\nv0[0, :, [2, 1, 0]] -= b[0]"),
    "a_mask_after_a_slice": ((2, 3, 4), "x[0, :, M0] += b[0]"),  # (3 of 4 columns)
}


@pytest.mark.parametrize("name", INT_SLICE_ARRAY)
def test_in_place_op_through_int_slice_array_index(name):
    """Read and written in one order, PyTorch's: ``t[0, :, [0, 1, 2]] *= 1.0`` transposed
    the slab (setitem wrote in NumPy's order) and ``t[0, :, [0, 1]] += 1.0`` raised."""
    x_shape, text = INT_SLICE_ARRAY[name]
    prog = hand_written(x_shape, text, M0=np.array([True, False, True, True]))
    check_against_oracles(prog, require_no_error=True)


def test_setitem_int_slice_array_takes_the_shape_getitem_gives():
    """``t[0, :, [0, 1]] = v`` wanted v in NumPy's slot shape (2, 3), not PyTorch's (3, 2)."""
    x = tg.tensor(np.arange(24.0).reshape(2, 3, 4))
    value = tg.tensor(np.arange(6.0).reshape(3, 2) + 100)
    assert x[0, :, [0, 1]].shape == (3, 2)           # as PyTorch
    x[0, :, [0, 1]] = value                          # PyTorch: x[0][:, [0, 1]] = value
    np.testing.assert_array_equal(x[0, :, [0, 1]].numpy(), value.numpy())
