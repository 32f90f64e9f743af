"""Intermediate PyTorch training recipes, ported: the gaps found by running them.

Each test is one fix, checked against a NumPy computation of PyTorch's documented
formula (PyTorch is not installed here).
"""

import math

import numpy as np
import pytest

import tinygrad_opt as torch
from tinygrad_opt import nn, optim
from tinygrad_opt.optim import lr_scheduler


# ------------------------------------------------------------------ custom schedulers

def test_custom_scheduler_subclasses_old_name_LRScheduler(device, rng):
    """``torch.optim.lr_scheduler._LRScheduler`` (the pre-2.0 public name) still exists in
    PyTorch for the custom schedulers written against it: a linear warm-up over 4 steps,
    ``lr_t = lr0 · min(1, (t + 1) / 4)``, stepped once per batch, both groups."""

    class Warmup(lr_scheduler._LRScheduler):
        def __init__(self, optimizer, warmup, last_epoch=-1):
            self.warmup = warmup
            super().__init__(optimizer, last_epoch)

        def get_lr(self):
            return [base * min(1.0, (self.last_epoch + 1) / self.warmup)
                    for base in self.base_lrs]

    model = nn.Linear(3, 2).to(device)
    opt = optim.SGD([{"params": [model.weight]}, {"params": [model.bias], "lr": 0.5}],
                    lr=0.1, momentum=0.9)
    sched = Warmup(opt, warmup=4)
    assert isinstance(sched, lr_scheduler.LRScheduler)
    x = torch.tensor(rng.normal(size=(5, 3)).astype(np.float32), device=device)
    seen = []
    for _ in range(6):
        seen.append(sched.get_last_lr())
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
        sched.step()
    t = np.arange(6)
    reference = np.minimum(1.0, (t + 1) / 4)[:, None] * np.array([0.1, 0.5])
    np.testing.assert_allclose(np.array(seen), reference, rtol=1e-12)
    assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()


# ------------------------------------------------------------------ torch.utils.data.<module>

def test_train_valid_split_through_the_torch_utils_data_submodules(device, rng):
    """The recipe of older tutorials imports from ``torch.utils.data.sampler`` /
    ``.dataset`` / ``.dataloader``: a shuffled 80/20 split of the indices, one
    ``SubsetRandomSampler`` per part. Each epoch visits each part's rows exactly once,
    and the batches are the rows ``X[indices]`` (NumPy fancy indexing)."""
    from tinygrad_opt.utils.data.dataloader import DataLoader
    from tinygrad_opt.utils.data.dataset import TensorDataset
    from tinygrad_opt.utils.data.sampler import SubsetRandomSampler, WeightedRandomSampler

    X = rng.normal(size=(20, 3)).astype(np.float32)
    y = (np.arange(20) % 4 == 0).astype(np.int64)
    data = TensorDataset(torch.tensor(X, device=device), torch.tensor(y, device=device))
    order = rng.permutation(20)
    train_idx, valid_idx = order[:16].tolist(), order[16:].tolist()
    loaders = [DataLoader(data, batch_size=5, sampler=SubsetRandomSampler(part))
               for part in (train_idx, valid_idx)]
    for loader, part in zip(loaders, (train_idx, valid_idx)):
        batches = [(xb.cpu().numpy(), yb.cpu().numpy()) for xb, yb in loader]  # one epoch
        rows = np.concatenate([xb for xb, _ in batches])
        labels = np.concatenate([yb for _, yb in batches])
        # which row of X each batch row is: X's rows are distinct
        visited = [int(np.flatnonzero((X == row).all(axis=1))[0]) for row in rows]
        assert sorted(visited) == sorted(part)
        np.testing.assert_array_equal(labels, y[visited])
    # the same class rebalancing as torch.utils.data.WeightedRandomSampler: p_i ∝ 1 / n_class
    counts = np.bincount(y)
    sampler = WeightedRandomSampler((1.0 / counts)[y].tolist(), num_samples=4000,
                                    generator=torch.Generator().manual_seed(0))
    drawn = np.array(list(sampler))
    minority = np.isin(drawn, np.flatnonzero(y == 1)).mean()
    assert abs(minority - 0.5) < 4 * math.sqrt(0.25 / 4000)   # 4 standard errors


def test_torch_utils_data_submodules_hold_only_their_own_names():
    """Each submodule exposes the names of its PyTorch module's ``__all__``, the objects of
    ``tinygrad_opt.data`` themselves; another name is an ImportError, as in PyTorch."""
    import tinygrad_opt.utils.data as utils_data
    from tinygrad_opt import data
    from tinygrad_opt.utils.data import sampler

    assert sampler is utils_data.sampler
    assert sampler.BatchSampler is data.BatchSampler
    assert utils_data.dataset.random_split is data.random_split
    assert utils_data.dataloader.default_collate is data.default_collate
    assert sorted(dir(sampler)) == ["BatchSampler", "RandomSampler", "Sampler",
                                    "SequentialSampler", "SubsetRandomSampler",
                                    "WeightedRandomSampler"]
    with pytest.raises(ImportError, match="DataLoader"):
        from tinygrad_opt.utils.data.sampler import DataLoader  # noqa: F401


# ------------------------------------------------------------------ init functions by layer type

def _bn_reference(x, gamma, beta, eps=1e-5):
    """Training-mode batch norm in NumPy: per channel (axis 1), biased variance."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = [1, -1] + [1] * (x.ndim - 2)
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    return ((x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
            * gamma.reshape(shape) + beta.reshape(shape))


def test_init_fn_dispatch_on_batchnorm_kind(device, rng):
    """``model.apply(init_fn)`` with an ``isinstance`` chain: BatchNorm1d, 2d and 3d are
    siblings in PyTorch (all ``_BatchNorm``), so the 1-D branch must not catch the 2-D
    layer. Here γ = 0.5 for the 1-D norm, γ = 2 for the 2-D one; the CNN's outputs are
    then checked against a NumPy forward pass with those values."""
    from tinygrad_opt.nn.normalization import _BatchNorm

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3, padding=1)
            self.bn2 = nn.BatchNorm2d(2)
            self.flat = nn.Flatten()
            self.bn1 = nn.BatchNorm1d(2 * 6 * 6)

        def forward(self, x):
            return self.bn1(self.flat(self.bn2(self.conv(x))))

    def init_fn(m):
        if isinstance(m, nn.BatchNorm1d):
            nn.init.constant_(m.weight, 0.5)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 2.0)
            nn.init.constant_(m.bias, 0.25)
        elif isinstance(m, nn.Conv2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    model = CNN().to(device)
    assert model.apply(init_fn) is model
    np.testing.assert_array_equal(model.bn2.weight.cpu().numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(model.bn1.weight.cpu().numpy(), np.full(72, 0.5))
    assert not isinstance(model.bn2, nn.BatchNorm1d)
    assert not isinstance(nn.BatchNorm3d(2), (nn.BatchNorm1d, nn.BatchNorm2d))
    assert all(isinstance(m, _BatchNorm) for m in (model.bn1, model.bn2, nn.BatchNorm3d(2),
                                                     nn.SyncBatchNorm(2)))

    x = rng.normal(size=(4, 1, 6, 6)).astype(np.float64)
    out = model.double()(torch.tensor(x, device=device)).cpu().numpy()
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    box = sum(padded[:, :, i:i + 6, j:j + 6] for i in range(3) for j in range(3))  # all-ones 3x3
    conv = np.repeat(box, 2, axis=1)
    h = _bn_reference(conv, np.full(2, 2.0), np.full(2, 0.25)).reshape(4, -1)
    reference = _bn_reference(h, np.full(72, 0.5), np.zeros(72))
    np.testing.assert_allclose(out, reference, rtol=1e-9, atol=1e-9)


def test_dropout_kinds_are_siblings_as_in_pytorch(device, rng):
    """Dropout1d/2d/3d, AlphaDropout and FeatureAlphaDropout are not ``nn.Dropout`` in
    PyTorch (they share ``_DropoutNd``). The Monte-Carlo dropout recipe switches only the
    ``nn.Dropout`` layers back to training in an eval-mode model: the Dropout2d stays the
    identity, and the Dropout keeps each element with its 1/(1 − p) scale."""
    from tinygrad_opt.nn.layers import _DropoutNd

    kinds = [nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout]
    assert not any(issubclass(kind, nn.Dropout) for kind in kinds)
    assert all(issubclass(kind, _DropoutNd) for kind in kinds + [nn.Dropout])

    model = nn.Sequential(nn.Dropout2d(0.5), nn.Dropout(0.25)).to(device).eval()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.train()
    assert [m.training for m in model] == [False, True]
    x = rng.uniform(1.0, 2.0, size=(8, 4, 5, 5)).astype(np.float32)
    out = model(torch.tensor(x, device=device)).cpu().numpy()
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / 0.75, rtol=1e-6)
    # whole channels are never zeroed as a block by an eval-mode Dropout2d: the zeros are
    # scattered, about a quarter of the elements
    assert 0.15 < 1 - kept.mean() < 0.35
    assert not (~kept).reshape(8 * 4, 25).all(axis=1).any()
