"""ensemble.bagging: bootstrap samples, members trained on them alone, out-of-bag sets.

The contract: ``bagging(make_model, train_fn, dataset, n_models, seed)``, where
``train_fn(model, subset)`` trains a freshly made model in place; ``ensemble.trainer``
builds the usual train_fn (optimizer, shuffled loader seeded by the member's seed, fit).

References: the bootstrap draws recomputed with NumPy's generator; a member
rebuilt by a plain training loop on its own sample; 1 − 1/e for the share of
samples a bootstrap leaves out.
"""

import math
import re

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import ensemble as E
from tinygrad_opt import nn, optim
from tinygrad_opt.data import DataLoader, Subset, TensorDataset
from tinygrad_opt.datasets import spiral
from tinygrad_opt.train import History


def make_model():
    return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 3))


def make_optimizer(params):
    return optim.SGD(params, lr=0.1)


def train_fn(epochs=1, batch_size=32, **kwargs):
    return E.trainer(make_optimizer, F.cross_entropy, epochs=epochs, batch_size=batch_size,
                     **kwargs)


def no_training(model, dataset):
    return None


def by_hand(seed, dataset, indices, epochs, batch_size):
    """A member rebuilt with a plain loop: init seed, the sample, batch order seeded alike."""
    tg.manual_seed(seed)
    model = make_model()
    optimizer = make_optimizer(model.parameters())
    loader = DataLoader(Subset(dataset, indices), batch_size=batch_size, shuffle=True,
                        seed=seed)
    for _ in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
    return model


def assert_same_parameters(model_a, model_b):
    for ours, theirs in zip(model_a.parameters(), model_b.parameters()):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.fixture
def dataset():
    X, y = spiral(20, 3, seed=0)                                 # 60 samples
    return TensorDataset(X, y)


def test_bootstrap_samples_and_out_of_bag(dataset):
    ensemble = E.bagging(make_model, train_fn(batch_size=16), dataset, n_models=3, seed=7)
    assert len(ensemble) == 3 and len(ensemble.histories) == 3
    rng = np.random.default_rng(7)
    for indices, unseen in zip(ensemble.bootstrap_indices, ensemble.out_of_bag):
        np.testing.assert_array_equal(indices, rng.integers(0, 60, size=60))
        assert indices.dtype == np.int64 and unseen.dtype == np.int64
        assert set(unseen.tolist()) == set(range(60)) - set(indices.tolist())
    half = E.bagging(make_model, no_training, dataset, n_models=1, max_samples=0.5, seed=7)
    assert len(half.bootstrap_indices[0]) == 30
    # without bootstrap: a permutation, cut to max_samples of the set
    plain = E.bagging(make_model, no_training, dataset, n_models=2, bootstrap=False, seed=7)
    rng = np.random.default_rng(7)
    for indices, unseen in zip(plain.bootstrap_indices, plain.out_of_bag):
        np.testing.assert_array_equal(indices, rng.permutation(60))
        assert len(unseen) == 0
    half = E.bagging(make_model, no_training, dataset, n_models=1, max_samples=0.5,
                     bootstrap=False, seed=7)
    np.testing.assert_array_equal(half.bootstrap_indices[0],
                                  np.random.default_rng(7).permutation(60)[:30])
    assert len(set(half.bootstrap_indices[0].tolist())) == 30


def test_contract_positional_order(dataset):
    # bagging(make_model, train_fn, dataset, n_models, seed), as the API contract writes it
    positional = E.bagging(make_model, train_fn(), dataset, 2, 5)
    keywords = E.bagging(make_model=make_model, train_fn=train_fn(), dataset=dataset,
                         n_models=2, seed=5)
    assert len(positional) == 2
    for ours, theirs in zip(positional, keywords):
        assert_same_parameters(ours, theirs)
    rng = np.random.default_rng(5)
    for indices in positional.bootstrap_indices:
        np.testing.assert_array_equal(indices, rng.integers(0, 60, size=60))
    assert positional.combine == "proba"
    assert E.bagging(make_model, no_training, dataset, 2, 5, combine="vote").combine == "vote"


def test_train_fn_gets_a_fresh_model_and_its_bootstrap_subset(dataset):
    calls = []

    def recording(model, subset):
        calls.append((model, subset, tg.initial_seed()))
        return {"member": len(calls) - 1}

    ensemble = E.bagging(make_model, recording, dataset, n_models=3, seed=4, max_samples=0.5)
    assert len(calls) == 3
    for member, (model, subset, seed) in enumerate(calls):
        assert ensemble[member] is model                               # trained in place
        assert isinstance(subset, Subset) and subset.dataset is dataset and len(subset) == 30
        np.testing.assert_array_equal(subset.indices, ensemble.bootstrap_indices[member])
        assert seed == 4 + member                                      # tg.manual_seed(seed + m)
        tg.manual_seed(4 + member)
        assert_same_parameters(model, make_model())                    # freshly made, untrained
    assert len({id(model) for model, _, _ in calls}) == 3
    # what train_fn returns is kept, None included
    assert ensemble.histories == [{"member": 0}, {"member": 1}, {"member": 2}]
    assert E.bagging(make_model, no_training, dataset, n_models=2).histories == [None, None]


def test_each_member_is_trained_on_its_sample_alone(dataset):
    ensemble = E.bagging(make_model, train_fn(epochs=2, batch_size=16), dataset, n_models=2,
                         seed=3)
    assert all(isinstance(history, History) for history in ensemble.histories)
    assert [len(history.history["train_loss"]) for history in ensemble.histories] == [2, 2]
    for member in range(2):
        # rebuilt with a plain loop: same init seed, same sample, same batch order
        model = by_hand(3 + member, dataset, ensemble.bootstrap_indices[member], 2, 16)
        assert_same_parameters(ensemble[member], model)
    # the same seed gives the same ensemble; members differ from each other
    again = E.bagging(make_model, train_fn(epochs=2, batch_size=16), dataset, n_models=2,
                      seed=3)
    for ours, theirs in zip(ensemble, again):
        assert_same_parameters(ours, theirs)
    for ours, theirs in zip(ensemble.bootstrap_indices, again.bootstrap_indices):
        np.testing.assert_array_equal(ours, theirs)
    assert not np.allclose(ensemble[0][0].weight.numpy(), ensemble[1][0].weight.numpy())


def test_trainer_equals_the_loop_by_hand(dataset):
    indices = np.random.default_rng(1).integers(0, 60, size=45)
    tg.manual_seed(11)                                  # the loader's seed: tg.initial_seed()
    model = make_model()
    history = train_fn(epochs=3, batch_size=8)(model, Subset(dataset, indices))
    assert isinstance(history, History) and len(history.history["train_loss"]) == 3
    assert_same_parameters(model, by_hand(11, dataset, indices, 3, 8))
    # extra keywords go to fit
    tg.manual_seed(11)
    model = make_model()
    validated = train_fn(val_loader=DataLoader(dataset, batch_size=60))(model, dataset)
    assert "val_accuracy" in validated.history


def test_transform_is_applied_to_the_training_inputs(dataset):
    # inputs zeroed by the transform: the first layer's weights get no gradient and stay put
    ensemble = E.bagging(make_model, train_fn(batch_size=16, transform=lambda x: x * 0),
                         dataset, n_models=1, seed=0)
    tg.manual_seed(0)
    initial = make_model()
    np.testing.assert_array_equal(ensemble[0][0].weight.numpy(), initial[0].weight.numpy())
    assert not np.allclose(ensemble[0][0].bias.numpy(), initial[0].bias.numpy())


def test_out_of_bag_share_is_about_one_over_e():
    X = np.zeros((3000, 2), dtype=np.float32)
    y = np.zeros(3000, dtype=np.int64)
    ensemble = E.bagging(make_model, no_training, TensorDataset(X, y), n_models=2, seed=0)
    for unseen in ensemble.out_of_bag:
        assert len(unseen) / 3000 == pytest.approx(1 / math.e, abs=0.03)   # (1 − 1/N)^N


def test_bagging_errors(dataset):
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="n_models must be a positive integer"):
            E.bagging(make_model, no_training, dataset, n_models=bad)
    for bad in (0.0, 1.2):
        with pytest.raises(ValueError, match=r"max_samples must lie in \(0, 1\]"):
            E.bagging(make_model, no_training, dataset, max_samples=bad)
    with pytest.raises(ValueError, match="empty"):
        E.bagging(make_model, no_training, TensorDataset(np.zeros((0, 2))))
    with pytest.raises(TypeError, match=r"train_fn must be callable.*ensemble\.trainer"):
        E.bagging(make_model, "sgd", dataset)
    # the old order (make_model, make_optimizer, loss_fn, dataset, ...): a clear error
    new_signature = re.escape("bagging(make_model, train_fn, dataset, n_models=5, seed=0, *, "
                              "max_samples=1.0, bootstrap=True, combine='proba')")
    for old_call in (lambda: E.bagging(make_model, make_optimizer, F.cross_entropy, dataset),
                     lambda: E.bagging(make_model, make_optimizer, F.cross_entropy, dataset, 3),
                     lambda: E.bagging(make_model, make_optimizer, F.cross_entropy,
                                       bootstrap=False)):
        with pytest.raises(TypeError, match=new_signature) as raised:
            old_call()
        assert "ensemble.trainer" in str(raised.value)
        assert "third argument must be the dataset" in str(raised.value)
    with pytest.raises(TypeError, match="third argument must be the dataset"):
        E.bagging(make_model, no_training, 60)                      # no __len__ / __getitem__
