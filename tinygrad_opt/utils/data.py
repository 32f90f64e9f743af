"""``torch.utils.data``'s place: every name of ``tinygrad_opt.data`` (DataLoader,
TensorDataset, random_split, the samplers, ...), looked up there when first asked for,
and ``DistributedSampler`` (defined in ``tinygrad_opt/distributed.py``)."""

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
    return [name for name in dir(_data) if not name.startswith("_")] + ["DistributedSampler"]
