"""Tensor basics: dtype rules, factories, seeding, conversions, operators with
Python numbers and NumPy arrays, comparisons, in-place updates, printing,
reductions with NumPy's spellings, and the errors a user meets first."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_opt as tg

ROOT = pathlib.Path(__file__).resolve().parents[2]

# --- dtype rules ---


@pytest.mark.parametrize("data, dtype", [
    (1.5, np.float32),
    ([1.0, 2.0], np.float32),
    ([1, 2.5], np.float32),
    ([[1.0], [2.0]], np.float32),
    (3, np.int64),
    ([1, 2, 3], np.int64),
    (True, np.bool_),
    ([True, False], np.bool_),
    (np.array([1.0, 2.0]), np.float64),
    (np.array([1.0], dtype=np.float32), np.float32),
    (np.array([1, 2], dtype=np.int32), np.int32),
    (np.float64(2.0), np.float64),
])
def test_dtype_rules(data, dtype, device):
    x = tg.tensor(data, device=device)
    assert x.dtype == dtype
    np.testing.assert_array_equal(x.numpy(), np.asarray(data, dtype=dtype))
    assert x.device == device


def test_explicit_dtype_wins(device):
    x = tg.Tensor([1, 2], dtype=tg.float64, device=device)
    assert x.dtype == np.float64
    assert tg.tensor([1.5, 2.5], dtype="int64").tolist() == [1, 2]


def test_tensor_of_a_numpy_array_copies_it_like_torch_tensor():
    array = np.zeros(3)
    x = tg.Tensor(array, requires_grad=True)
    assert x.data is not array and x.dtype == np.float64
    with tg.no_grad():
        x -= 1.0  # an optimizer-style in-place update
    np.testing.assert_array_equal(array, 0.0)  # the caller's array is untouched
    np.testing.assert_array_equal(tg.tensor(array).numpy(), array)


def test_attributes(device):
    x = tg.zeros(2, 3, requires_grad=True, device=device)
    assert x.shape == (2, 3) and x.ndim == 2 and x.is_leaf and x.grad_fn is None
    assert x.requires_grad and x.grad is None and x.device == device
    y = x * 2
    assert not y.is_leaf and y.grad_fn is not None and y.grad_fn.name == "Mul"
    assert len(x) == 2 and x.numel() == 6 and x.size() == (2, 3) and x.size(1) == 3


# --- factories ---

def test_zeros_ones_full_empty(device):
    for factory, value in ((tg.zeros, 0.0), (tg.ones, 1.0)):
        x = factory(2, 3, device=device)
        assert x.shape == (2, 3) and x.dtype == np.float32 and x.device == device
        np.testing.assert_array_equal(x.numpy(), np.full((2, 3), value))
        assert factory((2, 3)).shape == (2, 3)
        y = factory(4, dtype=tg.float64, device=device, requires_grad=True)
        assert y.dtype == np.float64 and y.requires_grad
    assert tg.full((2, 2), 7, device=device).dtype == np.int64
    assert tg.full((2,), True, device=device).dtype == np.bool_      # PyTorch: bool, not float
    full = tg.full((2, 2), 0.5, device=device, requires_grad=True)
    assert full.dtype == np.float32 and full.requires_grad
    np.testing.assert_array_equal(full.numpy(), np.full((2, 2), 0.5))
    assert tg.full(3, 1.0).shape == (3,)
    empty = tg.empty(3, 2, dtype=tg.float64, device=device)
    assert empty.shape == (3, 2) and empty.dtype == np.float64 and empty.device == device


def test_arange_linspace_eye(device):
    ints = tg.arange(5, device=device)
    assert ints.dtype == np.int64 and ints.tolist() == [0, 1, 2, 3, 4]
    assert tg.arange(1, 7, 2, device=device).tolist() == [1, 3, 5]
    floats = tg.arange(0, 1, 0.25, device=device)
    assert floats.dtype == np.float32
    np.testing.assert_allclose(floats.numpy(), [0.0, 0.25, 0.5, 0.75])
    assert tg.arange(3, dtype=tg.float64, requires_grad=True).requires_grad
    line = tg.linspace(0, 1, 5, device=device)
    assert line.dtype == np.float32 and line.device == device
    np.testing.assert_allclose(line.numpy(), np.linspace(0, 1, 5))
    np.testing.assert_array_equal(tg.eye(3, device=device).numpy(), np.eye(3))
    np.testing.assert_array_equal(tg.eye(2, 3, dtype=tg.float64).numpy(), np.eye(2, 3))


def test_random_factories(device):
    uniform = tg.rand(10_000, device=device)
    assert uniform.dtype == np.float32 and uniform.device == device
    values = uniform.numpy()
    assert values.min() >= 0.0 and values.max() < 1.0 and abs(values.mean() - 0.5) < 0.02
    normal = tg.randn(100, 100, dtype=tg.float64, device=device).numpy()
    assert normal.shape == (100, 100) and normal.dtype == np.float64
    assert abs(normal.mean()) < 0.05 and abs(normal.std() - 1) < 0.05
    assert tg.randn(3, requires_grad=True).requires_grad
    integers = tg.randint(3, 7, (1000,), device=device)
    assert integers.dtype == np.int64 and integers.device == device
    assert set(integers.tolist()) == {3, 4, 5, 6}
    assert set(tg.randint(4, (500,)).tolist()) == {0, 1, 2, 3}  # randint(high, size)
    assert tg.randint(0, 2, size=(2, 3)).shape == (2, 3)
    assert not tg.randint(0, 2, (2,), requires_grad=False).requires_grad  # PyTorch's keyword
    with pytest.raises(TypeError, match="floating-point"):
        tg.randint(0, 2, (2,), requires_grad=True)


def test_like_factories_keep_shape_dtype_device(device):
    x = tg.zeros(2, 3, dtype=tg.float64, device=device)
    for factory in (tg.zeros_like, tg.ones_like, tg.rand_like, tg.randn_like):
        y = factory(x)
        assert (y.shape, y.dtype, y.device) == ((2, 3), np.float64, device)
        assert not y.requires_grad
        assert factory(x, dtype=tg.float32, requires_grad=True).requires_grad
    np.testing.assert_array_equal(tg.ones_like(x).numpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(tg.full_like(x, 3.0).numpy(), np.full((2, 3), 3.0))
    assert tg.zeros_like(x, device="cpu").device == "cpu"


@pytest.mark.parametrize("make", [lambda: tg.rand(3, dtype=tg.int64),
                                  lambda: tg.randn(2, 2, dtype="int32"),
                                  lambda: tg.rand_like(tg.tensor([1, 2])),
                                  lambda: tg.randn_like(tg.tensor([True]))])
def test_random_floats_refuse_an_integer_or_bool_dtype(make):
    """As PyTorch: the samples would all be rounded to integers (0 for rand)."""
    with pytest.raises(TypeError, match="draws floats"):
        make()


def test_manual_seed_reproducible_on_every_device():
    draws = {}
    for device in ("cpu", "strict"):
        tg.manual_seed(123)
        draws[device] = (tg.rand(5, device=device).numpy(), tg.randn(5, device=device).numpy(),
                         tg.randint(0, 100, (5,), device=device).numpy())
    for cpu_values, strict_values in zip(draws["cpu"], draws["strict"]):
        np.testing.assert_array_equal(cpu_values, strict_values)
    tg.manual_seed(123)
    np.testing.assert_array_equal(tg.rand(5).numpy(), draws["cpu"][0])
    tg.manual_seed(124)
    assert not np.array_equal(tg.rand(5).numpy(), draws["cpu"][0])


def test_initial_seed_is_the_seed_last_given_to_manual_seed():
    tg.manual_seed(123)
    assert tg.initial_seed() == 123 and type(tg.initial_seed()) is int
    first = tg.rand(3).numpy()
    tg.manual_seed(np.int64(7))
    assert tg.initial_seed() == 7 and type(tg.initial_seed()) is int   # a Python int
    tg.rand(3)                                                         # drawing keeps it
    assert tg.initial_seed() == 7
    tg.manual_seed(tg.initial_seed() + 116)                            # it reseeds: 123 again
    np.testing.assert_array_equal(tg.rand(3).numpy(), first)
    # before any manual_seed: PyTorch's is an int too; ours is the seed drawn at import
    code = "import tinygrad_opt as tg; print(type(tg.initial_seed()).__name__)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout
    assert out.strip() == "int"


# --- conversions ---

def test_numpy_is_a_host_array(device):
    x = tg.tensor([[1.0, 2.0]], device=device)
    host = x.numpy()
    assert type(host) is np.ndarray
    np.testing.assert_array_equal(host, [[1.0, 2.0]])
    assert x.tolist() == [[1.0, 2.0]]
    assert tg.tensor([2.5], device=device).item() == 2.5
    assert isinstance(tg.tensor(3, device=device).item(), int)
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        x.item()


def test_to_and_cpu(device):
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    moved = x.to(device)
    assert moved.device == device
    assert x.to("cpu") is x
    back = moved.cpu()
    assert back.device == "cpu"
    (back * 3).sum().backward()  # gradients flow across the transfers
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_astype_float_double(device):
    x = tg.tensor([1.5, 2.5], device=device)
    assert x.astype(tg.float32) is x
    assert x.double().dtype == np.float64 and x.double().float().dtype == np.float32
    assert x.astype("int64").tolist() == [1, 2]
    assert x.long().dtype == np.int64


def test_detach_shares_data_but_no_graph(device):
    x = tg.tensor([1.0, 2.0], requires_grad=True, device=device)
    y = x * 2
    d = y.detach()
    assert d.data is y.data
    assert d.grad_fn is None and not d.requires_grad and d.is_leaf
    copied = y.copy()
    assert copied.data is not y.data and not copied.requires_grad
    np.testing.assert_array_equal(copied.numpy(), y.numpy())


def test_requires_grad_and_zero(device):
    x = tg.tensor([1.0, 2.0], device=device)
    assert x.requires_grad_() is x and x.requires_grad
    assert not x.requires_grad_(False).requires_grad
    w = tg.tensor([1.0, 2.0], requires_grad=True, device=device)
    (w * w).sum().backward()
    w.grad.zero_()
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])
    with pytest.raises(RuntimeError, match="detach"):
        (w * 2).requires_grad_(False)


# --- operators with numbers and arrays ---

def test_reflected_operators_with_python_numbers(device):
    values = np.array([0.5, 2.0], dtype=np.float32)
    x = tg.tensor(values, device=device)
    np.testing.assert_allclose((2 - x).numpy(), 2 - values)
    np.testing.assert_allclose((2 / x).numpy(), 2 / values)
    np.testing.assert_allclose((2 ** x).numpy(), 2 ** values)
    np.testing.assert_allclose((3 + x).numpy(), 3 + values)
    np.testing.assert_allclose((3 * x).numpy(), 3 * values)
    np.testing.assert_allclose((-x).numpy(), -values)
    np.testing.assert_allclose(abs(-x).numpy(), values)
    for result in (2 - x, 2 / x, 2 ** x, x * 0.1, 0.1 * x, x + 1, x ** 2.0):
        assert result.dtype == np.float32  # Python numbers never widen float32


def test_operators_with_numpy_arrays_on_cpu():
    x = tg.tensor([1.0, 2.0], dtype=tg.float64)
    array = np.array([3.0, 4.0])
    np.testing.assert_allclose((array * x).numpy(), [3.0, 8.0])
    np.testing.assert_allclose((array - x).numpy(), [2.0, 2.0])
    np.testing.assert_allclose((array / x).numpy(), [3.0, 2.0])
    np.testing.assert_allclose((x + array).numpy(), [4.0, 6.0])
    np.testing.assert_allclose((np.eye(2) @ x).numpy(), [1.0, 2.0])
    np.testing.assert_allclose((x + [1.0, 1.0]).numpy(), [2.0, 3.0])


def test_integer_tensors_meet_floats(device):
    ints = tg.tensor([1, 2], device=device)
    assert (ints * 2).dtype == np.int64
    assert (ints * 2.5).dtype == np.float32
    np.testing.assert_allclose((ints / 2).numpy(), [0.5, 1.0])
    assert (ints / 2).dtype == np.float32
    assert (ints + tg.tensor([0.5, 0.5], device=device)).dtype == np.float32


def test_comparisons_return_bool_tensors_without_grad(device):
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    for result, expected in ((x > 2, [False, False, True]), (x >= 2, [False, True, True]),
                             (x < 2, [True, False, False]), (x <= 2, [True, True, False]),
                             (x == 2, [False, True, False]), (x != 2, [True, False, True]),
                             (x == tg.tensor([1.0, 0.0, 3.0], device=device),
                              [True, False, True])):
        assert result.dtype == np.bool_
        assert not result.requires_grad and result.grad_fn is None
        assert result.tolist() == expected
    assert bool(tg.tensor([1.0]) > 0)
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is "
                                           "ambiguous"):  # PyTorch's error
        bool(x > 0)


# --- in place ---

def test_in_place_update_under_no_grad_keeps_identity(device):
    w = tg.tensor([1.0, 2.0], requires_grad=True, device=device)
    (w * w).sum().backward()
    data = w.data
    before = w
    with tg.no_grad():
        w -= 0.1 * w.grad
        w *= 2
        w += 1
        w /= 2
        w[0] = 5.0
    assert w is before and w.data is data and w.requires_grad and w.is_leaf
    np.testing.assert_allclose(w.numpy(), [5.0, ((2.0 - 0.4) * 2 + 1) / 2])


def test_in_place_while_recording_raises(device):
    w = tg.tensor([1.0, 2.0], requires_grad=True, device=device)
    with pytest.raises(RuntimeError, match="no_grad"):
        w -= 1
    with pytest.raises(RuntimeError, match="no_grad"):
        w[0] = 1.0
    with pytest.raises(RuntimeError, match="no_grad"):
        w.zero_()
    plain = tg.tensor([1.0, 2.0], device=device)
    plain += 1  # no grad needed: fine anywhere
    np.testing.assert_array_equal(plain.numpy(), [2.0, 3.0])


# --- printing ---

def test_repr(device):
    # PyTorch's text: the dtype shows unless it is the default float, int64 or bool
    assert repr(tg.tensor([1.0, 2.0], dtype=tg.float64)) == "tensor([1., 2.], dtype=float64)"
    assert repr(tg.tensor([1.0, 2.0], requires_grad=True)) == \
        "tensor([1., 2.], requires_grad=True)"
    made = tg.tensor([1.0], dtype=tg.float64, requires_grad=True, device=device) * 2
    text = repr(made)
    assert text.startswith("tensor([2.]") and "grad_fn=<Mul>" in text
    assert ("device='strict'" in text) == (device == "strict")


# --- reductions, argmax, shapes ---

def test_reductions_accept_numpy_spellings(device):
    values = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    x = tg.tensor(values, device=device)
    np.testing.assert_allclose(x.sum(axis=1, keepdims=True).numpy(),
                               values.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(x.sum(dim=(0, 2)).numpy(), values.sum(axis=(0, 2)))
    np.testing.assert_allclose(x.mean(axis=(0, 1)).numpy(), values.mean(axis=(0, 1)))
    np.testing.assert_allclose(x.max(axis=-1).numpy(), values.max(axis=-1))
    np.testing.assert_allclose(x.min(dim=0, keepdim=True).numpy(),
                               values.min(axis=0, keepdims=True))
    np.testing.assert_allclose(x.var(dim=1, unbiased=False).numpy(), values.var(axis=1))
    np.testing.assert_allclose(x.std(axis=2).numpy(), values.std(axis=2, ddof=1))
    np.testing.assert_allclose(tg.sum(x, 0).numpy(), values.sum(axis=0))
    with pytest.raises(TypeError, match="not both"):
        x.sum(dim=0, axis=0)


def test_argmax_argmin(device):
    values = np.array([[3.0, 9.0, 1.0], [7.0, 2.0, 8.0]])
    x = tg.tensor(values, device=device)
    assert x.argmax().item() == 1 and x.argmin().item() == 2
    assert x.argmax(dim=1).tolist() == [1, 2]
    assert x.argmin(axis=0).tolist() == [0, 1, 0]
    kept = x.argmax(dim=1, keepdim=True)
    assert kept.shape == (2, 1) and kept.dtype == np.int64 and not kept.requires_grad


def test_T_and_shape_helpers(device):
    values = np.arange(6.0).reshape(2, 3)
    x = tg.tensor(values, device=device)
    np.testing.assert_array_equal(x.T.numpy(), values.T)
    cube = tg.zeros(2, 3, 4)
    assert cube.T.shape == (4, 3, 2)
    assert tg.zeros(5).T.shape == (5,)
    assert x.reshape((3, 2)).shape == (3, 2) and x.view(-1).shape == (6,)
    assert x.unsqueeze(1).shape == (2, 1, 3) and x.unsqueeze(1).squeeze(1).shape == (2, 3)
    assert tg.zeros(1, 2, 1).squeeze().shape == (2,)
    assert cube.flatten(1).shape == (2, 12) and cube.flatten().shape == (24,)


def test_split_and_chunk_sizes(device):
    x = tg.arange(5, device=device)
    assert [p.tolist() for p in x.split(2)] == [[0, 1], [2, 3], [4]]
    assert [p.shape for p in x.split([1, 4])] == [(1,), (4,)]
    assert [p.shape[0] for p in x.chunk(3)] == [2, 2, 1]
    assert [p.shape[0] for p in tg.arange(6).chunk(4)] == [2, 2, 2]  # as PyTorch
    assert [p.shape for p in tg.zeros(2, 4).chunk(2, dim=1)] == [(2, 2), (2, 2)]
    with pytest.raises(ValueError, match="add up"):
        x.split([1, 2])


def test_iteration_and_len(device):
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    assert [row.tolist() for row in x] == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(TypeError):
        len(tg.tensor(1.0))


# --- errors a user meets first ---

def test_non_scalar_backward_without_gradient_names_the_shape(device):
    x = tg.ones(2, 3, requires_grad=True, device=device)
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match=r"\(3,\).*\(2, 3\)"):
        (x * 2).backward(tg.ones(3, device=device))


def test_matmul_shape_mismatch_names_both_shapes(device):
    a, b = tg.ones(2, 3, device=device), tg.ones(4, 5, device=device)
    with pytest.raises(ValueError, match=r"\(2, 3\) @ \(4, 5\)"):
        a @ b
    with pytest.raises(ValueError, match=r"\(2, 3\) @ \(2,\)"):
        a @ tg.ones(2, device=device)
    with pytest.raises(ValueError, match="cannot be broadcast"):
        tg.ones(2, 3) + tg.ones(4)


@pytest.mark.parametrize("combine", [
    lambda a, b: a + b,
    lambda a, b: a @ b,
    lambda a, b: tg.cat([a, b]),
    lambda a, b: tg.stack([a, b]),
    lambda a, b: tg.maximum(a, b),
    lambda a, b: b * a.data,  # a raw NumPy array with a strict tensor
], ids=["add", "matmul", "cat", "stack", "maximum", "raw_array"])
def test_device_mismatch_names_both_devices(combine):
    on_cpu, on_strict = tg.ones(2), tg.ones(2, device="strict")
    with pytest.raises(RuntimeError) as error:
        combine(on_cpu, on_strict)
    assert "'cpu'" in str(error.value) and "'strict'" in str(error.value)


@pytest.mark.parametrize("combine", [tg.cat, tg.stack], ids=["cat", "stack"])
@pytest.mark.parametrize("pieces", [[], [tg.ones(2), np.ones(2)]], ids=["empty", "array"])
def test_cat_and_stack_name_what_is_not_a_tensor(combine, pieces):
    with pytest.raises(TypeError, match=r"expected a non-empty list of Tensors, got \[") as error:
        combine(pieces)
    assert ("'Tensor', 'ndarray'" in str(error.value)) == bool(pieces)


def test_host_list_with_device_tensor_raises():
    with pytest.raises(RuntimeError, match="strict"):
        tg.ones(2, device="strict") + [1.0, 2.0]


def test_requires_grad_on_integer_tensor_is_a_type_error():
    with pytest.raises(TypeError, match="floating"):
        tg.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="int64"):
        tg.tensor([1, 2]).requires_grad_()


def test_cuda_without_gpu_is_a_clear_error():
    if tg.cuda.is_available():
        x = tg.tensor([1.0, 2.0], device="cuda")
        assert x.device == "cuda" and x.numpy().tolist() == [1.0, 2.0]
        assert tg.ones(2).cuda().device == "cuda"
        return
    for make in (lambda: tg.zeros(2, device="cuda"), lambda: tg.tensor([1.0], device="cuda"),
                 lambda: tg.ones(2).to("cuda"), lambda: tg.ones(2).cuda()):
        with pytest.raises(RuntimeError, match="CuPy or a GPU is not available"):
            make()


def test_unknown_device_is_named():
    with pytest.raises(ValueError, match="'tpu'"):
        tg.zeros(2, device="tpu")
    with pytest.raises(ValueError, match="'tpu'"):
        tg.ones(2).to("tpu")


def test_clone_is_differentiable_and_copy_is_detached(device):
    x = tg.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x.clone()
    assert y.data is not x.data and y.grad_fn is not None
    (y * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    z = x.copy()
    assert z.grad_fn is None and not z.requires_grad and z.data is not x.data
