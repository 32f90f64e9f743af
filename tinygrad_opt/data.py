"""Feeding data to a model: data sets, mini-batches, splits, scaling, resampling.

The names and behaviour follow ``torch.utils.data``:

* a **data set** is anything with ``__len__`` and ``__getitem__(i)`` (see
  :class:`Dataset`); :class:`TensorDataset` wraps arrays that share their first
  dimension, :class:`Subset` views part of another data set,
  :class:`ConcatDataset` puts data sets one after another and :class:`StackDataset`
  side by side; an :class:`IterableDataset` is a stream of samples instead
  (``__iter__``), :class:`ChainDataset` one stream after another;
* a **sampler** is an iterable of indices, a fresh order each epoch:
  :class:`SequentialSampler`, :class:`RandomSampler`, :class:`SubsetRandomSampler`,
  :class:`WeightedRandomSampler`; :class:`BatchSampler` groups indices into batches;
* a :class:`DataLoader` walks a data set in mini-batches, every sample exactly
  once per epoch, optionally in a fresh random order each epoch, and yields
  lists of Tensors on the device you ask for (:func:`default_collate` stacks the
  samples of a batch; with ``batch_size=None`` it yields the samples one by one,
  :func:`default_convert` making their arrays Tensors);
* :func:`random_split` cuts a data set into disjoint random parts (train /
  validation / test), :func:`standardize` scales features with statistics of the
  training part only, and :func:`balanced_indices` over- or under-samples
  classes for imbalanced problems; :func:`class_weights` weighs the loss
  instead;
* :class:`RandomShiftRotate` augments small images (the 8x8 digits) with
  random small shifts and rotations, :class:`RandomShift` and
  :class:`RandomRotation` with one of the two (:func:`shift_rotate` does one warp).

All of this is host-side bookkeeping (index arithmetic in NumPy); only the
finished batch is sent to the device, once.

Randomness: ``seed=None`` uses the framework's host generator (seeded by
``tg.manual_seed``); an int seed gives a private generator, so the same seed
gives the same result whatever else the program draws; ``generator=`` (PyTorch's
spelling: a ``tg.Generator``) draws from that generator.
"""

from __future__ import annotations

import bisect
import copy
import itertools
import math
import operator
import warnings
from typing import (Iterable, Iterator, Mapping, MutableMapping, MutableSequence,
                    Sequence)

import numpy as np

from tinygrad_opt import backend, data_workers
from tinygrad_opt.data_workers import _current_rng  # (what a loader or sampler draws from)

__all__ = [
    "Dataset", "TensorDataset", "Subset", "ConcatDataset", "StackDataset",
    "IterableDataset", "ChainDataset",
    "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
    "WeightedRandomSampler", "BatchSampler",
    "DataLoader", "default_collate", "default_convert", "get_worker_info",
    "random_split", "standardize", "balanced_indices",
    "class_weights", "shift_rotate", "RandomShiftRotate", "RandomShift", "RandomRotation",
]


def _generator(seed) -> np.random.Generator:
    """A NumPy generator: the framework's host generator for ``None``, a NumPy generator
    or a ``tg.Generator``'s as it is, else a fresh one from the int seed."""
    if seed is None:
        return backend.host_rng()
    if isinstance(seed, np.random.Generator):
        return seed
    if hasattr(seed, "numpy_rng"):  # a tg.Generator
        return seed.numpy_rng
    return np.random.default_rng(seed)


def _rng_source(seed):
    """What a loader or sampler draws from: None (the framework's generator), a
    ``tg.Generator`` (kept as itself: its ``manual_seed`` makes it a new NumPy generator,
    which the next draw must see, as PyTorch's loader sees ``generator.manual_seed``), or
    a NumPy generator (an int seed's, made once)."""
    if seed is None or hasattr(seed, "numpy_rng"):
        return seed
    return _generator(seed)


def _check_worker_options(num_workers, timeout, prefetch_factor, persistent_workers,
                          multiprocessing_context) -> None:
    """DataLoader's worker options: the values and combinations PyTorch refuses."""
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"DataLoader: num_workers must be an integer >= 0, got "
                         f"{num_workers!r}")
    if timeout < 0:
        raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout}")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("DataLoader: prefetch_factor option could only be specified in "
                         "multiprocessing: let num_workers > 0, otherwise set prefetch_factor "
                         "to None")
    if prefetch_factor is not None and (isinstance(prefetch_factor, bool)
                                        or not isinstance(prefetch_factor, (int, np.integer))):
        raise TypeError(f"DataLoader: prefetch_factor must be an integer (batches in flight per "
                        f"worker), got {prefetch_factor!r}")
    if prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError(f"DataLoader: prefetch_factor option should be non-negative, got "
                         f"{prefetch_factor}")
    if persistent_workers and num_workers == 0:
        raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
    if num_workers > 0 and prefetch_factor == 0:
        raise ValueError("DataLoader: prefetch_factor must be at least 1 with num_workers > 0 "
                         "(each worker needs a batch in flight), got 0")
    if multiprocessing_context is not None and num_workers == 0:
        raise ValueError("DataLoader: multiprocessing_context can only be used with "
                         "multi-process loading (num_workers > 0), but got num_workers=0")


def _tensor_type():
    # imported lazily: tinygrad_opt/__init__ imports the core, which may import us
    from tinygrad_opt.tensor import Tensor
    return Tensor


def _to_host(value) -> np.ndarray:
    """A host NumPy array from a Tensor, a device array, or array-like data."""
    Tensor = _tensor_type()
    if isinstance(value, Tensor):
        return value.numpy()
    return backend.to_host(value)


# --- data sets ---------------------------------------------------------------

class Dataset:
    """A data set: ``len(dataset)`` samples, ``dataset[i]`` the i-th one.

    Subclass it and define ``__len__`` and ``__getitem__``; ``__getitem__``
    usually returns a tuple such as ``(features, label)``. Any object with
    those two methods works with :class:`DataLoader`, subclass or not. A data set may
    also define ``__getitems__(keys)``, the list of samples of a batch's keys in one
    call (a faster batched read): the loader then calls it once per batch.
    """

    def __len__(self) -> int:  # (PyTorch's Dataset has none: len() raises TypeError there)
        raise TypeError(f"object of type '{type(self).__name__}' has no len(): a Dataset "
                        "subclass must define __len__")

    def __getitem__(self, index: int):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other) -> "ConcatDataset":
        """``a + b`` is ``ConcatDataset([a, b])``: the samples of a, then those of b."""
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples are rows of arrays that share their first dimension.

    ``TensorDataset(X, y)[i] == (X[i], y[i])``. The arrays may be NumPy arrays,
    device arrays or Tensors (lists are converted to NumPy arrays); they are kept
    as given, not copied. A :class:`DataLoader` over a TensorDataset gathers a
    whole batch with one fancy index per array.

    ``transform`` (optional, as torchvision's datasets take one): a function of
    the inputs, the first array, applied each time rows are read, so that every
    epoch sees fresh random amounts: ``TensorDataset(X, y, transform=
    data.RandomShift(1.0))``. It is called on a batch of rows (the loader's whole
    batch at once; ``dataset[i]`` calls it on the one row ``X[i:i+1]``), which is
    what the augmentations of this module take. Give it to the training set only.
    """

    def __init__(self, *arrays, transform=None):
        if transform is not None and not callable(transform):
            raise TypeError(f"TensorDataset: transform must be callable, got {transform!r}")
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        Tensor = _tensor_type()
        arrays = tuple(a if isinstance(a, Tensor) or backend.is_array(a) else np.asarray(a)
                       for a in arrays)
        for position, array in enumerate(arrays):
            if len(array.shape) == 0:
                raise ValueError(f"TensorDataset: array {position} is 0-d; each array needs "
                                 "a first dimension (one row per sample)")
        lengths = [array.shape[0] for array in arrays]
        if len(set(lengths)) != 1:
            raise ValueError(
                f"TensorDataset: Size mismatch between tensors: the arrays must have the same "
                f"length (first dimension), got lengths {lengths}")
        self.arrays = arrays
        # PyTorch names the field .tensors; keep that spelling working too
        self.tensors = arrays
        self.transform = transform

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index):
        rows = tuple(array[index] for array in self.arrays)
        if self.transform is None:
            return rows
        if isinstance(index, (int, np.integer)):  # one sample: the transform takes a batch
            inputs = self.transform(self.arrays[0][index:index + 1 or None])[0]  # (-1: [-1:])
        else:
            inputs = self.transform(rows[0])
        return (inputs,) + rows[1:]

    def __repr__(self) -> str:
        shapes = ", ".join(str(tuple(array.shape)) for array in self.arrays)
        transform = "" if self.transform is None else f", transform={self.transform!r}"
        return f"TensorDataset({shapes}{transform})"


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    ``Subset(dataset, indices)[i]`` is ``dataset[indices[i]]``; a list of positions
    reads ``dataset[[indices[i] for i in positions]]`` (PyTorch's rule), one call, and
    a slice ``dataset[indices[a:b]]`` likewise (PyTorch's indices are a list, which slices).
    ``indices`` is kept as the object given, as PyTorch's (so ``train.indices +
    val.indices`` of two lists concatenates them); keys that are not integers (a
    dict-like data set's strings) are passed on unchanged, as PyTorch does.
    """

    def __init__(self, dataset, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[_key(self.indices[i]) for i in index]]
        if isinstance(index, slice):
            keys = self.indices[index]
            if isinstance(keys, _tensor_type()) or backend.is_array(keys):
                keys = _to_host(keys).tolist()      # a batch of keys, as a list slices
            return self.dataset[keys]
        return self.dataset[_key(self.indices[index])]

    def __getitems__(self, positions: list) -> list:
        """The samples at ``positions``, one batched read ``dataset.__getitems__(keys)``
        where the data set has one (PyTorch's forwarding), else one read per key. A
        subclass that defines its own ``__getitem__`` is read through it, sample by sample
        (the loader must give what ``subset[i]`` gives; newer PyTorch does the same)."""
        if type(self).__getitem__ is not Subset.__getitem__:
            return [self[i] for i in positions]
        keys = [_key(self.indices[i]) for i in positions]
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__(keys)
        return [self.dataset[key] for key in keys]

    def __repr__(self) -> str:
        return f"Subset({self.dataset!r}, {len(self)} samples)"


class ConcatDataset(Dataset):
    """The samples of several data sets, one data set after another.

    With ``cumulative_sizes = [n_0, n_0 + n_1, ...]`` (the running total of the
    lengths), global index ``i`` is sample ``i - cumulative_sizes[d - 1]`` of data
    set ``d``, the first ``d`` with ``i < cumulative_sizes[d]`` (a binary search).
    A negative index counts from the end, as for a list.
    ``ConcatDataset([a, b])`` is also ``a + b``.
    """

    def __init__(self, datasets: Iterable):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for dataset in self.datasets:
            if isinstance(dataset, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset "
                                f"(got {type(dataset).__name__}); use ChainDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    @staticmethod
    def cumsum(sequence) -> list[int]:
        """The running total of the lengths: ``[n_0, n_0 + n_1, ...]``."""
        return [int(total) for total in np.cumsum([len(dataset) for dataset in sequence])]

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        n = len(self)
        if index < 0:
            if -index > n:
                raise ValueError(f"ConcatDataset: absolute value of index {index} should not "
                                 f"exceed dataset length {n}")
            index = n + index
        if index >= n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for length {n}")
        dataset_index = bisect.bisect_right(self.cumulative_sizes, index)  # first total > index
        start = 0 if dataset_index == 0 else self.cumulative_sizes[dataset_index - 1]
        return self.datasets[dataset_index][index - start]

    def __repr__(self) -> str:
        return f"ConcatDataset({len(self.datasets)} data sets, {len(self)} samples)"


class StackDataset(Dataset):
    """The samples of equally long data sets side by side.

    ``StackDataset(a, b)[i] == (a[i], b[i])``; with keywords,
    ``StackDataset(image=a, label=b)[i] == {"image": a[i], "label": b[i]}``.
    """

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("StackDataset: supported either tuple-like (via args) or "
                             "dict-like (via kwargs) input/output, but both types are given")
        if not args and not kwargs:
            raise ValueError("StackDataset: at least one dataset should be passed")
        datasets = args if args else kwargs
        lengths = [len(dataset) for dataset in (args or kwargs.values())]
        if len(set(lengths)) != 1:
            raise ValueError(f"StackDataset: size mismatch between datasets, lengths {lengths}")
        self.datasets = datasets
        self._length = lengths[0]

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {key: dataset[index] for key, dataset in self.datasets.items()}
        return tuple(dataset[index] for dataset in self.datasets)

    def __getitems__(self, indices: list) -> list:
        """The samples at ``indices``: each data set with a ``__getitems__`` is read once
        for all of them (PyTorch's batched read), the others index by index."""
        named = isinstance(self.datasets, dict)
        columns = []                                 # one list of values per data set
        for name, dataset in (self.datasets.items() if named else enumerate(self.datasets)):
            if callable(getattr(dataset, "__getitems__", None)):
                values = dataset.__getitems__(indices)
                if len(values) != len(indices):
                    raise ValueError(f"StackDataset: nested dataset {name!r}'s __getitems__ "
                                     f"gave {len(values)} samples for {len(indices)} indices")
            else:
                values = [dataset[index] for index in indices]
            columns.append(values)
        if named:
            return [dict(zip(self.datasets, sample)) for sample in zip(*columns)]
        return list(zip(*columns))


class IterableDataset(Dataset):
    """A data set that is a stream: ``for sample in dataset`` instead of ``dataset[i]``.

    Subclass it and define ``__iter__`` (a generator is the usual way); each
    ``iter(dataset)`` starts a new pass, one epoch. A :class:`DataLoader` groups
    the samples in the order they come into batches of ``batch_size``; there are
    no indices, so it takes no ``shuffle``, ``sampler`` or ``batch_sampler`` (shuffle
    inside ``__iter__``). ``__len__`` is optional: without it ``len(loader)`` is a
    TypeError, as for any object without a length. ``a + b`` is
    ``ChainDataset([a, b])``.
    """

    def __iter__(self) -> Iterator:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __len__(self) -> int:
        raise TypeError(f"object of type '{type(self).__name__}' has no len()")

    def __add__(self, other) -> "ChainDataset":
        """``a + b`` is ``ChainDataset([a, b])``: the stream of a, then that of b."""
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Several :class:`IterableDataset` s, one stream after another.

    ``iter(ChainDataset([a, b]))`` yields every sample of ``a``, then every
    sample of ``b``, without reading them ahead; ``len`` is the sum of the lengths.
    """

    def __init__(self, datasets: Iterable):
        self.datasets = datasets

    def _checked(self):
        for dataset in self.datasets:
            if not isinstance(dataset, IterableDataset):
                raise TypeError("ChainDataset only supports IterableDataset, got "
                                f"{type(dataset).__name__}")
            yield dataset

    def __iter__(self) -> Iterator:
        for dataset in self._checked():
            yield from dataset

    def __len__(self) -> int:
        return sum(len(dataset) for dataset in self._checked())


def _integer_rows(indices):
    """A Subset's ``indices`` as an int64 array of rows (a copy, read when the loader is
    built), or None where they are not all integers (other keys: read one by one)."""
    try:
        rows = np.asarray(_to_host(indices))
    except (TypeError, ValueError, RuntimeError):   # e.g. a list of 0-d tensors
        return None
    if rows.ndim != 1 or not (rows.dtype.kind in "iu" or rows.size == 0):
        return None
    return rows.astype(np.int64)


def _resolve_tensor_dataset(dataset):
    """For (nested) Subsets of a TensorDataset: the TensorDataset and the index map.

    Returns ``(tensor_dataset, index_map)`` where ``index_map`` (or None for the
    identity) maps the outer data set's indices to rows of the arrays, or
    ``(None, None)`` if ``dataset`` is not built on a TensorDataset. A subclass that
    defines its own ``__getitem__`` or ``__getitems__`` is read through it, as PyTorch's
    loader does.
    """
    index_map = None
    while isinstance(dataset, Subset):
        rows = _integer_rows(dataset.indices)
        if (type(dataset).__getitem__ is not Subset.__getitem__
                or type(dataset).__getitems__ is not Subset.__getitems__
                or rows is None):                                  # keys, not rows
            return None, None
        index_map = rows if index_map is None else rows[index_map]
        dataset = dataset.dataset
    if (isinstance(dataset, TensorDataset)
            and type(dataset).__getitem__ is TensorDataset.__getitem__
            and getattr(type(dataset), "__getitems__", None) is None):
        return dataset, index_map
    return None, None


# --- samplers: the order of the indices -------------------------------------------------

def _sampler_rng(name: str, generator, seed):
    """The private generator of a sampler (None: draw from the framework's generator)."""
    if generator is not None and seed is not None:
        raise ValueError(f"{name}: give generator= or seed=, not both")
    return _rng_source(generator if generator is not None else seed)


def _is_positive_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0


def _key(index):
    """A sampler's index as the data set is asked for it: a Python int where it is an
    integer (``np.int64``, a 0-d integer array or Tensor), else as it is: a map-style data
    set may have other keys (a dict's strings), which PyTorch passes on unchanged."""
    try:
        return operator.index(index)
    except TypeError:
        return index


def _is_int_array(indices) -> bool:
    """Whether one batch's (or epoch's) indices are integers, for a fancy index."""
    return isinstance(indices, np.ndarray) or all(type(i) is int for i in indices)


class Sampler:
    """The base of samplers: an iterable of data set indices, a new pass each epoch.

    Subclass it and define ``__iter__`` (and ``__len__`` when the number of
    indices is known). A :class:`DataLoader` takes any such object as
    ``sampler=`` (one index per sample) or ``batch_sampler=`` (one list per batch).
    """

    def __init__(self, data_source=None) -> None:
        pass

    def __iter__(self) -> Iterator:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """The indices 0, 1, ..., len(data_source) - 1, in order, every epoch."""

    def __init__(self, data_source) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """Random indices of ``data_source``, fresh each epoch.

    * ``replacement=False``: a random permutation of 0..N-1 (every sample once);
      ``num_samples`` larger than N strings whole permutations together and cuts
      the last one short, so each index appears ``floor`` or ``ceil`` of
      ``num_samples / N`` times;
    * ``replacement=True``: ``num_samples`` independent uniform draws from 0..N-1.

    ``num_samples`` defaults to N. Randomness as in this module: ``generator=``
    (a NumPy Generator or an int seed, in place of a ``torch.Generator``) or
    ``seed=`` gives a private generator, so the same seed gives the same
    sequence of epochs; neither draws from the framework's generator
    (``tg.manual_seed``). With the same seed and ``replacement=False``,
    ``DataLoader(ds, sampler=RandomSampler(ds, seed=s))`` visits the samples in
    the order of ``DataLoader(ds, shuffle=True, seed=s)``.
    """

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None,
                 generator=None, *, seed=None) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, but got "
                            f"replacement={replacement!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        self._rng = _sampler_rng("RandomSampler", generator, seed)
        if not _is_positive_int(self.num_samples):
            raise ValueError(f"RandomSampler: num_samples should be a positive integer value, "
                             f"but got num_samples={self.num_samples!r}")

    @property
    def num_samples(self) -> int:
        """How many indices one epoch yields: ``num_samples``, or ``len(data_source)``."""
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        if n == 0:
            raise ValueError("RandomSampler: the data source is empty, there is nothing to draw")
        rng = _current_rng(self._rng)
        if self.replacement:
            yield from rng.integers(0, n, size=self.num_samples).tolist()
            return
        whole, rest = divmod(self.num_samples, n)
        for _ in range(whole):
            yield from rng.permutation(n).tolist()
        if rest:
            yield from rng.permutation(n)[:rest].tolist()

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order, a new one each epoch (no repeats).

    Epoch order ``indices[p_0], indices[p_1], ...`` for a random permutation
    ``p`` of 0..len(indices)-1: e.g. the training part of a data set,
    ``SubsetRandomSampler(train_indices)``. ``generator`` / ``seed`` as
    :class:`RandomSampler`.
    """

    def __init__(self, indices: Sequence[int], generator=None, *, seed=None) -> None:
        self.indices = indices
        self.generator = generator
        self._rng = _sampler_rng("SubsetRandomSampler", generator, seed)

    def __iter__(self) -> Iterator[int]:
        rng = _current_rng(self._rng)
        for position in rng.permutation(len(self.indices)).tolist():
            yield self.indices[position]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn from 0..len(weights)-1 with probabilities ∝ ``weights``.

    ``p_i = w_i / Σ_j w_j``:

    * ``replacement=True``: ``num_samples`` independent draws, each index i with
      probability ``p_i`` (so index i appears about ``num_samples · p_i`` times);
    * ``replacement=False``: one draw after another, each among the indices not
      drawn yet, with probability ``w_i / Σ_{j not drawn} w_j`` (as
      ``torch.multinomial``); no index twice, so ``num_samples`` can be at most
      the number of positive weights.

    An index with weight 0 is never drawn. The weights need not sum to 1: give
    each sample the weight of its class, ``class_weights(y)[y]``, to draw the
    classes equally often. ``generator`` / ``seed`` as :class:`RandomSampler`.
    """

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None,
                 *, seed=None) -> None:
        if not _is_positive_int(num_samples):
            raise ValueError(f"WeightedRandomSampler: num_samples should be a positive integer "
                             f"value, but got num_samples={num_samples!r}")
        if not isinstance(replacement, bool):
            raise ValueError(f"WeightedRandomSampler: replacement should be a boolean value, "
                             f"but got replacement={replacement!r}")
        host = np.asarray(_to_host(weights), dtype=np.float64)
        if host.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1d sequence but given "
                             f"weights have shape {tuple(host.shape)}")
        if not np.all(np.isfinite(host)) or np.any(host < 0):
            raise ValueError("WeightedRandomSampler: weights must be finite and >= 0, got "
                             f"{host.tolist() if host.size <= 10 else 'some that are not'}")
        positive = int(np.count_nonzero(host))
        if positive == 0:
            raise ValueError("WeightedRandomSampler: the weights sum to 0, nothing can be drawn")
        if not replacement and num_samples > positive:
            raise ValueError(f"WeightedRandomSampler: cannot draw num_samples={num_samples} "
                             f"without replacement from {positive} indices of positive weight")
        self.weights = _tensor_type()(host)         # float64, as torch.as_tensor(.., double)
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = generator
        scaled = host / host.max()                  # w_i / max w: Σ cannot overflow (1e308s)
        self._probabilities = scaled / scaled.sum()  # p_i = w_i / Σ_j w_j
        self._rng = _sampler_rng("WeightedRandomSampler", generator, seed)

    def __iter__(self) -> Iterator[int]:
        rng = _current_rng(self._rng)
        drawn = rng.choice(len(self._probabilities), size=self.num_samples,
                           replace=self.replacement, p=self._probabilities)
        yield from drawn.tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """The indices of ``sampler`` grouped into lists of ``batch_size``, one list per batch.

    ``list(BatchSampler(SequentialSampler(range(10)), 3, drop_last=False))`` is
    ``[[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]``; ``drop_last=True`` drops the last,
    shorter list. ``DataLoader(ds, batch_sampler=BatchSampler(s, b, d))`` gives
    the batches of ``DataLoader(ds, sampler=s, batch_size=b, drop_last=d)``.
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool) -> None:
        if not _is_positive_int(batch_size):
            raise ValueError(f"BatchSampler: batch_size should be a positive integer value, "
                             f"but got batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got "
                             f"drop_last={drop_last!r}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch = []
        for index in self.sampler:
            batch.append(_key(index))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return math.ceil(len(self.sampler) / self.batch_size)


def get_worker_info():
    """Which loading worker runs this code: ``None`` in the main process.

    In a worker process of a ``DataLoader(num_workers > 0)`` it returns an object
    with ``id`` (0 .. num_workers-1), ``num_workers``, ``seed`` (the seed this
    worker's generators got) and ``dataset`` (the worker's copy of the data set),
    as PyTorch's, so that ``IterableDataset.__iter__`` can read its share of a
    stream, or ``worker_init_fn`` configure the worker's copy.
    """
    return data_workers.worker_info


# --- the loader ----------------------------------------------------------------

class DataLoader:
    """Mini-batches of a data set, as lists of Tensors on ``device`` (PyTorch's ``[X, y]``).

    One pass ``for X, y in loader:`` is one epoch. Per epoch the loader makes an
    index order, cuts it into batches of ``batch_size`` and gathers each batch:

    * ``shuffle=False``: the order 0, 1, ..., N-1;
    * ``shuffle=True``: a random permutation, a new one every epoch. With an
      int ``seed`` the loader owns a generator, so two loaders built with the
      same seed give the same sequence of epochs; ``seed=None`` draws from the
      framework's generator (seeded by ``tg.manual_seed``);
    * ``sampler``: any iterable of indices (a list, an array,
      :func:`balanced_indices`' result, or an object whose ``__iter__`` yields a
      fresh order per epoch); it is iterated once per epoch, ``batch_size`` indices
      at a time (so an endless sampler works), and excludes ``shuffle``. Its indices
      may be keys that are not integers (a dict's strings, say): the data set is asked
      for ``dataset[key]`` with them as they are.

    Without a sampler every sample appears exactly once per epoch. The last,
    smaller batch is kept unless ``drop_last``. ``len(loader)`` is the number of
    batches per epoch.

    Batches: for a :class:`TensorDataset` (or a Subset of one) each array is
    gathered with one fancy index ``array[batch_indices]`` and sent to ``device``
    as one transfer; the dtypes are kept (int64 labels stay int64). Any other
    data set is read sample by sample and the fields are stacked: Tensors and
    arrays keep their dtype, Python ints become int64 and Python floats the
    default float dtype (float32). A sample that is a tuple or list gives a list
    of Tensors (PyTorch's rule; a TensorDataset's batch too), a named tuple the same
    named tuple, a dict gives a dict, a single array gives a single Tensor,
    strings stay a list (:func:`default_collate`).

    As in PyTorch: ``collate_fn(samples)`` replaces that stacking (the samples
    are read one by one, and the batch is what it returns, on whatever device it
    chose); ``batch_sampler`` (an iterable of index lists, one per batch)
    replaces ``batch_size``, ``shuffle``, ``sampler`` and ``drop_last``.
    Worker processes, as PyTorch's (tinygrad_opt/data_workers.py):
    ``num_workers > 0`` starts that many; the main process draws the index lists
    as with ``num_workers=0``, the workers fetch and collate them,
    ``prefetch_factor`` (default 2) batches in flight per worker, and the batches
    come back in order: those of ``num_workers=0``. For an IterableDataset each
    worker iterates its own copy (split the stream with :func:`get_worker_info`),
    ``batch_size`` and ``drop_last`` apply per worker, and the workers' batches
    interleave round-robin. Worker ``k`` seeds the framework's generator
    (``tg.manual_seed``) and ``random`` with ``base_seed + k`` (``base_seed``: one
    draw from the loader's generator, or the framework's, for each set of workers,
    before the epoch's order, as PyTorch; without workers none is drawn), then
    calls ``worker_init_fn(k)``. The workers stop at the end of the epoch (or when
    the loop is left), unless ``persistent_workers=True`` keeps them for the next.
    ``timeout > 0``: a RuntimeError if a batch takes longer (seconds). An
    exception in a worker is raised here, naming the worker, with its traceback,
    and ends the epoch (PyTorch's iterator would go on with the next batch, as
    ours does with ``num_workers=0``); a worker that dies names its signal.
    Workers collate on the CPU and send arrays; the Tensors are rebuilt here, on
    ``device`` (where a ``collate_fn`` made them: on the CPU).
    ``multiprocessing_context``: a start method ("fork", "spawn", "forkserver") or a
    context, ``None`` the platform's default; with "spawn" the data set and the
    functions must pickle. ``pin_memory``, ``pin_memory_device`` and ``in_order``
    are accepted and change nothing (the batches always come in order). The
    combinations PyTorch refuses raise its ValueError.

    The arguments come in PyTorch's order (``DataLoader(ds, 32, True, None, None, 0,
    collate)``); ours, ``seed`` (an int or NumPy generator for the shuffling, instead
    of ``generator``) and ``device`` (where the batches go; None: the default device,
    ``'cpu'`` unless ``tg.set_default_device`` changed it), come last, by keyword.

    An :class:`IterableDataset` is read as a stream: its samples, in the order
    they come, are cut into batches of ``batch_size`` (the last, shorter one
    kept unless ``drop_last``). A stream has no indices, so ``shuffle``,
    ``sampler`` and ``batch_sampler`` are errors, and ``len(loader)`` needs the
    data set's ``__len__`` (a TypeError without one); once it has been asked, each
    batch yielded beyond ``len(dataset)`` warns, as PyTorch's loader does (with workers
    a stream not split by worker is read whole by each, and warns so).

    ``batch_size=None`` turns batching off (PyTorch's "automatic batching
    disabled"): the loader yields the samples one by one, in the order of the
    sampler (or of the stream), each passed through ``collate_fn`` if given, else
    :func:`default_convert` (arrays become Tensors on ``device``, no batch dim is
    added). ``len(loader)`` is then the number of samples; ``drop_last`` must
    stay False, as there is no last batch to drop.
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Iterable[int] | None = None, batch_sampler=None,
                 num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True, seed=None,
                 device: str | None = None):
        _check_worker_options(num_workers, timeout, prefetch_factor, persistent_workers,
                              multiprocessing_context)
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (False, None):
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        self._unbatched = batch_size is None and batch_sampler is None  # one sample a step
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size = None
        elif batch_size is None:
            if drop_last:
                raise ValueError("DataLoader: batch_size=None option disables auto-batching "
                                 "and is mutually exclusive with drop_last")
        elif not _is_positive_int(batch_size):  # 2.0 or '4' too, as PyTorch's BatchSampler
            raise ValueError(
                f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle "
                             "(the sampler decides the order)")
        if shuffle and not self._iterable and len(dataset) == 0:
            # PyTorch's shuffle builds RandomSampler(dataset), which refuses this
            raise ValueError("DataLoader: shuffle=True needs a non-empty data set (RandomSampler: "
                             "num_samples should be a positive integer value, but got "
                             "num_samples=0)")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {collate_fn!r}")
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.batch_sampler = batch_sampler
        self.collate_fn = collate_fn
        self.num_workers, self.pin_memory = num_workers, bool(pin_memory)
        self.timeout, self.worker_init_fn = timeout, worker_init_fn
        self.multiprocessing_context = data_workers.start_context(multiprocessing_context)
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        self.prefetch_factor, self.persistent_workers = prefetch_factor, bool(persistent_workers)
        self._worker_pool = None  # the workers kept between epochs (persistent_workers)
        self._reported_length = None  # a stream's len(dataset), once len(loader) asked it
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        if generator is not None:
            if seed is not None:
                raise ValueError("DataLoader: give seed= or generator=, not both")
            seed = generator  # (a tg.Generator: its stream orders the epochs)
        self.seed = seed
        self.device = backend.check_device(device)
        self._rng = _rng_source(seed)  # one generator for all epochs
        self._tensor_dataset, self._index_map = _resolve_tensor_dataset(dataset)

    def _epoch_indices(self) -> np.ndarray:
        """The order in which this epoch visits the samples, without a sampler."""
        n = len(self.dataset)
        if self.shuffle:  # PyTorch's RandomSampler(dataset, generator=generator)
            return _current_rng(self._rng).permutation(n).astype(np.int64)
        return np.arange(n, dtype=np.int64)

    def __iter__(self) -> Iterator:
        if self.num_workers > 0:
            batches = data_workers.worker_batches(self)  # fetched in worker processes
        else:
            batches = self._batches()
        if self._iterable and self._reported_length is not None:
            return self._warn_beyond(batches, self._reported_length)
        return batches

    def _warn_beyond(self, batches: Iterator, reported: int) -> Iterator:
        """A stream's batches, warning for each one past ``len(dataset)`` as PyTorch does
        once ``len(loader)`` has been asked (it compares the batches yielded with the
        data set's length, whatever ``batch_size``)."""
        try:
            for yielded, batch in enumerate(batches, start=1):
                if yielded > reported:
                    message = (f"Length of IterableDataset {self.dataset!r} was reported to be "
                               f"{reported} (when accessing len(dataloader)), but {yielded} "
                               "samples have been fetched. ")
                    if self.num_workers > 0:
                        message += ("For multiprocessing data-loading, this could be caused by "
                                    "not properly configuring the IterableDataset replica at "
                                    "each worker (split the stream with get_worker_info()).")
                    warnings.warn(message, stacklevel=2)
                yield batch
        finally:
            close = getattr(batches, "close", None)
            if close is not None:                    # stop the workers with the loop
                close()

    def _batches(self) -> Iterator:
        """One epoch's batches, loaded in this process (a stream's: in each worker too)."""
        if self._iterable:
            return self._stream_batches()
        # a map, not a generator: after an error in one batch, next() goes on with the
        # next batch, as PyTorch's iterator (a generator would be over)
        return map(self._fetch, self._index_batches())

    def _index_batches(self) -> Iterator:
        """What one epoch fetches, in order: the indices of each batch (one index per
        step with batching off). Drawn in the main process, with or without workers."""
        if self.batch_sampler is not None:
            for batch_indices in self.batch_sampler:
                yield [_key(i) for i in batch_indices]
            return
        if self.sampler is not None:
            # read batch_size keys at a time, as PyTorch's BatchSampler: a sampler may be
            # endless (the loop over the loader decides when to stop)
            keys = (_key(i) for i in self.sampler)
            if self._unbatched:
                yield from keys
                return
            while batch := list(itertools.islice(keys, self.batch_size)):
                if len(batch) < self.batch_size and self.drop_last:
                    return
                yield batch
            return
        indices = self._epoch_indices()
        if self._unbatched:
            yield from (indices.tolist() if isinstance(indices, np.ndarray) else indices)
            return
        for b in range(self._n_batches(len(indices))):
            yield indices[b * self.batch_size:(b + 1) * self.batch_size]

    def _fetch(self, indices):
        """The batch of ``indices`` (with batching off: the sample of one index)."""
        if self._unbatched:
            return self._convert(self.dataset[indices])
        if _is_int_array(indices):
            indices = np.asarray(indices, dtype=np.int64)
        return self._gather(indices)

    def _stream_batches(self) -> Iterator:
        """The batches of an IterableDataset: its samples in order, batch_size at a time."""
        if self._unbatched:
            for sample in self.dataset:
                yield self._convert(sample)
            return
        samples = []
        for sample in self.dataset:
            samples.append(sample)
            if len(samples) == self.batch_size:
                yield self._collate_samples(samples)
                samples = []
        if samples and not self.drop_last:
            yield self._collate_samples(samples)

    def _convert(self, sample):
        """Batching off: one sample through ``collate_fn``, or :func:`default_convert`."""
        if self.collate_fn is not None:
            return self.collate_fn(sample)
        return default_convert(sample, self.device)

    def _n_batches(self, n: int) -> int:
        if self._unbatched:
            return n                                    # one step per sample
        if self.drop_last:
            return n // self.batch_size
        return math.ceil(n / self.batch_size)

    def __len__(self) -> int:
        if self._iterable:
            try:
                n = len(self.dataset)
            except TypeError as error:
                raise TypeError(f"len(DataLoader): the IterableDataset "
                                f"{type(self.dataset).__name__} has no __len__, so the number "
                                "of batches is not known before the stream ends") from error
            self._reported_length = n     # the epochs that follow warn beyond it
            return self._n_batches(n)
        if self.batch_sampler is not None:
            try:
                return len(self.batch_sampler)
            except TypeError as error:
                raise TypeError("len(DataLoader): the batch_sampler has no len()") from error
        if self.sampler is not None:
            try:
                n = len(self.sampler)
            except TypeError as error:
                raise TypeError("len(DataLoader): the sampler has no len()") from error
        else:
            n = len(self.dataset)
        return self._n_batches(n)

    def _gather(self, batch_indices):
        Tensor = _tensor_type()
        if (self.collate_fn is None and self._tensor_dataset is not None
                and isinstance(batch_indices, np.ndarray)):
            # fast path: one fancy index per array, one transfer per array
            rows = batch_indices if self._index_map is None else self._index_map[batch_indices]
            batch = []
            transform = self._tensor_dataset.transform
            for position, array in enumerate(self._tensor_dataset.arrays):
                data = array.data if isinstance(array, Tensor) else array
                gathered = data[backend.to_device(rows, backend.device_of(data))]  # (B, ...)
                if position == 0 and transform is not None:
                    gathered = _to_host(transform(gathered))  # the inputs, augmented
                batch.append(Tensor(backend.to_device(gathered, self.device), device=self.device))
            return batch              # a list, as default_collate makes of the tuple samples
        keys = [_key(i) for i in batch_indices]
        if callable(getattr(self.dataset, "__getitems__", None)):  # a batched read, PyTorch's
            return self._collate_samples(self.dataset.__getitems__(keys))
        return self._collate_samples([self.dataset[key] for key in keys])

    def _collate_samples(self, samples: list):
        """One batch from its samples: ``collate_fn(samples)``, or stacked on ``device``."""
        if self.collate_fn is not None:
            return self.collate_fn(samples)
        return _collate(samples, self.device)

    def __repr__(self) -> str:
        return (f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, device='{self.device}')")


def default_collate(batch: list, device: str | None = None):
    """Stack ``batch`` (a list of samples) field by field into a batch on ``device``
    (None: the default device).

    What a :class:`DataLoader` without ``collate_fn`` does with samples read one
    by one. Each field is collated by the type of the first sample's field:

    * Tensors and arrays of equal shapes: stacked along a new first axis,
      ``(B, *shape)``, dtype kept; NumPy scalars (``np.float64(1.5)``) likewise;
    * Python numbers: a ``(B,)`` Tensor, int64 for ints, the default float
      dtype (float32, see ``tg.set_default_dtype``) if any is a float, bool for bools;
    * strings and bytes: kept as a list of B strings;
    * a dict (any mapping): the same kind of mapping of the collated values, key by
      key (a mutable one is copied and updated, so a defaultdict keeps its factory; a
      plain dict where it cannot be built); a named tuple: the same named tuple of
      collated fields; another tuple: a *list* of collated fields (PyTorch's choice,
      kept for compatibility); a list or any other sequence: the same kind of
      sequence of collated fields, a list where it cannot be built (a ``range``, say).
      The samples must have equal lengths.

    The rules apply recursively, so nested structures such as
    ``(x, {"label": y, "name": s})`` give ``[X, {"label": Y, "name": [s...]}]``.
    Anything else is a TypeError.
    """
    if not batch:
        raise ValueError("default_collate: no samples to stack")
    return _collate(batch, backend.check_device(device))


def default_convert(data, device: str | None = None):
    """Make the arrays in one sample Tensors on ``device`` (None: the default device),
    keeping its structure.

    What a :class:`DataLoader` with ``batch_size=None`` (batching off) does with
    each sample, PyTorch's rules (no batch dim is added, nothing is stacked):

    * a Tensor: itself, moved to ``device`` if it lives elsewhere;
    * an array (NumPy or a device array) or a NumPy scalar (``np.float64(1.5)``):
      a Tensor on ``device`` with the same shape and dtype (0-d for a scalar);
      arrays of strings or objects are kept as they are;
    * a dict (any mapping): the same kind of mapping of converted values; a named
      tuple: the same named tuple of converted fields; another tuple: a *list* of
      converted items (PyTorch's choice, kept for compatibility); a list or other
      sequence: the same kind of sequence of converted items;
    * anything else, Python numbers and strings included, as it is.
    """
    device = backend.check_device(device)
    Tensor = _tensor_type()
    if isinstance(data, Tensor):
        return data.to(device)
    if backend.is_array(data) or isinstance(data, (np.ndarray, np.generic)):
        if isinstance(data, (np.str_, np.bytes_)) or data.dtype.kind in "SUaO":
            return data                                 # strings and objects: no Tensor
        array = data if backend.is_array(data) else np.asarray(data)
        return Tensor(backend.to_device(array, device), device=device)
    if isinstance(data, Mapping):
        return _same_mapping(data, {key: default_convert(value, device)
                                    for key, value in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # a named tuple
        return type(data)(*(default_convert(item, device) for item in data))
    if isinstance(data, tuple):
        return [default_convert(item, device) for item in data]
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        return _same_sequence(data, [default_convert(item, device) for item in data])
    return data


def _same_mapping(like: Mapping, values: dict) -> Mapping:
    """``values`` in a mapping of ``like``'s kind, PyTorch's rule: a mutable one is copied
    and updated (keeping what its constructor would lose, a defaultdict's factory), another
    is built from the dict, and a plain dict where neither works."""
    try:
        if isinstance(like, MutableMapping):
            clone = copy.copy(like)
            clone.update(values)
            return clone
        return type(like)(values)
    except TypeError:
        return values


def _same_sequence(like: Sequence, values: list) -> Sequence:
    """``values`` in a sequence of ``like``'s kind, PyTorch's rule: a mutable one (a list or
    a subclass) is copied and filled in, another is built from the list, and a plain list
    where neither works (a ``range``)."""
    try:
        if isinstance(like, MutableSequence):
            clone = copy.copy(like)
            for i, value in enumerate(values):
                clone[i] = value
            return clone
        return type(like)(values)
    except TypeError:
        return values


_COLLATE_TYPES = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists")


def _collate(samples: list, device: str):
    """Stack a list of samples field by field into Tensors on ``device`` (default_collate)."""
    Tensor = _tensor_type()
    first = samples[0]
    if isinstance(first, (str, bytes)):
        return list(samples)
    if isinstance(first, Mapping):
        return _same_mapping(first, {key: _collate([sample[key] for sample in samples], device)
                                     for key in first})
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # a named tuple
        return type(first)(*(_collate(list(field), device) for field in zip(*samples)))
    if isinstance(first, Sequence):                     # (str and bytes were taken above)
        lengths = {len(sample) for sample in samples}
        if len(lengths) != 1:
            raise RuntimeError(f"default_collate: each element in list of batch should be of "
                               f"equal size, got lengths {sorted(lengths)}")
        fields = [_collate(list(field), device) for field in zip(*samples)]
        if isinstance(first, tuple):
            return fields                               # a list, PyTorch's (for compatibility)
        return _same_sequence(first, fields)
    if isinstance(first, (Tensor, np.generic)) or backend.is_array(first):
        stacked = _stack([_to_host(sample) for sample in samples])          # (B, ...)
    elif isinstance(first, (bool, int, float)):
        stacked = np.array(samples)                                         # (B,)
        if stacked.dtype.kind == "f":
            stacked = stacked.astype(backend.default_float)
        elif stacked.dtype.kind == "i":
            stacked = stacked.astype(np.int64)
        elif stacked.dtype.kind != "b":
            raise TypeError(f"{_COLLATE_TYPES}; found a mix of {type(first).__name__} and "
                            f"{sorted({type(s).__name__ for s in samples})}")
    else:
        raise TypeError(f"{_COLLATE_TYPES}; found {type(first)}")
    return Tensor(backend.to_device(stacked, device), device=device)


def _stack(arrays: list) -> np.ndarray:
    """``np.stack`` of host arrays with default_collate's checks: equal shapes, numeric."""
    for k, array in enumerate(arrays):
        if array.dtype.kind in "SUaO":
            raise TypeError(f"{_COLLATE_TYPES}; found an array of dtype {array.dtype}")
        if array.shape != arrays[0].shape:
            raise RuntimeError(f"default_collate: stack expects each sample to be equal size, "
                               f"but got {tuple(arrays[0].shape)} at entry 0 and "
                               f"{tuple(array.shape)} at entry {k}")
    return np.stack(arrays)


# --- splitting, scaling, resampling ---------------------------------------------

def random_split(dataset, lengths: Sequence[float], generator=None, *, seed=None
                 ) -> list[Subset]:
    """Cut ``dataset`` into disjoint random :class:`Subset` s of the given sizes.

    ``lengths`` are counts that sum to ``len(dataset)``, or fractions that sum
    to 1: each part then gets ``floor(fraction * N)`` samples and the samples
    left over go one each to the parts in order, as in PyTorch. PyTorch's test
    decides which: lengths whose sum is close to 1 (and at most N) are
    fractions, so ``[0, 1]`` means "none, then all" (not one sample); a fraction that
    gives an empty part warns, as in PyTorch.
    ``random_split(ds, [0.8, 0.2], seed=0)`` gives a reproducible 80/20 split; PyTorch's
    ``generator`` (third, as in PyTorch: a ``tg.Generator``, a NumPy generator or an int
    seed) works too. Without either, the split follows ``tg.manual_seed``.
    """
    if generator is not None:
        if seed is not None:
            raise ValueError("random_split: give seed= or generator=, not both")
        seed = generator
    n = len(dataset)
    if isinstance(lengths, _tensor_type()) or backend.is_array(lengths):
        lengths = _to_host(lengths).tolist()
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    for i, length in enumerate(lengths):
        if isinstance(length, bool) or not isinstance(length, (int, float, np.integer,
                                                                np.floating)):
            raise TypeError(f"random_split: lengths[{i}] must be an int count or a float "
                            f"fraction, got {type(length).__name__} {length!r}")
    total = sum(lengths)
    if math.isclose(total, 1) and total <= n:          # fractions, PyTorch's test
        for i, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ValueError(f"random_split: the fraction at index {i} is not between 0 "
                                 f"and 1, got {fraction}")
        counts = [int(math.floor(n * fraction)) for fraction in lengths]
        for k in range(n - sum(counts)):  # the remainder, one each, round robin
            counts[k % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(f"random_split: the length of the split at index {i} is 0: "
                              "that Subset is empty", stacklevel=2)
    elif all(isinstance(length, (int, np.integer)) for length in lengths):
        counts = [int(length) for length in lengths]
    else:
        raise ValueError(f"random_split: lengths {lengths} are neither counts summing to the "
                         f"data set size {n} nor fractions summing to 1")
    if any(count < 0 for count in counts) or sum(counts) != n:
        raise ValueError(f"random_split: the lengths {counts} must be non-negative and sum to "
                         f"the data set size {n}")
    order = _generator(seed).permutation(n)
    offsets = np.cumsum([0] + counts)
    # lists of ints, as PyTorch's randperm(n).tolist(): train.indices + val.indices concatenates
    return [Subset(dataset, order[start:stop].tolist())
            for start, stop in zip(offsets[:-1], offsets[1:])]


def standardize(train, *others):
    """Scale features to zero mean and unit variance with the training set's statistics.

    ``mean`` and ``std`` are taken per feature (over axis 0) on ``train`` only,
    ``std`` the population standard deviation (``ddof=0``, as scikit-learn's
    StandardScaler); a constant feature (every training value equal: its computed std
    may be a rounding error such as 3e-8) is given ``std = 1`` (it becomes about 0 instead
    of NaN or noise scaled up to ±1). Every array is mapped by ``(x - mean) / std``::

        X_train, X_val, X_test, (mean, std) = standardize(X_train, X_val, X_test)

    Inputs may be NumPy arrays, device arrays or Tensors; outputs have the same
    kinds (Tensors without a graph: this is preprocessing). Integer data becomes
    float32; float data keeps its dtype.
    """
    Tensor = _tensor_type()
    data = [x.data if isinstance(x, Tensor) else x for x in (train,) + others]
    data = [x if backend.is_array(x) else np.asarray(x) for x in data]
    data = [x if backend.is_floating(x.dtype) else x.astype(np.float32) for x in data]
    train_data = data[0]
    if train_data.ndim == 0 or train_data.shape[0] == 0:   # no rows: no mean, no std
        raise ValueError(f"standardize: the training data has no samples (shape "
                         f"{tuple(train_data.shape)})")
    xp = backend.xp_of(train_data)
    mean = train_data.mean(axis=0)                                    # (D,)
    std = train_data.std(axis=0)                                      # (D,)
    constant = (train_data == train_data[:1]).all(axis=0)  # (rounding leaves std ~1e-8 there)
    std = xp.where(constant | (std == 0), xp.ones_like(std), std)     # constant feature -> 1
    scaled = [(x - mean) / std for x in data]
    inputs = (train,) + others
    scaled = [Tensor(s, device=x.device) if isinstance(x, Tensor) else s
              for s, x in zip(scaled, inputs)]
    if isinstance(train, Tensor):
        mean = Tensor(mean, device=train.device)
        std = Tensor(std, device=train.device)
    return (*scaled, (mean, std))


def balanced_indices(labels, mode: str = "over", seed=None) -> np.ndarray:
    """Indices that resample a labelled data set to equal class counts.

    * ``mode='over'``: every sample is kept, and each smaller class gets
      ``(majority count - its count)`` extra indices drawn at random with
      replacement from its own samples, so each class has the majority count;
    * ``mode='under'``: each class is reduced to the minority count by drawing
      that many of its samples without replacement.

    The result is a shuffled int64 array: use it as a DataLoader ``sampler`` or
    in ``Subset(dataset, indices)``. ``labels`` are class labels (array or
    Tensor, any integer or string classes).
    """
    if mode not in ("over", "under"):
        raise ValueError(f"balanced_indices: mode must be 'over' or 'under', got {mode!r}")
    labels = np.asarray(_to_host(labels)).reshape(-1)
    if labels.size == 0:
        raise ValueError("balanced_indices: labels is empty")
    rng = _generator(seed)
    classes, counts = np.unique(labels, return_counts=True)
    target = counts.max() if mode == "over" else counts.min()
    chosen = []
    for label in classes:
        members = np.flatnonzero(labels == label)                 # this class's samples
        if mode == "over":
            extra = rng.choice(members, size=target - len(members), replace=True)
            chosen.append(np.concatenate([members, extra]))
        else:
            chosen.append(rng.choice(members, size=target, replace=False))
    indices = np.concatenate(chosen).astype(np.int64)
    return indices[rng.permutation(len(indices))]


def class_weights(labels, n_classes: int | None = None) -> np.ndarray:
    """One weight per class from the class counts: ``w_c = N / (C · n_c)``.

    ``N`` samples, ``C`` classes, ``n_c`` samples of class c: the "balanced"
    weights of scikit-learn's ``compute_class_weight('balanced', ...)``, the
    usual choice for PyTorch's ``weight=`` argument. Every class then carries
    the same total weight ``N / C`` (``w_c · n_c``), as if the classes were
    balanced; a class as frequent as in a balanced set gets weight 1. Use it
    as ``F.cross_entropy(logits, y, weight=tg.tensor(class_weights(y)))``;
    for a binary problem, ``pos_weight = w_1 / w_0 = n_0 / n_1`` of
    ``F.binary_cross_entropy_with_logits`` gives the same ratio.

    ``labels`` are integer class labels 0..C−1 (array, list or Tensor); ``C``
    is ``n_classes`` or one more than the largest label. A class with no
    sample has no finite weight and raises an error. Returns float32 ``(C,)``.
    """
    labels = np.asarray(_to_host(labels)).reshape(-1)
    if labels.size == 0:
        raise ValueError("class_weights: labels is empty")
    if not (np.issubdtype(labels.dtype, np.integer) or
            (np.issubdtype(labels.dtype, np.floating) and np.all(labels == np.round(labels)))):
        raise TypeError(f"class_weights: labels must be integer classes 0..C-1, got dtype "
                        f"{labels.dtype}")
    labels = labels.astype(np.int64)
    if labels.min() < 0:
        raise ValueError(f"class_weights: labels must be 0..C-1, found {labels.min()}")
    if n_classes is None:
        n_classes = int(labels.max()) + 1
    elif labels.max() >= n_classes:
        raise ValueError(f"class_weights: label {labels.max()} does not fit "
                         f"n_classes={n_classes}")
    counts = np.bincount(labels, minlength=n_classes)                     # (C,) n_c
    if np.any(counts == 0):
        raise ValueError(f"class_weights: classes {np.flatnonzero(counts == 0).tolist()} have "
                         "no sample, so no weight N / (C · 0)")
    return (len(labels) / (n_classes * counts)).astype(np.float32)         # N / (C · n_c)


# --- augmentation: small shifts and rotations of small images ---------------------------------

def shift_rotate(images, shifts, degrees, image_shape: tuple | None = None,
                 fill: float = 0.0):
    """Shift and rotate each image by its own amounts, with bilinear interpolation.

    ``images`` ``(N, H, W)``, or ``(N, H·W)`` flattened rows with
    ``image_shape=(H, W)`` (square rows are taken as square images). Image n
    is rotated by ``degrees[n]`` counter-clockwise about its centre, then moved
    by ``shifts[n] = (down, right)`` pixels (fractions allowed). Each output
    pixel p reads the input where the inverse motion takes it, between four
    pixels, weighted by distance (bilinear); outside the image reads ``fill``
    (0, the digits' background)::

        c = ((H − 1)/2, (W − 1)/2),   q = p − c − shift
        source = R(−θ)·q + c,         R(−θ) = [[cos θ, sin θ], [−sin θ, cos θ]]

    so a whole-pixel shift moves the pixels exactly and 90° is ``np.rot90``.
    Everything is array arithmetic on the whole batch (one fancy-index gather
    per corner); it runs on the host with NumPy. A Tensor comes back as a
    Tensor on its device (no graph: this is data preparation), an array as an
    array of the same shape; integer images become float32.
    """
    Tensor = _tensor_type()
    device = images.device if isinstance(images, Tensor) else None
    array = np.asarray(_to_host(images))
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
    flat_shape = array.shape
    if array.ndim == 2:
        if image_shape is None:
            side = math.isqrt(array.shape[1])
            if side * side != array.shape[1]:
                raise ValueError(f"shift_rotate: rows of {array.shape[1]} pixels are not square "
                                 "images; pass image_shape=(H, W)")
            image_shape = (side, side)
        if math.prod(image_shape) != array.shape[1]:
            raise ValueError(f"shift_rotate: image_shape {tuple(image_shape)} does not hold "
                             f"rows of {array.shape[1]} pixels")
        array = array.reshape(len(array), *image_shape)
    elif array.ndim != 3:
        raise ValueError(f"shift_rotate: images must be (N, H, W) or (N, H*W), got shape "
                         f"{flat_shape}")
    n, height, width = array.shape
    shifts = np.broadcast_to(np.asarray(shifts, dtype=np.float64), (n, 2))    # (N, 2)
    theta = np.deg2rad(np.broadcast_to(np.asarray(degrees, dtype=np.float64), (n,)))
    cos, sin = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]    # (N, 1, 1)
    center_r, center_c = (height - 1) / 2.0, (width - 1) / 2.0
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")  # (H, W)
    q_r = rows[None] - center_r - shifts[:, 0, None, None]                   # (N, H, W)
    q_c = cols[None] - center_c - shifts[:, 1, None, None]                   # (N, H, W)
    source_r = cos * q_r + sin * q_c + center_r                              # R(−θ)·q + c
    source_c = -sin * q_r + cos * q_c + center_c
    # a ring of `fill` around each image; coordinates beyond it read the ring
    padded = np.pad(array, ((0, 0), (1, 1), (1, 1)), constant_values=fill)   # (N, H+2, W+2)
    source_r = np.clip(source_r + 1, 0, height + 1)                          # padded coordinates
    source_c = np.clip(source_c + 1, 0, width + 1)
    r0, c0 = np.floor(source_r).astype(np.int64), np.floor(source_c).astype(np.int64)
    r1, c1 = np.minimum(r0 + 1, height + 1), np.minimum(c0 + 1, width + 1)
    fr, fc = source_r - r0, source_c - c0                                    # (N, H, W) in [0, 1)
    batch = np.arange(n)[:, None, None]
    out = ((1 - fr) * (1 - fc) * padded[batch, r0, c0] + (1 - fr) * fc * padded[batch, r0, c1]
           + fr * (1 - fc) * padded[batch, r1, c0] + fr * fc * padded[batch, r1, c1])
    out = out.astype(array.dtype).reshape(flat_shape)
    if device is not None:
        return Tensor(backend.to_device(out, device), device=device)
    return out


class RandomShiftRotate:
    """Data augmentation: a random small shift and rotation for every image of a batch.

    ``augment = RandomShiftRotate(max_shift=1.0, max_degrees=15.0, seed=0)``;
    ``augment(X)`` returns a new batch where image n is :func:`shift_rotate`-d
    by a shift drawn uniformly from ``[−max_shift, max_shift]`` pixels on each
    axis and an angle drawn uniformly from ``[−max_degrees, max_degrees]``.
    Each call draws fresh amounts (call it once per epoch or per batch); an
    int ``seed`` makes the sequence of calls reproducible, ``seed=None`` draws
    from the framework's generator (``tg.manual_seed``). ``X`` as in
    :func:`shift_rotate`: ``(N, H, W)``, or flattened square rows such as the
    digits' ``(N, 64)``. Apply it to training batches only.
    """

    def __init__(self, max_shift: float = 1.0, max_degrees: float = 15.0,
                 image_shape: tuple | None = None, fill: float = 0.0, seed=None):
        for name, value in (("max_shift", max_shift), ("max_degrees", max_degrees)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"RandomShiftRotate: {name} must be a finite number >= 0, "
                                 f"got {value!r}")
        self.max_shift = float(max_shift)
        self.max_degrees = float(max_degrees)
        self.image_shape = image_shape
        self.fill = fill
        self._rng = _rng_source(seed)

    def __call__(self, images):
        rng = _current_rng(self._rng)
        n = images.shape[0]
        shifts = rng.uniform(-self.max_shift, self.max_shift, size=(n, 2))      # (N, 2) pixels
        degrees = rng.uniform(-self.max_degrees, self.max_degrees, size=n)      # (N,)
        return shift_rotate(images, shifts, degrees, self.image_shape, self.fill)

    def __repr__(self) -> str:
        return f"RandomShiftRotate(max_shift={self.max_shift}, max_degrees={self.max_degrees})"


class RandomShift(RandomShiftRotate):
    """Data augmentation: a random shift only, ``RandomShiftRotate`` with no rotation.

    ``RandomShift(max_shift=1.0, seed=0)(X)`` moves image n by its own amounts,
    drawn uniformly from ``[−max_shift, max_shift]`` pixels on each axis
    (bilinear, so fractions of a pixel too). Arguments as ``RandomShiftRotate``.
    """

    def __init__(self, max_shift: float = 1.0, image_shape: tuple | None = None,
                 fill: float = 0.0, seed=None):
        super().__init__(max_shift, 0.0, image_shape, fill, seed)

    def __repr__(self) -> str:
        return f"RandomShift(max_shift={self.max_shift})"


class RandomRotation(RandomShiftRotate):
    """Data augmentation: a random rotation only, about each image's centre.

    ``RandomRotation(degrees=15.0, seed=0)(X)`` turns image n by its own angle,
    drawn uniformly from ``[−degrees, degrees]``, or from ``[low, high]`` for a
    pair ``degrees=(low, high)`` (torchvision's ``RandomRotation`` convention),
    counter-clockwise. Arguments otherwise as ``RandomShiftRotate``.
    """

    def __init__(self, degrees=15.0, image_shape: tuple | None = None, fill: float = 0.0,
                 seed=None):
        if isinstance(degrees, (int, float)):
            if not (math.isfinite(degrees) and degrees >= 0):
                raise ValueError(f"RandomRotation: degrees must be a finite number >= 0 "
                                 f"(or a pair (low, high)), got {degrees!r}")
            degrees = (-degrees, degrees)
        low, high = (float(value) for value in degrees)
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            raise ValueError(f"RandomRotation: degrees (low, high) must be finite with "
                             f"low <= high, got {(low, high)}")
        super().__init__(0.0, max(abs(low), abs(high)), image_shape, fill, seed)
        self.degrees = (low, high)

    def __call__(self, images):
        rng = _current_rng(self._rng)
        n = images.shape[0]
        degrees = rng.uniform(*self.degrees, size=n)                             # (N,)
        return shift_rotate(images, np.zeros((n, 2)), degrees, self.image_shape, self.fill)

    def __repr__(self) -> str:
        return f"RandomRotation(degrees={self.degrees})"
