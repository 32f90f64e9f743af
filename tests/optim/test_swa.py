"""AveragedModel and update_bn against averages computed by hand in NumPy."""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import backend, nn
from tinygrad_opt.optim.swa_utils import AveragedModel, update_bn


def set_weights(model, weights):
    for p, value in zip(model.parameters(), weights):
        p.data[...] = backend.to_device(value, p.device)


def host(tensor):
    return backend.to_host(tensor.data).copy()


def weight_sequence(model, count, seed=0):
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=p.shape) for p in model.parameters()] for _ in range(count)]


def make_model(device):
    model = nn.Linear(3, 2)
    model.to(device=device, dtype=tg.float64)
    return model


def test_mean_mode_is_the_running_equal_average(device):
    model = make_model(device)
    swa = AveragedModel(model)
    sequence = weight_sequence(model, 5)
    for k, weights in enumerate(sequence, start=1):
        set_weights(model, weights)
        swa.update_parameters(model)
        assert swa.n_averaged.item() == k
        for index, p in enumerate(swa.parameters()):
            expected = np.mean([weights_i[index] for weights_i in sequence[:k]], axis=0)
            np.testing.assert_allclose(host(p), expected, rtol=1e-13, atol=1e-14)


def test_ema_mode(device):
    decay = 0.8
    model = make_model(device)
    ema = AveragedModel(model, mode="ema", decay=decay)
    sequence = weight_sequence(model, 4, seed=1)
    expected = None
    for weights in sequence:
        set_weights(model, weights)
        ema.update_parameters(model)
        if expected is None:
            expected = [w.copy() for w in weights]                       # first call copies
        else:
            expected = [decay * e + (1 - decay) * w for e, w in zip(expected, weights)]
        for p, value in zip(ema.parameters(), expected):
            np.testing.assert_allclose(host(p), value, rtol=1e-13, atol=1e-14)


def test_forward_names_copy_and_device(device):
    model = make_model(device)
    swa = AveragedModel(model)
    names = [name for name, _ in swa.named_parameters()]
    assert names == ["module.weight", "module.bias"]
    assert swa.module is not model
    assert all(a is not b for a, b in zip(swa.parameters(), model.parameters()))

    first, second = weight_sequence(model, 2, seed=2)
    set_weights(model, first)
    swa.update_parameters(model)
    set_weights(model, second)
    swa.update_parameters(model)
    set_weights(model, weight_sequence(model, 1, seed=3)[0])   # not folded in: no effect
    W = (first[0] + second[0]) / 2
    b = (first[1] + second[1]) / 2
    x = np.random.default_rng(4).normal(size=(5, 3))
    output = swa(tg.tensor(x, device=device))
    assert output.device == device
    np.testing.assert_allclose(output.numpy(), x @ W.T + b, rtol=1e-13)

    cpu_copy = AveragedModel(model, device="cpu")
    assert all(p.device == "cpu" for p in cpu_copy.parameters())
    assert cpu_copy.n_averaged.device == "cpu"
    cpu_copy.update_parameters(model)                   # from the model's device to cpu
    np.testing.assert_allclose(host(next(cpu_copy.parameters())), host(model.weight))


def test_buffers_copied_or_averaged(device):
    def make():
        model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
        model.to(device=device, dtype=tg.float64)
        return model
    model = make()
    copied = AveragedModel(model)
    averaged = AveragedModel(model, use_buffers=True)
    for value in (1.0, 3.0):
        model[1].running_mean.data[...] = value
        copied.update_parameters(model)
        averaged.update_parameters(model)
    np.testing.assert_allclose(host(copied.module[1].running_mean), [3.0, 3.0])
    np.testing.assert_allclose(host(averaged.module[1].running_mean), [2.0, 2.0])
    with pytest.raises(ValueError, match="tensors to average"):
        copied.update_parameters(make_model(device))


def test_validation():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="mode"):
        AveragedModel(model, mode="median")
    with pytest.raises(ValueError, match="decay"):
        AveragedModel(model, mode="ema", decay=1.5)


def test_update_bn_recomputes_running_statistics(device):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, momentum=0.3))
    model.to(device=device, dtype=tg.float64)
    model.eval()
    rng = np.random.default_rng(5)
    batches = [rng.normal(2.0, 3.0, size=(8, 3)) for _ in range(4)]
    loader = [(x, np.zeros(len(x))) for x in batches]       # (input, target) pairs
    bn = model[1]
    bn.running_mean.data[...] = 100.0                          # stale statistics

    update_bn(loader, model)

    W, b = host(model[0].weight), host(model[0].bias)
    hidden = [x @ W.T + b for x in batches]                    # the BatchNorm inputs
    expected_mean = np.mean([h.mean(axis=0) for h in hidden], axis=0)
    expected_var = np.mean([h.var(axis=0, ddof=1) for h in hidden], axis=0)
    np.testing.assert_allclose(host(bn.running_mean), expected_mean, rtol=1e-12)
    np.testing.assert_allclose(host(bn.running_var), expected_var, rtol=1e-12)
    assert bn.num_batches_tracked.item() == 4
    assert bn.momentum == 0.3                                  # restored
    assert not model.training and not bn.training              # mode restored


def test_update_bn_on_averaged_model_with_tensor_batches(device):
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    model.to(device=device, dtype=tg.float64)
    swa = AveragedModel(model)
    swa.update_parameters(model)
    x = np.random.default_rng(6).normal(size=(10, 3))
    update_bn([tg.tensor(x, device=device)], swa)
    W, b = host(swa.module[0].weight), host(swa.module[0].bias)
    np.testing.assert_allclose(host(swa.module[1].running_mean), (x @ W.T + b).mean(axis=0),
                               rtol=1e-12)
    assert swa.training


def test_update_bn_without_batchnorm_is_a_no_op():
    model = nn.Linear(2, 2)
    update_bn([np.ones((1, 2))], model)        # nothing to do, nothing raised
    assert model.training
