"""PackedSequence's PyTorch methods: cpu(), cuda(), double(), float(), half(), long(), int(),
is_pinned(), is_cuda. The dtype methods convert ``data`` only (batch_sizes and the sort
indices stay int64 where they were); the device moves take data and the sort indices
along, batch_sizes stays on the host (as PyTorch)."""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.nn.utils import rnn
from tinygrad_opt.nn.utils.rnn import PackedSequence


def packed_unsorted(device):
    """Three sequences of lengths 2, 3, 1 (float64, step t of sequence s holds 10·s + t),
    packed with enforce_sorted=False, so that both index tensors exist."""
    sequences = [tg.tensor(np.array([[10.0 * s + t] for t in range(n)]), device=device)
                 for s, n in enumerate([2, 3, 1])]
    return rnn.pack_sequence(sequences, enforce_sorted=False)


@pytest.mark.parametrize("method, dtype", [
    ("double", np.float64), ("float", np.float32), ("half", np.float16),
    ("long", np.int64), ("int", np.int32)])
def test_dtype_methods_convert_data_only(method, dtype, device):
    packed = packed_unsorted(device)
    converted = getattr(packed, method)()
    assert type(converted) is PackedSequence
    assert converted.data.dtype == dtype and converted.data.device == device
    np.testing.assert_array_equal(converted.data.numpy(),
                                  packed.data.numpy().astype(dtype))
    assert converted.data.numpy().ravel().tolist() == [10, 0, 20, 11, 1, 12]
    assert converted.batch_sizes is packed.batch_sizes
    assert converted.sorted_indices.numpy().tolist() == [1, 0, 2]
    assert converted.unsorted_indices.numpy().tolist() == [1, 0, 2]
    assert converted.sorted_indices.dtype == np.int64
    assert packed.data.dtype == np.float64                  # the original is untouched


def test_a_method_that_changes_nothing_returns_the_same_packed_sequence(device):
    packed = packed_unsorted(device)
    assert packed.double() is packed
    assert packed.to(device) is packed


def test_cpu_moves_data_and_indices_to_the_host(device):
    packed = packed_unsorted(device)
    host = packed.cpu()
    assert host.data.device == "cpu" and host.sorted_indices.device == "cpu"
    assert host.unsorted_indices.device == "cpu" and host.batch_sizes.device == "cpu"
    np.testing.assert_array_equal(host.data.numpy(), packed.data.numpy())
    assert host.batch_sizes.numpy().tolist() == [3, 2, 1]
    assert not host.is_cuda and not host.is_pinned()
    back = host.to(device)
    assert back.data.device == device and back.sorted_indices.device == device
    assert back.batch_sizes.device == "cpu"


def test_sorted_packing_keeps_none_indices(device):
    sequences = [tg.tensor([[1.0], [2.0]], device=device), tg.tensor([[3.0]], device=device)]
    packed = rnn.pack_sequence(sequences).float()
    assert packed.sorted_indices is None and packed.unsorted_indices is None
    assert packed.data.dtype == np.float32
    assert packed.data.numpy().ravel().tolist() == [1.0, 3.0, 2.0]


def test_gradient_flows_through_a_dtype_method(device):
    x = tg.tensor(np.arange(6.0).reshape(3, 2), device=device, requires_grad=True)
    packed = rnn.pack_padded_sequence(x[:, :, None], [3, 2], batch_first=False)
    (packed.float().data * 2).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), [[2.0, 2.0], [2.0, 2.0], [2.0, 0.0]])


def test_cuda_moves_everything_but_batch_sizes_or_names_the_missing_gpu():
    packed = packed_unsorted("cpu")
    if not tg.backend.cuda_available():
        with pytest.raises(RuntimeError, match="'cuda' was asked for"):
            packed.cuda()
        return
    moved = packed.cuda()
    assert moved.is_cuda and moved.sorted_indices.device == "cuda"
    assert moved.batch_sizes.device == "cpu"
    np.testing.assert_array_equal(moved.data.numpy(), packed.data.numpy())
