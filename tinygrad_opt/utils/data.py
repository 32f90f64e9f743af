"""``torch.utils.data``'s place: every name of ``tinygrad_opt.data`` (DataLoader,
TensorDataset, random_split, the samplers, ...), looked up there when first asked for,
and ``DistributedSampler`` (defined in ``tinygrad_opt/distributed.py``).

PyTorch's modules inside ``torch.utils.data`` are here too, each with the names its
``__all__`` lists, because older code imports from them (PyTorch's
``torch.utils.data.sampler.SubsetRandomSampler`` is ``from tinygrad_opt.utils.data.sampler
import SubsetRandomSampler`` here): ``sampler``, ``dataset``, ``dataloader`` and
``distributed``."""

import sys
import types

from tinygrad_opt import data as _data


def __getattr__(name: str):
    """``tinygrad_opt.utils.data.X`` is ``tinygrad_opt.data.X``."""
    if name.startswith("__"):
        raise AttributeError(name)
    if name == "DistributedSampler":  # torch.utils.data.DistributedSampler
        from tinygrad_opt.distributed import DistributedSampler
        return DistributedSampler
    return getattr(_data, name)


def __dir__() -> list:
    return ([name for name in dir(_data) if not name.startswith("_")] + ["DistributedSampler"]
            + list(_SUBMODULES))


# torch/utils/data/<module>.py: the names of its __all__
_SUBMODULES = {
    "sampler": ("BatchSampler", "RandomSampler", "Sampler", "SequentialSampler",
                "SubsetRandomSampler", "WeightedRandomSampler"),
    "dataset": ("Dataset", "IterableDataset", "TensorDataset", "StackDataset",
                "ConcatDataset", "ChainDataset", "Subset", "random_split"),
    "dataloader": ("DataLoader", "get_worker_info", "default_collate", "default_convert"),
    "distributed": ("DistributedSampler",),
}


def _submodule(name: str, names: tuple) -> types.ModuleType:
    """``tinygrad_opt.utils.data.<name>``: a module whose attributes ``names`` are this
    module's (looked up when first asked for), registered in ``sys.modules`` so that
    ``from tinygrad_opt.utils.data.<name> import X`` finds it."""
    module = types.ModuleType(f"{__name__}.{name}",
                              f"``torch.utils.data.{name}``: {', '.join(names)}.")
    module.__all__ = list(names)

    def lookup(attribute: str):
        if attribute not in names:   # (not every name of the package: PyTorch's module's)
            raise AttributeError(f"module '{module.__name__}' has no attribute '{attribute}'")
        return __getattr__(attribute)

    module.__getattr__ = lookup
    module.__dir__ = lambda: list(names)
    sys.modules[module.__name__] = module
    return module


sampler, dataset, dataloader, distributed = (
    _submodule(name, names) for name, names in _SUBMODULES.items())
