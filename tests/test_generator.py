"""``tg.Generator`` and the ``generator=`` arguments: a stream of its own, as PyTorch's."""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.data import DataLoader, TensorDataset, random_split


def draws(generator, device="cpu"):
    return [tg.rand(3, generator=generator, device=device).numpy(),
            tg.randn(2, 2, generator=generator, device=device).numpy(),
            tg.randint(0, 100, (4,), generator=generator, device=device).numpy(),
            tg.randperm(6, generator=generator).numpy(),
            tg.normal(0.0, 1.0, (2,), generator=generator).numpy(),
            tg.bernoulli(tg.full((5,), 0.5), generator=generator).numpy(),
            tg.multinomial(tg.ones(4), 2, generator=generator).numpy(),
            tg.zeros(3).exponential_(generator=generator).numpy(),
            tg.zeros(3).geometric_(0.5, generator=generator).numpy(),
            tg.zeros(3).log_normal_(generator=generator).numpy(),
            tg.zeros(3, dtype=tg.int64).random_(10, generator=generator).numpy()]


def test_the_same_seed_gives_the_same_draws_whatever_else_is_drawn(device):
    first = draws(tg.Generator().manual_seed(7), device)
    tg.rand(10)                                   # the framework's generator moves on
    second = draws(tg.Generator().manual_seed(7), device)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    third = draws(tg.Generator().manual_seed(8), device)
    assert not np.array_equal(first[0], third[0])


def test_a_generator_does_not_move_the_framework_generator():
    tg.manual_seed(0)
    expected = tg.rand(4).numpy()
    tg.manual_seed(0)
    tg.randn(100, generator=tg.Generator().manual_seed(1))
    np.testing.assert_array_equal(tg.rand(4).numpy(), expected)


def test_state_seed_and_initial_seed():
    g = tg.Generator().manual_seed(3)
    assert g.initial_seed() == 3 and g.device == "cpu"
    state = g.get_state()
    a = tg.rand(5, generator=g).numpy()
    g.set_state(state)
    np.testing.assert_array_equal(tg.rand(5, generator=g).numpy(), a)
    fresh = g.seed()
    assert g.initial_seed() == fresh and isinstance(fresh, int)
    with pytest.raises(TypeError, match="seed must be an int"):
        g.manual_seed(1.5)


def test_the_framework_state_and_fork_rng():
    tg.manual_seed(0)
    state = tg.get_rng_state()
    a = tg.rand(3).numpy()
    tg.set_rng_state(state)
    np.testing.assert_array_equal(tg.rand(3).numpy(), a)
    with tg.random.fork_rng():
        tg.rand(50)
    b = tg.rand(3).numpy()
    tg.set_rng_state(state)
    tg.rand(3)
    np.testing.assert_array_equal(tg.rand(3).numpy(), b)
    assert isinstance(tg.seed(), int)


def test_random_split_and_the_loader_take_a_generator():
    data = TensorDataset(np.arange(10.0).reshape(10, 1))
    split = [p.indices for p in random_split(data, [0.5, 0.5],
                                             generator=tg.Generator().manual_seed(2))]
    again = [p.indices for p in random_split(data, [0.5, 0.5],
                                             generator=tg.Generator().manual_seed(2))]
    assert split == again and sorted(split[0] + split[1]) == list(range(10))
    with pytest.raises(ValueError, match="not both"):
        random_split(data, [5, 5], seed=0, generator=tg.Generator())

    def order(generator):
        loader = DataLoader(data, batch_size=10, shuffle=True, generator=generator)
        return [int(v) for (batch,) in loader for v in batch.numpy().ravel()]
    assert order(tg.Generator().manual_seed(4)) == order(tg.Generator().manual_seed(4))
    assert sorted(order(tg.Generator().manual_seed(4))) == list(range(10))
