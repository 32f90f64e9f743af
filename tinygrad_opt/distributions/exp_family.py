"""``ExponentialFamily``: the base class of the families whose density is

    p_F(x; θ) = exp(⟨t(x), θ⟩ − F(θ) + k(x))

with natural parameters θ (``_natural_params``), sufficient statistic t(x), log normalizer
F(θ) (``_log_normalizer``) and carrier measure k(x) (``_mean_carrier_measure`` is E_p[k(X)]),
as PyTorch's ``torch.distributions.exp_family``. Since E_p[t(X)] = ∇F(θ), the entropy is a
Bregman divergence of F that autograd computes from F alone:

    H(p) = −E_p[log p(X)] = F(θ) − ⟨θ, ∇F(θ)⟩ − E_p[k(X)].

A family that defines the three members gets ``entropy`` (and ``kl_divergence`` between
two of its members, registered in ``kl.py``) without writing them out.
"""

from __future__ import annotations

import tinygrad_opt as tg
from tinygrad_opt.distributions.distribution import Distribution

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution):
    """A Distribution of the form exp(⟨t(x), θ⟩ − F(θ) + k(x)); subclasses give θ, F and
    E_p[k(X)], and ``entropy`` follows from them by autograd."""

    @property
    def _natural_params(self) -> tuple:
        """θ: a tuple of Tensors, each of shape batch_shape (+ the parameter's own dims)."""
        raise NotImplementedError(f"{type(self).__name__} has no _natural_params")

    def _log_normalizer(self, *natural_params):
        """F(θ) = log ∫ exp(⟨t(x), θ⟩ + k(x)) dx, of shape batch_shape."""
        raise NotImplementedError(f"{type(self).__name__} has no _log_normalizer")

    @property
    def _mean_carrier_measure(self):
        """E_p[k(X)] (a number or a Tensor of shape batch_shape)."""
        raise NotImplementedError(f"{type(self).__name__} has no _mean_carrier_measure")

    def entropy(self):
        """F(θ) − ⟨θ, ∇F(θ)⟩ − E_p[k(X)], with ∇F from autograd at detached θ (so, as
        PyTorch, no gradient reaches the parameters through θ)."""
        result = -self._mean_carrier_measure
        natural_params = [theta.detach().requires_grad_() for theta in self._natural_params]
        with tg.enable_grad():
            log_normalizer = self._log_normalizer(*natural_params)
            gradients = tg.autograd.grad(log_normalizer.sum(), natural_params,
                                         create_graph=True)
        result = result + log_normalizer
        for theta, gradient in zip(natural_params, gradients):
            inner = (theta * gradient).reshape(self._batch_shape + (-1,)).sum(-1)  # ⟨θ, ∇F⟩
            result = result - inner
        return result
