"""``tg.cuda.is_available()``: whether CuPy and an NVIDIA GPU are present."""

from tinygrad_opt import backend


def is_available() -> bool:
    return backend.cuda_available()


def manual_seed(seed: int) -> None:
    backend.manual_seed(seed)
