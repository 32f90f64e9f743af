"""``tg.set_default_device``, as ``torch.set_default_device``: where factories, layers and
host data go when no device is named. Run on the 'strict' device (or 'cuda' with
``--device cuda``), whose arrays refuse implicit host copies."""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn, optim


@pytest.fixture
def other(request):
    """The non-host device of this run (``--device``) as the default, reset afterwards."""
    device = request.config.getoption("--device")
    tg.set_default_device(device)
    yield device
    tg.set_default_device(None)


def test_factories_host_data_and_layers_go_to_the_default(other):
    assert tg.get_default_device() == other
    made = [tg.zeros(2), tg.ones(2, 3), tg.full((2,), 1.5), tg.arange(3), tg.eye(2),
            tg.rand(2), tg.randn(2), tg.tensor([1.0, 2.0]), tg.tensor(3),
            tg.tensor(np.ones(2, dtype=np.float32)), nn.Linear(2, 3).weight]
    assert [t.device for t in made] == [other] * len(made)
    assert tg.tensor([1.0], device="cpu").device == "cpu"  # a named device wins


def test_what_stays_where_it_is(other):
    host = tg.tensor([1.0, 2.0], device="cpu")
    assert nn.Parameter(host).device == "cpu"            # a Tensor's array is shared
    assert tg.from_numpy(np.ones(2)).device == "cpu"      # as torch.from_numpy
    assert (host * 2).device == "cpu"                     # ops follow their inputs
    moved = tg.tensor(tg.zeros(2, device="cpu").numpy())  # host data: the default
    assert moved.device == other


def test_a_model_trains_on_the_default_device(other):
    """A small classifier made and trained with no device named anywhere."""
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((64, 4)).astype(np.float32)
    labels = (inputs[:, 0] + inputs[:, 1] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    optimizer = optim.Adam(model.parameters(), lr=0.05)
    x, y = tg.tensor(inputs), tg.tensor(labels)
    for _ in range(60):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    assert loss.device == other and model[0].weight.grad.device == other
    accuracy = (model(x).argmax(1) == y).float().mean().item()
    assert accuracy > 0.9


def test_reset_and_bad_names():
    tg.set_default_device(None)
    assert tg.get_default_device() == "cpu" and tg.zeros(1).device == "cpu"
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        tg.set_default_device("gpu")
    assert tg.get_default_device() == "cpu"


def test_cpu_tensors_keep_working_when_the_default_is_another_device(other):
    """The library's own helper tensors follow their inputs, not the default device:
    each call here once made one on the default device and failed on mixed devices."""
    F = nn.functional
    logits = tg.tensor(np.random.default_rng(0).standard_normal((4, 3)), device="cpu")
    target = tg.tensor([0, 2, -100, 1], device="cpu")
    losses = [F.cross_entropy(logits, target, ignore_index=-100),
              F.multi_margin_loss(logits, tg.tensor([0, 2, 1, 1], device="cpu")),
              F.multilabel_margin_loss(logits, tg.tensor([[0, -1, 0]] * 4, device="cpu")),
              logits * np.float32(2.0), logits + np.ones(3), logits * [1.0, 2.0, 3.0]]
    assert [loss.device for loss in losses] == ["cpu"] * len(losses)
    packed = nn.utils.rnn.pack_padded_sequence(tg.zeros(3, 2, 1, device="cpu"), [3, 2])
    padded, lengths = nn.utils.rnn.pad_packed_sequence(packed)
    assert packed.batch_sizes.device == lengths.device == padded.device == "cpu"
    weight = tg.tensor([1.0, 2.0], device="cpu", requires_grad=True)
    optimizer = optim.Adam([weight])
    weight.grad = tg.ones(2, device="cpu")
    optimizer.step()
    optimizer.load_state_dict(optimizer.state_dict())
    assert optimizer.state[weight]["exp_avg"].device == "cpu"


def test_data_loaders_deliver_batches_on_the_default_device(other):
    """DataLoader, default_collate and default_convert with no device named: the default
    one (the loader reads it when it is made), as the model's parameters."""
    from tinygrad_opt.data import DataLoader, TensorDataset, default_collate, default_convert
    data = TensorDataset(np.arange(12, dtype=np.float32).reshape(6, 2), np.arange(6))
    x, y = next(iter(DataLoader(data, batch_size=4)))
    assert x.device == y.device == other and x.shape == (4, 2)
    assert default_collate([np.ones(2), np.zeros(2)]).device == other
    assert default_convert(np.ones(2)).device == other
    assert DataLoader(data, device="cpu").device == "cpu"


def test_load_stays_on_the_cpu_and_the_bagging_trainer_follows_the_default(other, tmp_path):
    """tg.load without a device puts each tensor back where it was saved, as PyTorch (not
    on the default device); ensemble.trainer without a device trains on the default one."""
    from tinygrad_opt import ensemble
    from tinygrad_opt.data import TensorDataset
    tg.save({"w": tg.ones(2), "c": tg.ones(2, device="cpu")}, tmp_path / "w.ckpt")
    loaded = tg.load(tmp_path / "w.ckpt")
    assert loaded["w"].device == other and loaded["c"].device == "cpu"
    assert tg.load(tmp_path / "w.ckpt", device=other)["w"].device == other
    data = TensorDataset(np.random.default_rng(0).standard_normal((16, 2)).astype(np.float32),
                         np.arange(16) % 2)
    model = nn.Sequential(nn.Linear(2, 2))
    train = ensemble.trainer(lambda params: optim.SGD(params, lr=0.1),
                             nn.functional.cross_entropy, epochs=1, batch_size=8)
    train(model, data)
    assert model[0].weight.device == other


def test_a_lazy_module_made_for_the_cpu_stays_there(other):
    """LazyBatchNorm1d(device='cpu')'s running statistics went to the default device."""
    module = nn.LazyBatchNorm1d(device="cpu")
    module(tg.tensor(np.ones((4, 3), dtype=np.float32), device="cpu"))
    assert module.running_mean.device == module.weight.device == "cpu"


def test_as_tensor_of_a_numpy_array_goes_to_the_default_device(other):
    """As torch.as_tensor: no device named, data that is no tensor goes to the current
    (default) device; it shares the array's memory only where that is the CPU."""
    array = np.ones(2)
    assert tg.as_tensor(array).device == other
    shared = tg.as_tensor(array, device="cpu")
    array[0] = 5.0
    assert shared.numpy()[0] == 5.0
