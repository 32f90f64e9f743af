"""cumsum, cumprod and prod (ops/cumulative.py): values, dtypes, hand-derived gradients
at zeros, errors. Gradcheck, gradgradcheck and the two-path comparison over random
shapes are in the op tables of test_ops_gradcheck.py (entries ``cumsum_*``,
``cumprod_*``, ``prod_*``)."""

import numpy as np
import pytest

import tinygrad_opt as tg


def leaf(values, device):
    return tg.tensor(np.array(values, dtype=np.float64), requires_grad=True, device=device)


def host(t):
    return tg.backend.to_host(t.data) if t is not None else None


def test_values_match_numpy(device):
    a = np.random.default_rng(0).uniform(-2, 2, (3, 4, 2))
    x = tg.tensor(a, device=device)
    for dim in (0, 1, 2, -1):
        np.testing.assert_allclose(host(x.cumsum(dim)), np.cumsum(a, dim), rtol=1e-12)
        np.testing.assert_allclose(host(x.cumprod(dim)), np.cumprod(a, dim), rtol=1e-12)
        np.testing.assert_allclose(host(x.prod(dim)), np.prod(a, dim), rtol=1e-12)
        assert x.prod(dim, keepdim=True).shape == np.prod(a, dim, keepdims=True).shape
    np.testing.assert_allclose(host(x.prod((0, 2))), np.prod(a, (0, 2)), rtol=1e-12)
    np.testing.assert_allclose(host(tg.prod(x)), np.prod(a), rtol=1e-12)
    assert tg.prod(x, keepdim=True).shape == (1, 1, 1)


def test_integer_and_bool_inputs_give_int64_as_pytorch(device):
    ints = tg.tensor(np.array([1, 2, 3], dtype=np.int32), device=device)
    assert ints.cumsum(0).dtype == tg.int64
    assert host(ints.cumsum(0)).tolist() == [1, 3, 6]
    assert ints.prod().dtype == tg.int64 and host(ints.prod()) == 6
    flags = tg.tensor([True, False, True], device=device)
    assert host(flags.cumsum(0)).tolist() == [1, 1, 2]
    assert flags.cumprod(0).dtype == tg.int64
    assert ints.cumsum(0, dtype=tg.float64).dtype == tg.float64


def test_zero_d_and_empty(device):
    scalar = leaf(3.0, device)
    assert host(scalar.cumsum(0)) == 3.0 and scalar.cumprod(-1).shape == ()
    assert host(scalar.prod()) == 3.0
    empty = tg.tensor(np.ones((2, 0)), device=device)
    assert host(empty.prod(1)).tolist() == [1.0, 1.0]     # the product of nothing
    assert empty.cumsum(1).shape == (2, 0)


def test_cumsum_gradient_is_the_running_sum_from_the_end(device):
    x = leaf([1.0, 2.0, 3.0, 4.0], device)
    (x.cumsum(0) * tg.tensor([1.0, 10.0, 100.0, 1000.0], device=device)).sum().backward()
    assert host(x.grad).tolist() == [1111.0, 1110.0, 1100.0, 1000.0]


def test_cumprod_gradient_through_zeros_by_hand(device):
    # y = [2, 0, 0, 0, 0]; dΣy/dx_j = Σ_{i≥j} Π_{k≤i, k≠j} x_k
    x = leaf([2.0, 0.0, 3.0, 0.0, 5.0], device)
    x.cumprod(0).sum().backward()
    # x0: 1 (i=0), the rest pass through x1 = 0; x1: 2 + 2·3 (i = 1, 2), then x3 = 0;
    # x2, x3, x4: every product leaving them out still holds x1 = 0
    assert host(x.grad).tolist() == [1.0, 8.0, 0.0, 0.0, 0.0]


def test_prod_gradient_with_one_and_two_zeros(device):
    x = leaf([2.0, 0.0, 3.0, 4.0], device)
    x.prod().backward()
    assert host(x.grad).tolist() == [0.0, 24.0, 0.0, 0.0]   # only the zero's is nonzero
    x = leaf([2.0, 0.0, 3.0, 0.0], device)
    x.prod().backward()
    assert host(x.grad).tolist() == [0.0, 0.0, 0.0, 0.0]
    x = leaf([[2.0, 3.0], [0.5, 4.0]], device)
    x.prod(1).sum().backward()
    assert host(x.grad).tolist() == [[3.0, 2.0], [4.0, 0.5]]


def test_second_derivative_of_prod_at_a_zero(device):
    # f = x0·x1·x2 at x1 = 0: ∂f/∂x0 = x1·x2 = 0, and ∂²f/∂x0∂x1 = x2 = 3
    x = leaf([2.0, 0.0, 3.0], device)
    (gradient,) = tg.grad(x.prod(), [x], create_graph=True)
    assert host(gradient).tolist() == [0.0, 6.0, 0.0]
    (row,) = tg.grad(gradient[0], [x])
    assert host(row).tolist() == [0.0, 3.0, 0.0]


def test_in_place_write_to_a_saved_input_raises(device):
    x = leaf([1.0, 2.0, 3.0], device)
    y = x * 1.0
    z = y.cumprod(0).sum()
    y[0] = 5.0
    with pytest.raises(RuntimeError, match="Cumprod"):
        z.backward()


def test_bad_dims_are_refused_with_the_op_name(device):
    x = tg.tensor(np.ones((2, 3)), device=device)
    with pytest.raises(IndexError, match="cumsum: dim 2"):
        x.cumsum(2)
    with pytest.raises(TypeError, match="cumprod: dim must be an int"):
        x.cumprod(None)
    with pytest.raises(IndexError, match="prod: dim -3"):
        x.prod(-3)
