"""Audit of DataLoader's worker processes against torch.utils.data.DataLoader: a worker killed
by a signal, KeyError messages, prefetch_factor's type, going on after a failed batch, and
pins of behaviours found right (unsharded streams, NumPy's generator per worker,
get_worker_info in worker_init_fn, len of a stream loader).

Every loader with workers has timeout=20: a hang fails instead of stalling the suite."""

import os
import signal

import numpy as np
import pytest

from tinygrad_opt.data import DataLoader, Dataset, IterableDataset, get_worker_info

T = 20  # seconds: the timeout of every loader with workers


pytestmark = pytest.mark.usefixtures("no_process_left_behind")  # (conftest.py)


class FailsAt(Dataset):
    """Samples 0..5 as floats; ``fault(i)`` runs first (it may raise, or kill the worker)."""

    def __init__(self, fault):
        self.fault = fault

    def __len__(self):
        return 6

    def __getitem__(self, i):
        self.fault(i)
        return np.float32(i)


def _sigkill_at_3(i):
    if i == 3:
        os.kill(os.getpid(), signal.SIGKILL)


def _key_error_at_3(i):
    if i == 3:
        raise KeyError(i)


# --- errors ---------------------------------------------------------------------------------

def test_a_worker_killed_by_a_signal_names_the_signal():
    # PyTorch: RuntimeError "DataLoader worker (pid N) is killed by signal: Killed."
    loader = DataLoader(FailsAt(_sigkill_at_3), batch_size=1, num_workers=2, timeout=T)
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid \d+\) is killed by "
                                           r"signal: Killed\."):
        list(loader)


def test_a_key_error_in_a_worker_keeps_its_message_readable():
    # PyTorch wraps a KeyError's message (KeyErrorMessage) so that str() is the text itself,
    # not its repr with quotes and escaped newlines
    loader = DataLoader(FailsAt(_key_error_at_3), batch_size=2, num_workers=2, timeout=T)
    with pytest.raises(KeyError) as caught:
        list(loader)                         # indices 2, 3: the second batch, worker 1's
    text = str(caught.value)
    assert text.startswith("Caught KeyError in DataLoader worker process 1.\nOriginal Traceback")
    assert text.rstrip().endswith("KeyError: 3")


def test_next_after_a_failed_batch_goes_on_with_the_next_batch():
    # PyTorch's iterator is no generator: after an error in one batch, next() loads the next
    # one, so a loop may skip a bad sample; we used to end the epoch silently there
    batches = iter(DataLoader(FailsAt(_key_error_at_3), batch_size=1))
    got = []
    while True:
        try:
            got.append(next(batches).item())
        except KeyError:
            got.append("error")
        except StopIteration:
            break
    assert got == [0.0, 1.0, 2.0, "error", 4.0, 5.0]


# --- options --------------------------------------------------------------------------------

def test_prefetch_factor_must_be_an_integer():
    # PyTorch fails at iter() with "'float' object cannot be interpreted as an integer"
    # (range(prefetch_factor * num_workers)); we name the option when the loader is built
    with pytest.raises(TypeError, match="prefetch_factor must be an integer.*got 1.5"):
        DataLoader(FailsAt(abs), num_workers=1, prefetch_factor=1.5)
    with pytest.raises(TypeError, match="prefetch_factor must be an integer"):
        DataLoader(FailsAt(abs), num_workers=1, prefetch_factor=True)
    loader = DataLoader(FailsAt(abs), batch_size=4, num_workers=1, timeout=T,
                        prefetch_factor=np.int64(3))
    assert [batch.numpy().tolist() for batch in loader] == [[0, 1, 2, 3], [4, 5]]


class Numbers(IterableDataset):
    """The stream 0..4, not split between workers; a length only if ``sized``."""

    def __iter__(self):
        return iter(range(5))


class SizedNumbers(Numbers):
    def __len__(self):
        return 5


def test_len_of_a_stream_loader_is_that_of_its_data_set_whatever_the_workers():
    # PyTorch: ceil(len(dataset) / batch_size) (floor with drop_last); no __len__: TypeError
    assert len(DataLoader(SizedNumbers(), batch_size=2, num_workers=2)) == 3
    assert len(DataLoader(SizedNumbers(), batch_size=2, drop_last=True, num_workers=2)) == 2
    assert len(DataLoader(SizedNumbers(), batch_size=None, num_workers=2)) == 5
    with pytest.raises(TypeError, match="has no __len__"):
        len(DataLoader(Numbers(), batch_size=2, num_workers=2))


# --- streams --------------------------------------------------------------------------------

def test_an_unsplit_stream_is_read_whole_by_each_worker():
    # PyTorch: each worker iterates its own copy, so without get_worker_info sharding every
    # sample comes num_workers times; the workers' batches interleave
    loader = DataLoader(Numbers(), batch_size=2, num_workers=2, timeout=T)
    assert [b.numpy().tolist() for b in loader] == [[0, 1], [0, 1], [2, 3], [2, 3], [4], [4]]
    loader = DataLoader(Numbers(), batch_size=None, num_workers=2, timeout=T)
    assert list(loader) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


# --- seeds and worker_init_fn ---------------------------------------------------------------

class NumpyDraws(Dataset):
    """Sample i: (the worker's id, a draw of NumPy's legacy global generator)."""

    tag = None

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return get_worker_info().id, float(np.random.rand()), self.tag


def _draws(**options):
    loader = DataLoader(NumpyDraws(), batch_size=1, num_workers=2, timeout=T,
                        collate_fn=lambda samples: samples[0], **options)
    return list(loader)


def test_numpy_global_generator_is_seeded_per_worker():
    # PyTorch seeds np.random in each worker from base_seed and the worker id: the workers'
    # np.random draws differ from each other, and follow the loader's generator
    first = _draws(seed=7)
    assert [worker for worker, *_ in first] == [0, 1, 0, 1]
    assert first[0][1] != first[1][1]        # the two workers' first draws
    assert _draws(seed=7) == first
    assert _draws(seed=8) != first


def _tag_my_copy(worker_id):
    info = get_worker_info()
    assert info.id == worker_id and info.num_workers == 2
    info.dataset.tag = f"configured by {worker_id}"


def test_worker_init_fn_configures_the_worker_copy_through_get_worker_info():
    # PyTorch: in worker_init_fn, get_worker_info().dataset is that worker's copy
    dataset = NumpyDraws()
    loader = DataLoader(dataset, batch_size=1, num_workers=2, timeout=T,
                        collate_fn=lambda samples: samples[0], worker_init_fn=_tag_my_copy)
    assert [(worker, tag) for worker, _, tag in loader] == [
        (0, "configured by 0"), (1, "configured by 1")] * 2
    assert dataset.tag is None               # the main process's data set is untouched
