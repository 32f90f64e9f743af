"""ensemble.bagging: bootstrap samples, members trained on them alone, out-of-bag sets.

References: the bootstrap draws recomputed with NumPy's generator; a member
rebuilt by a plain training loop on its own sample; 1 − 1/e for the share of
samples a bootstrap leaves out.
"""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import ensemble as E
from tinygrad_opt import nn, optim
from tinygrad_opt.data import DataLoader, Subset, TensorDataset
from tinygrad_opt.datasets import spiral


def make_model():
    return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 3))


def make_optimizer(params):
    return optim.SGD(params, lr=0.1)


@pytest.fixture
def dataset():
    X, y = spiral(20, 3, seed=0)                                 # 60 samples
    return TensorDataset(X, y)


def test_bootstrap_samples_and_out_of_bag(dataset):
    ensemble = E.bagging(make_model, make_optimizer, F.cross_entropy, dataset, n_models=3,
                         epochs=1, batch_size=16, seed=7)
    assert len(ensemble) == 3 and len(ensemble.histories) == 3
    rng = np.random.default_rng(7)
    for indices, unseen in zip(ensemble.bootstrap_indices, ensemble.out_of_bag):
        np.testing.assert_array_equal(indices, rng.integers(0, 60, size=60))
        assert set(unseen.tolist()) == set(range(60)) - set(indices.tolist())
    half = E.bagging(make_model, make_optimizer, F.cross_entropy, dataset, n_models=1,
                     max_samples=0.5, seed=7)
    assert len(half.bootstrap_indices[0]) == 30
    # without bootstrap: a permutation, cut to max_samples of the set
    plain = E.bagging(make_model, make_optimizer, F.cross_entropy, dataset, n_models=2,
                      bootstrap=False, seed=7)
    rng = np.random.default_rng(7)
    for indices, unseen in zip(plain.bootstrap_indices, plain.out_of_bag):
        np.testing.assert_array_equal(indices, rng.permutation(60))
        assert len(unseen) == 0
    half = E.bagging(make_model, make_optimizer, F.cross_entropy, dataset, n_models=1,
                     max_samples=0.5, bootstrap=False, seed=7)
    np.testing.assert_array_equal(half.bootstrap_indices[0],
                                  np.random.default_rng(7).permutation(60)[:30])
    assert len(set(half.bootstrap_indices[0].tolist())) == 30


def test_each_member_is_trained_on_its_sample_alone(dataset):
    ensemble = E.bagging(make_model, make_optimizer, F.cross_entropy, dataset, n_models=2,
                         epochs=2, batch_size=16, seed=3)
    for member in range(2):
        # rebuilt with a plain loop: same init seed, same sample, same batch order
        tg.manual_seed(3 + member)
        model = make_model()
        optimizer = make_optimizer(model.parameters())
        loader = DataLoader(Subset(dataset, ensemble.bootstrap_indices[member]), batch_size=16,
                            shuffle=True, seed=3 + member)
        for _ in range(2):
            for x, y in loader:
                optimizer.zero_grad()
                F.cross_entropy(model(x), y).backward()
                optimizer.step()
        for ours, theirs in zip(ensemble[member].parameters(), model.parameters()):
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    # the same seed gives the same ensemble; members differ from each other
    again = E.bagging(make_model, make_optimizer, F.cross_entropy, dataset, n_models=2,
                      epochs=2, batch_size=16, seed=3)
    np.testing.assert_array_equal(again[1][0].weight.numpy(), ensemble[1][0].weight.numpy())
    assert not np.allclose(ensemble[0][0].weight.numpy(), ensemble[1][0].weight.numpy())


def test_transform_is_applied_to_the_training_inputs(dataset):
    # inputs zeroed by the transform: the first layer's weights get no gradient and stay put
    ensemble = E.bagging(make_model, make_optimizer, F.cross_entropy, dataset, n_models=1,
                         epochs=1, batch_size=16, seed=0, transform=lambda x: x * 0)
    tg.manual_seed(0)
    initial = make_model()
    np.testing.assert_array_equal(ensemble[0][0].weight.numpy(), initial[0].weight.numpy())
    assert not np.allclose(ensemble[0][0].bias.numpy(), initial[0].bias.numpy())


def test_out_of_bag_share_is_about_one_over_e():
    X = np.zeros((3000, 2), dtype=np.float32)
    y = np.zeros(3000, dtype=np.int64)
    ensemble = E.bagging(make_model, make_optimizer, F.cross_entropy, TensorDataset(X, y),
                         n_models=2, epochs=1, batch_size=1000, seed=0)
    for unseen in ensemble.out_of_bag:
        assert len(unseen) / 3000 == pytest.approx(1 / math.e, abs=0.03)   # (1 − 1/N)^N


def test_bagging_errors(dataset):
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="n_models must be a positive integer"):
            E.bagging(make_model, make_optimizer, F.cross_entropy, dataset, n_models=bad)
    for bad in (0.0, 1.2):
        with pytest.raises(ValueError, match=r"max_samples must lie in \(0, 1\]"):
            E.bagging(make_model, make_optimizer, F.cross_entropy, dataset, max_samples=bad)
    with pytest.raises(ValueError, match="empty"):
        E.bagging(make_model, make_optimizer, F.cross_entropy, TensorDataset(np.zeros((0, 2))))
