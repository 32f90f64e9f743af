"""Paths of the math modules that the rest of the suite left unexecuted: ``tg.func``'s
pytrees and argument checks, ``tg.linalg``'s argument checks and dtype promotion, the
special, rearranging, everyday and statistics ops (0-d inputs, argument errors, rarely
taken branches), and ``tg.distributions`` (the base classes, constraints, transforms and
their caches, KL and family corner cases).

Each test asserts what a PyTorch user would expect: the exception type and a message that
names what was wrong, or values and gradients computed here independently (closed forms,
NumPy, finite differences). Two found bugs, fixed with them: ``unfold`` and ``put_`` of a
0-d tensor (PyTorch: one element). A third is a documented deviation (deviations.md): grad
through an output that also touches a released graph raises.
"""

import collections
import math
import types

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.distributions as D
from tinygrad_opt import backend
from tinygrad_opt.distributions import constraints as C
from tinygrad_opt.distributions import transforms as T
from tinygrad_opt.distributions.distribution import as_tensor

F = tg.func
L = tg.linalg


def other_device(device):
    return "strict" if device == "cpu" else "cpu"


def numeric_gradient(f, x, eps=1e-6):
    """Central differences of the scalar function f (NumPy array -> float) at x."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        grad[index] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


# ============================== tg.func ==============================

Pair = collections.namedtuple("Pair", "a b")


def test_grad_of_a_namedtuple_argument_is_the_same_namedtuple():
    a, b = tg.tensor([1.0, 2.0]), tg.tensor([3.0])
    gradient = F.grad(lambda p: (p.a ** 2).sum() + (p.b ** 3).sum())(Pair(a, b))
    assert type(gradient) is Pair
    np.testing.assert_allclose(gradient.a.numpy(), [2.0, 4.0])   # 2a
    np.testing.assert_allclose(gradient.b.numpy(), [27.0])       # 3b²


def test_vmap_in_dims_nested_deeper_than_the_inputs_is_refused():
    x = tg.ones(2, 2)
    with pytest.raises(ValueError, match="in_dims is not compatible with the structure of "
                                         r"`inputs`.*inputs \(\*,\)"):
        F.vmap(lambda t: t, in_dims=((0, 0),))(x)


def test_vmap_in_dims_dict_with_other_keys_than_the_input_is_refused():
    x = tg.ones(2, 2)
    with pytest.raises(ValueError, match=r"in_dims is not compatible.*\{'b': \*\}"):
        F.vmap(lambda d: d["b"], in_dims=({"a": 0},))({"b": x})


def test_vmap_samples_returning_different_structures_names_both():
    def f(t):
        return {"a": t} if float(t.sum().item()) < 4 else [t]

    with pytest.raises(ValueError, match=r"samples returned different structures: "
                                         r"\{'a': \*\} and \[\*\]"):
        F.vmap(f)(tg.tensor([[1.0, 2.0], [3.0, 4.0]]))


def test_grad_aux_from_a_graph_a_backward_already_freed_comes_back_detached():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    h = w * 3
    h.sum().backward()                                 # frees h's graph
    gradient, aux = F.grad(lambda t: ((t ** 2).sum(), h), has_aux=True)(tg.tensor([5.0, 6.0]))
    np.testing.assert_allclose(gradient.numpy(), [10.0, 12.0])
    np.testing.assert_allclose(aux.numpy(), [3.0, 6.0])
    assert not aux.requires_grad


def test_grad_through_an_output_that_touches_a_released_graph_raises_as_documented():
    """deviations.md: the released op kept no inputs, so grad cannot tell that x is not
    below it and refuses (PyTorch would return h); h.detach() gives PyTorch's answer."""
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    h = w * 3
    h.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        F.grad(lambda t: (t * h).sum())(tg.tensor([5.0, 6.0]))
    gradient = F.grad(lambda t: (t * h.detach()).sum())(tg.tensor([5.0, 6.0]))
    np.testing.assert_allclose(gradient.numpy(), [3.0, 6.0])


def test_functional_call_without_args_calls_forward_with_none():
    class Scale(tg.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = tg.nn.Parameter(tg.tensor([2.0]))

        def forward(self):
            return self.w * 10

    model = Scale()
    out = F.functional_call(model, {"w": tg.tensor([5.0])})
    np.testing.assert_allclose(out.numpy(), [50.0])
    np.testing.assert_allclose(model.w.detach().numpy(), [2.0])   # put back


def test_functional_call_refuses_parameters_that_are_not_dicts():
    model = tg.nn.Linear(2, 1)
    with pytest.raises(ValueError, match="expected parameter_and_buffer_dicts to be a dict, "
                                         "or a list/tuple of dicts, but got str"):
        F.functional_call(model, "weight", (tg.ones(1, 2),))
    with pytest.raises(ValueError, match="expected all elements of parameter_and_buffer_dicts "
                                         "to be dictionaries"):
        F.functional_call(model, ({"bias": tg.zeros(1)}, 3), (tg.ones(1, 2),))


def test_stack_module_state_refuses_non_modules_naming_their_types():
    with pytest.raises(TypeError, match="expected Modules, got Linear, str"):
        F.stack_module_state([tg.nn.Linear(2, 1), "model"])


def test_stack_module_state_refuses_parameters_with_mixed_requires_grad():
    a, b = tg.nn.Linear(2, 1), tg.nn.Linear(2, 1)
    b.weight.requires_grad_(False)
    with pytest.raises(RuntimeError, match="Expected weight from each model to have the same "
                                           r"\.requires_grad"):
        F.stack_module_state([a, b])


def test_grad_argnums_must_be_an_int_or_a_non_empty_tuple():
    x = tg.ones(2)
    with pytest.raises(RuntimeError, match=r"argnums must be int or Tuple\[int, \.\.\.\], "
                                           "got: list"):
        F.grad(lambda t: t.sum(), argnums=[0])(x)
    with pytest.raises(RuntimeError, match="argnums must be non-empty"):
        F.grad(lambda t: t.sum(), argnums=())(x)


def test_vjp_of_a_function_returning_no_tensor_or_a_number_is_refused():
    x = tg.ones(2)
    with pytest.raises(RuntimeError, match=r"expected f to return one or more Tensors, got \(\)"):
        F.vjp(lambda t: (), x)
    with pytest.raises(RuntimeError, match="expected f.*to return only Tensors, got a float"):
        F.vjp(lambda t: 3.0, x)


def test_grad_of_a_function_returning_a_tuple_is_refused():
    with pytest.raises(RuntimeError, match="expected f.*to return a Tensor, got tuple"):
        F.grad(lambda t: (t.sum(), t.sum()))(tg.ones(2))


def test_vjp_and_jacrev_refuse_integer_outputs_naming_the_dtype():
    x = tg.tensor([1.0, 3.0, 2.0])
    with pytest.raises(RuntimeError, match="outputs of f must be floating-point.*int64"):
        F.vjp(lambda t: t.argmax(), x)
    with pytest.raises(RuntimeError, match="jacrev: output 0 of f has dtype int64"):
        F.jacrev(lambda t: t.argmax())(x)


def test_vjp_fn_with_create_graph_false_gives_the_product_without_a_graph():
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    out, vjp_fn = F.vjp(lambda t: t ** 2, x)
    (cotangent_product,) = vjp_fn(tg.tensor([[1.0, 0.5], [2.0, 1.0]]), create_graph=False)
    np.testing.assert_allclose(cotangent_product.numpy(), [[2.0, 2.0], [12.0, 8.0]])  # u·2x
    assert not cotangent_product.requires_grad


def test_vmap_same_randomness_reseeds_cuda_with_one_seed_per_sample(monkeypatch):
    """On a GPU, randomness='same' also replays CuPy's generator: one seed, drawn once,
    set before every sample (a stand-in CuPy module records the seeds)."""
    seeds = []
    fake_cupy = types.SimpleNamespace(random=types.SimpleNamespace(seed=seeds.append))
    get_xp = backend.get_xp
    monkeypatch.setattr(backend, "cuda_available", lambda: True)
    monkeypatch.setattr(backend, "get_xp",
                        lambda device: fake_cupy if device == "cuda" else get_xp(device))
    out = F.vmap(lambda t: t + tg.rand(()), randomness="same")(tg.zeros(3))
    assert len(seeds) == 3 and len(set(seeds)) == 1
    assert isinstance(seeds[0], int) and 0 <= seeds[0] < 2 ** 62
    values = out.numpy()
    assert values[0] == values[1] == values[2]


def test_vmap_chunk_size_must_be_positive():
    with pytest.raises(ValueError, match="chunk_size should be None or greater than 0"):
        F.vmap(lambda t: t, chunk_size=0)


def test_vmap_in_dim_true_is_refused_as_not_an_integer_dimension():
    with pytest.raises(ValueError, match="got in_dim=True for an input but in_dim must be "
                                         "either an integer dimension or None"):
        F.vmap(lambda t: t, in_dims=(True,))(tg.ones(2, 2))


def test_vmap_over_a_dimension_of_size_zero_is_refused():
    with pytest.raises(ValueError, match="mapped dimension has size 0"):
        F.vmap(lambda t: t)(tg.zeros(0, 2))


def test_vmap_out_dims_as_a_one_tuple_for_a_single_output():
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    out = F.vmap(lambda t: t * 2, out_dims=(1,))(x)
    np.testing.assert_allclose(out.numpy(), (x.numpy() * 2).T)


def test_vmap_out_dim_out_of_range_names_it():
    with pytest.raises(ValueError, match="out_dim 5 is out of range for an output of 1 dims"):
        F.vmap(lambda t: t, out_dims=5)(tg.ones(2, 2))


# ============================== tg.linalg ==============================

A2 = [[2.0, 1.0], [1.0, 3.0]]   # det 5, A⁻¹ = [[3, −1], [−1, 2]] / 5


def test_linalg_refuses_host_data_where_a_tensor_is_expected():
    with pytest.raises(TypeError, match="linalg.inv: expected a Tensor, got list"):
        L.inv(A2)
    with pytest.raises(TypeError, match="linalg.vector_norm: expected a Tensor, got list"):
        L.vector_norm([3.0, 4.0])
    with pytest.raises(TypeError, match="linalg.diagonal: expected a Tensor, got list"):
        L.diagonal(A2)


def test_solve_refuses_a_0d_right_hand_side_on_either_side():
    A = tg.tensor(A2)
    with pytest.raises(ValueError, match="linalg.solve: B must be a Tensor with at least 1 dim, "
                                         r"got \(\)"):
        L.solve(A, tg.tensor(1.0))
    with pytest.raises(ValueError, match="linalg.solve: B must be a Tensor with at least 1 dim"):
        L.solve(A, tg.tensor(1.0), left=False)


def test_solve_of_float32_and_float64_promotes_to_float64_with_the_gradient():
    A = tg.tensor(A2, requires_grad=True)                               # float32
    b = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    x = L.solve(A, b)
    assert x.dtype == tg.float64
    np.testing.assert_allclose(x.detach().numpy(), [0.2, 0.6], rtol=1e-12)
    x.sum().backward()
    # d(1ᵀx)/db = A⁻ᵀ1, d/dA = −(A⁻ᵀ1) xᵀ
    g = np.linalg.solve(np.array(A2).T, np.ones(2))
    np.testing.assert_allclose(b.grad.numpy(), g, rtol=1e-12)
    assert A.grad.dtype == tg.float32
    np.testing.assert_allclose(A.grad.numpy(), -np.outer(g, [0.2, 0.6]), rtol=1e-6)


def test_matrix_norm_dim_must_be_a_pair():
    with pytest.raises(ValueError, match=r"dim must be a 2-tuple of ints, got \(0,\)"):
        L.matrix_norm(tg.tensor(A2), dim=(0,))


def test_matrix_norm_with_dtype_casts_first():
    norm = L.matrix_norm(tg.tensor(A2), dtype=tg.float64)
    assert norm.dtype == tg.float64
    assert norm.item() == pytest.approx(math.sqrt(15.0), rel=1e-12)


def test_lstsq_of_mixed_dtypes_promotes_and_solves():
    result = L.lstsq(tg.tensor(A2), tg.tensor([[1.0], [2.0]], dtype=tg.float64))
    assert result.solution.dtype == tg.float64
    np.testing.assert_allclose(result.solution.numpy(), [[0.2], [0.6]], rtol=1e-6)


def test_solve_triangular_batch_dims_that_do_not_broadcast_are_named():
    with pytest.raises(ValueError, match=r"the batch dims of A \(2, 2, 2\) and B \(3, 2, 1\) "
                                         "cannot be broadcast"):
        L.solve_triangular(tg.ones(2, 2, 2), tg.ones(3, 2, 1), upper=True)


def test_solve_triangular_of_mixed_dtypes_promotes_and_solves():
    x = L.solve_triangular(tg.tensor(A2), tg.tensor([[1.0], [2.0]], dtype=tg.float64), upper=True)
    assert x.dtype == tg.float64
    # the upper triangle [[2, 1], [0, 3]]: x₂ = 2/3, x₁ = (1 − x₂)/2
    np.testing.assert_allclose(x.numpy(), [[1.0 / 6.0], [2.0 / 3.0]], rtol=1e-6)


def test_solve_triangular_right_side_needs_a_matrix():
    with pytest.raises(ValueError, match=r"solve_triangular: B must be a Tensor of matrices, "
                                         r"got \(2,\)"):
        L.solve_triangular(tg.tensor(A2), tg.tensor([1.0, 2.0]), upper=True, left=False)


def test_lu_solve_needs_a_matrix_right_hand_side():
    LU, pivots = L.lu_factor(tg.tensor(A2))
    with pytest.raises(ValueError, match=r"lu_solve: B must be a Tensor of matrices, got \(2,\)"):
        L.lu_solve(LU, pivots, tg.tensor([1.0, 2.0]))


def test_vander_tensorinv_and_tensorsolve_argument_errors():
    with pytest.raises(ValueError, match=r"vander: N must be an int greater than 1 .*got 1 "
                                         r"for x of shape \(1,\)"):
        L.vander(tg.tensor(2.0))                       # a 0-dim x is one point, N = 1
    with pytest.raises(ValueError, match="tensorinv: ind must be a positive int, got 0"):
        L.tensorinv(tg.eye(4).reshape(4, 2, 2), ind=0)
    with pytest.raises(ValueError, match=r"prod\(B.shape\) = 2 must equal the product of A's "
                                         r"other dims \(3\)"):
        L.tensorsolve(tg.ones(2, 3), tg.ones(2))


def test_ldl_solve_batch_dims_that_do_not_broadcast_are_named():
    LD, pivots = L.ldl_factor(tg.tensor([[[4.0, 1.0], [1.0, 3.0]]] * 2))
    with pytest.raises(ValueError, match=r"ldl_solve: the batch dims of LD \(2, 2, 2\), pivots "
                                         r"\(2, 2\) and B \(3, 2, 1\) cannot be broadcast"):
        L.ldl_solve(LD, pivots, tg.ones(3, 2, 1))


# ============================== ops/special.py ==============================

def test_renorm_maxnorm_must_be_non_negative():
    with pytest.raises(ValueError, match="renorm: maxnorm must be >= 0, got -1.0"):
        tg.renorm(tg.ones(2, 2), 1, 0, -1.0)


def test_renorm_with_p_below_one_uses_the_p_quasi_norm_with_its_gradient():
    x = np.array([[3.0, 4.0], [1.0, 1.0], [0.1, 0.2]])

    def reference(values):
        norms = (np.abs(values) ** 0.5).sum(1, keepdims=True) ** 2        # (Σ|x|^½)²
        return values * np.where(norms > 2.0, 2.0 / (norms + 1e-7), 1.0)

    t = tg.tensor(x, requires_grad=True)
    out = tg.renorm(t, 0.5, 0, 2.0)
    np.testing.assert_allclose(out.detach().numpy(), reference(x), rtol=1e-12)
    weights = np.array([[1.0, -2.0], [0.5, 3.0], [2.0, 1.0]])
    (out * tg.tensor(weights)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(),
                               numeric_gradient(lambda v: (reference(v) * weights).sum(), x),
                               rtol=1e-6, atol=1e-8)


def test_unfold_of_a_0d_tensor_is_one_window_of_one_element():
    out = tg.tensor(5.0).unfold(0, 1, 1)
    assert out.shape == (1,)
    np.testing.assert_allclose(out.numpy(), [5.0])


def test_index_put_refuses_float_indices_and_too_many_indices():
    x = tg.ones(2, 2)
    with pytest.raises(TypeError, match="each index must be an integer or bool tensor, got "
                                        "float32"):
        tg.index_put(x, (tg.tensor([0.5]),), tg.tensor(1.0))
    index = tg.tensor([0])
    with pytest.raises(IndexError, match=r"too many indices \(3\) for a tensor of shape \(2, 2\)"):
        tg.index_put(x, (index, index, index), tg.tensor(1.0))


def test_put_index_must_be_an_integer_tensor():
    with pytest.raises(TypeError, match="put_: index must be an integer tensor, got float32"):
        tg.ones(2, 2).put_(tg.tensor([0.0]), tg.tensor([1.0]))


def test_put_into_a_0d_tensor_writes_its_one_element():
    x = tg.tensor(1.0)
    x.put_(tg.tensor([-1]), tg.tensor([2.0]))
    assert x.shape == ()
    assert x.item() == 2.0


def test_normal_argument_errors_name_what_was_wrong():
    with pytest.raises(ValueError, match="normal: expects std >= 0, got std=-1.0"):
        tg.normal(0.0, -1.0, (2,))
    with pytest.raises(TypeError, match="normal: draws floats; dtype int64 is not one"):
        tg.normal(0.0, 1.0, (2,), dtype=tg.int64)
    with pytest.raises(TypeError, match="normal: size is only for a number mean and std"):
        tg.normal(tg.zeros(2), 1.0, (2,))
    with pytest.raises(TypeError, match="normal: expects a floating-point mean, got int64"):
        tg.normal(tg.zeros(2, dtype=tg.int64), 1.0)
    with pytest.raises(ValueError, match=r"mean of shape \(2,\) and std of shape \(3,\) cannot "
                                         "be broadcast together"):
        tg.normal(tg.zeros(2), tg.ones(3))


def test_bernoulli_and_multinomial_argument_errors():
    with pytest.raises(TypeError, match="bernoulli: probabilities must be floats, got dtype "
                                        "int64"):
        tg.bernoulli(tg.tensor([1, 0]))
    with pytest.raises(ValueError, match=r"multinomial: expects a 1-D or 2-D tensor of weights "
                                         r".*got shape \(2, 2, 2\)"):
        tg.multinomial(tg.ones(2, 2, 2), 1)
    with pytest.raises(ValueError, match="multinomial: num_samples must be an int > 0, got 0"):
        tg.multinomial(tg.ones(3), 0)


def test_finfo_and_iinfo_reprs_show_their_limits():
    text = repr(tg.finfo(tg.float32))
    assert text.startswith("finfo(resolution=1e-06, ")
    assert f"eps={np.finfo(np.float32).eps}" in text and "dtype=float32)" in text
    assert f"tiny={np.finfo(np.float32).tiny}" in text
    assert repr(tg.iinfo(tg.int8)) == "iinfo(min=-128, max=127, dtype=int8)"


# ============================== ops/rearrange.py ==============================

def test_masked_select_mask_on_another_device_names_both(device):
    x = tg.ones(2, 2, device=device)
    mask = tg.tensor([[True, False], [False, True]], device=other_device(device))
    with pytest.raises(RuntimeError, match=f"masked_select: the mask is on "
                                           f"'{other_device(device)}' but the tensor is on "
                                           f"'{device}'"):
        tg.masked_select(x, mask)


def test_repeat_refuses_non_integer_and_negative_repeats():
    x = tg.ones(2, 2)
    with pytest.raises(TypeError, match=r"repeat: expected ints, got \(2, 1.5\)"):
        x.repeat(2, 1.5)
    with pytest.raises(ValueError, match=r"repeat: repeats must be non-negative, got \(2, -1\)"):
        x.repeat(2, -1)


def test_0d_inputs_refused_where_pytorch_needs_a_dim():
    with pytest.raises(ValueError, match="flipud: expected a tensor with at least 1 dim"):
        tg.flipud(tg.tensor(1.0))
    with pytest.raises(ValueError, match="diag_embed: expected a tensor with at least 1 dim"):
        tg.diag_embed(tg.tensor(1.0))


def test_repeat_interleave_counts_must_be_at_most_1d():
    with pytest.raises(ValueError, match=r"repeats must be 0-d or 1-D, got shape \(1, 2\)"):
        tg.repeat_interleave(tg.tensor([[1, 2]]))


def test_index_select_and_take_along_dim_of_a_0d_tensor(device):
    x = tg.tensor(5.0, device=device, requires_grad=True)
    picked = tg.index_select(x, 0, tg.tensor([0], device=device))
    assert picked.shape == () and picked.item() == 5.0
    taken = tg.take_along_dim(x, tg.tensor(0, device=device), 0)
    assert taken.shape == () and taken.item() == 5.0
    (picked * 2 + taken * 3).backward()
    assert x.grad.item() == 5.0
    with pytest.raises(ValueError, match="index_select: a 0-d tensor takes one index"):
        tg.index_select(x, 0, tg.tensor([0, 0], device=device))


def test_diag_embed_dims_must_differ():
    with pytest.raises(ValueError, match="diag_embed: dim1 and dim2 are the same dim 0"):
        tg.diag_embed(tg.tensor([1.0, 2.0]), dim1=0, dim2=-2)


def test_scatter_needs_src_or_value():
    with pytest.raises(TypeError, match="scatter: give either src .* or value"):
        tg.scatter(tg.ones(2, 2), 0, tg.tensor([[0]]))


def test_index_ops_refuse_a_2d_index():
    x, index = tg.ones(2, 2), tg.tensor([[0]])
    with pytest.raises(ValueError, match=r"index_add: index must be 0-d or 1-D, got shape "
                                         r"\(1, 1\)"):
        tg.index_add(x, 0, index, x)
    with pytest.raises(ValueError, match=r"index_fill: index must be 0-d or 1-D"):
        tg.index_fill(x, 0, index, 1.0)
    with pytest.raises(ValueError, match=r"index_copy: index must be 0-d or 1-D"):
        tg.index_copy(x, 0, index, x)


def test_index_add_fill_copy_and_reduce_on_a_0d_tensor(device):
    def zero_d(value):
        return tg.tensor(value, device=device)

    x = tg.tensor(1.0, device=device, requires_grad=True)
    source = tg.tensor([2.0], device=device, requires_grad=True)
    added = tg.index_add(x, 0, tg.tensor([0], device=device), source, alpha=3)
    assert added.shape == () and added.item() == 7.0          # 1 + 3·2
    added.backward()
    assert x.grad.item() == 1.0 and source.grad.numpy().tolist() == [3.0]
    filled = tg.index_fill(zero_d(1.0), 0, tg.tensor([0], device=device), 7.0)
    assert filled.shape == () and filled.item() == 7.0
    copied = tg.index_copy(zero_d(1.0), 0, tg.tensor(0, device=device), zero_d(5.0))
    assert copied.shape == () and copied.item() == 5.0
    product = tg.index_reduce(zero_d(2.0), 0, tg.tensor([0], device=device),
                              tg.tensor([5.0], device=device), "prod")
    assert product.shape == () and product.item() == 10.0
    largest = tg.scatter_reduce(zero_d(2.0), 0, tg.tensor(0, device=device), zero_d(5.0), "amax")
    assert largest.shape == () and largest.item() == 5.0


def test_masked_scatter_broadcasts_with_a_larger_mask_out_of_place_only():
    """PyTorch: input and mask broadcast together out of place; in place, x keeps its shape."""
    out = tg.masked_scatter(tg.tensor([1.0, 2.0]), tg.tensor([[True, False]]), tg.tensor([9.0, 8.0]))
    assert out.shape == (1, 2) and out.numpy().tolist() == [[9.0, 2.0]]
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    wide = tg.masked_scatter(x, tg.tensor([[True, False], [False, True]]), tg.tensor([9.0, 8.0]))
    wide.sum().backward()  # x[1] kept in row 0, x[0] in row 1
    assert wide.numpy().tolist() == [[9.0, 2.0], [1.0, 8.0]] and x.grad.numpy().tolist() == [1, 1]
    with pytest.raises(RuntimeError, match=r"masked_scatter_: the result of shape \(1, 2\) does "
                                           r"not fit the tensor's shape \(2,\)"):
        tg.tensor([1.0, 2.0]).masked_scatter_(tg.tensor([[True, False]]), tg.tensor([9.0]))
    with pytest.raises(ValueError, match=r"the mask of shape \(3,\) does not broadcast"):
        tg.masked_scatter(tg.ones(2, 2), tg.tensor([True, False, True]), tg.ones(2, 2))


def test_diff_meshgrid_and_cartesian_prod_argument_errors():
    with pytest.raises(ValueError, match="diff: n must be a non-negative int, got -1"):
        tg.diff(tg.tensor([1.0, 2.0]), n=-1)
    with pytest.raises(ValueError, match="meshgrid: expected at least one tensor"):
        tg.meshgrid()
    with pytest.raises(ValueError, match=r"cartesian_prod: expected 1-D tensors, tensor 1 has "
                                         r"shape \(2, 2\)"):
        tg.cartesian_prod(tg.tensor([1, 2]), tg.ones(2, 2))


def test_scatter_reduce_amin_and_amax_of_bools_are_all_and_any():
    index = tg.tensor([0, 0, 1])
    amin = tg.scatter_reduce(tg.tensor([True, False, True]), 0, index,
                             tg.tensor([False, True, True]), "amin", include_self=False)
    assert amin.dtype == tg.bool and amin.numpy().tolist() == [False, True, True]
    amax = tg.scatter_reduce(tg.tensor([False, False, True]), 0, index,
                             tg.tensor([False, True, False]), "amax", include_self=False)
    assert amax.numpy().tolist() == [True, False, True]


def test_block_diag_takes_the_dtype_of_a_0d_tensor_of_a_higher_category():
    out = tg.block_diag(tg.tensor([1, 2]), tg.tensor(1.5, dtype=tg.float64))
    assert out.dtype == tg.float64
    np.testing.assert_array_equal(out.numpy(), [[1.0, 2.0, 0.0], [0.0, 0.0, 1.5]])


def test_bernoulli_fill_with_probabilities_on_another_device_names_both(device):
    with pytest.raises(RuntimeError, match=f"bernoulli_: p is on '{other_device(device)}' but "
                                           f"the tensor is on '{device}'"):
        tg.ones(2, device=device).bernoulli_(tg.tensor([0.5, 0.5], device=other_device(device)))


# ============================== ops/everyday.py ==============================

def test_mv_and_dist_argument_errors():
    x = tg.ones(2, 2)
    with pytest.raises(ValueError, match=r"mv: expected a matrix and a vector, got shapes "
                                         r"\(2, 2\) and \(2, 2\)"):
        tg.mv(x, x)
    with pytest.raises(TypeError, match="dist: p must be a number, got 'fro'"):
        tg.dist(x, x, p="fro")


def test_cov_weight_argument_errors(device):
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    with pytest.raises(ValueError, match=r"cov: fweights must be a 1-D tensor, got \(1, 2\)"):
        tg.cov(x, fweights=tg.tensor([[1, 1]], device=device))
    with pytest.raises(TypeError, match="cov: aweights must have a floating-point dtype, got "
                                        "int64"):
        tg.cov(x, aweights=tg.tensor([1, 1], device=device))
    with pytest.raises(RuntimeError, match=f"cov: aweights is on '{other_device(device)}' but "
                                           f"the input is on '{device}'"):
        tg.cov(x, aweights=tg.tensor([1.0, 1.0], device=other_device(device)))


def test_histogram_argument_errors():
    x = tg.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="histogram: range is only for a number of bins"):
        tg.histogram(x, tg.tensor([0.0, 3.0]), range=(0.0, 3.0))
    with pytest.raises(ValueError, match=r"bin edges must be a 1-D tensor of at least 2 edges "
                                         r"on 'cpu', got shape \(2,\) on 'strict'"):
        tg.histogram(x, tg.tensor([0.0, 3.0], device="strict"))
    with pytest.raises(ValueError, match=r"bin edges must be a 1-D tensor of at least 2 edges"):
        tg.histogram(x, tg.tensor([0.0]))
    with pytest.raises(ValueError, match="histogram: bins must be an int > 0 or a tensor of "
                                         "edges, got 0"):
        tg.histogram(x, 0)
    with pytest.raises(ValueError, match=r"weight must be a tensor of the input's shape \(2,\), "
                                         r"got \(1,\)"):
        tg.histogram(x, 2, weight=tg.tensor([1.0]))


def test_trapezoid_argument_errors():
    with pytest.raises(ValueError, match="trapezoid: expected y with at least one dim, got a 0-d"):
        tg.trapezoid(tg.tensor(1.0))
    with pytest.raises(TypeError, match="trapezoid: x must be a tensor of sample points, got "
                                        "list; a constant spacing is dx="):
        tg.trapezoid(tg.tensor([1.0, 2.0]), [0.0, 1.0])
    with pytest.raises(ValueError, match=r"x of shape \(1, 1, 2\) has more dims than y \(2,\)"):
        tg.trapezoid(tg.tensor([1.0, 2.0]), tg.ones(1, 1, 2))


def test_trapezoid_with_fewer_dims_of_x_than_y_broadcasts_x_from_the_left(device):
    y = np.arange(12, dtype=np.float64).reshape(2, 2, 3) ** 2
    x = np.array([[0.0, 1.0, 3.0], [0.0, 0.5, 2.0]])                  # (2, 3): leading 1 added
    expected = (((y[..., 1:] + y[..., :-1]) / 2) * np.diff(x, axis=-1)[None]).sum(-1)
    yt = tg.tensor(y, device=device, requires_grad=True)
    out = tg.trapezoid(yt, tg.tensor(x, device=device))
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12)
    out.sum().backward()
    steps = np.diff(x, axis=-1)
    weights = np.zeros((2, 3))
    weights[:, :-1] += steps / 2
    weights[:, 1:] += steps / 2
    np.testing.assert_allclose(yt.grad.numpy(), np.broadcast_to(weights, (2, 2, 3)), rtol=1e-12)


def test_gradient_argument_errors():
    with pytest.raises(ValueError, match="gradient: expected a tensor with at least one dim"):
        tg.gradient(tg.tensor(1.0))
    with pytest.raises(ValueError, match=r"gradient: dim \(0, -2\) repeats a dim"):
        tg.gradient(tg.ones(2, 2), dim=(0, -2))
    with pytest.raises(ValueError, match=r"coordinates along dim 0 must be a 1-D tensor of 3 "
                                         r"points, got shape \(2,\)"):
        tg.gradient(tg.tensor([1.0, 4.0, 9.0]), spacing=(tg.tensor([0.0, 1.0]),))
    with pytest.raises(TypeError, match="gradient: a spacing must be a number or a 1-D tensor, "
                                        "got 'a'"):
        tg.gradient(tg.tensor([1.0, 4.0, 9.0]), spacing=("a",))


def test_tensor_split_argument_errors():
    with pytest.raises(ValueError, match="tensor_split: expected a tensor with at least one dim"):
        tg.tensor_split(tg.tensor(1.0), 2)
    with pytest.raises(TypeError, match=r"must be a 0-d or 1-D integer tensor, got float32 of "
                                        r"shape \(1,\)"):
        tg.tensor_split(tg.arange(5), tg.tensor([1.5]))
    with pytest.raises(TypeError, match=r"tensor_split: indices must be ints, got \[1, 2.5\]"):
        tg.tensor_split(tg.arange(5), [1, 2.5])


def test_tensor_split_by_an_integer_tensor_of_sections_or_indices():
    sections = tg.tensor_split(tg.arange(5), tg.tensor(2))
    assert [piece.numpy().tolist() for piece in sections] == [[0, 1, 2], [3, 4]]
    pieces = tg.tensor_split(tg.arange(5), tg.tensor([1, 3]))
    assert [piece.numpy().tolist() for piece in pieces] == [[0], [1, 2], [3, 4]]


def test_select_and_slice_scatter_argument_errors():
    with pytest.raises(IndexError, match="select: cannot be applied to a 0-d tensor"):
        tg.select(tg.tensor(1.0), 0, 0)
    with pytest.raises(TypeError, match="select: index must be an int, got 0.5"):
        tg.select(tg.ones(2, 2), 0, 0.5)
    with pytest.raises(IndexError, match="slice_scatter: cannot be applied to a 0-d tensor"):
        tg.slice_scatter(tg.tensor(1.0), tg.tensor(1.0))
    with pytest.raises(ValueError, match="slice_scatter: step must be a positive int, got 0"):
        tg.slice_scatter(tg.ones(2, 2), tg.ones(2, 2), step=0)


def test_index_copy_source_of_the_wrong_shape_names_the_expected_one():
    with pytest.raises(ValueError, match=r"index_copy: source of shape \(2, 2\).*expected "
                                         r"\(1, 2\)"):
        tg.index_copy(tg.ones(2, 2), 0, tg.tensor([0]), tg.ones(2, 2))


def test_unflatten_unravel_index_and_broadcast_shapes_size_errors():
    x = tg.ones(2, 2)
    with pytest.raises(ValueError, match=r"unflatten: sizes must be a non-empty sequence of ints"):
        tg.unflatten(x, 1, ())
    with pytest.raises(ValueError, match=r"unflatten: sizes \(-1, -1\) may hold one −1"):
        tg.unflatten(x, 1, (-1, -1))
    with pytest.raises(ValueError, match=r"unravel_index: shape must hold ints >= 0, got "
                                         r"\(2, -1\)"):
        tg.unravel_index(tg.tensor([1]), (2, -1))
    with pytest.raises(ValueError, match=r"broadcast_shapes: sizes must be >= 0"):
        tg.broadcast_shapes((2, -1))


def test_combinations_r_argument():
    x = tg.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="combinations: r must be an int >= 0, got -1"):
        tg.combinations(x, r=-1)
    empty = tg.combinations(x, r=0)                   # PyTorch: an empty 1-D tensor
    assert empty.shape == (0,) and empty.dtype == x.dtype


def test_logspace_steps_must_be_non_negative():
    with pytest.raises(ValueError, match="logspace: steps must be an int >= 0, got -1"):
        tg.logspace(0, 1, -1)


def test_tensor_bmm_method_is_the_batched_product(rng):
    a, b = rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 4, 5))
    out = tg.tensor(a).bmm(tg.tensor(b))
    np.testing.assert_allclose(out.numpy(), a @ b, rtol=1e-12)


@pytest.mark.skipif(not backend.cuda_available(), reason="needs CuPy and a GPU")
def test_data_ptr_on_cuda_is_the_device_address_shared_by_views():
    x = tg.arange(4, dtype=tg.float32, device="cuda")
    assert x.data_ptr() == x.data.data.ptr != 0
    assert x[1:].data_ptr() == x.data_ptr() + 4             # a view: one float32 further
    assert x.reshape(2, 2).data_ptr() == x.data_ptr()


def test_random_fill_argument_errors():
    with pytest.raises(ValueError, match="exponential_: expects lambd > 0, got lambd=0"):
        tg.ones(2).exponential_(0)
    with pytest.raises(TypeError, match=r"random_: takes \(\), \(to\) or \(from, to\), got "
                                        r"\(0, 1, 2\)"):
        tg.ones(2).random_(0, 1, 2)


# ============================== ops/statistics.py ==============================

def test_std_mean_with_a_bool_second_argument_is_the_unbiased_flag(device):
    values = np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 9.0]])
    x = tg.tensor(values, device=device)
    for unbiased in (False, True):
        std, mean = tg.std_mean(x, unbiased)
        assert mean.shape == () and mean.item() == pytest.approx(4.0)
        assert std.item() == pytest.approx(np.std(values, ddof=int(unbiased)), rel=1e-12)


def test_nanmedian_of_an_empty_tensor_is_nan():
    out = tg.nanmedian(tg.zeros(0))
    assert out.shape == () and out.dtype == tg.float32 and math.isnan(out.item())


def test_quantile_q_of_another_type_is_refused():
    with pytest.raises(TypeError, match="quantile: q must be a number or a tensor, got str"):
        tg.quantile(tg.ones(3), "0.5")


def test_nansum_and_nanmean_with_dtype_cast_first():
    total = tg.nansum(tg.tensor([1.0, float("nan"), 2.5]), dtype=tg.float64)
    assert total.dtype == tg.float64 and total.item() == 3.5
    mean = tg.nanmean(tg.tensor([1, 2]), dtype=tg.float64)
    assert mean.dtype == tg.float64 and mean.item() == 1.5


def test_bincount_histc_and_searchsorted_argument_errors():
    with pytest.raises(ValueError, match="bincount: minlength must be an int >= 0, got -1"):
        tg.bincount(tg.tensor([1, 2]), minlength=-1)
    with pytest.raises(ValueError, match=r"histc: range of \[0.0, inf\] is not finite"):
        tg.histc(tg.tensor([1.0, 2.0]), bins=2, min=0, max=float("inf"))
    with pytest.raises(ValueError, match=r"histc: range of \[1.0, inf\] is not finite"):
        tg.histc(tg.tensor([1.0, float("inf")]), bins=2)
    with pytest.raises(ValueError, match="searchsorted: side must be 'left' or 'right', got "
                                         "'middle'"):
        tg.searchsorted(tg.tensor([1.0, 2.0]), tg.tensor([1.5]), side="middle")


# ============================== distributions: constraints ==============================

def test_constraint_base_and_dependent_checks_raise():
    x = tg.tensor([1.0, 2.0])
    with pytest.raises(NotImplementedError):
        C.Constraint().check(x)
    with pytest.raises(ValueError, match="Cannot determine validity of dependent constraint"):
        C.dependent.check(x)


def test_constraint_repr_is_discrete_and_checks():
    assert repr(C.less_than(3.0)) == "LessThan(upper_bound=3.0)"
    assert C.independent(C.nonnegative_integer, 1).is_discrete
    assert not C.independent(C.real, 1).is_discrete
    lower = C.lower_triangular.check(tg.tensor([[[1.0, 0.0], [2.0, 3.0]],
                                                [[1.0, 1.0], [0.0, 1.0]]]))
    assert lower.numpy().tolist() == [True, False]
    not_square = C.symmetric.check(tg.ones(3, 2, 3))
    assert not_square.shape == (3,) and not not_square.numpy().any()


def test_cat_constraint_refuses_entries_that_are_not_constraints():
    with pytest.raises(ValueError, match="cat: every entry of cseq must be a Constraint"):
        C.cat([C.real, 3])


# ============================== distributions: families ==============================

def test_gamma_log_prob_of_a_number_without_validation():
    log_p = D.Gamma(tg.tensor(2.0), tg.tensor(3.0), validate_args=False).log_prob(1.5)
    # α log λ + (α − 1) log x − λx − log Γ(α)
    expected = 2 * math.log(3.0) + math.log(1.5) - 4.5 - math.lgamma(2.0)
    assert log_p.dtype == tg.float32
    assert log_p.item() == pytest.approx(expected, rel=1e-6)


def test_vector_parameters_must_have_a_dim():
    with pytest.raises(ValueError, match="`concentration` parameter must be at least "
                                         "one-dimensional"):
        D.Dirichlet(tg.tensor(1.0))
    with pytest.raises(ValueError, match="`probs` parameter must be at least one-dimensional"):
        D.Categorical(probs=tg.tensor(1.0))
    with pytest.raises(ValueError, match="`logits` parameter must be at least one-dimensional"):
        D.Categorical(logits=tg.tensor(1.0))


def test_param_shape_is_the_given_parameters_shape():
    probs = tg.tensor([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
    assert D.ContinuousBernoulli(probs=probs).param_shape == (3, 2)
    assert D.Bernoulli(logits=probs).param_shape == (3, 2)
    assert D.Binomial(3, probs=probs).param_shape == (3, 2)
    assert D.NegativeBinomial(3.0, logits=probs).param_shape == (3, 2)
    assert D.Multinomial(3, probs=probs).param_shape == (3, 2)
    assert D.OneHotCategorical(probs=probs).param_shape == (3, 2)
    assert D.RelaxedBernoulli(tg.tensor(0.5), probs=probs).param_shape == (3, 2)
    assert D.RelaxedOneHotCategorical(tg.tensor(0.5), probs=probs).param_shape == (3, 2)


def test_categorical_mean_and_variance_are_nan_of_the_batch_shape():
    dist = D.Categorical(probs=tg.tensor([[0.2, 0.8]] * 3))
    for value in (dist.mean, dist.variance):
        assert value.shape == (3,) and np.isnan(value.numpy()).all()


def test_one_hot_categorical_mean_and_mode():
    probs = tg.tensor([[0.2, 0.8], [0.6, 0.4]])
    dist = D.OneHotCategorical(probs=probs)
    np.testing.assert_allclose(dist.mean.numpy(), probs.numpy())
    np.testing.assert_array_equal(dist.mode.numpy(), [[0.0, 1.0], [1.0, 0.0]])


def test_negative_binomial_probs_from_logits_is_the_sigmoid():
    dist = D.NegativeBinomial(3.0, logits=tg.tensor([0.0, 1.0, -2.0]))
    expected = 1 / (1 + np.exp(-np.array([0.0, 1.0, -2.0])))
    np.testing.assert_allclose(dist.probs.numpy(), expected, rtol=1e-6)


def test_parameters_that_are_not_numbers_or_tensors_are_refused():
    with pytest.raises(ValueError, match="must all be instances of numbers.Number or Tensor, "
                                         "got str"):
        D.Normal("a", 1.0)


def test_distribution_as_tensor_helper_makes_float_tensors(device):
    """``distribution.as_tensor`` (a helper no family uses at present)."""
    floats = tg.tensor([1.0, 2.0], dtype=tg.float64, device=device)
    assert as_tensor(floats) is floats
    ints = as_tensor(tg.tensor([1, 2], device=device))
    assert ints.dtype == tg.float32 and ints.device == device
    assert ints.numpy().tolist() == [1.0, 2.0]
    number = as_tensor(2.5, like=floats)
    assert number.dtype == tg.float64 and number.device == device and number.item() == 2.5
    assert as_tensor(3).dtype == tg.float32


def test_set_default_validate_args_needs_a_bool():
    with pytest.raises(ValueError, match="set_default_validate_args expects a bool, got 'yes'"):
        D.Distribution.set_default_validate_args("yes")


def test_distribution_base_class_leaves_its_methods_to_subclasses():
    dist = D.Distribution(validate_args=False)
    x = tg.tensor([1.0])
    with pytest.raises(NotImplementedError):
        dist.support
    with pytest.raises(NotImplementedError, match="does not implement mode"):
        dist.mode
    with pytest.raises(NotImplementedError):
        dist.variance
    for method in (dist.log_prob, dist.cdf, dist.icdf):
        with pytest.raises(NotImplementedError):
            method(x)
    with pytest.raises(NotImplementedError):
        dist.entropy()


def test_sample_n_and_an_int_sample_shape():
    tg.manual_seed(1)
    dist = D.Normal(tg.zeros(2), 1.0)
    assert dist.sample_n(3).shape == (3, 2)
    assert dist._extended_shape(4) == (4, 2)
    mixture = D.MixtureSameFamily(D.Categorical(probs=tg.tensor([0.3, 0.7])),
                                  D.Normal(tg.tensor([-100.0, 100.0]), 1.0))
    draws = mixture.sample(50)
    assert draws.shape == (50,)
    assert (np.abs(np.abs(draws.numpy()) - 100.0) < 6).all()    # near one of the components


def test_exponential_family_entropy_needs_natural_params_and_log_normalizer():
    class NoParameters(D.ExponentialFamily):
        _mean_carrier_measure = 0

    class NoNormalizer(NoParameters):
        @property
        def _natural_params(self):
            return (tg.tensor([1.0]),)

    with pytest.raises(NotImplementedError, match="NoParameters has no _natural_params"):
        NoParameters(batch_shape=(1,), validate_args=False).entropy()
    with pytest.raises(NotImplementedError, match="NoNormalizer has no _log_normalizer"):
        NoNormalizer(batch_shape=(1,), validate_args=False).entropy()


def test_logistic_normal_of_scalar_parameters_is_over_two_categories():
    tg.manual_seed(2)
    dist = D.LogisticNormal(tg.tensor(0.0), tg.tensor(1.0))
    assert dist.batch_shape == () and dist.event_shape == (2,)
    sample = dist.sample((5,))
    assert sample.shape == (5, 2)
    np.testing.assert_allclose(sample.numpy().sum(-1), 1.0, rtol=1e-6)
    assert (sample.numpy() > 0).all()


def test_wishart_matrix_needs_two_dims_and_df_may_be_a_number():
    with pytest.raises(ValueError, match="covariance_matrix must be at least two-dimensional"):
        D.Wishart(3.0, covariance_matrix=tg.ones(2))
    tg.manual_seed(3)
    dist = D.Wishart(3.0, covariance_matrix=tg.eye(2, dtype=tg.float64))
    assert dist.df.dtype == tg.float64 and dist.df.item() == 3.0
    draws = dist.rsample(4)
    assert draws.shape == (4, 2, 2)
    matrices = draws.numpy()
    np.testing.assert_allclose(matrices, np.swapaxes(matrices, -1, -2), atol=1e-12)
    assert (np.linalg.eigvalsh(matrices) > 0).all()


def test_mixture_same_family_argument_errors_and_repr():
    categorical = D.Categorical(probs=tg.tensor([0.3, 0.7]))
    with pytest.raises(ValueError, match="Component distribution need to be an instance of"):
        D.MixtureSameFamily(categorical, "normal")
    with pytest.raises(ValueError, match=r"`mixture_distribution.batch_shape` \(\(3,\)\) is not "
                                         r"compatible with `component_distribution.batch_shape`"
                                         r"\(\(4,\)\)"):
        D.MixtureSameFamily(D.Categorical(probs=tg.ones(3, 2)), D.Normal(tg.zeros(4, 2), 1.0))
    mixture = D.MixtureSameFamily(categorical, D.Normal(tg.tensor([-1.0, 1.0]), 1.0))
    assert repr(mixture) == ("MixtureSameFamily(\n  Categorical(probs: (2,), logits: (2,)),\n"
                             "  Normal(loc: (2,), scale: (2,)))")


def test_multivariate_normal_argument_errors_and_mode():
    with pytest.raises(ValueError, match="covariance_matrix .*must be at least two-dimensional"):
        D.MultivariateNormal(tg.zeros(2), tg.ones(2))
    loc = tg.tensor([1.0, 2.0])
    np.testing.assert_array_equal(D.MultivariateNormal(loc, tg.eye(2)).mode.numpy(), [1.0, 2.0])


def test_low_rank_multivariate_normal_argument_errors_mean_and_mode():
    with pytest.raises(ValueError, match="loc must be at least one-dimensional"):
        D.LowRankMultivariateNormal(tg.tensor(0.0), tg.ones(1, 1), tg.ones(1))
    with pytest.raises(ValueError, match="cov_factor must be at least two-dimensional"):
        D.LowRankMultivariateNormal(tg.zeros(2), tg.ones(2), tg.ones(2))
    with pytest.raises(ValueError, match=r"Incompatible batch shapes: loc \(2, 2\), cov_factor "
                                         r"\(3, 2, 1\), cov_diag \(2,\)"):
        D.LowRankMultivariateNormal(tg.zeros(2, 2), tg.ones(3, 2, 1), tg.ones(2))
    dist = D.LowRankMultivariateNormal(tg.tensor([1.0, 2.0]), tg.ones(2, 1), tg.ones(2))
    np.testing.assert_array_equal(dist.mean.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(dist.mode.numpy(), [1.0, 2.0])


def test_independent_mode_and_variance_are_the_bases():
    dist = D.Independent(D.Normal(tg.tensor([1.0, 2.0]), tg.tensor([2.0, 3.0])), 1)
    np.testing.assert_array_equal(dist.mode.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(dist.variance.numpy(), [4.0, 9.0])


def test_transformed_distribution_support_covers_the_whole_event():
    dist = D.TransformedDistribution(D.Independent(D.Normal(tg.zeros(3), 1.0), 1),
                                     [T.ExpTransform()])
    support = dist.support
    assert support.event_dim == 1
    assert support.check(tg.tensor([[1.0, 2.0, 3.0], [1.0, -2.0, 3.0]])).numpy().tolist() == \
        [True, False]


# ============================== distributions: KL ==============================

def test_register_kl_needs_distribution_classes():
    with pytest.raises(TypeError, match="Expected type_q to be a Distribution subclass but got "
                                        "<class 'int'>"):
        D.register_kl(D.Normal, int)


def test_kl_cases_without_a_formula_are_refused():
    with pytest.raises(NotImplementedError, match="KL between Binomials where q.total_count > "
                                                  "p.total_count is not implemented"):
        D.kl_divergence(D.Binomial(5, probs=tg.tensor(0.3)), D.Binomial(10, probs=tg.tensor(0.3)))
    p = D.TransformedDistribution(D.Normal(tg.zeros(2), 1.0), [T.ExpTransform()])
    q = D.TransformedDistribution(D.Independent(D.Normal(tg.zeros(2), 1.0), 1), [T.ExpTransform()])
    with pytest.raises(NotImplementedError, match="different event shapes is not implemented"):
        D.kl_divergence(p, q)


def test_kl_between_multivariate_normals_of_different_sizes_is_refused():
    p = D.MultivariateNormal(tg.zeros(2), tg.eye(2))
    with pytest.raises(ValueError, match="two Multivariate Normals with different event shapes"):
        D.kl_divergence(p, D.MultivariateNormal(tg.zeros(3), tg.eye(3)))
    with pytest.raises(ValueError, match=r"two \(Low Rank\) Multivariate Normals with different "
                                         "event shapes"):
        D.kl_divergence(p, D.LowRankMultivariateNormal(tg.zeros(3), tg.ones(3, 1), tg.ones(3)))


# ============================== distributions: transforms ==============================

def test_transform_event_dim_is_ambiguous_when_domain_and_codomain_differ():
    with pytest.raises(ValueError, match="Please use either .domain.event_dim or "
                                         ".codomain.event_dim"):
        T.CorrCholeskyTransform().event_dim


def test_with_cache_of_a_subclass_with_its_own_init_is_not_implemented():
    class Scaled(T.Transform):
        def __init__(self, k, cache_size=0):
            super().__init__(cache_size=cache_size)
            self.k = k

    with pytest.raises(NotImplementedError, match="Scaled.with_cache is not implemented"):
        Scaled(2.0).with_cache(1)


def test_transform_cache_returns_the_last_result_and_fills_on_an_inverse_miss():
    transform = T.ExpTransform(cache_size=1)
    x = tg.tensor([0.5, -1.0])
    y = transform(x)
    assert transform(x) is y                                     # a hit
    y2 = tg.tensor([1.0, 2.0])
    x2 = transform.inv(y2)                                       # a miss: computed, cached
    np.testing.assert_allclose(x2.numpy(), np.log([1.0, 2.0]), rtol=1e-6)
    assert transform.inv(y2) is x2 and transform(x2) is y2


def test_transform_base_class_has_no_map_and_no_inverse():
    with pytest.raises(NotImplementedError):
        T.Transform()(tg.ones(1))
    with pytest.raises(NotImplementedError, match="Transform has no inverse"):
        T.Transform().inv(tg.ones(1))


def test_inverse_transform_cache_repr_and_shapes():
    inverse = T.ExpTransform().inv.with_cache(1)
    assert inverse._cache_size == 1 and inverse.inv._cache_size == 1
    assert repr(T.ExpTransform().inv) == "_InverseTransform(ExpTransform())"
    stick = T.StickBreakingTransform().inv                     # simplex (K) -> reals (K − 1)
    assert stick.forward_shape((4, 3)) == (4, 2)
    assert stick.inverse_shape((4, 2)) == (4, 3)


def test_compose_transform_cache_equality_codomain_and_repr():
    composed = T.ComposeTransform([T.ExpTransform(), T.AffineTransform(1.0, 2.0)], cache_size=1)
    assert [part._cache_size for part in composed.parts] == [1, 1]
    assert T.ComposeTransform([T.ExpTransform()]) == T.ComposeTransform([T.ExpTransform()])
    assert T.ComposeTransform([T.ExpTransform()]) != T.ComposeTransform([T.TanhTransform()])
    codomain = T.ComposeTransform([T.StickBreakingTransform(), T.ExpTransform()]).codomain
    assert codomain.event_dim == 1
    assert T.ComposeTransform([T.ExpTransform()]).with_cache(1)._cache_size == 1
    assert repr(T.ComposeTransform([T.ExpTransform(), T.SigmoidTransform()])) == \
        "ComposeTransform(\n    ExpTransform(),\n    SigmoidTransform()\n)"


def test_independent_transform_cache_sign_inverse_shapes_and_repr():
    transform = T.IndependentTransform(T.ExpTransform(), 1)
    assert transform.with_cache(0) is transform
    assert transform.with_cache(1)._cache_size == 1
    assert transform.sign == 1
    with pytest.raises(ValueError, match="IndependentTransform: too few dimensions on input"):
        transform(tg.tensor(1.0))
    np.testing.assert_allclose(transform.inv(tg.tensor([1.0, math.e])).numpy(), [0.0, 1.0],
                               atol=1e-6)
    with pytest.raises(ValueError, match="IndependentTransform: too few dimensions on input"):
        transform.inv(tg.tensor(1.0))
    assert transform.forward_shape((2, 3)) == (2, 3)
    assert transform.inverse_shape((2, 3)) == (2, 3)
    assert repr(transform) == "IndependentTransform(ExpTransform(), 1)"


def test_power_transform_cache_and_equality():
    power = T.PowerTransform(tg.tensor(2.0))
    assert power.with_cache(0) is power
    assert power.with_cache(1)._cache_size == 1
    assert power != T.ExpTransform()
    assert power == T.PowerTransform(tg.tensor(2.0))
    assert power != T.PowerTransform(tg.tensor(3.0))


@pytest.mark.parametrize("cls", [T.SigmoidTransform, T.TanhTransform, T.AbsTransform,
                                 T.SoftmaxTransform, T.StickBreakingTransform,
                                 T.LowerCholeskyTransform, T.SoftplusTransform])
def test_parameterless_transforms_equal_their_own_kind_only(cls):
    assert cls() == cls()
    assert cls() != T.ExpTransform()


def test_affine_transform_event_dim_cache_and_equality():
    affine = T.AffineTransform(0.0, 2.0, event_dim=1)
    assert affine.domain.event_dim == 1 and affine.codomain.event_dim == 1
    assert affine.with_cache(0) is affine
    assert affine != T.ExpTransform()
    loc = tg.tensor([0.0, 1.0])
    assert T.AffineTransform(loc, 2.0) == T.AffineTransform(tg.tensor([0.0, 1.0]), 2.0)
    assert T.AffineTransform(loc, 2.0) != T.AffineTransform(tg.tensor([0.0, 2.0]), 2.0)


def test_softmax_stick_breaking_and_corr_cholesky_shapes():
    softmax = T.SoftmaxTransform()
    assert softmax.forward_shape((2, 3)) == (2, 3)
    assert softmax.inverse_shape((3,)) == (3,)
    with pytest.raises(ValueError, match=r"SoftmaxTransform: too few dimensions in shape \(\)"):
        softmax.forward_shape(())
    with pytest.raises(ValueError, match=r"StickBreakingTransform: too few dimensions in \(\)"):
        T.StickBreakingTransform().forward_shape(())
    with pytest.raises(ValueError, match=r"StickBreakingTransform: too few dimensions in \(\)"):
        T.StickBreakingTransform().inverse_shape(())
    with pytest.raises(ValueError, match=r"CorrCholeskyTransform: too few dimensions in \(\)"):
        T.CorrCholeskyTransform().forward_shape(())
    with pytest.raises(ValueError, match=r"CorrCholeskyTransform: too few dimensions in \(3,\)"):
        T.CorrCholeskyTransform().inverse_shape((3,))


def test_with_cache_of_the_same_size_returns_the_transform_itself():
    for transform in (T.CumulativeDistributionTransform(D.Normal(0.0, 1.0)),
                      T.ReshapeTransform((4,), (2, 2)),
                      T.CatTransform([T.ExpTransform(), T.AffineTransform(1.0, 2.0)]),
                      T.StackTransform([T.ExpTransform(), T.AffineTransform(1.0, 2.0)])):
        assert transform.with_cache(0) is transform


def test_cat_transform_argument_errors_cache_and_domain():
    with pytest.raises(ValueError, match="CatTransform: every entry of tseq must be a Transform"):
        T.CatTransform([T.ExpTransform(), 3])
    outside = T.CatTransform([T.ExpTransform(), T.AffineTransform(1.0, 2.0)], dim=3)
    with pytest.raises(ValueError, match=r"CatTransform: dim 3 is out of range for shape \(2,\)"):
        outside(tg.ones(2))
    cached = T.CatTransform([T.ExpTransform(), T.AffineTransform(1.0, 2.0)], cache_size=1)
    assert [part._cache_size for part in cached.transforms] == [1, 1]
    cat = T.CatTransform([T.ExpTransform(), T.AffineTransform(1.0, 2.0)], dim=0)
    recached = cat.with_cache(1)
    assert isinstance(recached, T.CatTransform) and recached._cache_size == 1
    np.testing.assert_allclose(recached(tg.ones(2, 2)).numpy(), [[math.e] * 2, [3.0] * 2],
                               rtol=1e-6)
    domain = cat.domain
    assert domain.check(tg.ones(2, 3)).numpy().all()


def test_stack_transform_domain_checks_each_slice():
    stack = T.StackTransform([T.ExpTransform(), T.SigmoidTransform().inv], dim=0)
    domain = stack.domain                       # real for Exp, unit interval for logit
    checks = domain.check(tg.tensor([[5.0, -5.0], [0.5, 2.0]]))
    assert checks.numpy().tolist() == [[True, True], [True, False]]
