"""Audit of the scatter / gather / index family against PyTorch's documented semantics:
masked_fill broadcasting the tensor with a larger mask (out of place),
masked_fill's 0-d value rule, gather's error naming the bad index, index_add's alpha on
integer tensors, index_reduce with a 0-d source, and pins of what was verified right
(scatter's gradients with repeated places, scatter_reduce / index_reduce gradchecks,
index_fill's value gradient, put_/take/take_along_dim/index_put_ edge cases, and every
in-place variant refusing a leaf and bumping the version). Expected values are written
here in NumPy or by hand."""

import numpy as np
import pytest

import tinygrad_opt as tg


def host(t):
    return tg.backend.to_host(t.data)


def on(device, values, dtype=None):
    return tg.tensor(np.asarray(values), dtype=dtype, device=device)


def leaf(values, device):
    return tg.tensor(np.asarray(values, dtype=np.float64), dtype=tg.float64,
                     requires_grad=True, device=device)


# --- masked_fill / masked_scatter: out of place, the tensor and the mask broadcast ---

def test_masked_fill_broadcasts_the_tensor_with_a_larger_mask(device):
    # PyTorch: masked_fill(x, mask, v) = expand_outplace(mask, x) then fill, so a (3,)
    # tensor with a (2, 3) mask gives a (2, 3) result (before: a BroadcastTo error)
    x = leaf([1.0, 2.0, 3.0], device)
    value = tg.tensor(5.0, dtype=tg.float64, requires_grad=True, device=device)
    mask = on(device, [[True, False, True], [False, False, True]])
    out = x.masked_fill(mask, value)
    assert out.shape == (2, 3)
    np.testing.assert_array_equal(host(out), [[5.0, 2.0, 5.0], [1.0, 2.0, 5.0]])
    weights = np.arange(1.0, 7.0).reshape(2, 3)
    (out * on(device, weights)).sum().backward()
    # x's gradient sums over the broadcast rows where not filled; value's over the filled
    np.testing.assert_array_equal(host(x.grad), [4.0, 2.0 + 5.0, 0.0])
    assert value.grad.item() == 1.0 + 3.0 + 6.0
    assert tg.masked_fill(tg.zeros(3, device=device), mask, 1.0).shape == (2, 3)


def test_masked_fill_refuses_a_value_tensor_with_dims(device):
    # PyTorch: "masked_fill_ only supports a 0-dimensional value tensor" (before: a (3,)
    # value was broadcast elementwise and a (1,) one taken silently)
    x = tg.zeros(3, device=device)
    mask = on(device, [True, False, True])
    with pytest.raises(ValueError, match=r"masked_fill: a tensor value must be 0-d, got "
                                         r"shape \(3,\)"):
        x.masked_fill(mask, on(device, [1.0, 2.0, 3.0], tg.float32))
    with pytest.raises(ValueError, match="must be 0-d"):
        x.masked_fill(mask, on(device, [1.0], tg.float32))
    with pytest.raises(ValueError, match=r"masked_fill: the mask of shape \(2,\) does not "
                                         r"broadcast"):
        x.masked_fill(on(device, [True, False]), 1.0)


def test_masked_fill_in_place_refuses_a_mask_larger_than_the_tensor(device):
    # PyTorch: the in-place forms write into x, so the mask must broadcast to x's shape
    mask = on(device, [[True, False, True], [False, False, True]])
    x = tg.zeros(3, device=device)
    with pytest.raises(RuntimeError, match=r"masked_fill_: the result of shape \(2, 3\) "
                                           r"does not fit the tensor's shape \(3,\)"):
        x.masked_fill_(mask, 1.0)
    assert host(x).tolist() == [0.0, 0.0, 0.0]
    y = tg.zeros(2, 3, device=device)
    assert y.masked_fill_(on(device, [True, False, False]), 4.0) is y
    assert host(y).tolist() == [[4.0, 0.0, 0.0], [4.0, 0.0, 0.0]]


def test_masked_scatter_consumes_source_in_row_major_order_and_routes_the_gradient(device):
    # PyTorch: the True places (mask broadcast to x) take source.flatten()[:count] in
    # row-major order; a source larger than needed is fine, its unused entries get 0
    x = leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device)
    source = leaf([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]], device)
    mask = on(device, [True, False, True])
    out = x.masked_scatter(mask, source)
    np.testing.assert_array_equal(host(out), [[10.0, 2.0, 20.0], [30.0, 5.0, 40.0]])
    weights = np.arange(1.0, 7.0).reshape(2, 3)
    (out * on(device, weights)).sum().backward()
    np.testing.assert_array_equal(host(x.grad), [[0.0, 2.0, 0.0], [0.0, 5.0, 0.0]])
    np.testing.assert_array_equal(host(source.grad), [[1.0, 3.0, 4.0], [6.0, 0.0, 0.0]])
    assert tg.gradcheck(lambda a, s: a.masked_scatter(mask, s),
                        [leaf(np.ones((2, 3)), device), leaf(np.arange(5.0), device)])


# --- gather's out-of-range error names the index ---

def test_gather_error_names_the_index_that_is_out_of_range(device):
    # PyTorch: "index 4 is out of bounds for dimension 1 with size 4"
    x = tg.zeros(3, 4, device=device)
    with pytest.raises(IndexError, match=r"gather: index out of range: index 4 for dim 1 of "
                                         r"size 4"):
        x.gather(1, on(device, [[0, 4]]))
    with pytest.raises(IndexError, match="index -1 for dim 0 of size 3"):
        x.gather(-2, on(device, [[2, -1]]))


def test_gather_takes_an_index_smaller_outside_dim_and_a_negative_dim(device, rng):
    a = rng.standard_normal((3, 4))
    index = np.array([[3, 0, 0], [1, 2, 3]])          # (2, 3): smaller along dim 0
    ours = on(device, a).gather(-1, on(device, index))
    np.testing.assert_array_equal(host(ours), np.take_along_axis(a[:2], index, axis=1))
    x = leaf(a, device)
    x.gather(-1, on(device, index)).sum().backward()
    expected = np.zeros((3, 4))
    np.add.at(expected, (np.array([[0], [1]]), index), 1.0)   # repeats add up
    np.testing.assert_array_equal(host(x.grad), expected)


# --- index_add keeps an integer tensor's dtype with a float alpha ---

def test_index_add_of_an_integer_tensor_converts_alpha_to_its_dtype(device):
    # PyTorch: index_add computes in the tensor's dtype, alpha.to<int64>() = 1 for 1.5
    # (before: the out-of-place result became float32 with 1.5 · source)
    x = on(device, [0, 0, 0])
    out = x.index_add(0, on(device, [1, 1]), on(device, [2, 5]), alpha=1.5)
    assert out.dtype == tg.int64
    assert host(out).tolist() == [0, 7, 0]
    assert host(x.index_add(0, on(device, [2]), on(device, [3]), alpha=-2.7)).tolist() == \
        [0, 0, -6]
    assert host(x.index_add_(0, on(device, [0]), on(device, [4]), alpha=1.5)).tolist() == \
        [4, 0, 0]


def test_index_add_alpha_and_repeats_route_the_gradient(device):
    x = leaf(np.zeros((2, 3)), device)
    source = leaf(np.ones((2, 3)), device)
    out = x.index_add(1, on(device, [2, 2, 0]), source, alpha=-0.5)
    np.testing.assert_array_equal(host(out), [[-0.5, 0.0, -1.0]] * 2)
    weights = np.arange(1.0, 7.0).reshape(2, 3)
    (out * on(device, weights)).sum().backward()
    np.testing.assert_array_equal(host(x.grad), weights)
    # source: alpha · grad.index_select(dim, index)
    np.testing.assert_array_equal(host(source.grad), -0.5 * weights[:, [2, 2, 0]])


# --- index_reduce takes a 0-d source for one index, as index_add does ---

def test_index_reduce_takes_a_0d_source_for_a_single_index(device):
    # PyTorch: numel(index) == (source.dim() == 0 ? 1 : source.size(dim)) (before: refused)
    x = on(device, [2.0, 3.0], tg.float32)
    out = x.index_reduce(0, on(device, 1), on(device, 4.0, tg.float32), "prod")
    assert host(out).tolist() == [2.0, 12.0]
    out = x.index_reduce(0, on(device, [0]), on(device, 5.0, tg.float32), "amax",
                         include_self=False)
    assert host(out).tolist() == [5.0, 3.0]


# --- pins: scatter's gradients and the repeated places ---

def test_scatter_gradients_follow_pytorchs_formulas_with_repeated_places(device):
    # PyTorch: dsrc = grad.gather(dim, index) (every copy of a repeated place gets that
    # place's gradient), dinput = grad with the written places set to 0
    x = leaf(np.zeros((2, 4)), device)
    src = leaf(np.arange(1.0, 10.0).reshape(3, 3), device)      # larger than the index
    index = on(device, [[1, 3], [0, 0]])
    out = x.scatter(1, index, src)
    assert host(out)[0].tolist() == [0.0, 1.0, 0.0, 2.0]
    assert host(out)[1, 0] in (4.0, 5.0)   # one of the repeated writes (PyTorch: undefined)
    weights = np.arange(1.0, 9.0).reshape(2, 4)
    (out * on(device, weights)).sum().backward()
    np.testing.assert_array_equal(host(x.grad), [[1.0, 0.0, 3.0, 0.0], [0.0, 6.0, 7.0, 8.0]])
    np.testing.assert_array_equal(host(src.grad), [[2.0, 4.0, 0.0], [5.0, 5.0, 0.0],
                                                   [0.0, 0.0, 0.0]])


def test_scatter_with_a_number_casts_it_to_the_tensors_dtype(device):
    x = on(device, [[1, 2, 3]])
    out = x.scatter(1, on(device, [[2, 0]]), 2.7)          # PyTorch: 2.7 → int64 2
    assert out.dtype == tg.int64 and host(out).tolist() == [[2, 2, 2]]
    assert host(x.scatter(-1, on(device, [[1]]), value=-7)).tolist() == [[1, -7, 3]]


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_gradcheck_with_a_src_larger_than_the_index(reduce, rng):
    index = tg.tensor([[0, 2, 1], [3, 3, 0]])
    for include_self in (True, False):
        x = leaf(rng.standard_normal((3, 4)), "cpu")
        src = leaf(rng.standard_normal((3, 5)), "cpu")
        assert tg.gradcheck(lambda a, b: a.scatter_reduce(1, index, b, reduce,
                                                          include_self=include_self), [x, src])


def test_scatter_reduce_mean_counts_self_and_leaves_unwritten_places(device):
    x = on(device, [1.0, 10.0, 7.0])
    src = on(device, [2.0, 6.0, 4.0])
    index = on(device, [0, 0, 1])
    # with self: (1 + 2 + 6) / 3, (10 + 4) / 2; place 2 keeps 7
    assert host(x.scatter_reduce(0, index, src, "mean")).tolist() == [3.0, 7.0, 7.0]
    assert host(x.scatter_reduce(0, index, src, "mean", include_self=False)).tolist() == \
        [4.0, 4.0, 7.0]
    assert host(x.scatter_reduce(0, index, src, "amin", include_self=False)).tolist() == \
        [2.0, 4.0, 7.0]


def test_scatter_reduce_prod_without_self_differentiates_exactly_through_zeros(device):
    # dL/dmember = product of the other members of the group; x takes no part where written
    x = leaf([2.0, 3.0, 5.0], device)
    src = leaf([0.0, 4.0, 0.0, 0.0, 7.0], device)
    out = x.scatter_reduce(0, on(device, [0, 0, 1, 1, 2]), src, "prod", include_self=False)
    assert host(out).tolist() == [0.0, 0.0, 7.0]
    (out * on(device, [1.0, 10.0, 100.0])).sum().backward()
    assert host(x.grad).tolist() == [0.0, 0.0, 0.0]
    assert host(src.grad).tolist() == [4.0, 0.0, 0.0, 0.0, 100.0]


def test_index_reduce_gradcheck(rng):
    index = tg.tensor([0, 2, 0])
    for reduce in ("prod", "mean", "amax", "amin"):
        for include_self in (True, False):
            x = leaf(rng.standard_normal((3, 4)), "cpu")
            source = leaf(rng.standard_normal((3, 3)), "cpu")
            assert tg.gradcheck(lambda a, b: a.index_reduce(1, index, b, reduce,
                                                            include_self=include_self),
                                [x, source])


# --- pins: index_fill, index_copy, index_select ---

def test_index_fill_value_gradient_counts_each_slice_once(device):
    # PyTorch: a repeated index fills its slice once; dvalue = Σ grad over the filled slices
    value = tg.tensor(2.0, dtype=tg.float64, requires_grad=True, device=device)
    x = leaf(np.ones((2, 3)), device)
    out = x.index_fill(1, on(device, [0, 0, 2]), value)
    weights = np.arange(6.0).reshape(2, 3)
    (out * on(device, weights)).sum().backward()
    np.testing.assert_array_equal(host(out), [[2.0, 1.0, 2.0], [2.0, 1.0, 2.0]])
    assert value.grad.item() == 0.0 + 2.0 + 3.0 + 5.0
    np.testing.assert_array_equal(host(x.grad), [[0.0, 1.0, 0.0], [0.0, 4.0, 0.0]])


def test_index_select_takes_a_negative_dim_and_refuses_a_2d_index(device):
    x = on(device, np.arange(12.0).reshape(3, 4))
    assert host(x.index_select(-1, on(device, [3, 0, 0]))).tolist() == \
        [[3.0, 0.0, 0.0], [7.0, 4.0, 4.0], [11.0, 8.0, 8.0]]
    with pytest.raises(ValueError, match="index_select: index must be 0-d or 1-D"):
        x.index_select(0, on(device, [[0]]))


# --- pins: put_, take, take_along_dim, index_put_ ---

def test_put_accumulate_with_repeats_and_negative_indices_and_its_gradient(device):
    x = leaf(np.zeros((2, 3)), device)
    y = x * 1.0
    source = leaf([1.0, 2.0, 3.0, 4.0], device)
    y.put_(on(device, [0, 0, -1, 5]), source, accumulate=True)
    assert host(y).tolist() == [[3.0, 0.0, 0.0], [0.0, 0.0, 7.0]]
    weights = np.arange(1.0, 7.0).reshape(2, 3)
    (y * on(device, weights)).sum().backward()
    np.testing.assert_array_equal(host(x.grad), weights)
    # source: grad.take(index)
    np.testing.assert_array_equal(host(source.grad), [1.0, 1.0, 6.0, 6.0])


def test_take_and_take_along_dim_read_the_flattened_tensor(device):
    a = np.arange(12.0).reshape(3, 4)
    x = on(device, a)
    assert host(x.take(on(device, [[-1, 0], [5, -12]]))).tolist() == [[11.0, 0.0],
                                                                       [5.0, 0.0]]
    assert host(x.take_along_dim(on(device, [[11], [2]]))).tolist() == [11.0, 2.0]
    with pytest.raises(IndexError, match="take: index -13"):
        x.take(on(device, [-13]))
    # broadcast outside dim: indices (1, 2) against (3, 4) along dim 1
    got = x.take_along_dim(on(device, [[3, 1]]), 1)
    np.testing.assert_array_equal(host(got), a[:, [3, 1]])


def test_index_put_accumulate_adds_repeats_and_broadcast_values(device):
    x = leaf(np.zeros((2, 3)), device)
    values = leaf([1.0, 2.0, 4.0], device)
    out = tg.index_put(x, (on(device, [0, 0]),), values, accumulate=True)
    assert host(out).tolist() == [[2.0, 4.0, 8.0], [0.0, 0.0, 0.0]]
    weights = np.arange(1.0, 7.0).reshape(2, 3)
    (out * on(device, weights)).sum().backward()
    np.testing.assert_array_equal(host(x.grad), weights)
    np.testing.assert_array_equal(host(values.grad), 2 * weights[0])


def test_index_put_refuses_a_uint8_index_and_a_mask_of_another_shape(device):
    # PyTorch reads a uint8 index as a mask (before: taken as positions [1, 0, 1] with
    # accumulate=True, giving [1, 2, 0] where PyTorch gives [1, 0, 1])
    x = tg.zeros(3, device=device)
    with pytest.raises(IndexError, match="index_put_: uint8 indices are refused"):
        x.index_put_((on(device, [1, 0, 1], tg.uint8),), on(device, 1.0, tg.float32),
                     accumulate=True)
    # PyTorch: "The shape of the mask [2] at index 0 does not match the shape of the
    # indexed tensor [3]" (before: the mask's positions were written silently)
    with pytest.raises(IndexError, match=r"index_put_: the mask of shape \(2,\) does not "
                                         r"match the tensor's shape \(3,\) at dim 0"):
        x.index_put_((on(device, [True, False]),), on(device, 1.0, tg.float32))
    assert host(x).tolist() == [0.0, 0.0, 0.0]
    y = tg.zeros(2, 3, device=device)
    y.index_put_((on(device, [True, False]), on(device, [-1])), on(device, 2.0, tg.float32))
    assert host(y).tolist() == [[0.0, 0.0, 2.0], [0.0, 0.0, 0.0]]


def test_index_put_names_an_index_out_of_range(device):
    # PyTorch: "index 2 is out of bounds for dimension 0 with size 2" (before: NumPy's
    # message without the op's name; CuPy would wrap the index around silently)
    x = tg.zeros(2, 3, device=device)
    with pytest.raises(IndexError, match=r"index_put_: index 2 is out of range for dim 0 of "
                                         r"size 2"):
        x.index_put_((on(device, [0, 2]),), on(device, 1.0, tg.float32))
    with pytest.raises(IndexError, match="index_put_: index -4 is out of range for dim 1"):
        x.index_put_((None, on(device, [-4])), on(device, 1.0, tg.float32), accumulate=True)
    with pytest.raises(IndexError, match="index_put_: index 3"):
        tg.index_put(x, (on(device, [0]), on(device, [3])), on(device, 1.0, tg.float32))
    assert host(x).tolist() == [[0.0] * 3] * 2


# --- pins: every in-place variant refuses a leaf that requires grad, bumps the version ---

IN_PLACE = {
    "scatter_": lambda x, d: x.scatter_(1, on(d, [[0, 1, 2]]), on(d, [[1.0, 1, 1]], tg.float64)),
    "scatter_add_": lambda x, d: x.scatter_add_(1, on(d, [[0, 0, 2]]),
                                                on(d, [[1.0, 1, 1]], tg.float64)),
    "scatter_reduce_": lambda x, d: x.scatter_reduce_(1, on(d, [[0, 0, 2]]),
                                                      on(d, [[2.0, 3, 4]], tg.float64), "prod"),
    "index_add_": lambda x, d: x.index_add_(0, on(d, [1]), on(d, [[1.0, 1, 1]], tg.float64)),
    "index_copy_": lambda x, d: x.index_copy_(0, on(d, [1]), on(d, [[9.0, 9, 9]], tg.float64)),
    "index_fill_": lambda x, d: x.index_fill_(1, on(d, [2]), -1.0),
    "index_reduce_": lambda x, d: x.index_reduce_(0, on(d, [0]),
                                                  on(d, [[2.0, 2, 2]], tg.float64), "prod"),
    "masked_fill_": lambda x, d: x.masked_fill_(on(d, [True, False, True]), 0.5),
    "masked_scatter_": lambda x, d: x.masked_scatter_(on(d, [False, True, False]),
                                                      on(d, [7.0, 8.0], tg.float64)),
    "put_": lambda x, d: x.put_(on(d, [-1]), on(d, [6.0], tg.float64)),
    "index_put_": lambda x, d: x.index_put_((on(d, [0]), on(d, [0])),
                                            on(d, 3.0, tg.float64), accumulate=True),
}
EXPECTED = {
    "scatter_": [[1.0, 1, 1], [3, 4, 5]], "scatter_add_": [[2.0, 1, 3], [3, 4, 5]],
    "scatter_reduce_": [[0.0, 1, 8], [3, 4, 5]], "index_add_": [[0.0, 1, 2], [4, 5, 6]],
    "index_copy_": [[0.0, 1, 2], [9, 9, 9]], "index_fill_": [[0.0, 1, -1], [3, 4, -1]],
    "index_reduce_": [[0.0, 2, 4], [3, 4, 5]], "masked_fill_": [[0.5, 1, 0.5], [0.5, 4, 0.5]],
    "masked_scatter_": [[0.0, 7, 2], [3, 8, 5]], "put_": [[0.0, 1, 2], [3, 4, 6]],
    "index_put_": [[3.0, 1, 2], [3, 4, 5]],
}


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_in_place_variants_refuse_a_leaf_and_bump_the_version(name, device):
    apply = IN_PLACE[name]
    with pytest.raises(RuntimeError, match="leaf"):
        apply(leaf(np.arange(6.0).reshape(2, 3), device), device)
    x = tg.tensor(np.arange(6.0).reshape(2, 3), dtype=tg.float64, device=device)
    before = x._version
    assert apply(x, device) is x
    assert x._version > before
    np.testing.assert_array_equal(host(x), EXPECTED[name])
    # an op that saved the tensor refuses to backward after the write
    a = leaf(np.arange(1.0, 7.0).reshape(2, 3), device)
    b = a * 1.0
    c = b * b
    apply(b, device)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        c.sum().backward()
