"""NumPy's names for Tensor ops, so that one backward formula runs on both.

A backward formula calls ``self.xp.exp(x)``: in a plain backward ``xp`` is the
array module (numpy or cupy) and ``x`` an array; when the backward is recorded
(``create_graph=True``) ``xp`` is this module and ``x`` a Tensor. Only the few
functions the backward formulas use are here.
"""

from tinygrad_opt.factories import zeros_like  # noqa: F401  (xp.zeros_like)
from tinygrad_opt.ops.elementwise import where  # noqa: F401  (xp.where)


def exp(x):
    return x.exp()


def log(x):
    return x.log()


def sin(x):
    return x.sin()


def cos(x):
    return x.cos()


def broadcast_to(x, shape):
    return x.broadcast_to(shape)


def transpose(x, axes):
    return x.permute(*axes)


def swapaxes(x, axis1, axis2):
    return x.transpose(axis1, axis2)
