"""Device names as PyTorch's ``torch.device`` objects (a helper of the backend package).

A device here is its name, a string: ``'cpu'``, ``'cuda'`` or ``'strict'`` (the test
device). ``device`` is that string with PyTorch's ``type`` and ``index`` attached, so that
code written for PyTorch (``x.device.type == 'cuda'``, ``torch.device('cuda:0')``) runs,
and every comparison with a plain name still holds.
"""

from __future__ import annotations

DEVICES = ("cpu", "cuda", "strict")


class device(str):
    """``torch.device``: where a tensor lives, made from ``'cpu'``, ``'cuda'``, ``'cuda:1'``,
    a type and an index (``device('cuda', 1)``) or, as PyTorch's legacy form, a GPU
    number alone (``device(1)`` is ``'cuda:1'``). It is the device string itself (``tg``
    names devices by strings), so it goes wherever a device name does
    (``x.to(device('cpu'))``), with PyTorch's ``type`` and ``index`` (None when not
    given). Making one needs no GPU; using a 'cuda' one does. ``x.device`` is one of these:
    ``x.device == 'cpu'`` and ``x.device.type == 'cpu'`` both hold."""

    def __new__(cls, type, index=None):
        if isinstance(type, device) and index is None:
            return type
        if isinstance(type, int) and not isinstance(type, bool) and index is None:
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TypeError(f"device(): expected a device string or a GPU number, got "
                            f"{type!r}")
        kind, _, written = type.partition(":")
        if written:
            if index is not None:
                raise RuntimeError(f"device(): type {type!r} must not include an index "
                                   f"because index={index!r} was passed explicitly")
            if not written.isdigit():
                raise RuntimeError(f"device(): invalid device index {written!r} in {type!r}")
            index = int(written)
        if kind not in DEVICES:
            raise RuntimeError(f"device(): expected one of {', '.join(DEVICES)} "
                               f"device type at start of device string: {type!r}")
        if index is not None and (isinstance(index, bool) or not isinstance(index, int)
                                  or index < 0):
            raise RuntimeError(f"device(): device index must be a non-negative int, got "
                               f"{index!r}")
        made = super().__new__(cls, kind if index is None else f"{kind}:{index}")
        made.type, made.index = kind, index
        return made

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"
