"""Audit of autograd extras and special-function edge values, sixth pass.

Fixed here (each test below failed before the fix):
* gradcheck / gradgradcheck with eps=0 divide by 2ε as PyTorch's tensors do: the numeric
  Jacobian is NaN and the check fails with its mismatch error (was ZeroDivisionError);
  a NaN derivative never passes (|a − n| ≤ tol is False for NaN, as torch.allclose);
* ctx.mark_dirty: the argument's grad_fn is the Function's node and its version rises by
  the one write of forward (was a SetItem node, and +2);
* copy.deepcopy([t, view of t]): the copied view looks into the copied t;
* lgamma at ±inf, the poles, ±1e308 and 5e-324: PyTorch's values with no NumPy warning.
References are by hand in NumPy.
"""

import copy
import math
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from test_audit5_torch_style import MulInPlace  # x ← k x in place, ctx.mark_dirty(x)


def leaf(values, device, requires_grad=True):
    return tg.tensor(np.asarray(values, dtype=np.float64), device=device,
                     requires_grad=requires_grad)


# --- gradcheck ---

@pytest.mark.parametrize("check", [gradcheck, gradgradcheck])
@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradcheck_eps_zero_fails_as_a_nan_mismatch(device, rng, check, fast_mode):
    x = leaf(rng.uniform(0.5, 2.0, size=3), device)
    cube = lambda t: t * t * t  # noqa: E731
    with pytest.raises(GradcheckError, match=r"Jacobian mismatch(.|\n)*numerical:\[\[nan"):
        check(cube, x, eps=0, fast_mode=fast_mode)
    assert check(cube, x, eps=0, fast_mode=fast_mode, raise_exception=False) is False
    assert check(cube, x, fast_mode=fast_mode)  # (the default eps still passes)


def test_gradcheck_nan_derivative_never_passes(device):
    x = leaf([1.0, 4.0], device)
    assert gradcheck(lambda t: t * 0 + math.nan, x, raise_exception=False) is False


# --- ctx.mark_dirty ---

def test_mark_dirty_node_is_the_function_and_version_rises_once(device, rng):
    a_np, w_np = rng.normal(size=3), rng.normal(size=3)
    a = leaf(a_np, device)
    x = a * 1
    before = x * 3  # used the old x: its gradient goes to a through the old graph
    version = x._version
    y = MulInPlace.apply(x, 2.0)
    assert y is x and x.grad_fn.name == "MulInPlaceBackward" and x._version == version + 1
    np.testing.assert_allclose(x.numpy(), 2 * a_np)
    w = tg.tensor(w_np, device=device)
    ((y * w).sum() + before.sum()).backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 * w_np + 3)


# --- copy.deepcopy ---

def test_deepcopy_keeps_views_of_a_leaf(device):
    values = np.arange(6.0).reshape(2, 3)
    t = tg.tensor(values, device=device, requires_grad=True)
    view, row = t.detach()[:, 1:], t.detach()[1]
    for order in ([t, view, row], [view, row, t]):
        copied = dict(zip(map(id, order), copy.deepcopy(order)))
        t2, view2, row2 = copied[id(t)], copied[id(view)], copied[id(row)]
        view2[...] = -1.0
        expected = values.copy()
        expected[:, 1:] = -1.0
        np.testing.assert_array_equal(t2.detach().numpy(), expected)
        np.testing.assert_array_equal(row2.numpy(), expected[1])
        assert t2.requires_grad and t2.is_leaf
    np.testing.assert_array_equal(t.detach().numpy(), values)  # the original is untouched


# --- special functions at the ends of the float range ---

POINTS = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, -1.0, 1e308, -1e308, 5e-324, 2.5])
# PyTorch: log|Γ| is +inf at ±inf and at the poles 0, −1, −1e308 (an integer), overflows
# at 1e308 (x log x), is −log x at the subnormal, NaN at NaN
EXPECTED = {
    "lgamma": [np.inf, np.inf, np.nan, np.inf, np.inf, np.inf, np.inf, np.inf,
               -np.log(5e-324), math.lgamma(2.5)],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_special_edge_values_without_warnings(device, name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = getattr(tg.special, name if name != "lgamma" else "gammaln")(
            tg.tensor(POINTS, device=device))
        result = out.numpy()
    np.testing.assert_allclose(result, EXPECTED[name], rtol=1e-14)


def test_logcumsumexp_forward_over_reverse_has_no_nan_from_its_masked_part(device):
    """The backward splits g by sign and fills the other part with the lowest finite
    number, as PyTorch's formula (with −inf, a one-sign g gave the jvp of the backward
    exp(−inf + inf)·0 = NaN). The derivative of the vjp in x, by forward mode, against
    the one by reverse mode and finite differences."""
    for values in ([0.3], [0.3, -1.2, 2.0]):
        x = leaf(values, device)
        assert tg.gradgradcheck(lambda t: t.logcumsumexp(0), (x,), check_fwd_over_rev=True)
