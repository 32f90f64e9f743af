"""Fuzzing the index grammar: ``x[index]``, ``x[index] = v``, ``x[index] += v`` (and
``*=``), ``index_put_`` and ``put_``, against oracles that use neither the framework nor
its ``ops/index_order.py``.

An index is a tuple of 1 to 5 parts (or one part, bare) drawn from: Python ints (negative
too), slices (steps, negative steps, empty), None, at most one Ellipsis, integer index
arrays (1-D or 2-D, negative entries, repeats, empty; as Python lists, NumPy int64/int32
arrays, tinygrad_opt int64/int32 Tensors, or a Tensor that is a transposed view) and
boolean masks over 1 or 2 of x's dims (NumPy bool arrays, nested lists of bools, bool
Tensors). x has 1 to 4 dims of sides 1 to 4. One index in two starts with an int and an
index array apart (``x[0, :, [0, 1]]``, ``x[[1], None, -1]``...), where PyTorch and NumPy
place the array's dim differently.

The oracle, ``pytorch_index``, is PyTorch's algorithm written out on NumPy arrays
(torch/csrc/autograd/python_variable_indexing.cpp, applySlicing, then ``index``): the parts
are taken from left to right; an int selects at once (its dim goes), a slice slices, None
unsqueezes, ... skips the dims it stands for, and an index array or a mask is only recorded
at the dim it stands at; the recorded arrays then index the result together, placed by
NumPy's rule among the dims that remain (adjacent: in place; apart: first). A second
oracle, ``two_step``, is the rule as documented: ``x[first][rest]`` where ``first`` keeps the
ints and the Ellipsis; the two must agree. Both give ``positions``: x's flat positions
that x[index] reads (the oracle applied to ``arange(x.size)``), from which follow

* the values x.ravel()[positions] and the shape;
* dL/da for L = Σ x[index]·W: W scatter-ADDED at the positions (``np.add.at``: a repeated
  position collects every repeat's weight); and, second order, d/dW Σ (dL/da)·U = U
  gathered at the positions;
* ``y[index] = v`` (y = a * 1, a constant, or a permuted view of a * 1; v of the read
  shape, a 0-d tensor, a row of the last dim's size, or a Python float): v at the written
  positions (a position written several times holds one of its repeats' values: PyTorch
  leaves the order open), dL/da = W with 0 where written, dL/dv = W gathered at the
  positions and summed to v's shape (checked only without repeats, where it is defined);
* ``y[index] += v`` and ``*= v``: ``y[index] = y[index] + v`` (no accumulation over repeats,
  as PyTorch's: the Python statement reads, adds and writes back); gradients without
  repeats;
* ``index_put_(indices, v, accumulate=True)`` and ``put_(index, v, accumulate=True)``:
  ``np.add.at`` (without accumulate: as ``y[index] = v``).

Every case runs on the CPU with ``loss.backward()``, with ``tg.autograd.grad(...,
create_graph=True)``, and on the 'strict' device ('cuda' with ``pytest --device cuda``;
one case in four with the index Tensors on the CPU, which PyTorch allows), which must all
agree. ``TINYGRAD_OPT_INDEX_FUZZ_EXAMPLES=3000`` draws more (``HYPOTHESIS_PROFILE=explore``:
new ones). A failure prints the index as Python text.

Left out of the grammar, on purpose (each a known difference, or no index PyTorch takes):

* Python bools as index parts (``x[True]``, ``x[0, False]``): PyTorch's own rule (a new
  dim of size 1 or 0), a separate feature;
* 0-d index arrays and 0-d Tensors: PyTorch takes a 0-d integer Tensor as an int (a
  select, applied in order), NumPy as an index array (placed with the other arrays); so
  does tinygrad_opt now (ops/index_order.py), tested by hand in test_pytorch_edges.py
  (``test_a_0d_integer_tensor_indexes_as_an_int``);
* an Ellipsis standing for zero dims between two index arrays (``x[:, [0], ..., [0]]`` of
  a 3-d x): PyTorch's arrays are then adjacent (their dim stays in place), NumPy's are not
  (it goes first); ``pytorch_index`` models PyTorch, the fuzzer skips these;
* a list as the whole index (``x[[[0, 1], [1, 0]]]``, ``x[[0, slice(None)]]``): PyTorch
  still reads a short list holding sequences, slices, None or ... as a tuple of parts (the
  heuristic NumPy dropped in 1.23); a one-part index is therefore given bare only when it
  is not a list;
* uint8 index arrays (refused here, see docs/deviations.md);
* (two bugs it found, fixed, have tests of their own at the end of the file: a written v
  with more (leading, size-1) dims than the slot, and NumPy integer scalars as index parts;
  the fuzzers draw both now.)
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st

import tinygrad_opt as tg
from fuzzing import examples, fuzz_settings

EXAMPLES = examples("TINYGRAD_OPT_INDEX_FUZZ_EXAMPLES", 500)
SETTINGS = fuzz_settings(EXAMPLES)
SMALL_SETTINGS = fuzz_settings(max(EXAMPLES // 2, 1))

STEPS = (None, None, 1, 2, 3, -1, -2)
TOLERANCE = dict(rtol=1e-12, atol=1e-12)


# --- the oracles (NumPy only) -----------------------------------------------------------

def is_mask(part) -> bool:
    return isinstance(part, np.ndarray) and part.dtype == bool


def is_index_array(part) -> bool:
    return isinstance(part, np.ndarray)


def spans(part) -> int:
    """How many of x's dims a part indexes."""
    if part is None or part is Ellipsis:
        return 0
    return part.ndim if is_mask(part) else 1


def pytorch_index(array, parts):
    """``array[parts]`` as PyTorch computes it: ints, slices and None applied in order,
    index arrays and masks recorded at their dim, then applied together."""
    specified = sum(spans(part) for part in parts)
    result, dim, recorded = np.asarray(array), 0, []  # recorded: one entry per dim from 0
    for part in parts:
        if type(part) is int:
            result = np.asarray(np.take(result, part, axis=dim))  # select: the dim goes
        elif isinstance(part, slice):
            result = result[(slice(None),) * dim + (part,)]
            recorded.append(slice(None))
            dim += 1
        elif part is None:
            result = np.expand_dims(result, dim)
            recorded.append(slice(None))
            dim += 1
        elif part is Ellipsis:
            skipped = array.ndim - specified
            recorded.extend([slice(None)] * skipped)
            dim += skipped
        elif is_mask(part):
            recorded.extend(np.nonzero(part))  # a k-d mask: k index arrays side by side
            dim += part.ndim
        else:
            recorded.append(part)
            dim += 1
    return np.asarray(result[tuple(recorded)])


def two_step(array, parts):
    """The documented rule: ``array[first][rest]``, ``first`` the ints and the Ellipsis with
    full slices for the other dims, ``rest`` the index without its ints (NumPy's
    ``array[parts]`` with no int or no index array)."""
    ints = [type(part) is int for part in parts]
    if not (any(ints) and any(map(is_index_array, parts))):
        return np.asarray(array[tuple(parts)])
    first = []
    for part, is_int in zip(parts, ints):
        if is_int or part is Ellipsis:
            first.append(part)
        else:
            first.extend([slice(None)] * spans(part))
    rest = tuple(part for part, is_int in zip(parts, ints) if not is_int)
    return np.asarray(array[tuple(first)][rest])


def numpy_placement(array, parts):
    """NumPy's own ``array[parts]``: the wrong placement for PyTorch (the meta-tests)."""
    return np.asarray(array[tuple(parts)])


def positions_of(shape, parts, oracle=pytorch_index):
    """The flat positions of x that x[index] reads, in the shape x[index] has."""
    return oracle(np.arange(int(np.prod(shape))).reshape(shape), parts)


def scatter_add(shape, positions, weights):
    grad = np.zeros(int(np.prod(shape)))
    np.add.at(grad, positions.ravel(), np.ravel(weights))
    return grad.reshape(shape)


def sum_to(grad, shape):
    """A broadcast value's gradient: summed over the dims broadcasting added or stretched."""
    grad = np.asarray(grad)
    while grad.ndim > len(shape):
        grad = grad.sum(0)
    grad = grad.reshape((1,) * (len(shape) - grad.ndim) + grad.shape)  # v with leading 1s
    for dim, size in enumerate(shape):
        if size == 1 and grad.shape[dim] != 1:
            grad = grad.sum(dim, keepdims=True)
    return grad.reshape(shape)


def zero_dim_ellipsis_between_arrays(shape, parts) -> bool:
    """An Ellipsis for no dims with only ints between it and index arrays on both sides:
    adjacent arrays in PyTorch, apart in NumPy (left out of the grammar)."""
    where = [i for i, part in enumerate(parts) if part is Ellipsis]
    if not where or sum(spans(part) for part in parts) != len(shape):
        return False

    def nearest(indices):
        for i in indices:
            if is_index_array(parts[i]):
                return True
            if type(parts[i]) is not int:
                return False
        return False
    e = where[0]
    return nearest(range(e - 1, -1, -1)) and nearest(range(e + 1, len(parts)))


# --- cases: an index as data, built afresh for each device ------------------------------

class Case:
    """x's shape and values, and the index parts as specs: ("int", 2), ("slice", s),
    ("none",), ("ellipsis",), ("array", int64 array, form), ("mask", bool array, form)."""

    def __init__(self, shape, specs, bare=False, seed=0):
        self.shape, self.specs, self.bare, self.seed = tuple(shape), list(specs), bare, seed
        rng = np.random.default_rng(seed)
        self.x = rng.standard_normal(self.shape)

    def parts(self):
        """The index as the oracles take it (NumPy arrays, no lists, no Tensors)."""
        return tuple(None if spec[0] == "none" else Ellipsis if spec[0] == "ellipsis"
                     else spec[1] for spec in self.specs)

    def index(self, device="cpu"):
        """The index as a user writes it, Tensors on ``device``."""
        built = tuple(build_part(spec, device) for spec in self.specs)
        return built[0] if self.bare else built

    def __repr__(self):
        text = ", ".join(part_text(spec) for spec in self.specs)
        if len(self.specs) == 1 and not self.bare:
            text += ","
        return f"\n# a of shape {self.shape} (seed {self.seed})\nx[{text}]\n"


def build_part(spec, device):
    kind = spec[0]
    if kind == "int" and spec[-1] == "np":
        return np.int64(spec[1])
    if kind in ("int", "slice"):
        return spec[1]
    if kind == "none":
        return None
    if kind == "ellipsis":
        return Ellipsis
    values, form = spec[1], spec[2]
    if form == "list":
        return values.tolist()
    if form == "np":
        return values.copy()
    if form == "np32":
        return values.astype(np.int32)
    if form == "tg":
        return tg.tensor(values.copy(), dtype=tg.bool if kind == "mask" else tg.int64,
                         device=device)
    if form == "tg32":
        return tg.tensor(values.copy(), dtype=tg.int32, device=device)
    if form == "tgT":  # a Tensor that is a view (transposed) of another
        return tg.tensor(values.T.copy(), dtype=tg.bool if kind == "mask" else tg.int64,
                         device=device).T
    raise ValueError(form)


def part_text(spec):
    kind = spec[0]
    if kind == "int":
        return f"np.int64({spec[1]})" if spec[-1] == "np" else str(spec[1])
    if kind == "slice":
        s = spec[1]
        bounds = ["" if end is None else str(end) for end in (s.start, s.stop)]
        return ":".join(bounds) + ("" if s.step is None else f":{s.step}")
    if kind == "none":
        return "None"
    if kind == "ellipsis":
        return "..."
    values, form = spec[1].tolist(), spec[2]
    dtype = ", dtype=tg.bool" if kind == "mask" else ""
    return {"list": f"{values}", "np": f"np.array({values})",
            "np32": f"np.array({values}, np.int32)",
            "tg": f"tg.tensor({values}{dtype})",
            "tg32": f"tg.tensor({values}, dtype=tg.int32)",
            "tgT": f"tg.tensor({spec[1].T.tolist()}{dtype}).T"}[form]


KIND_WEIGHTS = ["int"] * 3 + ["slice"] * 3 + ["none", "ellipsis"] + ["array"] * 4 + ["mask"] * 2
WIDTH = {"int": 1, "slice": 1, "array": 1, "none": 0, "ellipsis": 0}  # (a mask: 1 or 2)
ARRAY_FORMS = ["list", "np", "np32", "tg", "tg32", "tgT"]
MASK_FORMS = ["np", "tg", "list", "tgT"]
APART = [("int", "slice", "array"), ("array", "slice", "int"), ("array", "none", "int"),
         ("int", "none", "array"), ("array", "ellipsis", "int"), ("int", "ellipsis", "array"),
         ("array", "int", "slice", "array"), ("mask", "slice", "int"), ("int", "slice", "mask"),
         ("slice", "array", "slice", "int"), ("array", "slice", "array", "int")]
MOSTLY_TRUE = st.sampled_from([True, True, False])


@st.composite
def cases(draw):
    ndim = draw(st.sampled_from([1, 2, 2, 3, 3, 3, 4, 4, 4]))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    count = draw(st.sampled_from([1, 2, 3, 3, 4, 4, 5]))
    kinds, free, ellipsis = [], ndim, False
    # one index in two starts with an int and an index array apart (where PyTorch and NumPy
    # place the array's dim apart), in some order; the other parts are drawn freely
    opening = draw(st.sampled_from(APART)) if draw(st.booleans()) else ()
    for i in range(max(count, len(opening))):  # kinds first: each consumes what x has left
        options = [k for k in KIND_WEIGHTS if (k in ("none", "ellipsis") or free > 0)
                   and not (k == "ellipsis" and ellipsis)]
        if i < len(opening) and opening[i] in options:
            kind = opening[i]
        else:
            kind = draw(st.sampled_from(options))
        width = draw(st.integers(1, min(2, free))) if kind == "mask" else WIDTH[kind]
        kinds.append((kind, width))
        free -= width
        ellipsis = ellipsis or kind == "ellipsis"
    count = len(kinds)
    # the dim each part starts at: from the left before the Ellipsis, from the right after
    starts, dim = [], 0
    after = sum(w for k, w in kinds[[k for k, _ in kinds].index("ellipsis") + 1:]) \
        if ellipsis else 0
    for kind, width in kinds:
        if kind == "ellipsis":
            dim = ndim - after
        starts.append(dim)
        dim += width
    specs = [None] * count
    counts = []
    for i, ((kind, width), start) in enumerate(zip(kinds, starts)):
        if kind == "mask":
            dims = shape[start:start + width]
            flat = draw(st.lists(MOSTLY_TRUE, min_size=int(np.prod(dims)),
                                 max_size=int(np.prod(dims))))
            mask = np.array(flat, dtype=bool).reshape(dims)
            specs[i] = ("mask", mask, draw(st.sampled_from(MASK_FORMS)))
            counts.append(int(mask.sum()))
    wide = {c for c in counts if c != 1}
    assume(len(wide) <= 1)  # masks' positions must broadcast together
    length = wide.pop() if wide else draw(st.sampled_from([0, 1, 2, 2, 2, 3, 3, 3]))
    rows = draw(st.integers(1, 3)) if draw(st.booleans()) else None  # 2-D index arrays
    for i, ((kind, width), start) in enumerate(zip(kinds, starts)):
        size = shape[start] if start < ndim else 1
        if kind == "int":
            specs[i] = ("int", draw(st.integers(-size, size - 1)))
            if not draw(st.integers(0, 3)):  # now and then a NumPy integer: an int too
                specs[i] += ("np",)
        elif kind == "slice":
            bound = st.none() | st.integers(-size - 1, size + 1)
            piece = slice(draw(bound), draw(bound), draw(st.sampled_from(STEPS)))
            if not len(range(size)[piece]) and draw(st.integers(0, 3)):  # empty: 1 in 4 stays
                piece = slice(piece.start, None, piece.step)
            specs[i] = ("slice", piece)
        elif kind == "none":
            specs[i] = ("none",)
        elif kind == "ellipsis":
            specs[i] = ("ellipsis",)
        elif kind == "array":
            shapes = [(length,), (1,)]
            if rows is not None:
                shapes += [(rows, length), (rows, 1), (1, length), (rows, length)]
            array_shape = draw(st.sampled_from(shapes))
            entries = draw(st.lists(st.integers(-size, size - 1),
                                    min_size=int(np.prod(array_shape)),
                                    max_size=int(np.prod(array_shape))))
            values = np.array(entries, dtype=np.int64).reshape(array_shape)
            specs[i] = ("array", values, draw(st.sampled_from(ARRAY_FORMS)))
    # one part: given bare (x[part]) or as a 1-tuple (x[part,]); never a bare list (see above)
    bare = count == 1 and not (specs[0][0] in ("array", "mask") and specs[0][2] == "list") \
        and draw(st.booleans())
    case = Case(shape, specs, bare=bare, seed=draw(st.integers(0, 2**16)))
    note(f"case: {case!r}")
    parts = case.parts()
    assume(not zero_dim_ellipsis_between_arrays(shape, parts))
    try:
        positions = positions_of(shape, parts)
    except IndexError:  # (index arrays whose shapes do not broadcast: NumPy refuses too)
        assume(False)
    return case, positions


def weights(shape, salt=0):
    return np.random.default_rng(100 + salt).standard_normal(shape)


# --- running the framework --------------------------------------------------------------

class Got:
    def __init__(self, value, grads):
        self.value, self.grads = value, grads


def gradients(loss, inputs, mode):
    """{name: dL/d input} by ``loss.backward()`` or ``tg.autograd.grad(create_graph=True)``
    (None where none came back); ``inputs`` a {name: Tensor} of those that require grad."""
    if not inputs:
        return {}
    if mode == "backward":
        loss.backward()
        got = [t.grad for t in inputs.values()]
    else:
        got = tg.autograd.grad(loss, list(inputs.values()), create_graph=True,
                               allow_unused=True)
    return {name: None if g is None else np.asarray(g.numpy(), dtype=np.float64).copy()
            for name, g in zip(inputs, got)}


def leaf(values, device):
    return tg.tensor(np.asarray(values, dtype=np.float64), dtype=tg.float64, device=device,
                     requires_grad=True)


def run_read(case, device="cpu", mode="backward", index_device=None):
    """x[index] of a leaf; L = Σ x[index]·W. Index Tensors on ``index_device`` (by default
    x's: a CPU index Tensor indexes a tensor on any device, as in PyTorch)."""
    a = leaf(case.x, device)
    out = a[case.index(index_device or device)]
    value = out.numpy().copy()
    loss = (out * tg.tensor(weights(out.shape), dtype=tg.float64, device=device)).sum()
    return Got(value, gradients(loss, {"a": a}, mode))


VALUE_KINDS = ("full", "scalar", "row", "float", "unit")


def value_for(kind, read_shape, seed):
    """v for a write: of the read shape, a 0-d tensor, a row of the last dim's size, of
    the read shape with a leading 1 (``y[index] = v`` drops it, as PyTorch and NumPy; all
    four require grad), or a Python float."""
    rng = np.random.default_rng(5000 + seed)
    if kind == "full":
        return rng.standard_normal(read_shape)
    if kind == "scalar":
        return np.asarray(rng.standard_normal())
    if kind == "row":
        return rng.standard_normal(read_shape[-1:])
    if kind == "unit":
        return rng.standard_normal((1, *read_shape))
    return float(np.round(rng.standard_normal(), 3))


def make_value(v, device):
    return v if isinstance(v, float) else leaf(v, device)


class Target:
    """The tensor written into, y, with x's values: ``a * 1`` of a leaf a, a constant (no
    grad until a write brings one), or a permuted view of t = a * 1 (dims reversed, so the
    writes go through to t). ``finish`` gives y's values and dL/da, dL/dv in y's
    coordinates, L = Σ y·W."""

    def __init__(self, x, base, device):
        self.base, self.device = base, device
        self.reverse = tuple(range(x.ndim))[::-1]
        if base == "view":
            self.a = leaf(x.transpose(self.reverse), device)
            self.held = self.a * 1
            self.y = self.held.permute(*self.reverse)
        else:
            self.a = leaf(x, device)
            self.y = self.held = self.a * 1 if base == "a*1" else \
                tg.tensor(x.copy(), dtype=tg.float64, device=device)

    def finish(self, w, value, mode):
        inputs = {} if self.base == "constant" else {"a": self.a}
        if not isinstance(value, float):
            inputs["v"] = value
        turn = self.reverse if self.base == "view" else tuple(range(len(self.reverse)))
        loss = (self.held * tg.tensor(w.transpose(turn), dtype=tg.float64,
                                      device=self.device)).sum()
        got = Got(self.held.numpy().copy().transpose(turn), gradients(loss, inputs, mode))
        if got.grads.get("a") is not None:
            got.grads["a"] = got.grads["a"].transpose(turn)
        return got


BASES = ["a*1"] * 4 + ["constant", "view"]


def run_write(case, op, v, device="cpu", mode="backward", base="a*1", index_device=None):
    """y[index] = v, y[index] += v or y[index] *= v (``op``) on a Target."""
    target = Target(case.x, base, device)
    y, value = target.y, make_value(v, device)
    index = case.index(index_device or device)
    if op == "set":
        y[index] = value
    elif op == "iadd":
        y[index] += value
    else:
        y[index] *= value
    return target.finish(weights(case.shape, 1), value, mode)


def second_order_read(case, device="cpu"):
    """d/dW of Σ (dL/da)·U, L = Σ x[index]·W with W a leaf: dL/da is W scatter-added
    (IndexAdd), so this is U gathered at the positions (IndexAdd's backward, a GetItem)."""
    a = leaf(case.x, device)
    out = a[case.index(device)]
    w = leaf(weights(out.shape), device)
    (grad_a,) = tg.autograd.grad((out * w).sum(), [a], create_graph=True)
    u = tg.tensor(weights(case.shape, 7), dtype=tg.float64, device=device)
    (grad_w,) = tg.autograd.grad((grad_a * u).sum(), [w], allow_unused=True)
    return None if grad_w is None else grad_w.numpy().copy()


def second_order_write(case, v, device="cpu"):
    """y = a * 1; y[index] = v; L = Σ y·W (W a leaf); d/dW of Σ (dL/da)·Ua + Σ (dL/dv)·Uv
    = Ua where not written (0 where written) + Uv (broadcast to the slot) scatter-added."""
    a, value = leaf(case.x, device), leaf(v, device)
    y = a * 1
    y[case.index(device)] = value
    w = leaf(weights(case.shape, 1), device)
    grad_a, grad_v = tg.autograd.grad((y * w).sum(), [a, value], create_graph=True)
    ua, uv = weights(case.shape, 8), weights(np.shape(v), 9)
    total = (grad_a * tg.tensor(ua, dtype=tg.float64, device=device)).sum() + \
        (grad_v * tg.tensor(uv, dtype=tg.float64, device=device)).sum()
    (grad_w,) = tg.autograd.grad(total, [w], allow_unused=True)
    return None if grad_w is None else grad_w.numpy().copy(), ua, uv


# --- checks --------------------------------------------------------------------------------

def assert_close(got, expected, what):
    assert got is not None, f"{what}: no gradient (None)"
    assert np.shape(got) == np.shape(expected), \
        f"{what}: shape {np.shape(got)}, expected {np.shape(expected)}"
    np.testing.assert_allclose(got, expected, err_msg=what, **TOLERANCE)


def assert_same(first, second, what):
    """Two runs of the framework agree: values and gradients."""
    assert first.value.shape == second.value.shape, what
    np.testing.assert_allclose(first.value, second.value, err_msg=f"{what}: value", **TOLERANCE)
    assert first.grads.keys() == second.grads.keys()
    for name, g1 in first.grads.items():
        g2 = second.grads[name]
        assert (g1 is None) == (g2 is None), f"{what}: dL/d{name} None in one run only"
        if g1 is not None:
            assert g1.shape == g2.shape, what
            np.testing.assert_allclose(g1, g2, err_msg=f"{what}: dL/d{name}", **TOLERANCE)


def check_read(case, positions, got):
    x = case.x
    assert got.value.shape == positions.shape, (got.value.shape, positions.shape)
    np.testing.assert_array_equal(got.value, x.ravel()[positions], err_msg="x[index]")
    assert_close(got.grads["a"], scatter_add(x.shape, positions, weights(positions.shape)),
                 "dL/da of x[index]: W scatter-added")


def check_written(got_y, positions, candidates, base):
    """Positions written once hold their value, those written several times one of their
    repeats' values, the others ``base``."""
    flat, count = positions.ravel(), np.bincount(positions.ravel(), minlength=base.size)
    expected = base.ravel().copy()
    expected[flat] = candidates.ravel()
    got = got_y.ravel()
    np.testing.assert_array_equal(got[count <= 1], expected[count <= 1],
                                  err_msg="written once / not written")
    for position in np.flatnonzero(count > 1):
        options = candidates.ravel()[flat == position]
        assert np.isclose(options, got[position], rtol=1e-14, atol=0).any(), (
            f"flat position {position} holds {got[position]}, not one of its repeats' "
            f"values {options}")


def check_write(case, positions, op, v, got):
    x, read_shape = case.x, positions.shape
    v_array = np.asarray(v, dtype=np.float64)
    if v_array.ndim > len(read_shape):  # (a "unit" value: its leading 1 dropped)
        v_array = v_array.reshape(read_shape)
    vb = np.broadcast_to(v_array, read_shape)
    old = x.ravel()[positions]
    check_written(got.value, positions, {"set": vb, "iadd": old + vb, "imul": old * vb}[op], x)
    repeats = np.bincount(positions.ravel(), minlength=x.size).max(initial=0) > 1
    w = weights(x.shape, 1)
    written = np.bincount(positions.ravel(), minlength=x.size).reshape(x.shape) > 0
    if "a" not in got.grads:  # (y was a constant)
        pass
    elif op == "set":
        assert_close(got.grads["a"], np.where(written, 0.0, w), "dL/da: 0 where written")
    elif not repeats:  # y[i] += v with a repeated i: PyTorch's dL/da is not the forward's
        factor = np.ones(x.size)
        if op == "imul":
            factor[positions.ravel()] = vb.ravel()
        assert_close(got.grads["a"], w * factor.reshape(x.shape), f"dL/da of y[index] {op} v")
    if not isinstance(v, float) and not repeats:
        gathered = w.ravel()[positions] * (old if op == "imul" else 1.0)
        assert_close(got.grads.get("v"), sum_to(gathered, np.shape(v)),
                     "dL/dv: W gathered at the written positions")


# --- the fuzzers ---------------------------------------------------------------------------

@SETTINGS
@given(drawn=cases(), cpu_index=st.integers(0, 3))
def test_reading_values_shape_and_gradient(drawn, cpu_index, pytestconfig):
    case, positions = drawn
    parts = case.parts()
    # the two oracles agree (the algorithm and the documented two-step rule)
    np.testing.assert_array_equal(positions_of(case.shape, parts, two_step), positions)
    got = run_read(case)
    check_read(case, positions, got)
    assert_same(got, run_read(case, mode="grad"), "tg.autograd.grad(create_graph=True)")
    device = pytestconfig.getoption("--device")
    index_device = "cpu" if cpu_index == 0 else device  # now and then: CPU index Tensors
    other = run_read(case, device=device, index_device=index_device)
    check_read(case, positions, other)
    assert_same(got, other, f"device={device!r}, index Tensors on {index_device!r}")
    assert_close(second_order_read(case), case_weights_gathered(case, positions),
                 "second order: d/dW Σ (dL/da)·U = U gathered")


def case_weights_gathered(case, positions):
    return weights(case.shape, 7).ravel()[positions]


@SETTINGS
@given(drawn=cases(), op=st.sampled_from(["set", "set", "set", "iadd", "iadd", "imul"]),
       value_kind=st.sampled_from(VALUE_KINDS),
       base=st.sampled_from(BASES),
       cpu_index=st.integers(0, 3))
def test_writing_values_and_gradients(drawn, op, value_kind, base, cpu_index, pytestconfig):
    case, positions = drawn
    if value_kind == "row":
        assume(positions.ndim >= 1)
    assume(value_kind != "unit" or op == "set")  # (y[i] += v: PyTorch's in-place add refuses)
    v = value_for(value_kind, positions.shape, case.seed)
    note(f"y: {base}; op={op}; v: {value_kind} of shape {np.shape(v)}")
    got = run_write(case, op, v, base=base)
    check_write(case, positions, op, v, got)
    assert_same(got, run_write(case, op, v, mode="grad", base=base),
                "tg.autograd.grad(create_graph=True)")
    device = pytestconfig.getoption("--device")
    index_device = "cpu" if cpu_index == 0 else device
    other = run_write(case, op, v, device=device, base=base, index_device=index_device)
    check_write(case, positions, op, v, other)
    assert_same(got, other, f"device={device!r}, index Tensors on {index_device!r}")
    repeats = np.bincount(positions.ravel(), minlength=case.x.size).max(initial=0) > 1
    if op == "set" and value_kind != "float" and not repeats:
        grad_w, ua, uv = second_order_write(case, v)
        uv = np.reshape(uv, positions.shape) if np.ndim(uv) > positions.ndim else uv  # (unit)
        written = np.bincount(positions.ravel(), minlength=case.x.size).reshape(case.shape) > 0
        expected = np.where(written, 0.0, ua) + scatter_add(
            case.shape, positions, np.broadcast_to(uv, positions.shape))
        assert_close(grad_w, expected, "second order: d/dW of the gradients' weighted sum")


@st.composite
def put_cases(draw):
    """``index_put_``: a tuple of integer Tensors (the first one, now and then, a bool
    mask) for x's leading dims; v of the slot's shape or broadcast; accumulate or not."""
    ndim = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    count = draw(st.integers(1, ndim))
    mask = None
    if draw(st.integers(0, 4)) == 0:
        width = draw(st.integers(1, min(2, ndim)))
        flat = draw(st.lists(st.booleans(), min_size=int(np.prod(shape[:width])),
                             max_size=int(np.prod(shape[:width]))))
        mask = np.array(flat, dtype=bool).reshape(shape[:width])
        count = min(count, ndim - width + 1)
    start = 0 if mask is None else mask.ndim
    length = int(mask.sum()) if mask is not None and mask.sum() != 1 else \
        draw(st.sampled_from([1, 2, 3, 4]))
    rows = draw(st.integers(1, 3)) if draw(st.booleans()) else None
    arrays = []
    for dim in range(start, start + count - (mask is not None)):
        shapes = [(length,), (1,)] + ([] if rows is None else [(rows, length), (rows, 1)])
        array_shape = draw(st.sampled_from(shapes))
        entries = draw(st.lists(st.integers(-shape[dim], shape[dim] - 1),
                                min_size=int(np.prod(array_shape)),
                                max_size=int(np.prod(array_shape))))
        arrays.append(np.array(entries, dtype=np.int64).reshape(array_shape))
    if mask is None and not arrays:
        arrays.append(np.array([0], dtype=np.int64))
    forms = [draw(st.sampled_from(["tg", "tg32"])) for _ in arrays]
    accumulate = draw(st.sampled_from([True, True, False]))
    seed = draw(st.integers(0, 2**16))
    full = tuple(([] if mask is None else list(np.nonzero(mask))) + arrays)
    try:
        positions = np.arange(int(np.prod(shape))).reshape(shape)[full]
    except IndexError:
        assume(False)
    value_kind = draw(st.sampled_from(VALUE_KINDS[:-1]))  # (no "unit": PyTorch refuses it)
    v = value_for(value_kind, positions.shape, seed)
    written = ([] if mask is None else [f"mask {mask.tolist()}"]) + \
        [f"{arr.tolist()} ({form})" for arr, form in zip(arrays, forms)]
    note(f"x of shape {shape}: x.index_put_(({', '.join(written)}), v of shape {np.shape(v)} "
         f"({value_kind}), accumulate={accumulate})")
    return shape, mask, arrays, forms, accumulate, seed, positions, v


def run_index_put(drawn, base, device="cpu", mode="backward", index_device=None):
    shape, mask, arrays, forms, accumulate, seed, _, v = drawn
    target = Target(np.random.default_rng(seed).standard_normal(shape), base, device)
    value = make_value(v, device)
    on = index_device or device
    indices = ([] if mask is None else [tg.tensor(mask, dtype=tg.bool, device=on)]) + [
        tg.tensor(arr, dtype=tg.int64 if form == "tg" else tg.int32, device=on)
        for arr, form in zip(arrays, forms)]
    returned = target.y.index_put_(tuple(indices), value, accumulate=accumulate)
    assert returned is target.y
    return target.finish(weights(shape, 2), value, mode)


def check_index_put(drawn, got):
    shape, mask, arrays, forms, accumulate, seed, positions, v = drawn
    x = np.random.default_rng(seed).standard_normal(shape)
    vb = np.broadcast_to(np.asarray(v, dtype=np.float64), positions.shape)
    w = weights(shape, 2)
    repeats = np.bincount(positions.ravel(), minlength=x.size).max(initial=0) > 1
    if accumulate:
        expected = x.copy().ravel()
        np.add.at(expected, positions.ravel(), vb.ravel())
        np.testing.assert_allclose(got.value, expected.reshape(shape), err_msg="accumulated",
                                   **TOLERANCE)
        if "a" in got.grads:  # (not for a constant target)
            assert_close(got.grads["a"], w, "dL/da (accumulate: every position passes)")
    else:
        check_written(got.value, positions, vb, x)
        written = np.bincount(positions.ravel(), minlength=x.size).reshape(shape) > 0
        if "a" in got.grads:
            assert_close(got.grads["a"], np.where(written, 0.0, w), "dL/da: 0 where written")
    if not isinstance(v, float) and (accumulate or not repeats):
        assert_close(got.grads.get("v"), sum_to(w.ravel()[positions], np.shape(v)),
                     "dL/dv: W gathered at the positions")


@SETTINGS
@given(drawn=put_cases(), base=st.sampled_from(BASES), cpu_index=st.integers(0, 3))
def test_index_put_accumulates_repeats(drawn, base, cpu_index, pytestconfig):
    got = run_index_put(drawn, base)
    check_index_put(drawn, got)
    assert_same(got, run_index_put(drawn, base, mode="grad"),
                "tg.autograd.grad(create_graph=True)")
    device = pytestconfig.getoption("--device")
    index_device = "cpu" if cpu_index == 0 else device
    other = run_index_put(drawn, base, device=device, index_device=index_device)
    check_index_put(drawn, other)
    assert_same(got, other, f"device={device!r}, index Tensors on {index_device!r}")


@SMALL_SETTINGS
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
       data=st.data(), accumulate=st.booleans())
def test_put_on_the_flattened_tensor(shape, data, accumulate, pytestconfig):
    size = int(np.prod(shape))
    index_shape = data.draw(st.sampled_from([(1,), (3,), (5,), (2, 3)]))
    entries = data.draw(st.lists(st.integers(-size, size - 1), min_size=int(np.prod(index_shape)),
                                 max_size=int(np.prod(index_shape))))
    index = np.array(entries, dtype=np.int64).reshape(index_shape)
    source = np.random.default_rng(7).standard_normal(index_shape)
    x = np.random.default_rng(8).standard_normal(shape)
    w = weights(shape, 3)
    positions = index % size
    repeats = np.bincount(positions.ravel(), minlength=size).max() > 1
    results = []
    for device, mode in (("cpu", "backward"), ("cpu", "grad"),
                         (pytestconfig.getoption("--device"), "backward")):
        a, s = leaf(x, device), leaf(source, device)
        y = a * 1
        y.put_(tg.tensor(index, device=device), s, accumulate=accumulate)
        loss = (y * tg.tensor(w, dtype=tg.float64, device=device)).sum()
        got = Got(y.numpy().copy(), gradients(loss, {"a": a, "source": s}, mode))
        if accumulate:
            expected = x.copy().ravel()
            np.add.at(expected, positions.ravel(), source.ravel())
            np.testing.assert_allclose(got.value, expected.reshape(shape), **TOLERANCE)
            assert_close(got.grads["a"], w, "dL/da")
        else:
            check_written(got.value, positions, source, x)
            written = np.bincount(positions.ravel(), minlength=size).reshape(shape) > 0
            assert_close(got.grads["a"], np.where(written, 0.0, w), "dL/da")
        if accumulate or not repeats:
            assert_close(got.grads["source"], w.ravel()[positions], "dL/dsource")
        results.append(got)
    assert_same(results[0], results[1], "tg.autograd.grad(create_graph=True)")
    assert_same(results[0], results[2], "the other device")


# --- hand-picked cases --------------------------------------------------------------------

def test_pytorch_issue_157569_int_after_an_array_with_a_slice_between():
    """x[:, [0], :, 0] of a (2, 3, 5, 7) x: PyTorch (2, 1, 5), NumPy (1, 2, 5)."""
    case = Case((2, 3, 5, 7), [("slice", slice(None)), ("array", np.array([0]), "list"),
                               ("slice", slice(None)), ("int", 0)])
    positions = positions_of(case.shape, case.parts())
    assert positions.shape == (2, 1, 5)
    assert numpy_placement(np.arange(210).reshape(case.shape), case.parts()).shape == (1, 2, 5)
    check_read(case, positions, run_read(case))
    v = value_for("full", positions.shape, 0)
    check_write(case, positions, "set", v, run_write(case, "set", v))
    check_write(case, positions, "iadd", v, run_write(case, "iadd", v))


def test_the_oracles_model_pytorch_where_numpy_differs():
    """Shapes PyTorch gives (its algorithm by hand): ints select first, wherever they are."""
    x = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    arr = np.array([0, 1])
    assert pytorch_index(x, (0, slice(None), arr)).shape == (3, 2, 5)   # x[0][:, arr]
    assert pytorch_index(x, (arr, 0, arr)).shape == (2, 5)              # adjacent once 0 goes
    assert pytorch_index(x, (None, 1, ..., arr)).shape == (1, 3, 4, 2)  # x[1][None, ..., arr]
    assert pytorch_index(x, (slice(None), arr, ..., arr)).shape == (2, 2, 4)   # apart: first
    mask = np.array([[True, False, True], [False, True, True]])
    assert pytorch_index(x, (mask, 0, slice(None))).shape == (4, 5) and \
        pytorch_index(x, (mask, slice(None), 0)).shape == (4, 4)        # mask dims 0, 1
    # the Ellipsis for no dims: adjacent in PyTorch, NumPy puts the arrays' dim first
    y = np.zeros((2, 3, 4))
    assert pytorch_index(y, (slice(None), arr, ..., arr)).shape == (2, 2)
    assert numpy_placement(y, (slice(None), np.array([0]), ..., np.array([0, 1]))).shape == (2, 2)


# --- the fuzzer can fail --------------------------------------------------------------------

def test_a_wrong_placement_is_caught():
    """NumPy's placement, used as the framework's answer, fails the value check."""
    case = Case((2, 3, 4), [("int", 1), ("slice", slice(None)), ("array", np.array([0, 2]), "np")])
    right = positions_of(case.shape, case.parts())
    wrong = positions_of(case.shape, case.parts(), numpy_placement)
    assert right.shape == (3, 2) and wrong.shape == (2, 3)
    check_read(case, right, run_read(case))
    with pytest.raises(AssertionError):
        check_read(case, wrong, run_read(case))
    liar = Got(case.x.ravel()[wrong].reshape(right.shape), run_read(case).grads)  # (3, 2)
    with pytest.raises(AssertionError):
        check_read(case, right, liar)


def test_a_gradient_that_assigns_instead_of_adding_is_caught():
    """x[[0, 0, 1]]: the gradient of a repeated position is the sum of its weights."""
    case = Case((3,), [("array", np.array([0, 0, 1]), "list")])
    positions = positions_of(case.shape, case.parts())
    got = run_read(case)
    check_read(case, positions, got)
    assigned = np.zeros(3)
    assigned[positions] = weights(positions.shape)  # the last repeat wins: wrong
    with pytest.raises(AssertionError):
        check_read(case, positions, Got(got.value, {"a": assigned}))


def test_a_write_to_the_wrong_place_is_caught():
    case = Case((2, 3), [("int", 0), ("slice", slice(None, None, -1))])
    positions = positions_of(case.shape, case.parts())
    v = value_for("full", positions.shape, 0)
    got = run_write(case, "set", v)
    check_write(case, positions, "set", v, got)
    flipped = Got(got.value[:, ::-1].copy(), got.grads)
    with pytest.raises(AssertionError):
        check_write(case, positions, "set", v, flipped)
    with pytest.raises(AssertionError):  # a repeat holding a value no repeat wrote
        check_written(np.array([9.0, 0.0]), np.array([0, 0]), np.array([1.0, 2.0]),
                      np.zeros(2))


# --- two bugs this fuzzer found, fixed (ops/shape.py: sum_to_shape; ops/index_order.py) -------

@pytest.mark.parametrize("index, value_shape", [(0, (1, 3)),                # y[0] = (1, 3)
                                                ((slice(None), 0), (1, 2)),  # y[:, 0] = (1, 2)
                                                ([0, 1], (1, 2, 3)),
                                                (([0, 1], [0, 2]), (1, 1, 2))])
def test_a_written_value_with_leading_unit_dims_gets_its_gradient(index, value_shape):
    """PyTorch: ``y[0] = v`` with v of shape (1, 3) and y[0] of shape (3,) writes v[0]
    (leading size-1 dims of v are dropped), and v.grad has v's shape. The backward raised
    (ValueError: cannot reshape array of size 1 into shape (1,3); IndexError: tuple index
    out of range with two more dims)."""
    a = tg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    v = tg.tensor(np.full(value_shape, 7.0), requires_grad=True)
    y = a * 1
    y[index] = v
    written = np.zeros((2, 3), bool)
    written[index] = True
    np.testing.assert_array_equal(y.numpy(), np.where(written, 7.0, np.arange(6.0).reshape(2, 3)))
    w = np.arange(1.0, 7.0).reshape(2, 3)
    (y * tg.tensor(w)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.where(written, 0.0, w))
    assert v.grad.shape == value_shape
    np.testing.assert_array_equal(v.grad.numpy(), w[index].reshape(value_shape))


def test_a_numpy_integer_scalar_indexes_as_a_python_int():
    """``x[np.int64(0), :, [0, 1]]`` is PyTorch's ``x[0, :, [0, 1]]``, shape (3, 2);
    it was (2, 3), and ``x[np.int64(0), :, [0, 1]] = v`` of shape (3, 2) raised ValueError."""
    values = np.arange(24.0).reshape(2, 3, 4)
    x = tg.tensor(values)
    assert x[0, :, [0, 1]].shape == (3, 2)
    got = x[np.int64(0), :, [0, 1]]
    assert got.shape == (3, 2)
    np.testing.assert_array_equal(got.numpy(), values[0][:, [0, 1]])
    x[np.int64(0), :, [0, 1]] = tg.tensor(-np.ones((3, 2)))
    assert (x.numpy()[0][:, [0, 1]] == -1).all()
