"""``tg.utils``: PyTorch's ``torch.utils`` spellings. ``tg.utils.data`` is ``tg.data``, so
``from tinygrad_opt.utils.data import DataLoader`` reads as the PyTorch line it replaces."""

from tinygrad_opt.utils import data  # noqa: F401
