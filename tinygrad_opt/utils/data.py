"""``torch.utils.data``'s place: every name of ``tinygrad_opt.data`` (DataLoader,
TensorDataset, random_split, the samplers, ...), looked up there when first asked for."""

from tinygrad_opt import data as _data


def __getattr__(name: str):
    """``tinygrad_opt.utils.data.X`` is ``tinygrad_opt.data.X``."""
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(_data, name)


def __dir__() -> list:
    return [name for name in dir(_data) if not name.startswith("_")]
