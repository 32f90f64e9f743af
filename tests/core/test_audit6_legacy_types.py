"""PyTorch's legacy tensor types: tg.FloatTensor, ..., tg.cuda.FloatTensor, ...,
isinstance with them, Tensor.type / Module.type with them, set_default_tensor_type."""

import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn

TYPES = {"FloatTensor": np.float32, "DoubleTensor": np.float64, "HalfTensor": np.float16,
         "LongTensor": np.int64, "IntTensor": np.int32, "ShortTensor": np.int16,
         "CharTensor": np.int8, "ByteTensor": np.uint8, "BoolTensor": np.bool_}


def on(device, data, dtype=None):
    return tg.tensor(data, dtype=dtype, device=device)


@pytest.fixture
def restore_defaults():
    dtype, device = tg.get_default_dtype(), tg.get_default_device()
    yield
    tg.set_default_dtype(dtype)
    tg.set_default_device(device)


# --- the constructors ---

@pytest.mark.parametrize("name", TYPES)
def test_values_are_converted_to_the_type_s_dtype_on_the_cpu(name, rng, device,
                                                             restore_defaults):
    tg.set_default_device(device)  # a CPU type stays on the CPU, as PyTorch's
    values = rng.integers(0, 5, size=(2, 3)) + rng.random((2, 3))
    expected = values.astype(TYPES[name])
    for data in (values.tolist(), values, tuple(map(tuple, values.tolist()))):
        x = getattr(tg, name)(data)
        assert x.device == "cpu" and x.dtype == np.dtype(TYPES[name])
        np.testing.assert_array_equal(x.numpy(), expected)
        assert not x.requires_grad and isinstance(x, getattr(tg, name))


def test_floats_given_to_integer_types_are_truncated_and_overflow_raises():
    np.testing.assert_array_equal(tg.LongTensor([1.7, -1.7, 2.0]).numpy(),
                                  np.trunc([1.7, -1.7, 2.0]).astype(np.int64))
    with pytest.raises(RuntimeError, match="does not fit in uint8"):
        tg.ByteTensor([300])


def test_ints_are_sizes_and_no_argument_is_empty(rng):
    x = tg.FloatTensor(2, 3)
    assert x.shape == (2, 3) and x.dtype == tg.float32 and x.device == "cpu"
    np.testing.assert_array_equal(x.numpy(), np.zeros((2, 3), np.float32))
    assert tg.LongTensor(np.int64(4)).shape == (4,) and tg.LongTensor(4).dtype == tg.int64
    assert tg.DoubleTensor(0, 2).shape == (0, 2) and tg.BoolTensor(1).numpy().tolist() == [False]
    empty = tg.DoubleTensor()
    assert empty.shape == (0,) and empty.dtype == tg.float64
    with pytest.raises(RuntimeError, match="FloatTensor: .*negative dimension -1"):
        tg.FloatTensor(2, -1)


def test_an_array_of_the_same_dtype_is_shared_another_is_copied(rng):
    same = rng.random(3).astype(np.float32)
    shared = tg.FloatTensor(same)
    same[0] = 7.0
    assert shared.numpy()[0] == np.float32(7.0)
    other = rng.random(3)                                   # float64
    copied = tg.FloatTensor(other)
    other[0] = 7.0
    np.testing.assert_array_equal(copied.numpy()[1:], other[1:].astype(np.float32))
    assert copied.numpy()[0] != np.float32(7.0)


def test_a_tensor_of_the_same_type_is_an_alias_in_the_graph(rng):
    values = rng.standard_normal(3).astype(np.float32)
    source = tg.tensor(values, requires_grad=True)
    alias = tg.FloatTensor(source)
    assert alias is not source and alias.requires_grad
    np.testing.assert_array_equal(alias.numpy(), values)
    (alias * alias).sum().backward()
    np.testing.assert_allclose(source.grad.numpy(), 2 * values, rtol=1e-6)
    matrix = rng.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_array_equal(tg.FloatTensor(tg.tensor(matrix).T).numpy(), matrix.T)


def test_a_tensor_of_another_dtype_or_device_is_refused(device):
    with pytest.raises(TypeError, match="DoubleTensor: expected a tensor of dtype float64"):
        tg.DoubleTensor(on("cpu", [1.0]))
    if device != "cpu":
        with pytest.raises(TypeError, match=f"on 'cpu' \\(got float32 on '{device}'\\)"):
            tg.FloatTensor(on(device, [1.0]))
    with pytest.raises(RuntimeError, match=r"FloatTensor\(tensor, device=device\)"):
        tg.FloatTensor(on("cpu", [1.0]), device="cpu")


@pytest.mark.parametrize("call, error, message", [
    (lambda: tg.FloatTensor(3.5), TypeError, "FloatTensor: data must be a sequence .got float"),
    (lambda: tg.FloatTensor(True), TypeError, "data must be a sequence .got bool"),
    (lambda: tg.FloatTensor(2, 3.0), TypeError, "FloatTensor: invalid arguments"),
    (lambda: tg.FloatTensor([1.0], dtype=tg.float64), TypeError, "keyword argument 'dtype'"),
    (lambda: tg.FloatTensor([1.0], device="cuda"), RuntimeError,
     "legacy constructor expects device type: cpu but device type: cuda was passed"),
    (lambda: tg.LongTensor([[1, 2], [3]]), ValueError, "ragged"),
])
def test_constructor_errors_name_the_type(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_device_cpu_is_accepted():
    x = tg.IntTensor([1, 2], device="cpu")
    assert x.device == "cpu" and x.dtype == tg.int32 and x.numpy().tolist() == [1, 2]


def test_cuda_types_build_on_the_gpu_or_raise_without_one(rng):
    values = rng.random(3)
    if tg.cuda.is_available():
        x = tg.cuda.FloatTensor(values)
        assert x.device == "cuda" and isinstance(x, tg.cuda.FloatTensor)
        np.testing.assert_array_equal(x.numpy(), values.astype(np.float32))
        assert tg.cuda.LongTensor(2, 3).shape == (2, 3)
    else:
        with pytest.raises(RuntimeError, match="tg.cuda.FloatTensor: no CUDA GPU"):
            tg.cuda.FloatTensor(values)
        with pytest.raises(RuntimeError, match="tg.cuda.LongTensor: no CUDA GPU"):
            tg.cuda.LongTensor(2, 3)
    with pytest.raises(RuntimeError, match="expects device type: cuda but .* cpu"):
        tg.cuda.FloatTensor([1.0], device="cpu")


def test_the_types_describe_themselves():
    for name, dtype in TYPES.items():
        cpu, gpu = getattr(tg, name), getattr(tg.cuda, name)
        assert cpu.dtype == np.dtype(dtype) == gpu.dtype
        assert not cpu.is_cuda and gpu.is_cuda and not cpu.is_sparse
        assert repr(cpu) == f"<class 'tinygrad_opt.{name}'>"
        assert repr(gpu) == f"<class 'tinygrad_opt.cuda.{name}'>"


# --- isinstance ---

@pytest.mark.parametrize("name", TYPES)
def test_isinstance_asks_dtype_and_device(name, device):
    x = on(device, np.zeros(2, TYPES[name]))
    for other in TYPES:
        assert isinstance(x, getattr(tg, other)) == (other == name and device == "cpu")
        assert isinstance(x, getattr(tg.cuda, other)) == (other == name and device == "cuda")
    assert not isinstance(np.zeros(2, TYPES[name]), getattr(tg, name))


def test_a_parameter_is_an_instance_of_its_type():
    assert isinstance(nn.Parameter(tg.zeros(2)), tg.FloatTensor)
    assert not isinstance(nn.Parameter(tg.zeros(2)), tg.DoubleTensor)


# --- Tensor.type ---

@pytest.mark.parametrize("spelling", [lambda name: getattr(tg, name), "torch.{}".format,
                                      "tinygrad_opt.{}".format])
@pytest.mark.parametrize("name", ["DoubleTensor", "IntTensor", "HalfTensor", "BoolTensor"])
def test_type_with_a_cpu_type_converts_and_brings_to_the_host(spelling, name, rng, device):
    values = rng.standard_normal((2, 3)) * 3
    x = on(device, values.astype(np.float32))
    y = x.type(spelling(name))
    assert y.device == "cpu" and y.dtype == np.dtype(TYPES[name])
    np.testing.assert_array_equal(y.numpy(), values.astype(np.float32).astype(TYPES[name]))


def test_type_with_its_own_name_or_a_dtype_keeps_the_device(rng, device):
    x = on(device, rng.random(3).astype(np.float32))
    assert x.type(x.type()) is x and x.type(tg.float32) is x
    y = x.type(tg.float64)
    assert y.device == x.device and y.dtype == tg.float64
    z = on(device, [1.5, -2.5]).type(x.type().replace("FloatTensor", "LongTensor"))
    assert z.device == x.device and z.numpy().tolist() == [1, -2]


def test_type_gradient_comes_back_in_the_original_dtype(rng, device):
    values = rng.standard_normal(4).astype(np.float32)
    x = on(device, values).requires_grad_()
    (x.type(tg.DoubleTensor) ** 2).sum().backward()
    assert x.grad.dtype == tg.float32 and x.grad.device == x.device
    np.testing.assert_allclose(x.grad.numpy(), 2 * values, rtol=1e-6)


def test_type_with_tensor_is_the_default_type(restore_defaults):
    tg.set_default_dtype(tg.float64)
    y = on("cpu", [1, 2]).type(tg.Tensor)
    assert y.dtype == tg.float64 and y.numpy().tolist() == [1.0, 2.0]
    assert on("cpu", [1, 2]).type("torch.Tensor").dtype == tg.float64


def test_type_with_a_cuda_type_moves_to_the_gpu_or_raises(device):
    x = on(device, [1.5, 2.5])
    if tg.cuda.is_available():
        for spelling in (tg.cuda.DoubleTensor, "torch.cuda.DoubleTensor"):
            y = x.type(spelling)
            assert y.device == "cuda" and y.numpy().tolist() == [1.5, 2.5]
    else:
        with pytest.raises(RuntimeError, match="device 'cuda'"):
            x.type(tg.cuda.DoubleTensor)
        with pytest.raises(RuntimeError, match="device 'cuda'"):
            x.type("torch.cuda.DoubleTensor")


@pytest.mark.parametrize("argument, error, message", [
    ("float", ValueError, "type: invalid type 'float'"),
    ("torch.FloatStorage", ValueError, "type: invalid type"),
    ("torch.sparse.FloatTensor", ValueError, "type: invalid type"),
    (np.float32, ValueError, "type: invalid type 'numpy.float32'"),
    (float, ValueError, "type: invalid type 'builtins.float'"),
    (3, TypeError, "type: dtype must be a type, a str or a dtype, got 3"),
])
def test_type_errors_name_the_argument(argument, error, message, device):
    with pytest.raises(error, match=message):
        on(device, [1.0]).type(argument)


# --- Module.type ---

def test_module_type_with_a_legacy_type_casts_everything_to_its_device(rng, device):
    net = nn.BatchNorm1d(3).to(device)
    weight = rng.standard_normal(3).astype(np.float32)
    with tg.no_grad():
        net.weight.copy_(on(device, weight))
    net.type(tg.DoubleTensor)
    assert net.weight.dtype == tg.float64 and net.weight.device == "cpu"
    assert net.num_batches_tracked.dtype == tg.float64 and net.running_var.device == "cpu"
    np.testing.assert_array_equal(net.weight.numpy(), weight.astype(np.float64))
    net.type("torch.HalfTensor")
    assert net.weight.dtype == tg.float16
    np.testing.assert_array_equal(net.weight.numpy(), weight.astype(np.float16))
    with pytest.raises(ValueError, match="type: invalid type 'torch.Float'"):
        net.type("torch.Float")


# --- set_default_tensor_type ---

def test_set_default_tensor_type_sets_dtype_and_device(restore_defaults, device):
    tg.set_default_device(device)
    with pytest.warns(UserWarning, match="set_default_tensor_type.. is deprecated"):
        tg.set_default_tensor_type(tg.DoubleTensor)
    assert tg.get_default_dtype() == tg.float64 and tg.get_default_device() == "cpu"
    x = tg.tensor([0.1, 0.2])
    assert x.dtype == tg.float64 and x.device == "cpu"
    np.testing.assert_array_equal(x.numpy(), np.array([0.1, 0.2]))
    assert tg.zeros(2).dtype == tg.float64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tg.set_default_tensor_type("torch.HalfTensor")
        assert tg.get_default_dtype() == tg.float16
        tg.set_default_tensor_type("tinygrad_opt.FloatTensor")
    assert tg.get_default_dtype() == tg.float32 and tg.ones(1).dtype == tg.float32


@pytest.mark.parametrize("argument, error, message", [
    (lambda: tg.LongTensor, TypeError, "only floating-point types .* got LongTensor"),
    (lambda: "torch.IntTensor", TypeError, "only floating-point types .* got IntTensor"),
    (lambda: tg.float64, TypeError, "set_default_tensor_type: invalid type object"),
    (lambda: tg.Tensor, TypeError, "set_default_tensor_type: invalid type object"),
    (lambda: "torch.Tensor", TypeError, "set_default_tensor_type: invalid type object"),
    (lambda: "float", TypeError, "set_default_tensor_type: invalid type 'float'"),
])
def test_set_default_tensor_type_refuses_other_types(argument, error, message,
                                                     restore_defaults):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=message):
            tg.set_default_tensor_type(argument())
    assert tg.get_default_dtype() == tg.float32


def test_set_default_tensor_type_with_a_cuda_type(restore_defaults):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if tg.cuda.is_available():
            tg.set_default_tensor_type(tg.cuda.DoubleTensor)
            x = tg.zeros(2)
            assert x.device == "cuda" and x.dtype == tg.float64
        else:
            with pytest.raises(RuntimeError, match="tg.cuda.DoubleTensor: no CUDA GPU"):
                tg.set_default_tensor_type(tg.cuda.DoubleTensor)
            assert tg.get_default_device() == "cpu" and tg.get_default_dtype() == tg.float32
