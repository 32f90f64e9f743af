"""The 'strict' test device refuses what CuPy refuses (implicit host conversion),
and allows what CuPy allows (ufuncs, .item(), explicit transfers)."""

import pickle

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.backend import strict


@pytest.fixture
def array():
    return strict.asarray(np.array([[1.0, 2.0], [3.0, 4.0]]))


def test_implicit_conversions_are_refused(array):
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(array)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.array(array)
    with pytest.raises(TypeError, match="item"):
        float(array[0, 0])
    with pytest.raises(TypeError, match="item"):
        int(array[0, 0])
    with pytest.raises(TypeError):
        [10, 20, 30][array[0, 0]]
    with pytest.raises(TypeError):
        pickle.dumps(array)


def test_mixing_a_numpy_array_is_refused(array):
    host = np.ones((2, 2))
    with pytest.raises(TypeError, match="NumPy"):
        array + host
    with pytest.raises(TypeError, match="NumPy"):
        host * array
    with pytest.raises(TypeError, match="NumPy"):
        np.add(array, host)
    with pytest.raises(TypeError, match="NumPy"):
        strict.concatenate([array, host])
    with pytest.raises(TypeError, match="NumPy"):
        array[np.array([0, 1])]


def test_what_cupy_allows_works(array):
    assert array[1, 1].item() == 4.0
    assert bool(array[0, 0] > 0)
    assert array.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    for result in (np.exp(array), array + 1, 2 * array, array @ array, -array,
                   array.sum(axis=0), array.reshape(4), array.T, array[0], strict.zeros(3),
                   strict.maximum(array, 2.0), strict.where(array > 2, array, 0.0),
                   np.sum(array), array.max()):
        assert type(result) is strict.StrictArray
    np.testing.assert_array_equal(strict.asnumpy(np.exp(array)), np.exp([[1.0, 2.0],
                                                                       [3.0, 4.0]]))
    target = strict.zeros(3)
    np.add.at(target, strict.asarray(np.array([0, 0, 2])), 1.0)
    assert target.tolist() == [2.0, 0.0, 1.0]
    array[0, 0] = 7.0  # assignment of Python numbers and device arrays works
    array[1] = strict.asarray(np.array([5.0, 6.0]))
    assert array.tolist() == [[7.0, 2.0], [5.0, 6.0]]


def test_backend_transfers(array):
    host = backend.to_host(array)
    assert type(host) is np.ndarray
    np.testing.assert_array_equal(host, [[1.0, 2.0], [3.0, 4.0]])
    host[0, 0] = 100.0  # a copy: the device array is unchanged
    assert array[0, 0].item() == 1.0
    assert backend.device_of(array) == "strict"
    assert backend.xp_of(array) is strict
    assert backend.get_xp("cpu") is np and backend.get_xp("strict") is strict
    moved = backend.to_device(host, "strict")
    assert type(moved) is strict.StrictArray and moved[0, 0].item() == 100.0
    assert backend.to_device(moved, "strict") is moved
    assert type(backend.to_device(moved, "cpu")) is np.ndarray
    assert backend.is_array(array) and backend.is_array(host) and not backend.is_array(1.0)


def test_strict_tensor_refuses_implicit_conversion():
    x = tg.tensor([1.0, 2.0], device="strict")
    assert type(x.data) is strict.StrictArray
    with pytest.raises(TypeError, match=r"\.numpy\(\)"):
        np.asarray(x)
    with pytest.raises(TypeError):
        float(x[0].data)
    assert float(x[0]) == 1.0  # a Tensor's float() goes through .item()
    assert type(x.numpy()) is np.ndarray
    np.testing.assert_array_equal(np.asarray(tg.tensor([1.0, 2.0])), [1.0, 2.0])  # cpu: fine


def test_strict_and_cpu_give_the_same_results():
    values = np.random.default_rng(0).standard_normal((3, 4))
    results = {}
    for device in ("cpu", "strict"):
        x = tg.tensor(values, requires_grad=True, device=device)
        y = ((x @ x.T).tanh().sum(dim=1) * x[:, 0]).logsumexp(dim=0)
        y.backward()
        results[device] = (y.item(), x.grad.numpy())
    assert results["cpu"][0] == results["strict"][0]
    np.testing.assert_array_equal(results["cpu"][1], results["strict"][1])


def test_an_element_is_a_zero_d_view_as_in_cupy(array):
    element = array[1, 0]          # NumPy would copy a scalar out; CuPy gives a 0-d view
    assert type(element) is strict.StrictArray and element.shape == ()
    array[1, 0] = 30.0
    assert element.item() == 30.0
    assert array[1][...].shape == (2,) and array[..., 0].shape == (2,)

