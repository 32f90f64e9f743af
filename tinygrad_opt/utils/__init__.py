"""``tg.utils``: PyTorch's ``torch.utils`` spellings. ``tg.utils.data`` is ``tg.data``, so
``from tinygrad_opt.utils.data import DataLoader`` reads as the PyTorch line it replaces;
``tg.utils.checkpoint.checkpoint`` is gradient checkpointing (utils/checkpoint.py)."""

from tinygrad_opt.utils import data  # noqa: F401
from tinygrad_opt.utils import checkpoint  # noqa: F401
