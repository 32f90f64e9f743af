"""Randomised (hypothesis) checks of the tools around modules: ``nn.utils`` and ``tg.func``.

Each property is checked against an independent reference written here in NumPy from
the definitions and PyTorch's documented semantics (never by asking tinygrad_opt):

* ``clip_grad_norm_`` / ``clip_grad_value_`` / ``get_total_norm``: the norm of the
  per-gradient norms, every gradient times ``min(1, max_norm / (total + 1e-6))``;
* ``parameters_to_vector`` / ``vector_to_parameters`` (also through views);
* ``prune``: chains of ``l1_unstructured``, ``random_unstructured``, ``ln_structured``,
  ``random_structured``, ``custom_from_mask`` and ``global_unstructured`` checked step by
  step against PyTorch's ``PruningContainer`` rule (a new method only sees what is
  still unpruned; ties may be broken either way), then ``remove``;
* ``parametrize``: chains of parametrizations (with and without ``right_inverse``),
  assignment, ``cached()``, ``remove_parametrizations`` both ways, gradients by finite
  differences;
* ``weight_norm`` / ``spectral_norm`` (the parametrizations and the older hook forms):
  values, the power iteration, gradients (float64 central differences, u and v fixed);
* ``functional_call`` (``tg.func`` and ``nn.utils.stateless``) with tied weights;
* packing: ``pad_sequence`` / ``pack_padded_sequence`` / ``pad_packed_sequence`` /
  ``pack_sequence`` / ``unpack_sequence`` against a Python model of the packed layout;
* ``tg.func``: ``vmap`` (in_dims, out_dims, nesting, chunk_size) against a loop,
  ``grad`` / ``grad_and_value`` (argnums, has_aux), ``jacrev``, ``jacfwd``, ``hessian``,
  ``vjp``, ``jvp`` against finite differences;
* ``tg.save`` / ``tg.load`` of what the checkpoint fuzzer of tests/nn/test_fuzz_modules.py
  leaves out: non-contiguous tensors and arrays (views, negative strides), state dicts of
  pruned / parametrized models, and a save refused deep in a tree leaving the old file.

By default each test draws a few examples (derandomised, so CI is deterministic);
``UTILS_FUZZ_EXAMPLES=N`` draws N per test (with ``HYPOTHESIS_PROFILE=explore`` new ones).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt import func, nn
from tinygrad_opt.nn import utils
from tinygrad_opt.nn.utils import parametrizations, parametrize, prune, rnn
from fuzzing import examples, fuzz_settings

EXAMPLES = examples("UTILS_FUZZ_EXAMPLES", 8)
fuzz = fuzz_settings(EXAMPLES)

D = tg.float64


def t64(array, grad: bool = False):
    return tg.tensor(np.asarray(array, dtype=np.float64), dtype=D, requires_grad=grad)


def numeric_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar f at x (float64)."""
    x = np.array(x, dtype=np.float64)
    gradient = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        plus = f(x)
        x[i] = old - eps
        minus = f(x)
        x[i] = old
        gradient[i] = (plus - minus) / (2 * eps)
    return gradient


def numeric_jacobian(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """J[out..., in...] of the array function f at x, by central differences."""
    x = np.array(x, dtype=np.float64)
    out_shape = np.shape(f(x))
    jacobian = np.zeros(out_shape + x.shape)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        plus = np.asarray(f(x))
        x[i] = old - eps
        minus = np.asarray(f(x))
        x[i] = old
        jacobian[(Ellipsis,) + i] = (plus - minus) / (2 * eps)
    return jacobian


def distinct_values(rng, shape) -> np.ndarray:
    """Entries whose magnitudes are all different (no ties in a ranking by |x|)."""
    size = math.prod(shape)
    magnitudes = (rng.permutation(size) + 1.0) / size + rng.uniform(0, 0.1 / size, size)
    signs = rng.choice([-1.0, 1.0], size)
    return (magnitudes * signs).reshape(shape)


small_shapes = st.lists(st.integers(0, 3), max_size=3).map(tuple)


# -------------------------------------------------------------------------- clipping

def vector_norm(values: np.ndarray, q: float) -> float:
    """‖values‖_q from the definition (q = 0: the count of non-zeros)."""
    a = np.abs(np.asarray(values, dtype=np.float64).ravel())
    if q == math.inf:
        return float(a.max())
    if q == -math.inf:
        return float(a.min())
    if q == 0:
        return float((a != 0).sum())
    return float((a ** q).sum() ** (1.0 / q))


@fuzz
@given(st.lists(st.tuples(small_shapes, st.booleans(), st.integers(0, 2**16), st.booleans()),
                min_size=1, max_size=4),
       st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, math.inf, -math.inf]),
       st.sampled_from([1e-3, 0.5, 3.0, 1e3]), st.booleans(), st.booleans())
def test_clip_grad_norm_scales_every_gradient_by_the_norm_of_the_norms(device, specs, norm_type,
                                                                     max_norm, as_generator,
                                                                     float64):
    """Also with the parameters split over two devices (PyTorch: the per-device norms go
    to the first gradient's device, the coefficient to each gradient's)."""
    dtype = np.float64 if float64 else np.float32
    params, grads, devices = [], [], []
    for shape, has_grad, seed, elsewhere in specs:
        if norm_type in (math.inf, -math.inf) and math.prod(shape) == 0:
            shape = (1,)  # an inf norm of an empty tensor has no value (PyTorch raises)
        where = device if elsewhere else "cpu"
        p = tg.tensor(np.zeros(shape, dtype), requires_grad=True, device=where)
        if has_grad:
            g = (np.random.default_rng(seed).standard_normal(shape) * 3).astype(dtype)
            p.grad = tg.tensor(g, device=where)
            grads.append(g)
            devices.append(where)
        params.append(p)
    per_tensor = [vector_norm(g, norm_type) for g in grads]
    want_total = vector_norm(np.array(per_tensor), norm_type) if grads else 0.0
    argument = (p for p in params) if as_generator else params
    total = utils.clip_grad_norm_(argument, max_norm, norm_type=norm_type)
    assert total.ndim == 0 and total.device == (devices[0] if devices else "cpu")
    np.testing.assert_allclose(total.item(), want_total, rtol=1e-5)
    coefficient = min(1.0, max_norm / (want_total + 1e-6))
    got = [p.grad.numpy() for p in params if p.grad is not None]
    assert len(got) == len(grads)
    assert [p.grad.device for p in params if p.grad is not None] == devices
    for g_got, g_want in zip(got, grads):
        assert g_got.dtype == dtype
        np.testing.assert_allclose(g_got, g_want * coefficient, rtol=1e-5, atol=1e-7)
    # get_total_norm of the clipped gradients: at most max_norm (up to the 1e-6)
    if grads and norm_type >= 1:
        after = utils.get_total_norm([p.grad for p in params if p.grad is not None],
                                     norm_type).item()
        assert after <= max(max_norm, 0) * (1 + 1e-5) + 1e-6 or coefficient == 1.0


@fuzz
@given(st.lists(st.tuples(small_shapes, st.integers(0, 2**16)), min_size=1, max_size=3),
       st.sampled_from([0.0, 0.1, 1.0, 2.5]), st.sampled_from([math.inf, math.nan, None]))
def test_clip_grad_value_clamps_and_a_non_finite_norm_is_refused_when_asked(specs, clip, bad):
    params, grads = [], []
    for shape, seed in specs:
        g = (np.random.default_rng(seed).standard_normal(shape) * 3).astype(np.float32)
        p = tg.zeros(*shape, requires_grad=True)
        p.grad = tg.tensor(g)
        params.append(p)
        grads.append(g)
    utils.clip_grad_value_(params, clip_value=clip)
    for p, g in zip(params, grads):
        np.testing.assert_array_equal(p.grad.numpy(), np.clip(g, -clip, clip))
    if bad is None or all(g.size == 0 for g in grads):
        return
    target = next(p for p in params if p.numel() > 0)
    target.grad.data.reshape(-1)[0] = bad
    before = [p.grad.numpy().copy() for p in params]
    with pytest.raises(RuntimeError, match="non-finite"):
        utils.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    for p, g in zip(params, before):  # refused: nothing scaled
        np.testing.assert_array_equal(p.grad.numpy(), g)


@fuzz
@given(st.lists(st.tuples(st.lists(st.integers(1, 3), min_size=1, max_size=3),
                          st.sampled_from(["plain", "transposed", "strided"])),
                min_size=1, max_size=4),
       st.integers(0, 2**16))
def test_parameters_to_vector_and_back_through_views(specs, seed):
    rng = np.random.default_rng(seed)
    bases, params = [], []
    for shape, kind in specs:
        if kind == "transposed":
            base = tg.tensor(rng.standard_normal(shape[::-1]), dtype=D)
            view = base.permute(*reversed(range(len(shape))))
        elif kind == "strided":
            base = tg.tensor(rng.standard_normal((2 * shape[0], *shape[1:])), dtype=D)
            view = base[::2]
        else:
            base = tg.tensor(rng.standard_normal(shape), dtype=D)
            view = base
        bases.append(base)
        params.append(view)
    want = np.concatenate([p.numpy().reshape(-1) for p in params])
    vec = utils.parameters_to_vector(params)
    np.testing.assert_array_equal(vec.numpy(), want)
    new = rng.standard_normal(want.shape[0])
    utils.vector_to_parameters(tg.tensor(new, dtype=D), params)
    pointer = 0
    for p in params:
        count = p.numel()
        np.testing.assert_array_equal(p.numpy(), new[pointer:pointer + count].reshape(p.shape))
        pointer += count
    # differentiable: d(c·vec)/dp = the slice of c
    leaves = [tg.tensor(rng.standard_normal(shape), dtype=D, requires_grad=True)
              for shape, _ in specs]
    c = rng.standard_normal(want.shape[0])
    (utils.parameters_to_vector(leaves) * t64(c)).sum().backward()
    pointer = 0
    for leaf in leaves:
        count = leaf.numel()
        np.testing.assert_array_equal(leaf.grad.numpy(), c[pointer:pointer + count].reshape(
            leaf.shape))
        pointer += count
    with pytest.raises(ValueError):  # one short (a longer one is accepted, as PyTorch)
        utils.vector_to_parameters(tg.zeros(want.shape[0] - 1, dtype=D), params)


# --------------------------------------------------------------------------- pruning

def prune_count(amount, size: int) -> int:
    """PyTorch's _compute_nparams_toprune: an int is a count, a float round(amount·size)."""
    return amount if isinstance(amount, int) else round(amount * size)


def structured_norms(t: np.ndarray, n, dim: int) -> np.ndarray:
    other = tuple(d for d in range(t.ndim) if d != dim)
    moved = np.moveaxis(t, dim, 0).reshape(t.shape[dim], -1)
    return np.array([vector_norm(row, n) for row in moved]) if other else np.abs(t)


def check_unstructured(old: np.ndarray, new: np.ndarray, scores: np.ndarray, amount,
                       ranked: bool) -> None:
    """The new mask prunes exactly k of the still-unpruned entries (k from amount and
    their count), the smallest |score| ones when ranked; elsewhere it equals old."""
    eligible = old == 1
    np.testing.assert_array_equal(new[~eligible], old[~eligible])
    k = prune_count(amount, int(eligible.sum()))
    pruned = eligible & (new == 0)
    kept = eligible & (new == 1)
    assert pruned.sum() == k and kept.sum() == eligible.sum() - k
    if ranked and k and kept.any():
        assert np.abs(scores[pruned]).max() <= np.abs(scores[kept]).min()


def check_structured(old: np.ndarray, new: np.ndarray, scores: np.ndarray, amount, dim: int,
                     n) -> None:
    """PyTorch's container: the channels along dim not all 0 in old are eligible; k of
    them are zeroed (smallest L_n norm of scores when n is given); new = old · channels."""
    dim = dim % old.ndim
    other = tuple(d for d in range(old.ndim) if d != dim)
    eligible = old.sum(axis=other) != 0                                 # (C,)
    k = prune_count(amount, int(eligible.sum()))
    channel_kept = np.moveaxis(new, dim, 0).reshape(new.shape[dim], -1).any(axis=1)  # (C,)
    pruned = eligible & ~channel_kept
    kept_channels = eligible & channel_kept
    assert pruned.sum() == k, (pruned, k)
    shape = [1] * old.ndim
    shape[dim] = old.shape[dim]
    np.testing.assert_array_equal(new, old * kept_channels.reshape(shape))
    if n is not None and k and kept_channels.any():
        norms = structured_norms(scores, n, dim)
        assert norms[pruned].max() <= norms[kept_channels].min()


PRUNE_STEPS = st.one_of(
    st.tuples(st.just("l1"), st.one_of(st.floats(0, 1), st.integers(0, 3))),
    st.tuples(st.just("random"), st.one_of(st.floats(0, 1), st.integers(0, 3))),
    st.tuples(st.just("ln"), st.one_of(st.floats(0, 1), st.integers(0, 2)),
              st.sampled_from([1, 2, 3, "fro", math.inf, -math.inf]), st.integers(-2, 1)),
    st.tuples(st.just("random_structured"), st.one_of(st.floats(0, 1), st.integers(0, 2)),
              st.integers(-2, 1)),
    st.tuples(st.just("custom"), st.integers(0, 2**16)),
    st.tuples(st.just("identity")),
)


@fuzz
@given(st.integers(1, 4), st.integers(1, 4), st.lists(PRUNE_STEPS, min_size=1, max_size=4),
       st.integers(0, 2**16), st.booleans(), st.booleans())
def test_pruning_chains_follow_pytorchs_container_rule(rows, columns, steps, seed, scores,
                                                       on_bias):
    rng = np.random.default_rng(seed)
    layer = nn.Linear(columns, rows).double()
    w0 = distinct_values(rng, (rows, columns))
    with tg.no_grad():
        layer.weight.data[...] = w0
    parameter = layer.weight
    mask = np.ones_like(w0)
    importance = distinct_values(rng, w0.shape) if scores else None
    for step in steps:
        kind, amount = step[0], (step[1] if len(step) > 1 else None)
        size = int((mask == 1).sum())
        current = w0 * mask if importance is None else importance
        given = None if importance is None else t64(importance)
        if kind in ("l1", "random") and isinstance(amount, int) and amount > size:
            with pytest.raises(ValueError, match="amount"):
                (prune.l1_unstructured if kind == "l1" else prune.random_unstructured)(
                    layer, "weight", amount)
            continue
        if kind == "l1":
            prune.l1_unstructured(layer, "weight", amount=amount, importance_scores=given)
            check_unstructured(mask, layer.weight_mask.numpy(), current, amount, ranked=True)
        elif kind == "random":
            prune.random_unstructured(layer, "weight", amount=amount)
            check_unstructured(mask, layer.weight_mask.numpy(), current, amount, ranked=False)
        elif kind in ("ln", "random_structured"):
            dim = step[-1]
            channels = int((mask.sum(axis=1 - dim % 2) != 0).sum())
            if isinstance(amount, int) and amount > channels:
                continue
            if kind == "ln":
                n = step[2]
                prune.ln_structured(layer, "weight", amount=amount, n=n, dim=dim,
                                    importance_scores=given)
                reference_n = 2 if n == "fro" else n
            else:
                prune.random_structured(layer, "weight", amount=amount, dim=dim)
                reference_n = None
            check_structured(mask, layer.weight_mask.numpy(), current, amount, dim,
                             reference_n)
        elif kind == "custom":
            custom = np.random.default_rng(amount).integers(0, 2, w0.shape).astype(np.float64)
            prune.custom_from_mask(layer, "weight", mask=t64(custom))
            np.testing.assert_array_equal(layer.weight_mask.numpy(), mask * custom)
        else:
            prune.identity(layer, "weight")
            np.testing.assert_array_equal(layer.weight_mask.numpy(), mask)
        mask = layer.weight_mask.numpy()
        assert set(np.unique(mask)) <= {0.0, 1.0}
        # the layout: weight_orig is the same Parameter, weight_mask a buffer, one hook
        assert layer.weight_orig is parameter
        assert list(dict(layer.named_parameters())) == ["bias", "weight_orig"]
        assert list(dict(layer.named_buffers())) == ["weight_mask"]
        hooks = [h for h in layer._forward_pre_hooks.values()
                 if isinstance(h, prune.BasePruningMethod)]
        assert len(hooks) == 1 and prune.is_pruned(layer)
        np.testing.assert_array_equal(layer.weight.numpy(), w0 * mask)
    if not prune.is_pruned(layer):
        return
    # forward recomputes weight = orig · mask; the gradient reaches orig only where kept
    x = rng.standard_normal((3, columns))
    with tg.no_grad():
        parameter.data[...] = parameter.data * 2
    out = layer(t64(x))
    np.testing.assert_allclose(out.numpy(), x @ (2 * w0 * mask).T + layer.bias.numpy(),
                               rtol=1e-12, atol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(parameter.grad.numpy(), mask * x.sum(axis=0)[None, :],
                               rtol=1e-12)
    if on_bias:
        prune.l1_unstructured(layer, "bias", amount=1)
        assert list(dict(layer.named_buffers())) == ["weight_mask", "bias_mask"]
    prune.remove(layer, "weight")
    assert layer.weight is parameter and isinstance(layer.weight, nn.Parameter)
    np.testing.assert_array_equal(layer.weight.numpy(), 2 * w0 * mask)
    assert "weight_orig" not in dict(layer.named_parameters())
    assert "weight_mask" not in dict(layer.named_buffers())
    with pytest.raises(ValueError):
        prune.remove(layer, "weight")


@fuzz
@given(st.lists(st.tuples(st.integers(1, 3), st.integers(1, 3)), min_size=1, max_size=3),
       st.one_of(st.floats(0, 1), st.integers(0, 6)), st.integers(0, 2**16),
       st.lists(st.booleans(), min_size=3, max_size=3))
def test_global_unstructured_ranks_all_parameters_together(shapes, amount, seed, prepruned):
    rng = np.random.default_rng(seed)
    layers, entries, masks, values = [], [], [], []
    for (rows, columns), pre in zip(shapes, prepruned):
        layer = nn.Linear(columns, rows).double()
        with tg.no_grad():
            layer.weight.data[...] = distinct_values(rng, (rows, columns)) * (seed % 7 + 1)
            layer.bias.data[...] = distinct_values(rng, (rows,)) * 0.5
        if pre:
            prune.l1_unstructured(layer, "weight", amount=1)
        layers.append(layer)
        for name in ("weight", "bias"):
            entries.append((layer, name))
            values.append(getattr(layer, name).numpy().reshape(-1))
            mask = getattr(layer, name + "_mask", None)
            masks.append(np.ones(values[-1].shape) if mask is None else
                         mask.numpy().reshape(-1))
    old = np.concatenate(masks)
    scores = np.concatenate(values)
    if isinstance(amount, int) and amount > int((old == 1).sum()):
        with pytest.raises(ValueError, match="amount"):
            prune.global_unstructured(entries, prune.L1Unstructured, amount=amount)
        return
    prune.global_unstructured(entries, pruning_method=prune.L1Unstructured, amount=amount)
    new = np.concatenate([getattr(layer, name + "_mask").numpy().reshape(-1)
                          for layer, name in entries])
    check_unstructured(old, new, scores, amount, ranked=True)
    for layer, name in entries:  # every parameter now holds one combined pruning hook
        assert isinstance(getattr(layer, name + "_orig"), nn.Parameter)
    with pytest.raises(TypeError, match="unstructured"):
        prune.global_unstructured(entries, prune.LnStructured, amount=1, n=2, dim=0)


# ----------------------------------------------------------------------- parametrize

class Scale(nn.Module):
    """X ↦ c·X, right_inverse Y ↦ Y / c."""

    def __init__(self, c: float):
        super().__init__()
        self.c = c

    def forward(self, X):
        return self.c * X

    def right_inverse(self, Y):
        return Y / self.c


class Shift(nn.Module):
    """X ↦ X + c, right_inverse Y ↦ Y − c."""

    def __init__(self, c: float):
        super().__init__()
        self.c = c

    def forward(self, X):
        return X + self.c

    def right_inverse(self, Y):
        return Y - self.c


class Cube(nn.Module):
    """X ↦ X³ (no right_inverse): a non-linear f for the finite differences."""

    def forward(self, X):
        return X * X * X


class Symmetric(nn.Module):
    """X ↦ triu(X) + triu(X, 1)ᵀ (square only), no right_inverse."""

    def forward(self, X):
        return X.triu() + X.triu(1).mT


class Pair(nn.Module):
    """right_inverse splits W into (W/2, W/2); forward(a, b) = a + b."""

    def forward(self, a, b):
        return a + b

    def right_inverse(self, W):
        return W / 2, W / 2


def numpy_parametrization(spec):
    kind = spec[0]
    if kind == "scale":
        return lambda X: spec[1] * X, lambda Y: Y / spec[1]
    if kind == "shift":
        return lambda X: X + spec[1], lambda Y: Y - spec[1]
    if kind == "cube":
        return lambda X: X ** 3, None
    return lambda X: np.triu(X) + np.triu(X, 1).T, None


def module_parametrization(spec):
    return {"scale": lambda: Scale(spec[1]), "shift": lambda: Shift(spec[1]),
            "cube": Cube, "symmetric": Symmetric}[spec[0]]()


PARAMETRIZATIONS = st.one_of(
    st.tuples(st.just("scale"), st.sampled_from([-2.0, 0.5, 3.0])),
    st.tuples(st.just("shift"), st.sampled_from([-1.0, 0.25])),
    st.tuples(st.just("cube")),
    st.tuples(st.just("symmetric")))


@fuzz
@given(st.lists(PARAMETRIZATIONS, min_size=1, max_size=4).filter(
           lambda specs: specs.count(("cube",)) <= 1),  # x^27 defeats finite differences
       st.integers(1, 3),
       st.integers(0, 2**16), st.booleans(), st.booleans())
def test_parametrization_chains_read_assign_cache_and_remove(specs, size, seed, leave, assign):
    rng = np.random.default_rng(seed)
    layer = nn.Linear(size, size).double()
    w0 = rng.standard_normal((size, size))
    with tg.no_grad():
        layer.weight.data[...] = w0
    parameter = layer.weight
    functions = [numpy_parametrization(spec) for spec in specs]
    for spec in specs:
        parametrize.register_parametrization(layer, "weight", module_parametrization(spec))
    # the original: the first parametrization's right_inverse (if any) of w0, only
    first_inverse = functions[0][1]
    original = first_inverse(w0) if first_inverse else w0

    def value_of(x):
        for forward, _ in functions:
            x = forward(x)
        return x

    assert layer.parametrizations.weight.original is parameter
    np.testing.assert_allclose(parameter.numpy(), original, rtol=1e-12)
    np.testing.assert_allclose(layer.weight.numpy(), value_of(original), rtol=1e-12, atol=1e-12)
    assert type(layer).__name__ == "ParametrizedLinear"
    assert parametrize.type_before_parametrizations(layer) is nn.Linear
    assert list(layer.state_dict()) == ["bias", "parametrizations.weight.original"]
    # gradients reach the original: finite differences of sum(c · f(original))
    c = rng.standard_normal((size, size))
    (layer.weight * t64(c)).sum().backward()
    want = numeric_gradient(lambda x: float((value_of(x) * c).sum()), parameter.numpy())
    np.testing.assert_allclose(parameter.grad.numpy(), want, rtol=1e-5, atol=1e-6)
    # cached(): one value (and one graph) per context; two reads give twice the gradient
    parameter.grad = None
    with parametrize.cached():
        first = layer.weight
        assert layer.weight is first
        (first * t64(c)).sum().backward(retain_graph=True)
        (layer.weight * t64(c)).sum().backward()
    np.testing.assert_allclose(parameter.grad.numpy(), 2 * want, rtol=1e-5, atol=1e-6)
    assert layer.weight is not layer.weight  # outside: computed at each read
    invertible = all(inverse is not None for _, inverse in functions)
    if assign:
        target = rng.standard_normal((size, size))
        if invertible:
            layer.weight = t64(target)
            np.testing.assert_allclose(layer.weight.numpy(), target, rtol=1e-12, atol=1e-12)
            original = parameter.numpy().copy()
        else:
            with pytest.raises(RuntimeError, match="right_inverse"):
                layer.weight = t64(target)
    current = value_of(original)
    parametrize.remove_parametrizations(layer, "weight", leave_parametrized=leave)
    assert type(layer) is nn.Linear and not hasattr(layer, "parametrizations")
    assert layer.weight is parameter and isinstance(layer.weight, nn.Parameter)
    np.testing.assert_allclose(layer.weight.numpy(), current if leave else original,
                               rtol=1e-12, atol=1e-12)
    assert list(layer.state_dict()) == ["bias", "weight"]


@fuzz
@given(st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**16), st.booleans())
def test_a_right_inverse_that_returns_a_pair_makes_two_originals(rows, columns, seed, grad):
    rng = np.random.default_rng(seed)
    layer = nn.Linear(columns, rows).double()
    w0 = rng.standard_normal((rows, columns))
    with tg.no_grad():
        layer.weight.data[...] = w0
    layer.weight.requires_grad_(grad)
    parametrize.register_parametrization(layer, "weight", Pair())
    listing = layer.parametrizations.weight
    np.testing.assert_allclose(listing.original0.numpy(), w0 / 2)
    np.testing.assert_allclose(listing.original1.numpy(), w0 / 2)
    assert listing.original0.requires_grad == grad
    np.testing.assert_allclose(layer.weight.numpy(), w0)
    with pytest.raises(ValueError, match="leave_parametrized"):
        parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)
    parametrize.remove_parametrizations(layer, "weight")
    assert isinstance(layer.weight, nn.Parameter) == grad
    assert layer.weight.requires_grad == grad
    np.testing.assert_allclose(layer.weight.numpy(), w0)


# ---------------------------------------------------------- weight_norm, spectral_norm

def norm_except(v: np.ndarray, dim) -> np.ndarray:
    """‖v‖₂ over every dim but dim, kept as size 1; dim None or -1: the whole norm
    (PyTorch's norm_except_dim: -1 means the whole tensor, not the last dim)."""
    if dim is None or dim == -1:
        return np.array(np.sqrt((v * v).sum()))
    dim = dim % v.ndim
    others = tuple(d for d in range(v.ndim) if d != dim)
    return np.sqrt((v * v).sum(axis=others, keepdims=True))


class Holder(nn.Module):
    def __init__(self, weight: np.ndarray):
        super().__init__()
        self.weight = nn.Parameter(t64(weight))

    def forward(self, x):
        return self.weight * x


@fuzz
@given(st.lists(st.integers(1, 3), min_size=1, max_size=4), st.integers(0, 2**16), st.data())
def test_weight_norm_both_forms_values_and_gradients(shape, seed, data):
    shape = tuple(shape)
    dim = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal(shape)
    g_want = norm_except(w0, dim)

    new = parametrizations.weight_norm(Holder(w0), dim=dim)
    g, v = new.parametrizations.weight.original0, new.parametrizations.weight.original1
    assert g.shape == g_want.shape
    np.testing.assert_allclose(g.numpy(), g_want, rtol=1e-12)
    np.testing.assert_allclose(v.numpy(), w0)
    np.testing.assert_allclose(new.weight.numpy(), w0, rtol=1e-12, atol=1e-12)

    with pytest.warns(FutureWarning):
        old = utils.weight_norm(Holder(w0), dim=dim)
    assert old.weight_g.shape == g_want.shape
    np.testing.assert_allclose(old.weight_g.numpy(), g_want, rtol=1e-12)
    assert list(old.state_dict()) == ["weight_g", "weight_v"]

    # w = g · v / ‖v‖ at new values; gradients by central differences
    g1 = g_want * rng.uniform(0.5, 2, g_want.shape)
    v1 = rng.standard_normal(shape)
    c = rng.standard_normal(shape)
    for module, (g_param, v_param) in ((new, (g, v)), (old, (old.weight_g, old.weight_v))):
        with tg.no_grad():
            g_param.data[...] = g1
            v_param.data[...] = v1
        out = module(t64(c))
        np.testing.assert_allclose(out.numpy(), g1 * v1 / norm_except(v1, dim) * c,
                                   rtol=1e-12, atol=1e-12)
        out.sum().backward()
        want_g = numeric_gradient(lambda x: float((x * v1 / norm_except(v1, dim) * c).sum()), g1)
        want_v = numeric_gradient(lambda x: float((g1 * x / norm_except(x, dim) * c).sum()), v1)
        np.testing.assert_allclose(g_param.grad.numpy(), want_g, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(v_param.grad.numpy(), want_v, rtol=1e-5, atol=1e-6)
    utils.remove_weight_norm(old)
    np.testing.assert_allclose(old.weight.numpy(), g1 * v1 / norm_except(v1, dim), rtol=1e-12)
    assert list(old.state_dict()) == ["weight"]


def as_matrix(w: np.ndarray, dim: int) -> np.ndarray:
    return np.moveaxis(w, dim, 0).reshape(w.shape[dim], -1)


def normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    return x / max(np.linalg.norm(x), eps)


@fuzz
@given(st.lists(st.integers(1, 4), min_size=2, max_size=3), st.integers(0, 2**16),
       st.integers(1, 3), st.data())
def test_spectral_norm_both_forms_power_iteration_and_gradients(shape, seed, iterations, data):
    shape = tuple(shape)
    dim = data.draw(st.integers(0, len(shape) - 1))
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal(shape)

    # the parametrization: u ← normalize(W v), v ← normalize(Wᵀ u), then W / (uᵀ W v)
    new = parametrizations.spectral_norm(Holder(w0), n_power_iterations=iterations, dim=dim)
    spectral = new.parametrizations.weight[0]
    u, v = spectral._u.numpy().copy(), spectral._v.numpy().copy()
    matrix = as_matrix(w0, dim)
    for _ in range(iterations):
        u = normalize(matrix @ v)
        v = normalize(matrix.T @ u)
    got = new.weight.numpy()
    np.testing.assert_allclose(spectral._u.numpy(), u, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(spectral._v.numpy(), v, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got, w0 / (u @ matrix @ v), rtol=1e-9)
    assert list(new.state_dict()) == ["parametrizations.weight.original",
                                      "parametrizations.weight.0._u",
                                      "parametrizations.weight.0._v"]

    # the older hooks: v ← normalize(Wᵀ u) first, then u ← normalize(W v)
    old = utils.spectral_norm(Holder(w0), n_power_iterations=iterations, dim=dim)
    u, v = old.weight_u.numpy().copy(), old.weight_v.numpy().copy()
    for _ in range(iterations):
        v = normalize(matrix.T @ u)
        u = normalize(matrix @ v)
    c = rng.standard_normal(shape)
    np.testing.assert_allclose(old(t64(c)).numpy(), w0 / (u @ matrix @ v) * c, rtol=1e-9)
    np.testing.assert_allclose(old.weight_u.numpy(), u, rtol=1e-9, atol=1e-12)
    assert list(old.state_dict()) == ["weight_orig", "weight_u", "weight_v"]

    # evaluation: u, v fixed; the gradient of sum(c · W/σ(W)) by central differences
    for module, weight in ((new, new.parametrizations.weight.original), (old, old.weight_orig)):
        module.eval()
        if module is new:
            u, v = spectral._u.numpy().copy(), spectral._v.numpy().copy()
        else:
            u, v = old.weight_u.numpy().copy(), old.weight_v.numpy().copy()
        out = module(t64(c))
        out.sum().backward()

        def loss(x):
            return float((x / (u @ as_matrix(x, dim) @ v) * c).sum())
        np.testing.assert_allclose(weight.grad.numpy(), numeric_gradient(loss, w0),
                                   rtol=1e-5, atol=1e-6)
        module(t64(c))
        np.testing.assert_array_equal(module.weight_u.numpy() if module is old
                                      else spectral._u.numpy(), u)  # no iteration in eval
    # assigning W stores it as the original (right_inverse is the identity); eval: u, v fixed
    u, v = spectral._u.numpy().copy(), spectral._v.numpy().copy()
    target = rng.standard_normal(shape)
    new.weight = t64(target)
    np.testing.assert_array_equal(new.parametrizations.weight.original.numpy(), target)
    np.testing.assert_allclose(new.weight.numpy(), target / (u @ as_matrix(target, dim) @ v),
                               rtol=1e-9)
    with tg.no_grad():
        new.parametrizations.weight.original.data[...] = w0
    # many steps in training: σ → the largest singular value
    new.train()
    for _ in range(200):
        new.weight
    np.testing.assert_allclose(np.linalg.svd(as_matrix(new.weight.numpy(), dim),
                                             compute_uv=False)[0], 1.0, rtol=1e-3)


# -------------------------------------------------------------------- functional_call

class Tied(nn.Module):
    def __init__(self, size: int):
        super().__init__()
        self.first = nn.Linear(size, size, bias=False)
        self.second = nn.Linear(size, size)
        self.second.weight = self.first.weight
        self.register_buffer("offset", tg.zeros(size))

    def forward(self, x):
        return self.second(self.first(x).tanh()) + self.offset


@fuzz
@given(st.integers(1, 3), st.integers(0, 2**16),
       st.sampled_from(["first", "second", "both", "different", "untied"]),
       st.booleans(), st.booleans())
def test_functional_call_with_tied_weights(size, seed, which, stateless, strict):
    rng = np.random.default_rng(seed)
    model = Tied(size).double()
    own = {name: p for name, p in model.named_parameters()}
    before = {name: p.numpy().copy() for name, p in model.state_dict().items()}
    x = rng.standard_normal((2, size))
    w = rng.standard_normal((size, size))
    w2 = rng.standard_normal((size, size))
    bias = model.second.bias.numpy()
    call = utils.stateless.functional_call if stateless else func.functional_call
    given_w = t64(w, grad=True)
    if which == "first":
        replacements = {"first.weight": given_w}
    elif which == "second":
        replacements = {"second.weight": given_w}
    elif which == "both":
        replacements = {"first.weight": given_w, "second.weight": given_w}
    else:
        replacements = {"first.weight": given_w, "second.weight": t64(w2, grad=True)}
    if which == "different":
        with pytest.raises(ValueError, match="tied"):
            call(model, replacements, (t64(x),))
        return
    tie = which != "untied"
    if not tie:
        replacements = {"first.weight": given_w}
    if strict:
        with pytest.raises(RuntimeError, match="Missing key"):
            call(model, replacements, (t64(x),), tie_weights=tie, strict=True)
        return
    out = call(model, replacements, (t64(x),), tie_weights=tie)
    second = w if tie else before["first.weight"]

    def forward(first_weight):
        second_weight = first_weight if tie else second
        return np.tanh(x @ first_weight.T) @ second_weight.T + bias

    np.testing.assert_allclose(out.numpy(), forward(w), rtol=1e-12, atol=1e-12)
    c = rng.standard_normal(out.shape)
    (out * t64(c)).sum().backward()
    np.testing.assert_allclose(given_w.grad.numpy(),
                               numeric_gradient(lambda z: float((forward(z) * c).sum()), w),
                               rtol=1e-5, atol=1e-6)
    # the module is as it was: the same Parameter objects, the same values, still tied
    assert model.first.weight is own["first.weight"] is model.second.weight
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[name])
    # functional_call of the module's own tensors equals calling it
    own_state = dict(model.named_parameters())
    own_state.update(model.named_buffers())
    np.testing.assert_array_equal(call(model, own_state, t64(x)).numpy(),
                                  model(t64(x)).numpy())


@fuzz
@given(st.lists(PARAMETRIZATIONS.filter(lambda spec: spec[0] in ("scale", "shift")),
                min_size=1, max_size=3),
       st.integers(1, 3), st.integers(0, 2**16), st.booleans())
def test_functional_call_of_a_parametrized_tensor_puts_the_module_back(specs, size, seed,
                                                                       stateless):
    """PyTorch's swap_tensor: a parametrized ``weight`` is assigned (right_inverse into
    the originals) for the call, and the value read before is assigned back after."""
    rng = np.random.default_rng(seed)
    layer = nn.Linear(size, size).double()
    for spec in specs:
        parametrize.register_parametrization(layer, "weight", module_parametrization(spec))
    original = layer.parametrizations.weight.original
    weight_before = layer.weight.numpy().copy()
    original_before = original.numpy().copy()
    w = rng.standard_normal((size, size))
    x = rng.standard_normal((2, size))
    call = utils.stateless.functional_call if stateless else func.functional_call
    out = call(layer, {"weight": t64(w)}, (t64(x),))
    np.testing.assert_allclose(out.numpy(), x @ w.T + layer.bias.numpy(), rtol=1e-10,
                               atol=1e-12)
    assert layer.parametrizations.weight.original is original
    np.testing.assert_allclose(original.numpy(), original_before, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.weight.numpy(), weight_before, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- packing

@fuzz
@given(st.lists(st.integers(1, 4), min_size=1, max_size=5), st.integers(0, 2),
       st.booleans(), st.booleans(), st.integers(0, 2), st.integers(0, 2**16))
def test_packing_round_trips_against_a_model_of_the_layout(device, lengths, feature_dims,
                                                          batch_first, enforce_sorted, extra,
                                                          seed):
    rng = np.random.default_rng(seed)
    features = (2,) * feature_dims
    sequences = [rng.standard_normal((length, *features)) for length in lengths]
    leaves = [tg.tensor(s, dtype=D, device=device, requires_grad=True) for s in sequences]
    longest = max(lengths)
    is_sorted = all(a >= b for a, b in zip(lengths, lengths[1:]))

    # pad_sequence: (max L, B, *) or (B, max L, *), padded with the value
    padded = rnn.pad_sequence(leaves, batch_first=batch_first, padding_value=-7.0)
    want = np.full((len(lengths), longest, *features), -7.0)
    for b, s in enumerate(sequences):
        want[b, :len(s)] = s
    np.testing.assert_array_equal(padded.numpy(), want if batch_first else
                                  np.swapaxes(want, 0, 1))
    left = rnn.pad_sequence(leaves, batch_first=True, padding_value=-7.0, padding_side="left")
    want_left = np.full((len(lengths), longest, *features), -7.0)
    for b, s in enumerate(sequences):
        want_left[b, longest - len(s):] = s
    np.testing.assert_array_equal(left.numpy(), want_left)

    # pack_padded_sequence: sort (stably: equal lengths keep their order here; PyTorch's
    # sort may order ties otherwise), then the rows of step t of the running sequences
    if enforce_sorted and not is_sorted:
        with pytest.raises(RuntimeError, match="enforce_sorted"):
            rnn.pack_padded_sequence(padded, lengths, batch_first=batch_first)
        with pytest.raises(RuntimeError, match="enforce_sorted"):
            rnn.pack_sequence(leaves)
        return
    # lengths stay on the CPU whatever the data's device (PyTorch refuses device lengths)
    packed = rnn.pack_padded_sequence(padded, tg.tensor(lengths, device="cpu"),
                                      batch_first=batch_first, enforce_sorted=enforce_sorted)
    assert packed.data.device == device
    order = list(range(len(lengths))) if enforce_sorted else \
        sorted(range(len(lengths)), key=lambda b: -lengths[b])
    batch_sizes = [sum(length > step for length in lengths) for step in range(longest)]
    rows = [sequences[b][step] for step in range(longest) for b in order
            if lengths[b] > step]
    assert packed.batch_sizes.tolist() == batch_sizes
    assert packed.batch_sizes.dtype == tg.int64 and packed.batch_sizes.device == "cpu"
    np.testing.assert_array_equal(packed.data.numpy(), np.stack(rows))
    if enforce_sorted:
        assert packed.sorted_indices is None and packed.unsorted_indices is None
    else:
        sorted_indices = packed.sorted_indices.tolist()
        assert sorted(sorted_indices) == list(range(len(lengths)))
        assert [lengths[b] for b in sorted_indices] == sorted(lengths, reverse=True)
        unsorted = packed.unsorted_indices.tolist()
        assert [sorted_indices[i] for i in unsorted] == list(range(len(lengths)))
    same = rnn.pack_sequence(leaves, enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(same.data.numpy(), packed.data.numpy())
    assert same.batch_sizes.tolist() == batch_sizes

    # pad_packed_sequence: back to the padded batch in the original order
    total = longest + extra
    unpacked, got_lengths = rnn.pad_packed_sequence(packed, batch_first=batch_first,
                                                    padding_value=3.5, total_length=total)
    want = np.full((len(lengths), total, *features), 3.5)
    for b, s in enumerate(sequences):
        want[b, :len(s)] = s
    np.testing.assert_array_equal(unpacked.numpy(), want if batch_first else
                                  np.swapaxes(want, 0, 1))
    assert got_lengths.tolist() == lengths and got_lengths.dtype == tg.int64
    assert unpacked.device == device and got_lengths.device == "cpu"
    if extra:
        with pytest.raises(ValueError, match="total_length"):
            rnn.pad_packed_sequence(packed, total_length=longest - 1)
    for got, s in zip(rnn.unpack_sequence(packed), sequences):
        np.testing.assert_array_equal(got.numpy(), s)
    for got, s in zip(rnn.unpad_sequence(unpacked, got_lengths, batch_first=batch_first),
                      sequences):
        np.testing.assert_array_equal(got.numpy(), s)

    # gradients flow from the unpacked batch to every real step, never from padding
    c = rng.standard_normal(unpacked.shape)
    (unpacked * tg.tensor(c, dtype=D, device=device)).sum().backward()
    c_batch = c if batch_first else np.swapaxes(c, 0, 1)
    for b, leaf in enumerate(leaves):
        np.testing.assert_array_equal(leaf.grad.numpy(), c_batch[b, :lengths[b]])


# ------------------------------------------------------------------------ tg.func: vmap

def sample_function(kind: str):
    """(tinygrad_opt f, NumPy f) of two arguments a (shape (3,) or (3, 2)) and b."""
    if kind == "mul_sum":
        return (lambda a, b: (a * b).sum(dim=0), lambda a, b: (a * b).sum(axis=0))
    if kind == "outer":
        return (lambda a, b: a.reshape(-1, 1) * b.reshape(1, -1),
                lambda a, b: a.reshape(-1, 1) * b.reshape(1, -1))
    if kind == "tuple":
        return (lambda a, b: (a.sin() + b, (a * b).sum()),
                lambda a, b: (np.sin(a) + b, (a * b).sum()))
    return (lambda a, b: {"x": a.exp() * b, "y": (a - b).tanh()},
            lambda a, b: {"x": np.exp(a) * b, "y": np.tanh(a - b)})


def stacked(results: list, out_dims):
    """NumPy: the per-sample results stacked along their out_dims (the same tree)."""
    first = results[0]
    if isinstance(first, tuple):
        dims = out_dims if isinstance(out_dims, tuple) else (out_dims,) * len(first)
        return tuple(stacked([r[i] for r in results], d) for i, d in enumerate(dims))
    if isinstance(first, dict):
        return {key: stacked([r[key] for r in results], out_dims) for key in first}
    if out_dims is None:
        return first
    return np.stack(results, axis=out_dims)


def assert_tree_close(got, want):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for a, b in zip(got, want):
            assert_tree_close(a, b)
    elif isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want)
        for key in want:
            assert_tree_close(got[key], want[key])
    else:
        assert got.shape == np.shape(want), (got.shape, np.shape(want))
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


@fuzz
@given(st.sampled_from(["mul_sum", "outer", "tuple", "dict"]), st.integers(1, 4),
       st.sampled_from([0, 1, -1, -2, None]), st.sampled_from([0, 1, -1, None]),
       st.one_of(st.none(), st.integers(1, 3)), st.integers(0, 2**16), st.data())
def test_vmap_matches_a_python_loop(kind, size, a_dim, b_dim, chunk_size, seed, data):
    if a_dim is None and b_dim is None:
        b_dim = 0
    rng = np.random.default_rng(seed)
    f, f_np = sample_function(kind)
    a_sample, b_sample = rng.standard_normal((3,)), rng.standard_normal((3,))

    def batched(sample, dim):
        if dim is None:
            return sample
        full = rng.standard_normal((size, *sample.shape))
        return np.moveaxis(full, 0, dim % (sample.ndim + 1))

    a, b = batched(a_sample, a_dim), batched(b_sample, b_dim)
    results = []
    for i in range(size):
        a_i = a if a_dim is None else np.take(a, i, axis=a_dim % a.ndim)
        b_i = b if b_dim is None else np.take(b, i, axis=b_dim % b.ndim)
        results.append(f_np(a_i, b_i))
    if kind == "tuple":
        out_dims = data.draw(st.sampled_from([0, -1, (1, 0), (0, 0)]))
        if isinstance(out_dims, int) and out_dims == -1:
            out_dims = (-1, -1)
    elif kind == "outer":
        out_dims = data.draw(st.sampled_from([0, 1, 2, -1, -3]))
    else:
        out_dims = data.draw(st.sampled_from([0, -1]))
    mapped = func.vmap(f, in_dims=(a_dim, b_dim), out_dims=out_dims, chunk_size=chunk_size)
    assert_tree_close(mapped(t64(a), t64(b)), stacked(results, out_dims))

    # nested: vmap over a second leading dim of a gives the loop of loops
    outer = rng.standard_normal((2, *a.shape))
    nested = func.vmap(func.vmap(lambda x, y: (x * y).sum(), in_dims=(a_dim, b_dim)),
                       in_dims=(0, None))(t64(outer), t64(b))
    def sample(x, dim, i):
        return x if dim is None else np.take(x, i, axis=dim % x.ndim)

    want = np.array([[(sample(outer[j], a_dim, i) * sample(b, b_dim, i)).sum()
                      for i in range(size)] for j in range(2)])
    np.testing.assert_allclose(nested.numpy(), want, rtol=1e-12)


# -------------------------------------------------------- tg.func: derivatives

def three_argument_function(kind: str):
    """(tinygrad_opt f(a, b, c), NumPy f) returning a 0-d value; a (3,), b (2, 3), c (2,)."""
    if kind == "smooth":
        return (lambda a, b, c: ((b * a).sin().sum(dim=1) * c).sum() + (a * a * a).sum(),
                lambda a, b, c: (np.sin(b * a).sum(axis=1) * c).sum() + (a ** 3).sum())
    return (lambda a, b, c: ((b @ a).tanh() * c.exp()).sum() / (1 + (a * a).sum()),
            lambda a, b, c: (np.tanh(b @ a) * np.exp(c)).sum() / (1 + (a * a).sum()))


SHAPES = {0: (3,), 1: (2, 3), 2: (2,)}


@fuzz
@given(st.sampled_from(["smooth", "ratio"]),
       st.one_of(st.integers(-3, 2), st.lists(st.integers(0, 2), min_size=1, max_size=3,
                                              unique=True).map(tuple)),
       st.booleans(), st.integers(0, 2**16))
def test_grad_and_value_argnums_and_aux_against_finite_differences(kind, argnums, has_aux,
                                                                   seed):
    rng = np.random.default_rng(seed)
    f, f_np = three_argument_function(kind)
    args = [rng.standard_normal(SHAPES[i]) for i in range(3)]
    tensors = [t64(x) for x in args]

    def with_aux(*xs):
        value = f(*xs)
        return (value, {"twice": value * 2, "n": 7}) if has_aux else value

    def numeric(index):
        def partial(x):
            changed = list(args)
            changed[index] = x
            return float(f_np(*changed))
        return numeric_gradient(partial, args[index])

    indices = (argnums % 3,) if isinstance(argnums, int) else argnums
    want = [numeric(i) for i in indices]
    gradient, value = func.grad_and_value(with_aux, argnums=argnums, has_aux=has_aux)(*tensors)
    only = func.grad(with_aux, argnums=argnums, has_aux=has_aux)(*tensors)
    if has_aux:
        value, aux = value
        only, aux_only = only
        assert aux["n"] == 7 and aux_only["n"] == 7
        np.testing.assert_allclose(aux["twice"].numpy(), 2 * f_np(*args), rtol=1e-12)
        assert not aux["twice"].requires_grad
    np.testing.assert_allclose(value.numpy(), f_np(*args), rtol=1e-12)
    for result in (gradient, only):
        got = [result] if isinstance(argnums, int) else list(result)
        assert isinstance(result, tuple) == (not isinstance(argnums, int))
        for g, w in zip(got, want):
            assert not g.requires_grad
            np.testing.assert_allclose(g.numpy(), w, rtol=1e-5, atol=1e-7)
    for tensor in tensors:  # the caller's tensors are untouched
        assert not tensor.requires_grad and tensor.grad is None


def vector_function(kind: str):
    """(tinygrad_opt f(a, b), NumPy f) returning an array: a (3,), b (2, 3)."""
    if kind == "matvec":
        return (lambda a, b: (b @ a).sin(), lambda a, b: np.sin(b @ a))
    return (lambda a, b: b * a.exp() - a.reshape(1, 3) ** 2,
            lambda a, b: b * np.exp(a) - a.reshape(1, 3) ** 2)


@fuzz
@given(st.sampled_from(["matvec", "broadcast"]), st.sampled_from([0, 1, (0, 1), (1, 0)]),
       st.integers(0, 2**16))
def test_jacobians_vjp_and_jvp_against_finite_differences(kind, argnums, seed):
    rng = np.random.default_rng(seed)
    f, f_np = vector_function(kind)
    a, b = rng.standard_normal((3,)), rng.standard_normal((2, 3))
    args = [a, b]

    def numeric(index):
        def partial(x):
            changed = list(args)
            changed[index] = x
            return f_np(*changed)
        return numeric_jacobian(partial, args[index])

    indices = (argnums,) if isinstance(argnums, int) else argnums
    want = [numeric(i) for i in indices]
    for transform in (func.jacrev, func.jacfwd):
        jacobian = transform(f, argnums=argnums)(t64(a), t64(b))
        got = [jacobian] if isinstance(argnums, int) else list(jacobian)
        for j, w in zip(got, want):
            assert j.shape == w.shape
            np.testing.assert_allclose(j.numpy(), w, rtol=1e-5, atol=1e-7)
    # vjp: uᵀ·J per primal; jvp: J·v summed over the primals
    output, vjp_fn = func.vjp(f, t64(a), t64(b))
    np.testing.assert_allclose(output.numpy(), f_np(a, b), rtol=1e-12)
    u = rng.standard_normal(output.shape)
    jacobians = [numeric(0), numeric(1)]
    for got, jac in zip(vjp_fn(t64(u)), jacobians):
        want_vjp = np.tensordot(u, jac, axes=u.ndim)
        np.testing.assert_allclose(got.numpy(), want_vjp, rtol=1e-5, atol=1e-7)
    tangents = (rng.standard_normal(a.shape), rng.standard_normal(b.shape))
    value, jvp_out = func.jvp(f, (t64(a), t64(b)), (t64(tangents[0]), t64(tangents[1])))
    want_jvp = sum(np.tensordot(jac, v, axes=v.ndim) for jac, v in zip(jacobians, tangents))
    np.testing.assert_allclose(value.numpy(), f_np(a, b), rtol=1e-12)
    np.testing.assert_allclose(jvp_out.numpy(), want_jvp, rtol=1e-5, atol=1e-7)


@fuzz
@given(st.sampled_from(["smooth", "ratio"]), st.sampled_from([0, 2, (0, 2), (2, 0)]),
       st.integers(0, 2**16))
def test_hessian_is_symmetric_and_matches_finite_differences_of_the_gradient(kind, argnums,
                                                                             seed):
    rng = np.random.default_rng(seed)
    f, f_np = three_argument_function(kind)
    args = [rng.standard_normal(SHAPES[i]) for i in range(3)]
    gradient = func.grad(f, argnums=argnums)
    indices = (argnums,) if isinstance(argnums, int) else argnums

    def gradient_np(i, j):
        """∂f/∂x_i as a NumPy function of x_j (the other arguments fixed)."""
        def g(x):
            changed = [t64(v) for v in args]
            changed[j] = t64(x)
            result = gradient(*changed)
            result = result if isinstance(argnums, int) else result[indices.index(i)]
            return result.numpy()
        return g

    hessian = func.hessian(f, argnums=argnums)(*[t64(x) for x in args])
    blocks = [[hessian]] if isinstance(argnums, int) else [list(row) for row in hessian]
    for row, i in zip(blocks, indices):
        for block, j in zip(row, indices):
            want = numeric_jacobian(gradient_np(i, j), args[j], eps=1e-5)
            assert block.shape == SHAPES[i] + SHAPES[j]
            np.testing.assert_allclose(block.numpy(), want, rtol=1e-5, atol=1e-6)
    if not isinstance(argnums, int):  # H[i][j] = H[j][i]ᵀ
        first, second = blocks[0][1].numpy(), blocks[1][0].numpy()
        n_i = len(SHAPES[indices[0]])
        axes = list(range(second.ndim))
        transposed = np.transpose(second, axes[second.ndim - n_i:] + axes[:second.ndim - n_i])
        np.testing.assert_allclose(first, transposed, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- checkpoints

def strided_views(rng):
    """Non-contiguous tensors and arrays: transposes, steps, negative steps, 0-d, empty."""
    base = rng.standard_normal((4, 6))
    return [
        ("transposed", base.T),
        ("every_other", base[:, ::2]),
        ("reversed", base[::-1, ::-3]),
        ("column", base[:, 1]),
        ("zero_d", base[2, 3, ...]),
        ("empty", base[:, 6:]),
        ("int_view", (base * 10).astype(np.int32)[::2, ::-1]),
        ("bool_view", (base > 0)[::-1]),
        ("f16_view", base.astype(np.float16).T[1:]),
    ]


@fuzz
@given(st.integers(0, 2**16), st.booleans(), st.booleans())
def test_non_contiguous_tensors_and_model_states_round_trip(tmp_path_factory, seed, as_tensors,
                                                            tweak):
    rng = np.random.default_rng(seed)
    views = strided_views(rng)
    payload = {}
    for name, array in views:
        if as_tensors:
            view = tg.tensor(array.copy())
            if array.ndim == 2 and tweak:
                view = view.T  # a Tensor that is itself a view
                array = array.T
            payload[name] = view
        else:
            payload[name] = array
    # models whose state dicts hold pruning masks and parametrization originals
    pruned = nn.Linear(3, 2)
    prune.l1_unstructured(pruned, "weight", amount=2)
    shaped = parametrizations.weight_norm(nn.Linear(2, 3))
    optimizer = tg.optim.Adam(list(pruned.parameters()) + list(shaped.parameters()), lr=0.1)
    loss = (shaped(pruned(tg.randn(4, 3))) ** 2).sum()
    loss.backward()
    optimizer.step()
    payload["models"] = [pruned.state_dict(), shaped.state_dict()]
    payload["optimizer"] = optimizer.state_dict()
    path = tmp_path_factory.mktemp("views") / "state.ckpt"
    tg.save(payload, path)
    loaded = tg.load(path)
    for name, array in views:
        got = loaded[name]
        if as_tensors:
            assert isinstance(got, tg.Tensor)
            got = got.numpy()
            if array.ndim == 2 and tweak:
                array = array.T
        assert got.dtype == array.dtype and got.shape == array.shape, name
        np.testing.assert_array_equal(got, array)
    fresh_pruned = nn.Linear(3, 2)
    prune.identity(fresh_pruned, "weight")
    fresh_pruned.load_state_dict(loaded["models"][0])
    np.testing.assert_array_equal(fresh_pruned.weight_mask.numpy(), pruned.weight_mask.numpy())
    fresh_shaped = parametrizations.weight_norm(nn.Linear(2, 3))
    fresh_shaped.load_state_dict(loaded["models"][1])
    np.testing.assert_array_equal(fresh_shaped.weight.numpy(), shaped.weight.numpy())
    state = loaded["optimizer"]["state"]
    for key, entry in optimizer.state_dict()["state"].items():
        for name, value in entry.items():
            got = state[key][name]
            assert type(got) is type(value)
            if isinstance(value, tg.Tensor):
                got, value = got.numpy(), value.numpy()
            np.testing.assert_array_equal(got, value)


@fuzz
@given(st.integers(0, 2**16), st.sampled_from([object(), {1, 2}, 1 + 2j, b"bytes"]),
       st.integers(0, 3))
def test_a_save_refused_deep_in_a_tree_leaves_the_old_file(tmp_path_factory, seed, bad, depth):
    directory = tmp_path_factory.mktemp("refused")
    path = directory / "model.ckpt"
    good = {"w": tg.tensor(np.random.default_rng(seed).standard_normal((2, 3))).T}
    tg.save(good, path)
    before = path.read_bytes()
    tree = bad
    for level in range(depth):
        tree = {"level": level, "inner": [1.5, tree]}
    with pytest.raises(TypeError, match=r"obj"):
        tg.save({"ok": tg.ones(2), "bad": tree}, path)
    assert path.read_bytes() == before
    assert os.listdir(directory) == ["model.ckpt"]
    np.testing.assert_array_equal(tg.load(path)["w"].numpy(), good["w"].numpy())


@fuzz
@given(st.lists(st.sampled_from(["weight", "bias"]), min_size=1, max_size=4),
       st.lists(st.booleans(), min_size=2, max_size=2), st.integers(0, 2**16))
def test_two_parametrized_tensors_of_one_module_are_independent(names, leave, seed):
    """Parametrizing weight and bias, then removing them in either order: the class stays
    Parametrized until the last one goes, and each keeps its own value."""
    rng = np.random.default_rng(seed)
    layer = nn.Linear(2, 2).double()
    w0, b0 = rng.standard_normal((2, 2)), rng.standard_normal(2)
    with tg.no_grad():
        layer.weight.data[...] = w0
        layer.bias.data[...] = b0
    factor = {"weight": 1.0, "bias": 1.0}
    for name in names:
        parametrize.register_parametrization(layer, name, Scale(3.0))
        factor[name] *= 3.0
    x = rng.standard_normal((1, 2))
    want_weight = w0 * (factor["weight"] / 3.0 if "weight" in names else 1.0)
    want_bias = b0 * (factor["bias"] / 3.0 if "bias" in names else 1.0)
    np.testing.assert_allclose(layer(t64(x)).numpy(), x @ want_weight.T + want_bias, rtol=1e-12)
    present = [name for name in ("bias", "weight") if name in names]
    for index, name in enumerate(present):
        parametrize.remove_parametrizations(layer, name, leave_parametrized=leave[index])
        last = index == len(present) - 1
        assert (type(layer) is nn.Linear) == last
        assert parametrize.is_parametrized(layer) != last
        want = want_weight if name == "weight" else want_bias
        if not leave[index]:
            want = w0 / 3.0 if name == "weight" else b0 / 3.0
        np.testing.assert_allclose(getattr(layer, name).numpy(), want, rtol=1e-12)
    assert sorted(layer.state_dict()) == ["bias", "weight"]


@fuzz
@given(st.integers(0, 2**16), st.booleans(), st.sampled_from([None, "replace", "fsync"]))
def test_a_save_through_a_symlink_writes_its_target(tmp_path_factory, monkeypatch, seed,
                                                    relative, failing_stage):
    """torch.save opens the path, so a symlink (``latest.ckpt -> run_7.ckpt``) stays a link
    and its target gets the new checkpoint; a failed save leaves both as they were."""
    directory = tmp_path_factory.mktemp("link")
    (directory / "runs").mkdir()
    target = directory / "runs" / "run_7.ckpt"
    link = directory / "latest.ckpt"
    tg.save({"step": 6}, target)
    link.symlink_to(os.path.join("runs", "run_7.ckpt") if relative else target)
    value = tg.tensor(np.random.default_rng(seed).standard_normal((3, 2))).T
    if failing_stage:
        def fail(*args, **kwargs):
            raise OSError("simulated failure")
        monkeypatch.setattr(os, failing_stage, fail)
        with pytest.raises(OSError):
            tg.save({"step": 7, "w": value}, link)
        monkeypatch.undo()
        want = {"step": 6}
    else:
        tg.save({"step": 7, "w": value}, link)
        want = {"step": 7, "w": value}
    assert link.is_symlink() and os.path.samefile(link, target)
    assert sorted(os.listdir(directory)) == ["latest.ckpt", "runs"]
    assert os.listdir(directory / "runs") == ["run_7.ckpt"]
    for loaded in (tg.load(target), tg.load(link)):
        assert list(loaded) == list(want) and loaded["step"] == want["step"]
        if "w" in want:
            np.testing.assert_array_equal(loaded["w"].numpy(), value.numpy())
