"""VonMises: the "normal distribution of the circle", over angles.

    p(x) = e^(κ·cos(x − μ)) / (2π·I₀(κ))

with I₀ the modified Bessel function of order 0, evaluated as I₀(κ) = e^κ·i0e(κ) so that
log I₀(κ) = log i0e(κ) + κ never overflows. Angles are read modulo 2π; samples lie in
[−π, π). There is no reparameterized sample: draws come from Best and Fisher's rejection
method (1979), as PyTorch's.
"""

from __future__ import annotations

import math

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.distributions import constraints
from tinygrad_opt.distributions.distribution import (Distribution, all_true, broadcast_all,
                                                     lazy_property, uniform_noise)

__all__ = ["VonMises"]


class VonMises(Distribution):
    """VonMises(loc μ, concentration κ) over angles: p(x) = e^(κ·cos(x − μ)) / (2π·I₀(κ)).

    mean = mode = μ (the circular mean), variance = 1 − I₁(κ)/I₀(κ) (the circular
    variance, 1 − E[cos(X − μ)])."""

    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        self.loc, self.concentration = broadcast_all(loc, concentration)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @lazy_property
    def _proposal_r(self):
        """r = (1 + ρ²)/(2ρ), ρ = (τ − √(2τ))/(2κ), τ = 1 + √(1 + 4κ²): the wrapped-Cauchy
        envelope of the rejection method (1/κ + κ below κ = 1e−5, where ρ loses its digits),
        in float64."""
        kappa = self.concentration.detach().astype(backend.float64)
        tau = 1 + (1 + 4 * kappa ** 2).sqrt()
        rho = (tau - (2 * tau).sqrt()) / (2 * kappa)
        proposal_r = (1 + rho ** 2) / (2 * rho)
        return tg.where(kappa < 1e-5, 1 / kappa + kappa, proposal_r)

    @property
    def mean(self):
        """μ (the circular mean)."""
        return self.loc

    @property
    def mode(self):
        """μ."""
        return self.loc

    @property
    def variance(self):
        """1 − I₁(κ)/I₀(κ) = 1 − i1e(κ)/i0e(κ) (the circular variance)."""
        return 1 - tg.special.i1e(self.concentration) / tg.special.i0e(self.concentration)

    def log_prob(self, value):
        """κ·cos(x − μ) − log(2π) − log I₀(κ),   log I₀(κ) = log i0e(κ) + κ."""
        if self._validate_args:
            self._validate_sample(value)
        log_bessel = tg.special.i0e(self.concentration).log() + self.concentration
        return (self.concentration * (value - self.loc).cos() - math.log(2 * math.pi)
                - log_bessel)

    def sample(self, sample_shape=()):
        """Best and Fisher's rejection method, in float64, for each entry until accepted:
        z = cos(πu₁), f = (1 + rz)/(r + z), c = κ(r − f); accept when
        c(2 − c) > u₂ or log(c/u₂) + 1 − c ≥ 0; then x = sign(u₃ − ½)·acos f + μ,
        wrapped into [−π, π)."""
        shape = self._extended_shape(sample_shape)
        with tg.no_grad():
            loc = self.loc.detach().astype(backend.float64)
            kappa = self.concentration.detach().astype(backend.float64)
            r = self._proposal_r
            x = tg.zeros(shape, dtype=backend.float64, device=loc.device)
            done = tg.zeros(shape, dtype=backend.bool_, device=loc.device)
            while not all_true(done):
                u = uniform_noise((3,) + shape, loc)                    # (3, ...shape)
                u1, u2, u3 = u[0], u[1], u[2]
                z = (math.pi * u1).cos()
                f = (1 + r * z) / (r + z)
                c = kappa * (r - f)
                ratio = tg.where(c > 0, c, 1.0) / u2                  # log only where c > 0
                accept = ((c * (2 - c) - u2) > 0) | ((c > 0) & (ratio.log() + 1 - c >= 0))
                x = tg.where(accept, (u3 - 0.5).sign() * f.acos(), x)
                done = done | accept
            wrapped = (x + math.pi + loc) % (2 * math.pi) - math.pi
            return wrapped.astype(self.loc.dtype)
