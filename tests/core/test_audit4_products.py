"""Audit of the products and contractions against PyTorch's documented semantics.

mm, bmm, mv, dot, vdot, addmm, addmv, baddbmm, addbmm, tensordot, inner, chain_matmul and
linalg.multi_dot take operands of one dtype (PyTorch calls BLAS and does not promote); dot
and vdot keep an integer dtype; integer addmm takes integer beta and alpha; chain_matmul of
one matrix is a copy; einsum takes PyTorch's sublist format; shape errors name the function.
Every reference is plain NumPy.
"""

import numpy as np
import pytest

import tinygrad_opt as tg


def on(device, array, **kwargs):
    return tg.tensor(np.asarray(array), device=device, **kwargs)


# --- one dtype: PyTorch's matrix products refuse mixed dtypes ---

MIXED = [
    ("mm", lambda f, d: tg.mm(f((2, 3), np.float32), f((3, 4), np.float64)),
     r"mm: expected operands of one dtype, got input float32, mat2 float64"),
    ("mm_int_float", lambda f, d: tg.mm(f((2, 3), np.int32), f((3, 4), np.float32)),
     r"mm: .*input int32, mat2 float32"),
    ("bmm", lambda f, d: tg.bmm(f((2, 2, 3), np.float64), f((2, 3, 1), np.float32)),
     r"bmm: .*input float64, mat2 float32"),
    ("mv", lambda f, d: tg.mv(f((2, 3), np.float32), f((3,), np.float64)),
     r"mv: .*input float32, vec float64"),
    ("dot", lambda f, d: tg.dot(f((3,), np.int64), f((3,), np.float32)),
     r"dot: .*input int64, tensor float32"),
    ("vdot", lambda f, d: tg.vdot(f((3,), np.float32), f((3,), np.float64)),
     r"vdot: .*input float32, other float64"),
    ("addmm_input", lambda f, d: tg.addmm(f((2, 4), np.float64), f((2, 3), np.float32),
                                          f((3, 4), np.float32)),
     r"addmm: .*input float64, mat1 float32, mat2 float32"),
    ("addmv", lambda f, d: tg.addmv(f((2,), np.float32), f((2, 3), np.float32),
                                    f((3,), np.float64)), r"addmv: .*vec float64"),
    ("baddbmm", lambda f, d: tg.baddbmm(f((2, 2, 4), np.float32), f((2, 2, 3), np.float64),
                                        f((2, 3, 4), np.float64)),
     r"baddbmm: .*input float32, batch1 float64"),
    ("addbmm", lambda f, d: tg.addbmm(f((2, 4), np.float32), f((2, 2, 3), np.float32),
                                      f((2, 3, 4), np.float16)), r"addbmm: .*batch2 float16"),
    ("tensordot", lambda f, d: tg.tensordot(f((2, 3), np.float32), f((3, 4), np.int32), 1),
     r"tensordot: .*a float32, b int32"),
    ("inner", lambda f, d: tg.inner(f((2, 3), np.float64), f((4, 3), np.float32)),
     r"inner: .*input float64, other float32"),
    ("chain_matmul", lambda f, d: tg.chain_matmul(f((2, 3), np.float32), f((3, 4), np.float64)),
     r"chain_matmul: .*matrix 0 float32, matrix 1 float64"),
    ("multi_dot", lambda f, d: tg.linalg.multi_dot([f((2, 3), np.float32), f((3, 4), np.float64)]),
     r"linalg.multi_dot: expected all tensors to have one dtype, got float32, float64"),
]


@pytest.mark.parametrize("case", MIXED, ids=[case[0] for case in MIXED])
def test_matrix_products_refuse_mixed_dtypes(case, device):
    _, call, message = case

    def make(shape, dtype):
        return on(device, np.ones(shape, dtype=dtype))
    with pytest.raises(TypeError, match=message):
        call(make, device)


def test_one_dtype_products_still_match_numpy(device, rng):
    a, b = rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal((3, 4))
    v = rng.standard_normal(3)
    result = tg.mm(on(device, a), on(device, b.astype(np.float32)))
    assert result.dtype == tg.float32
    np.testing.assert_allclose(result.numpy(), a @ b.astype(np.float32), rtol=1e-6)
    np.testing.assert_allclose(tg.tensordot(on(device, b.T), on(device, v), 1).numpy(), b.T @ v)
    np.testing.assert_allclose(tg.inner(on(device, b.T), on(device, v)).numpy(), b.T @ v)
    scaled = tg.inner(on(device, np.float32(2.0)), on(device, v))  # a 0-d operand: a · b
    np.testing.assert_allclose(scaled.numpy(), 2 * v)
    np.testing.assert_allclose(tg.addr(on(device, a), on(device, np.array([1, 2], np.int32)),
                                       on(device, np.array([3, 4, 5], np.int32)),
                                       alpha=0.5).numpy(),
                               a + 0.5 * np.outer([1, 2], [3, 4, 5]), rtol=1e-6)


# --- integer products keep their dtype ---

@pytest.mark.parametrize("dtype", [np.int32, np.int16, np.float16])
def test_dot_and_vdot_keep_the_operands_dtype(dtype, device):
    a, b = np.array([1, 2, 3], dtype=dtype), np.array([4, -5, 6], dtype=dtype)
    expected = np.sum(a.astype(np.float64) * b)                    # 4 − 10 + 18 = 12
    for result in (tg.dot(on(device, a), on(device, b)), tg.vdot(on(device, a), on(device, b)),
                   on(device, a).dot(on(device, b))):
        assert result.dtype == dtype and result.shape == ()
        assert float(result.numpy()) == expected


def test_dot_gradient_is_the_other_vector(device, rng):
    a, b = rng.standard_normal(4), rng.standard_normal(4)
    inputs = (on(device, a, requires_grad=True), on(device, b, requires_grad=True))
    assert tg.gradcheck(tg.dot, inputs) and tg.gradgradcheck(tg.dot, inputs)
    assert tg.gradcheck(tg.vdot, inputs)
    tg.dot(*inputs).backward()
    np.testing.assert_allclose(inputs[0].grad.numpy(), b)
    np.testing.assert_allclose(inputs[1].grad.numpy(), a)


def test_integer_addmm_family_keeps_int_and_refuses_float_scales(device):
    m = np.array([[1, 2], [3, 4]], dtype=np.int32)
    v = np.array([1, -1], dtype=np.int32)
    result = tg.addmm(on(device, m), on(device, m), on(device, m), beta=2, alpha=3)
    assert result.dtype == tg.int32
    np.testing.assert_array_equal(result.numpy(), 2 * m + 3 * (m @ m))
    np.testing.assert_array_equal(tg.addmv(on(device, v), on(device, m), on(device, v),
                                           alpha=-1).numpy(), v - m @ v)
    with pytest.raises(TypeError, match=r"addmm: for integer inputs \(int32\), alpha must be "
                                        r"an integer, got 0.5"):
        tg.addmm(on(device, m), on(device, m), on(device, m), alpha=0.5)
    with pytest.raises(TypeError, match=r"addr: for integer inputs \(int32\), beta must be"):
        tg.addr(on(device, m), on(device, v), on(device, v), beta=2.0)
    with pytest.raises(TypeError, match=r"baddbmm: .*alpha must be an integer"):
        tg.baddbmm(on(device, m[None]), on(device, m[None]), on(device, m[None]), alpha=1.5)


# --- chain_matmul of one matrix: a copy ---

def test_chain_matmul_of_one_matrix_is_a_copy(device, rng):
    a = rng.standard_normal((2, 3))
    x = on(device, a, requires_grad=True)
    y = tg.chain_matmul(x)
    assert y is not x
    np.testing.assert_array_equal(y.numpy(), a)
    with tg.no_grad():
        y[0, 0] = 100.0   # writing the result leaves the argument alone
    np.testing.assert_array_equal(x.numpy(), a)
    (tg.chain_matmul(x) * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0))


# --- shape errors name the function and the arguments ---

SHAPE_ERRORS = [
    (lambda d: tg.mm(on(d, np.ones((2, 3))), on(d, np.ones((4, 5)))),
     r"mm: input \(2, 3\) and mat2 \(4, 5\) cannot be multiplied: 3 columns, 4 rows"),
    (lambda d: tg.bmm(on(d, np.ones((2, 2, 3))), on(d, np.ones((2, 4, 5)))),
     r"bmm: input \(2, 2, 3\) and mat2 \(2, 4, 5\) cannot be multiplied: 3 columns, 4 rows"),
    (lambda d: tg.addmm(on(d, np.ones((2, 5))), on(d, np.ones((2, 3))), on(d, np.ones((4, 5)))),
     r"addmm: mat1 \(2, 3\) and mat2 \(4, 5\) cannot be multiplied"),
    (lambda d: tg.addmv(on(d, np.ones(2)), on(d, np.ones((2, 3))), on(d, np.ones(4))),
     r"addmv: mat \(2, 3\) and vec \(4,\) cannot be multiplied: 3 columns, 4 entries"),
]


@pytest.mark.parametrize("call, message", SHAPE_ERRORS, ids=["mm", "bmm", "addmm", "addmv"])
def test_shape_errors_name_the_function(call, message, device):
    with pytest.raises(ValueError, match=message):
        call(device)


# --- einsum's sublist format ---

SUBLISTS = [
    # sublist arguments (operand shapes stand for the operands), the equivalent equation
    ([(2, 3), [0, 1], (3, 4), [1, 2]], "AB,BC"),
    ([(2, 3), [0, 1], (3, 4), [1, 2], [2, 0]], "AB,BC->CA"),
    ([(3, 3), [30, 30]], "ee"),
    ([(5, 2, 3), [Ellipsis, 0, 1], (3, 4), [1, 27], [Ellipsis, 27, 0]], "...AB,Bb->...bA"),
    ([(2, 3), [0, 51], (3,), [51], []], "Az,z->"),
]


@pytest.mark.parametrize("arguments, text", SUBLISTS, ids=[case[1] for case in SUBLISTS])
def test_einsum_sublist_format_matches_the_equation(arguments, text, device, rng):
    arrays = [rng.standard_normal(shape) for shape in arguments[0::2] if isinstance(shape, tuple)]
    tensors = iter([on(device, array, requires_grad=True) for array in arrays])
    call = [next(tensors) if isinstance(item, tuple) else item for item in arguments]
    result = tg.einsum(*call)
    expected = np.einsum(text, *arrays)
    assert result.shape == expected.shape
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-12, atol=1e-12)
    operands = tuple(item for item in call if isinstance(item, tg.Tensor))
    positions = [k for k, item in enumerate(call) if isinstance(item, tg.Tensor)]

    def sublist_einsum(*xs):
        filled = list(call)
        for position, x in zip(positions, xs):
            filled[position] = x
        return tg.einsum(*filled)
    assert tg.gradcheck(sublist_einsum, operands)


def test_einsum_sublist_errors(device):
    x = on(device, np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"einsum: subscript 52 of operand 0 is not within the "
                                         r"valid range \[0, 52\)"):
        tg.einsum(x, [0, 52])
    with pytest.raises(ValueError, match=r"subscript -1 of the output"):
        tg.einsum(x, [0, 1], [-1])
    with pytest.raises(TypeError, match=r"einsum: in the sublist format, operand 0 must be a list"):
        tg.einsum(x, "ij")
    with pytest.raises(TypeError, match=r"einsum: the first argument must be the equation string "
                                        r"or an operand followed by its sublist"):
        tg.einsum(x)
    with pytest.raises(ValueError, match=r"einsum\('AB,B'\): subscript 'B' has size 3"):
        tg.einsum(x, [0, 1], on(device, np.ones(4)), [1])


# --- checked and correct: matmul's broadcasting through the public API ---

MATMUL_SHAPES = [((3,), (2, 3, 4)), ((2, 4, 3), (3,)), ((2, 1, 3, 4), (5, 4, 2)),
                 ((3,), (3,)), ((0, 2, 3), (3, 4)), ((2, 0), (0, 3)), ((1, 3), (4, 3, 1))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=[str(s) for s in MATMUL_SHAPES])
def test_matmul_broadcasting_values_and_gradients(shapes, device, rng):
    arrays = [rng.standard_normal(shape) for shape in shapes]
    a, b = (on(device, array, requires_grad=True) for array in arrays)
    result = tg.matmul(a, b)
    expected = np.matmul(*arrays)
    assert result.shape == expected.shape
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert tg.gradcheck(tg.matmul, (a, b)) and tg.gradgradcheck(tg.matmul, (a, b))


def test_linalg_cross_refuses_mixed_dtypes_as_cross_does(device, rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((1, 3))
    for cross in (tg.cross, tg.linalg.cross):
        with pytest.raises(TypeError, match=r"cross: input is float32 and other float64"):
            cross(on(device, a.astype(np.float32)), on(device, b))
        np.testing.assert_allclose(cross(on(device, a), on(device, b)).numpy(),
                                   np.cross(a, b), rtol=1e-12)
