"""Signatures of the top-level ``tg.*`` functions and the Tensor methods against PyTorch's:
a positional call in PyTorch's order means what it means in PyTorch, PyTorch's keywords
(``input=``, ``other=``, ``dim=``, ``out=``, ...) work. Expected numbers are worked out
by hand in the comments."""

import inspect

import numpy as np
import pytest

import tinygrad_opt as tg

X = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def close(tensor, expected):
    np.testing.assert_allclose(tensor.numpy(), np.asarray(expected, dtype=np.float64),
                               rtol=1e-6, atol=1e-6)


# --- torch.lu_solve takes the right-hand side FIRST (torch.linalg.lu_solve last) ---

def test_lu_solve_takes_b_first_as_torch_lu_solve():
    A = tg.tensor([[4.0, 1.0], [2.0, 3.0]], dtype=tg.float64)
    b = tg.tensor([[1.0], [2.0]], dtype=tg.float64)
    LU, pivots = tg.linalg.lu_factor(A)
    # A⁻¹ = [[3, −1], [−2, 4]] / 10, so x = A⁻¹ b = [0.1, 0.6]
    close(tg.lu_solve(b, LU, pivots), [[0.1], [0.6]])
    close(tg.lu_solve(b=b, LU_data=LU, LU_pivots=pivots), [[0.1], [0.6]])
    close(tg.linalg.lu_solve(LU, pivots, b), [[0.1], [0.6]])


# --- input= and other PyTorch keywords of the function forms ---

def test_function_forms_take_input_by_keyword():
    x = tg.tensor(X)
    close(tg.sum(input=x, dim=0), [5, 7, 9])
    close(tg.mean(input=x, dim=1, keepdim=True), [[2], [5]])
    close(tg.clamp(input=x, min=2.5, max=4.5), [[2.5, 2.5, 3], [4, 4.5, 4.5]])
    close(tg.exp(input=tg.tensor([0.0])), [1.0])
    close(tg.add(input=x, other=x, alpha=2), 3 * np.array(X))
    close(tg.amax(input=x, dim=0), [4, 5, 6])
    close(tg.cumsum(input=x, dim=1), [[1, 3, 6], [4, 9, 15]])
    close(tg.softmax(input=tg.tensor([0.0, 0.0]), dim=0), [0.5, 0.5])
    pieces = tg.split(tensor=x, split_size_or_sections=2, dim=1)   # torch.split's names
    assert [p.shape for p in pieces] == [(2, 2), (2, 1)]


def test_matrix_products_take_pytorchs_names():
    a, b = tg.tensor([1.0, 2.0]), tg.tensor([3.0, 4.0])
    m = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    close(tg.dot(input=a, tensor=b), 11.0)                      # 1·3 + 2·4
    close(tg.outer(input=a, vec2=b), [[3, 4], [6, 8]])
    close(tg.mm(input=m, mat2=m), [[7, 10], [15, 22]])
    close(tg.bmm(input=m[None], mat2=m[None]), [[[7, 10], [15, 22]]])
    close(tg.inner(input=a, other=b), 11.0)
    close(tg.kron(input=a, other=b), [3, 4, 6, 8])
    assert tg.allclose(input=a, other=a + 1e-9) and tg.equal(input=a, other=a)


def test_top_level_linalg_takes_input_by_keyword():
    m = tg.tensor([[2.0, 1.0], [1.0, 3.0]], dtype=tg.float64)    # det = 5
    close(tg.det(input=m), 5.0)
    close(tg.logdet(input=m), np.log(5.0))
    close(tg.slogdet(input=m).logabsdet, np.log(5.0))
    close(tg.inverse(input=m), np.array([[3.0, -1.0], [-1.0, 2.0]]) / 5)
    close(tg.matrix_power(input=m, n=2), [[5, 5], [5, 10]])


def test_statistics_take_input_by_keyword():
    x = tg.tensor(X)
    close(tg.median(input=x), 3.0)                         # lower of the middle pair 3, 4
    close(tg.quantile(input=x, q=0.5), 3.5)
    close(tg.nansum(input=x), 21.0)
    close(tg.kthvalue(input=x, k=1, dim=1).values, [1, 4])
    close(tg.cummax(input=tg.tensor([1.0, 3.0, 2.0]), dim=0).values, [1, 3, 3])
    close(tg.histc(input=x, bins=2, min=0, max=6), [2, 4])   # [0, 3): 1, 2; [3, 6]: 3..6
    close(tg.bincount(input=tg.tensor([0, 2, 2])), [1, 0, 2])
    close(tg.bucketize(input=tg.tensor([1.5]), boundaries=tg.tensor([1.0, 2.0])), [1])
    assert tg.isclose(input=x, other=x).all().item()
    assert tg.count_nonzero(input=x).item() == 6


def test_var_mean_takes_pytorchs_unbiased_overloads():
    x = tg.tensor(X)
    # all six entries: mean 3.5, Σ(x − 3.5)² = 17.5; population var 17.5 / 6
    var, mean = tg.var_mean(x, False)
    close(var, 17.5 / 6), close(mean, 3.5)
    # per column: (x − mean)² = 2.25 twice, population var 2.25, keepdim kept
    var, mean = tg.var_mean(x, 0, False, True)
    assert var.shape == (1, 3)
    close(var, [[2.25, 2.25, 2.25]]), close(mean, [[2.5, 3.5, 4.5]])
    std, _ = tg.std_mean(x, 0, True)                          # unbiased: √4.5
    close(std, [4.5 ** 0.5] * 3)
    std, _ = tg.std_mean(x, dim=1, correction=0, keepdim=True)
    close(std, [[(2 / 3) ** 0.5], [(2 / 3) ** 0.5]])


# --- out= ---

def test_out_is_written_and_returned():
    x = tg.tensor([0.0, 1.0])
    out = tg.zeros(2)
    assert tg.exp(x, out=out) is out
    close(out, [1.0, np.e])
    empty = tg.tensor([])
    tg.add(x, 1, out=empty)                                   # an empty out is resized
    close(empty, [1.0, 2.0])
    values, indices = tg.zeros(2), tg.zeros(2, dtype=tg.int64)
    tg.sort(tg.tensor([2.0, 1.0]), out=(values, indices))
    close(values, [1, 2]), close(indices, [1, 0])
    assert tg.sum(x, out=None).item() == 1.0


def test_out_refuses_what_pytorch_refuses():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="automatic differentiation"):
        tg.exp(x, out=tg.zeros(2))
    with pytest.raises(TypeError, match="can't be cast"):
        tg.exp(x.detach(), out=tg.zeros(2, dtype=tg.int64))
    with pytest.raises(ValueError, match=r"out has shape \(3,\)"):
        tg.exp(x.detach(), out=tg.zeros(3))


# --- Tensor methods ---

def test_random_fills_take_a_generator():
    tg.manual_seed(0)
    expected_global = tg.rand(3).numpy()
    for fill in (lambda t, g: t.normal_(0.0, 1.0, generator=g),
                 lambda t, g: t.uniform_(0.0, 1.0, generator=g),
                 lambda t, g: t.bernoulli_(0.5, generator=g)):
        first = fill(tg.zeros(8), tg.Generator().manual_seed(7)).numpy()
        tg.manual_seed(0)
        second = fill(tg.zeros(8), tg.Generator().manual_seed(7)).numpy()
        np.testing.assert_array_equal(first, second)           # the generator's draws
        np.testing.assert_array_equal(tg.rand(3).numpy(), expected_global)   # not global
        tg.manual_seed(0)


def test_methods_take_pytorchs_keywords():
    x = tg.tensor(X)
    close(x.flip(dims=(0,)), X[::-1])
    assert x.tile(dims=(2,)).shape == (2, 6)
    assert x.new_zeros(size=(2, 1)).shape == (2, 1) and x.new_ones((3,)).shape == (3,)
    assert x.new_empty(size=(0,)).shape == (0,)
    assert x.contiguous(memory_format=None) is x
    close(x.gather(1, tg.tensor([[2], [0]]), sparse_grad=False), [[3], [4]])
    with pytest.raises(TypeError, match="'dim'"):
        x.flip(dim=0)
    with pytest.raises(TypeError, match="both"):
        x.flip(0, dims=(0,))


def test_norm_defaults_to_frobenius_as_pytorch():
    assert inspect.signature(tg.Tensor.norm).parameters["p"].default == "fro"
    close(tg.tensor([[3.0, 0.0], [0.0, 4.0]]).norm(), 5.0)


def test_linalg_svd_takes_a_driver():
    A = tg.tensor([[3.0, 0.0], [0.0, 4.0]])
    close(tg.linalg.svd(A, False, driver="gesvd").S, [4, 3])
    close(tg.linalg.svdvals(A, driver="gesvdj"), [4, 3])
    with pytest.raises(ValueError, match="driver"):
        tg.linalg.svdvals(A, driver="lapack")
