"""tg.einsum and the contractions built on it (ops/einsum.py).

``EINSUM_OPS`` is an op table in the format of test_ops_gradcheck.py: each line runs
gradcheck, gradgradcheck (float64) and the two-path comparison of test_two_modes.py
(array path vs Tensor path) here, on cpu and strict. Forward values are compared with
``numpy.einsum`` and NumPy formulas; the diagonal and broadcast gradients with hand-derived
values; the errors name the equation and the operand.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_opt as tg
from test_ops_gradcheck import SETTINGS, Op, draw_inputs, fixed
from test_two_modes import assert_the_two_paths_agree, gradients


def equation(text):
    """The einsum of ``text`` as a table function of its operands."""
    return lambda *operands: tg.einsum(text, *operands)


EINSUM_OPS = [
    # one operand
    Op("einsum_transpose", equation("ij->ji"), 1, shapes=fixed(lambda n, m: [(n, m)], 2)),
    Op("einsum_sum_all", equation("ij->"), 1, shapes=fixed(lambda n, m: [(n, m)], 2)),
    Op("einsum_row_sums", equation("ij->i"), 1, shapes=fixed(lambda n, m: [(n, m)], 2)),
    Op("einsum_trace", equation("ii"), 1, shapes=fixed(lambda n: [(n, n)], 1)),
    Op("einsum_diagonal", equation("ii->i"), 1, shapes=fixed(lambda n: [(n, n)], 1)),
    Op("einsum_diagonal_kept_twice", equation("iij->ji"), 1,
       shapes=fixed(lambda n, m: [(n, n, m)], 2)),
    Op("einsum_ellipsis_sum", equation("...i->..."), 1,
       shapes=fixed(lambda b, c, n: [(b, c, n)], 3)),
    # two operands
    Op("einsum_matmul", equation("ij,jk->ik"), 2,
       shapes=fixed(lambda n, k, m: [(n, k), (k, m)], 3)),
    Op("einsum_matmul_implicit", equation("ij, jk"), 2,
       shapes=fixed(lambda n, k, m: [(n, k), (k, m)], 3)),
    Op("einsum_batch_matmul", equation("bij,bjk->bik"), 2,
       shapes=fixed(lambda b, n, k, m: [(b, n, k), (b, k, m)], 4)),
    Op("einsum_outer", equation("i,j->ij"), 2, shapes=fixed(lambda n, m: [(n,), (m,)], 2)),
    Op("einsum_dot_as_list", lambda a, b: tg.einsum("i,i->", [a, b]), 2,
       shapes=fixed(lambda n: [(n,), (n,)], 1)),
    Op("einsum_own_labels_summed", equation("ij,k->k"), 2,
       shapes=fixed(lambda n, m, k: [(n, m), (k,)], 3)),
    Op("einsum_diagonal_times_vector", equation("ii,i->i"), 2,
       shapes=fixed(lambda n: [(n, n), (n,)], 1)),
    Op("einsum_size_one_label_broadcast", equation("ij,j->ij"), 2,
       shapes=fixed(lambda n, m: [(n, 1), (m + 1,)], 2)),
    Op("einsum_ellipsis_broadcast", equation("...ij,...jk->...ik"), 2,
       shapes=fixed(lambda b, c, n, k: [(1, b, n, k), (c, 1, k, 2)], 4)),
    Op("einsum_ellipsis_fewer_dims", equation("...ij,jk->...ik"), 2,
       shapes=fixed(lambda b, n, k: [(b, 2, n, k), (k, 3)], 3)),
    # three operands
    Op("einsum_bilinear", equation("bn,anm,bm->ba"), 3,
       shapes=fixed(lambda b, n, a, m: [(b, n), (a, n, m), (b, m)], 4)),
    Op("einsum_chain", equation("ab,bc,cd->ad"), 3,
       shapes=fixed(lambda a, b, c, d: [(a, b), (b, c), (c, d)], 4)),
    # compositions
    Op("tensordot_int", lambda a, b: tg.tensordot(a, b, dims=2), 2,
       shapes=fixed(lambda n, j, k, m: [(n, j, k), (j, k, m)], 4)),
    Op("tensordot_pairs", lambda a, b: tg.tensordot(a, b, dims=([1, 0], [0, 2])), 2,
       shapes=fixed(lambda n, j, m: [(n, j), (j, m, n)], 3)),
    Op("kron", tg.kron, 2, shapes=fixed(lambda n, m, p, q: [(n, m), (p, q + 1)], 4)),
    Op("kron_different_ndims", tg.kron, 2, shapes=fixed(lambda n, p, q: [(n,), (p, q)], 3)),
    Op("inner", tg.inner, 2, shapes=fixed(lambda n, m, k: [(n, k), (m, 2, k)], 3)),
    Op("addmm", lambda c, a, b: tg.addmm(c, a, b, beta=0.5, alpha=-2.0), 3,
       shapes=fixed(lambda n, k, m: [(m,), (n, k), (k, m)], 3)),
    Op("addmv", tg.addmv, 3, shapes=fixed(lambda n, m: [(n,), (n, m), (m,)], 2)),
    Op("baddbmm", lambda c, a, b: tg.baddbmm(c, a, b, beta=2.0, alpha=0.5), 3,
       shapes=fixed(lambda b, n, k, m: [(b, n, m), (b, n, k), (b, k, m)], 4)),
    Op("addbmm", tg.addbmm, 3,
       shapes=fixed(lambda b, n, k, m: [(n, 1), (b, n, k), (b, k, m)], 4)),
    Op("chain_matmul", tg.chain_matmul, 3,
       shapes=fixed(lambda a, b, c, d: [(a, b), (b, c), (c, d)], 4)),
]

IDS = [op.name for op in EINSUM_OPS]


def test_table_names_are_unique():
    assert len(IDS) == len(set(IDS))


@pytest.mark.parametrize("op", EINSUM_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_gradcheck_and_gradgradcheck(op, device, data):
    inputs = draw_inputs(op, device, data)
    assert tg.gradcheck(op.fn, inputs)
    assert tg.gradgradcheck(op.fn, inputs)


@pytest.mark.parametrize("op", EINSUM_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_array_path_equals_tensor_path(op, device, data):
    shapes = data.draw(op.shapes(op.arity), label="shapes")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    assert_the_two_paths_agree(op, op.domain(rng, shapes), rng, device)


# --- forward values against numpy.einsum and NumPy formulas ---

VALUES = [
    # equation, operand shapes (NumPy broadcasts size-1 labels too)
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ii", [(3, 3)]),
    ("ii->i", [(3, 3)]),
    ("ii->", [(3, 3)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij->", [(2, 3)]),
    ("ij->ji", [(2, 3)]),
    ("ji", [(2, 3)]),                   # implicit: alphabetical, so a transpose
    ("dcba", [(2, 3, 4, 5)]),
    ("cBa,ad", [(2, 3, 4), (4, 5)]),    # implicit 'Bcd': capitals sort first
    ("ba,ab", [(2, 3), (3, 2)]),        # implicit with no label left: a scalar
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 2)]),
    ("i...->...", [(3, 2, 4)]),
    ("...i,...i->...", [(2, 3), (3,)]),
    ("Ab,bA->A", [(3, 2), (2, 3)]),
    ("iij,jk->ik", [(3, 3, 2), (2, 4)]),
    (" i j , j k -> i k ", [(2, 3), (3, 4)]),
    ("ij,ij->ij", [(1, 3), (2, 3)]),    # a size-1 label axis broadcasts
]


@pytest.mark.parametrize("text, shapes", VALUES, ids=[line[0] for line in VALUES])
def test_values_match_numpy_einsum(text, shapes, device):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(shape) for shape in shapes]
    result = tg.einsum(text, *[tg.tensor(array, device=device) for array in arrays])
    expected = np.einsum(text.replace(" ", ""), *arrays)
    assert result.shape == expected.shape and result.device == device
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_compositions_match_numpy_formulas(device):
    rng = np.random.default_rng(2)
    a, b, c = rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4, 5)), rng.standard_normal(5)
    m, n, v = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    b1, b2 = rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 3, 5))
    t = {name: tg.tensor(array, device=device) for name, array in
         dict(a=a, b=b, c=c, m=m, n=n, v=v, b1=b1, b2=b2).items()}

    def check(result, expected):
        assert result.shape == np.shape(expected)
        np.testing.assert_allclose(result.numpy(), expected, rtol=1e-12, atol=1e-12)

    check(tg.tensordot(t["a"], t["b"]), np.tensordot(a, b))
    check(tg.tensordot(t["m"].T, t["a"], dims=1), np.tensordot(m.T, a, 1))
    check(tg.tensordot(t["a"], t["b"], dims=([1, 2], [0, 1])), np.tensordot(a, b, ([1, 2], [0, 1])))
    check(tg.tensordot(t["m"], t["n"], dims=(1, 0)), m @ n)
    check(tg.tensordot(t["m"], t["v"], dims=0), np.multiply.outer(m, v))
    check(tg.kron(t["m"], t["n"]), np.kron(m, n))
    check(tg.kron(t["v"], t["n"]), np.kron(v, n))
    check(tg.kron(t["a"], t["m"]), np.kron(a, m))
    check(tg.inner(t["m"], t["n"].T), np.inner(m, n.T))
    check(tg.inner(t["v"], t["v"]), v @ v)
    check(tg.inner(t["m"], tg.tensor(2.0, device=device, dtype=tg.float64)), 2 * m)
    check(tg.addmm(t["c"][:4], t["m"], t["n"], beta=3.0, alpha=0.5), 3 * c[:4] + 0.5 * m @ n)
    check(tg.addmv(t["v"][:2], t["m"], t["v"], alpha=2), v[:2] + 2 * m @ v)
    check(tg.baddbmm(t["c"], t["b1"], t["b2"], beta=-1),
          -c + np.stack([b1[i] @ b2[i] for i in range(4)]))
    check(tg.addbmm(t["c"], t["b1"], t["b2"]), c + sum(b1[i] @ b2[i] for i in range(4)))
    check(tg.chain_matmul(t["m"], t["n"], t["n"].T, t["m"].T), m @ n @ n.T @ m.T)
    single = tg.chain_matmul(t["m"])  # a copy, as PyTorch's clone
    assert single is not t["m"] and np.array_equal(single.numpy(), m)


# --- gradients by hand ---


def test_diagonal_gradient_lands_on_the_diagonal_only(device):
    # y_i = x_ii: dL/dx_ij = g_i where i == j, else exactly 0 (also when g is inf)
    x = tg.tensor(np.arange(9.0).reshape(3, 3), requires_grad=True, device=device)
    g = tg.tensor([1.0, np.inf, -2.0], dtype=x.dtype, device=device)
    (grad,) = tg.grad(tg.einsum("ii->i", x), x, grad_outputs=g)
    assert grad.numpy().tolist() == [[1.0, 0.0, 0.0], [0.0, np.inf, 0.0], [0.0, 0.0, -2.0]]
    # trace: y = Σ_i x_ii, so dy/dx = I
    tg.einsum("ii", x).backward()
    assert x.grad.numpy().tolist() == np.eye(3).tolist()


def test_own_labels_and_size_one_axes_gradients(device):
    # y_k = (Σ_ij a_ij) · c_k: dL/da_ij = Σ_k g_k c_k for every (i, j)
    a = tg.tensor(np.ones((2, 3)), requires_grad=True, device=device)
    c = tg.tensor([1.0, 2.0], requires_grad=True, device=device)
    tg.einsum("ij,k->k", a, c).backward(tg.tensor([10.0, 100.0], device=device))
    assert a.grad.numpy().tolist() == [[210.0] * 3] * 2
    assert c.grad.numpy().tolist() == [60.0, 600.0]
    # y_ij = p_i0 · q_j with p of shape (2, 1) broadcast along j: dL/dp_i0 = Σ_j g_ij q_j
    p = tg.tensor([[1.0], [2.0]], requires_grad=True, device=device)
    q = tg.tensor([1.0, 10.0, 100.0], requires_grad=True, device=device)
    tg.einsum("ij,j->ij", p, q).sum().backward()
    assert p.grad.numpy().tolist() == [[111.0], [111.0]]
    assert q.grad.numpy().tolist() == [3.0, 3.0, 3.0]
    # an ellipsis batch of size 1 against 4: its gradient sums over the 4
    u = tg.tensor(np.ones((1, 2, 3)), requires_grad=True, device=device)
    w = tg.tensor(np.ones((4, 3)), requires_grad=True, device=device)
    tg.einsum("...ij,...j->...i", u, w).sum().backward()
    assert u.grad.numpy().tolist() == [[[4.0] * 3] * 2]
    assert w.grad.numpy().tolist() == [[2.0] * 3] * 4


def test_second_derivative_of_a_quadratic_form(device):
    # f(x) = xᵀ A x: ∇f = (A + Aᵀ) x, and the Hessian is A + Aᵀ
    matrix = np.array([[1.0, 2.0], [-3.0, 0.5]])
    A = tg.tensor(matrix, device=device)
    x = tg.tensor([0.5, -1.0], requires_grad=True, device=device)
    (gradient,) = tg.grad(tg.einsum("i,ij,j->", x, A, x), x, create_graph=True)
    np.testing.assert_allclose(gradient.numpy(), (matrix + matrix.T) @ [0.5, -1.0])
    (row,) = tg.grad(gradient[0], x)
    np.testing.assert_allclose(row.numpy(), (matrix + matrix.T)[0])


# --- dtypes, aliasing, beta = 0 ---


def test_dtypes_are_kept_or_promoted(device):
    a32 = tg.ones(2, 3, dtype=tg.float32, device=device)
    b64 = tg.ones(3, dtype=tg.float64, device=device)
    assert tg.einsum("ij,j->i", a32, a32[0]).dtype == tg.float32
    assert tg.einsum("ij,j->i", a32, b64).dtype == tg.float64
    assert tg.einsum("ij->", a32).shape == ()


@pytest.mark.parametrize("integer", [tg.int8, tg.int32, tg.int64])
def test_integers_meeting_floats_take_the_floats_dtype_as_in_pytorch(device, integer):
    """PyTorch's promotion (as a @ b here), not NumPy's (int32 with float32: float64)."""
    ints = tg.tensor([1, 2], dtype=integer, device=device)
    for float_dtype in (tg.float16, tg.float32):
        floats = tg.tensor([0.5, 2.0], dtype=float_dtype, device=device)
        for result in (tg.einsum("i,j->ij", ints, floats), tg.kron(ints, floats),
                       tg.outer(ints, floats)):  # (tensordot refuses, as PyTorch's)
            assert result.dtype == float_dtype
    shorts = tg.tensor([1, 2], dtype=tg.int16, device=device)  # two integers: the wider one
    assert tg.einsum("i,j->ij", ints, shorts).dtype == np.result_type(integer, tg.int16)


def test_output_never_aliases_an_operand(device):
    x = tg.tensor(np.arange(6.0).reshape(2, 3), device=device)
    for text in ("ij->ji", "ij->ij", "ii->i"):
        operand = x if text != "ii->i" else x[:, :2]
        y = tg.einsum(text, operand)
        y[0] = -1.0
        assert x.numpy().tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


def test_beta_zero_ignores_nan_in_the_input(device):
    nan = tg.tensor([np.nan, np.inf], device=device)
    m = tg.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    assert tg.addmm(nan, m, m, beta=0).numpy().tolist() == [[7.0, 10.0], [15.0, 22.0]]
    assert tg.addmv(nan, m, m[0], beta=0, alpha=2).numpy().tolist() == [10.0, 22.0]


# --- errors name the equation and the operand ---

ERRORS = [
    ("ij,jk->ik", [(2, 3)], "einsum('ij,jk->ik'): the equation has 2 operand(s) but 1"),
    ("ij->i", [(2, 3, 4)], "operand 0 has 3 dims (shape (2, 3, 4)) but its subscripts 'ij'"),
    ("ijk,k", [(2, 3), (3,)], "operand 0 has 2 dims"),
    ("ij,jk", [(2, 3), (4, 5)], "subscript 'j' has size 3 in an earlier operand but 4 in "
                                "operand 1"),
    ("ii->i", [(2, 3)], "subscript 'i' is repeated in operand 0 (shape (2, 3))"),
    ("...i,...i", [(2, 3), (4, 3)], "a '...' dim has size 2 in an earlier operand but 4"),
    ("i1,i", [(2, 3), (2,)], "the subscripts 'i1' of operand 0 must be letters"),
    ("ij->ii", [(2, 2)], "the output repeats the subscript 'i'"),
    ("ij->k", [(2, 2)], "the output subscript 'k' is in no operand"),
    ("i->i->i", [(2,)], "the output subscripts 'i->i' must be letters"),
]


@pytest.mark.parametrize("text, shapes, message", ERRORS, ids=[line[0] for line in ERRORS])
def test_errors_name_the_equation_and_the_operand(text, shapes, message, device):
    operands = [tg.zeros(*shape, device=device) for shape in shapes]
    with pytest.raises(ValueError, match=r"^einsum\('" + text.replace(".", r"\.") + r"'\)") \
            as error:
        tg.einsum(text, *operands)
    assert message in str(error.value)


def test_other_errors(device):
    x = tg.zeros(2, 3, device=device)
    with pytest.raises(ValueError, match=r"subscript 52 of operand 0 is not within"):
        tg.einsum(x, [0, 52])
    with pytest.raises(TypeError, match=r"einsum\('ij'\): operand 0 must be a Tensor"):
        tg.einsum("ij", np.zeros((2, 3)))
    other = "strict" if device == "cpu" else "cpu"
    with pytest.raises(RuntimeError, match="different devices"):
        tg.einsum("ij,ij", x, tg.zeros(2, 3, device=other))
    with pytest.raises(ValueError, match=r"tensordot: contracted dims differ in size: dim 1 of "
                                         r"a \(2, 3\) is 3, dim 0 of b \(1, 3\) is 1"):
        tg.tensordot(x, tg.zeros(1, 3, device=device), dims=1)
    with pytest.raises(ValueError, match="tensordot: dims=3 must be in 0..2"):
        tg.tensordot(x, x, dims=3)
    with pytest.raises(ValueError, match="repeat an axis"):
        tg.tensordot(x, x, dims=([0, 0], [0, 1]))
    with pytest.raises(ValueError, match=r"addmm: mat1 must have 2 dim\(s\), got shape \(3,\)"):
        tg.addmm(x, x[0], x)
    with pytest.raises(ValueError, match=r"addmm: input of shape \(2, 3\) cannot be broadcast"):
        tg.addmm(x, x, x.T)
    with pytest.raises(ValueError, match=r"addmm: mat1 \(2, 3\) and mat2 \(2, 3\) cannot be"):
        tg.addmm(x, x, x)
    with pytest.raises(ValueError, match=r"baddbmm: batch1 \(1, 2, 3\) and batch2 \(2, 3, 2\)"):
        tg.baddbmm(x, x.reshape(1, 2, 3), tg.zeros(2, 3, 2, device=device))
    with pytest.raises(ValueError, match=r"chain_matmul: matrices 0 \(2, 3\) and 1 \(2, 3\)"):
        tg.chain_matmul(x, x)
    with pytest.raises(ValueError, match="inner: the last dims"):
        tg.inner(x, x.T)
