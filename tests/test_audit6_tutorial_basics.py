"""PyTorch's beginner tutorials (Learn the Basics, Learning PyTorch with Examples, What is
torch.nn really?), ported with ``import tinygrad_opt as torch``: the names they use that
were missing or refused, each checked against NumPy."""

import numpy as np
import pytest

import tinygrad_opt as torch
import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.utils.data import DataLoader, TensorDataset


# --- torch.matmul(..., out=...) (Tensors tutorial: "torch.matmul(tensor, tensor.T, out=y3)")

def test_matmul_writes_into_out(device, rng):
    a = rng.standard_normal((4, 3)).astype(np.float32)
    tensor = torch.tensor(a, device=device)
    y3 = torch.rand_like(tensor @ tensor.T)
    result = torch.matmul(tensor, tensor.T, out=y3)
    assert result is y3
    np.testing.assert_allclose(y3.numpy(), a @ a.T, rtol=1e-5, atol=1e-6)
    vector = rng.standard_normal(3).astype(np.float32)  # NumPy's rules: (4, 3) @ (3,) -> (4,)
    out = torch.empty(0, device=device)                   # an empty out is resized
    torch.matmul(tensor, torch.tensor(vector, device=device), out=out)
    np.testing.assert_allclose(out.numpy(), a @ vector, rtol=1e-5, atol=1e-6)
    plain = torch.matmul(tensor, tensor.T)                # without out, a new tensor
    np.testing.assert_allclose(plain.numpy(), a @ a.T, rtol=1e-5, atol=1e-6)


def test_matmul_out_errors_name_the_argument(device):
    tensor = torch.ones(2, 3, device=device)
    with pytest.raises(ValueError, match=r"matmul\(\): out has shape \(5,\)"):
        torch.matmul(tensor, tensor.T, out=torch.zeros(5, device=device))
    with pytest.raises(TypeError, match=r"matmul\(\): result type float32 can't be cast"):
        torch.matmul(tensor, tensor.T, out=torch.zeros(2, 2, dtype=torch.int64, device=device))
    with pytest.raises(RuntimeError, match="matmul.*automatic differentiation"):
        torch.matmul(torch.ones(2, 3, requires_grad=True), torch.ones(3), out=torch.zeros(2))
    with pytest.raises(TypeError, match="matmul.*expected a Tensor"):
        torch.matmul(np.ones((2, 2)), tensor)


# --- torch.device (What is torch.nn really?: dev = torch.device("cpu"); x.to(dev))

def test_device_objects_as_pytorch_makes_them():
    cpu = torch.device("cpu")
    assert (cpu.type, cpu.index, str(cpu), repr(cpu)) == ("cpu", None, "cpu",
                                                         "device(type='cpu')")
    for made in (torch.device("cuda:1"), torch.device("cuda", 1), torch.device(1)):
        assert (made.type, made.index, str(made)) == ("cuda", 1, "cuda:1")
        assert repr(made) == "device(type='cuda', index=1)"
    assert torch.device("cuda").index is None  # making one needs no GPU
    assert torch.device(cpu) is cpu
    assert cpu == "cpu" and torch.device("cpu", 0) == "cpu:0"


@pytest.mark.parametrize("bad, error, words", [
    (("tpu",), RuntimeError, "expected one of cpu, cuda, strict device type"),
    (("cuda:x",), RuntimeError, "invalid device index 'x'"),
    (("cuda:0", 1), RuntimeError, "must not include an index because index=1"),
    (("cuda", -1), RuntimeError, "non-negative int, got -1"),
    (("cpu", 1.5), RuntimeError, "non-negative int, got 1.5"),
    ((None,), TypeError, "expected a device string"),
])
def test_device_refuses_what_pytorch_refuses(bad, error, words):
    with pytest.raises(error, match=words):
        torch.device(*bad)


def test_device_object_goes_where_a_device_name_does(device, rng):
    dev = torch.device(device)
    x = rng.standard_normal((3, 784)).astype(np.float32)
    model = nn.Linear(784, 10)
    weight, bias = model.weight.numpy().copy(), model.bias.numpy().copy()
    model.to(dev)
    xb = torch.tensor(x).to(dev)
    assert xb.device == device and model.weight.device == device
    np.testing.assert_allclose(model(xb).numpy(), x @ weight.T + bias, rtol=1e-5, atol=1e-5)
    made = torch.zeros(2, 3, device=dev)
    assert made.device == device and not made.numpy().any()


def test_wrapped_dataloader_with_a_device(device, rng):
    """The tutorial's WrappedDataLoader: each batch reshaped and sent to ``dev``."""
    x = rng.random((10, 784)).astype(np.float32)
    y = rng.integers(0, 10, 10)
    dev = torch.device(device)

    def preprocess(xb, yb):
        return xb.view(-1, 1, 28, 28).to(dev), yb.to(dev)

    loader = DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=4)
    batches = [preprocess(*batch) for batch in loader]
    assert [xb.shape for xb, _ in batches] == [(4, 1, 28, 28), (4, 1, 28, 28), (2, 1, 28, 28)]
    assert all(xb.device == device and yb.device == device for xb, yb in batches)
    np.testing.assert_array_equal(np.concatenate([xb.numpy() for xb, _ in batches]),
                                  x.reshape(-1, 1, 28, 28))
    np.testing.assert_array_equal(np.concatenate([yb.numpy() for _, yb in batches]), y)


# --- torch.accelerator and torch.backends (Build the Neural Network: picking a device)

def test_accelerator_follows_the_gpu():
    available = torch.cuda.is_available()
    assert torch.accelerator.is_available() == available
    assert torch.accelerator.device_count() == torch.cuda.device_count()
    current = torch.accelerator.current_accelerator(check_available=True)
    if available:
        assert (current.type, current.index) == ("cuda", None)
    else:
        assert current is None
        with pytest.raises(RuntimeError, match="current_device"):
            torch.accelerator.current_device_index()
    device = torch.accelerator.current_accelerator().type \
        if torch.accelerator.is_available() else "cpu"
    assert device == ("cuda" if available else "cpu")


def test_backends_mps_picks_cpu_without_a_gpu(rng):
    device = ("cuda" if torch.cuda.is_available()
              else "mps" if torch.backends.mps.is_available() else "cpu")
    assert device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert torch.backends.mps.is_built() is False
    assert torch.backends.cudnn.is_available() is False
    assert (torch.backends.cudnn.enabled, torch.backends.cudnn.benchmark,
            torch.backends.cudnn.deterministic) == (True, False, False)
    x = rng.random((2, 28, 28)).astype(np.float32)
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10)).to(device)
    weight, bias = model[1].weight.numpy(), model[1].bias.numpy()
    logits = model(torch.tensor(x, device=device))
    np.testing.assert_allclose(logits.numpy(), x.reshape(2, -1) @ weight.T + bias,
                               rtol=1e-5, atol=1e-5)


def test_a_tensors_device_is_a_device_object_and_its_name(device):
    """PyTorch code reads ``x.device.type``; ours is also the plain name ('cpu' == it)."""
    x = tg.tensor([1.0, 2.0], device=device)
    assert isinstance(x.device, tg.device) and x.device == device and str(x.device) == device
    assert x.device.type == device and x.device.index is None
    assert repr(x.device) == f"device(type='{device}')"
    assert (x * 2).device.type == device and x.sum().device == device


def test_cpu_0_is_the_cpu_and_other_cpu_indices_are_refused():
    x = tg.zeros(2, device="cpu:0")
    assert x.device == "cpu"
    np.testing.assert_array_equal(tg.tensor([1.0]).to(tg.device("cpu", 0)).numpy(), [1.0])
    with pytest.raises(ValueError, match="unknown device 'cpu:1'"):
        tg.zeros(2, device="cpu:1")


def test_device_mismatch_errors_name_the_devices_plainly():
    a, b = tg.tensor([1.0]), tg.tensor([1.0], device="strict")
    with pytest.raises(RuntimeError, match="'cpu' and 'strict'"):
        a + b
