"""Constraints: the sets a parameter or a sample must lie in, with PyTorch's names.

``constraint.check(value)`` returns a bool Tensor, True where ``value`` lies in the set
(one entry per event: a constraint with ``event_dim = 1`` such as ``simplex`` reduces the
last dim). ``Distribution`` checks its parameters against ``arg_constraints`` and, with
validation on, the values given to ``log_prob`` against ``support``.

    real                 (−∞, ∞)
    positive             (0, ∞)                  greater_than(a): (a, ∞)
    nonnegative          [0, ∞)                  greater_than_eq(a): [a, ∞)
    unit_interval        [0, 1]                  interval(a, b): [a, b]
    boolean              {0, 1}                  half_open_interval(a, b): [a, b)
    nonnegative_integer  {0, 1, 2, ...}          integer_interval(a, b): {a, ..., b}
    simplex              xᵢ ≥ 0, Σ xᵢ = 1 (last dim)
    one_hot              one 1, the rest 0 (last dim)
    multinomial(n)       counts xᵢ ≥ 0 with Σ xᵢ ≤ n (last dim)
    real_vector          a vector of reals (independent(real, 1))
    lower_cholesky       lower triangular with a positive diagonal
    corr_cholesky        lower Cholesky factor of a correlation matrix (rows of norm 1)
    square               matrices with as many rows as columns
    symmetric            square with x = xᵀ (to 1e-6)
    positive_semidefinite  symmetric with eigenvalues ≥ 0
    positive_definite    symmetric with positive eigenvalues
    cat(cseq, dim, lengths)  constraint cseq[i] on the i-th slice along dim (lengths[i] long)
    stack(cseq, dim)     constraint cseq[i] on value.select(dim, i)
    dependent            decided by the distribution's other parameters (never checked)
"""

from __future__ import annotations

import tinygrad_opt as tg

__all__ = [
    "Constraint", "boolean", "cat", "corr_cholesky", "dependent", "dependent_property",
    "greater_than", "greater_than_eq", "half_open_interval", "independent", "integer_interval",
    "interval", "is_dependent", "less_than", "lower_cholesky", "lower_triangular",
    "multinomial", "nonnegative", "nonnegative_integer", "one_hot", "positive",
    "positive_definite", "positive_integer", "positive_semidefinite", "real", "real_vector",
    "simplex", "square", "stack", "symmetric", "unit_interval",
]


class Constraint:
    """A set of values. ``check(value)`` is a bool Tensor of shape
    ``value.shape[:value.ndim - event_dim]``; ``is_discrete`` says whether the set is
    countable; ``event_dim`` is how many rightmost dims make one point of the set."""

    is_discrete = False
    event_dim = 0

    def check(self, value):
        """True where ``value`` lies in the set (one bool per event)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.__class__.__name__[1:] + "()"


class _Dependent(Constraint):
    """A placeholder for a set that depends on other parameters (Uniform's ``low`` must be
    below ``high``): never checked by ``Distribution``'s argument validation."""

    def __init__(self, *, is_discrete: bool = False, event_dim: int = 0):
        self.is_discrete, self.event_dim = is_discrete, event_dim

    def __call__(self, *, is_discrete: bool = False, event_dim: int = 0):
        """``dependent(is_discrete=..., event_dim=...)``: a dependent constraint with these
        properties, as PyTorch's."""
        return _Dependent(is_discrete=is_discrete, event_dim=event_dim)

    def check(self, value):
        """Always raises: a dependent constraint cannot be checked on its own."""
        raise ValueError("Cannot determine validity of dependent constraint")


def is_dependent(constraint) -> bool:
    """True for ``dependent`` (and constraints made from it): ``Distribution`` skips them."""
    return isinstance(constraint, _Dependent)


class dependent_property(property, _Dependent):
    """A property that is also a dependent constraint: a distribution's ``support`` that
    depends on its parameters (``Uniform.support`` is ``interval(low, high)`` on an
    instance; on the class it is a dependent constraint, so ``is_dependent`` is True)."""

    def __init__(self, fn=None, *, is_discrete: bool = False, event_dim: int = 0):
        property.__init__(self, fn)
        _Dependent.__init__(self, is_discrete=is_discrete, event_dim=event_dim)

    def __repr__(self) -> str:
        return "DependentProperty()"

    def __call__(self, fn):
        """``@dependent_property(is_discrete=True)`` applied to the method: the property."""
        return dependent_property(fn, is_discrete=self.is_discrete, event_dim=self.event_dim)


class _Real(Constraint):
    """(−∞, ∞): every value but NaN."""

    def check(self, value):
        """True where value == value (not NaN)."""
        return value == value


class _Boolean(Constraint):
    """{0, 1}."""

    is_discrete = True

    def check(self, value):
        """True where value is 0 or 1."""
        return (value == 0) | (value == 1)


class _GreaterThan(Constraint):
    """(lower_bound, ∞)."""

    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def check(self, value):
        """True where lower_bound < value."""
        return value > self.lower_bound

    def __repr__(self) -> str:
        return f"GreaterThan(lower_bound={self.lower_bound})"


class _GreaterThanEq(Constraint):
    """[lower_bound, ∞)."""

    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def check(self, value):
        """True where lower_bound ≤ value."""
        return value >= self.lower_bound

    def __repr__(self) -> str:
        return f"GreaterThanEq(lower_bound={self.lower_bound})"


class _LessThan(Constraint):
    """(−∞, upper_bound)."""

    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def check(self, value):
        """True where value < upper_bound."""
        return value < self.upper_bound

    def __repr__(self) -> str:
        return f"LessThan(upper_bound={self.upper_bound})"


class _Interval(Constraint):
    """[lower_bound, upper_bound]."""

    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value):
        """True where lower_bound ≤ value ≤ upper_bound."""
        return (value >= self.lower_bound) & (value <= self.upper_bound)

    def __repr__(self) -> str:
        return f"Interval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _HalfOpenInterval(_Interval):
    """[lower_bound, upper_bound)."""

    def check(self, value):
        """True where lower_bound ≤ value < upper_bound."""
        return (value >= self.lower_bound) & (value < self.upper_bound)

    def __repr__(self) -> str:
        return (f"HalfOpenInterval(lower_bound={self.lower_bound}, "
                f"upper_bound={self.upper_bound})")


class _IntegerInterval(Constraint):
    """{lower_bound, lower_bound + 1, ..., upper_bound}."""

    is_discrete = True

    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value):
        """True where value is a whole number in [lower_bound, upper_bound]."""
        whole = value % 1 == 0
        return whole & (value >= self.lower_bound) & (value <= self.upper_bound)

    def __repr__(self) -> str:
        return (f"IntegerInterval(lower_bound={self.lower_bound}, "
                f"upper_bound={self.upper_bound})")


class _IntegerGreaterThan(Constraint):
    """{lower_bound, lower_bound + 1, ...}."""

    is_discrete = True

    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def check(self, value):
        """True where value is a whole number ≥ lower_bound."""
        return (value % 1 == 0) & (value >= self.lower_bound)

    def __repr__(self) -> str:
        return f"IntegerGreaterThan(lower_bound={self.lower_bound})"


class _Independent(Constraint):
    """A constraint on each entry, read as one on events of ``reinterpreted_batch_ndims``
    more rightmost dims: true where every entry of the event is in the set."""

    def __init__(self, base_constraint: Constraint, reinterpreted_batch_ndims: int):
        self.base_constraint = base_constraint
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims

    @property
    def is_discrete(self) -> bool:
        """The base constraint's."""
        return self.base_constraint.is_discrete

    @property
    def event_dim(self) -> int:
        """The base constraint's plus ``reinterpreted_batch_ndims``."""
        return self.base_constraint.event_dim + self.reinterpreted_batch_ndims

    def check(self, value):
        """The base check, all-reduced over the reinterpreted dims (ValueError when value
        has fewer than ``event_dim`` dims)."""
        result = self.base_constraint.check(value)
        if result.ndim < self.reinterpreted_batch_ndims:
            raise ValueError(f"Expected value.dim() >= {self.event_dim} but got {value.ndim}")
        for _ in range(self.reinterpreted_batch_ndims):
            result = result.all(-1)
        return result

    def __repr__(self) -> str:
        return (f"IndependentConstraint({self.base_constraint!r}, "
                f"{self.reinterpreted_batch_ndims})")


class _Simplex(Constraint):
    """Vectors with xᵢ ≥ 0 and Σ xᵢ = 1 (to 1e-6) along the last dim."""

    event_dim = 1

    def check(self, value):
        """True where every entry is ≥ 0 and the last dim sums to 1 (|Σx − 1| < 1e-6)."""
        return (value >= 0).all(-1) & ((value.sum(-1) - 1).abs() < 1e-6)


class _OneHot(Constraint):
    """Vectors of 0s and 1s with exactly one 1, along the last dim."""

    is_discrete = True
    event_dim = 1

    def check(self, value):
        """True where every entry is 0 or 1 and the last dim sums to 1."""
        return ((value == 0) | (value == 1)).all(-1) & (value.sum(-1) == 1)


class _Multinomial(Constraint):
    """Vectors of counts xᵢ ≥ 0 with Σ xᵢ ≤ upper_bound, along the last dim."""

    is_discrete = True
    event_dim = 1

    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def check(self, value):
        """True where every entry is ≥ 0 and the last dim sums to at most upper_bound."""
        return (value >= 0).all(-1) & (value.sum(-1) <= self.upper_bound)

    def __repr__(self) -> str:
        return f"Multinomial(upper_bound={self.upper_bound})"


class _LowerTriangular(Constraint):
    """Square matrices that are zero above the diagonal."""

    event_dim = 2

    def check(self, value):
        """True where value equals its lower triangle."""
        return (value.tril() == value).all(-1).all(-1)


class _LowerCholesky(Constraint):
    """Lower-triangular matrices with a positive diagonal (Cholesky factors)."""

    event_dim = 2

    def check(self, value):
        """True where value is lower triangular and its diagonal is positive."""
        lower = (value.tril() == value).all(-1).all(-1)
        positive_diagonal = (value.diagonal(dim1=-2, dim2=-1) > 0).all(-1)
        return lower & positive_diagonal


class _CorrCholesky(Constraint):
    """Lower Cholesky factors of correlation matrices: lower triangular, positive diagonal,
    every row of Euclidean norm 1 (so L·Lᵀ has a unit diagonal)."""

    event_dim = 2

    def check(self, value):
        """lower_cholesky's check and | ‖row‖ − 1 | ≤ 10·eps·n for every row (n columns)."""
        tolerance = tg.finfo(value.dtype).eps * value.shape[-1] * 10
        row_norm = tg.linalg.norm(value.detach(), dim=-1)                 # (..., n)
        unit_row_norm = ((row_norm - 1.0).abs() <= tolerance).all(-1)
        return _LowerCholesky().check(value) & unit_row_norm


class _Square(Constraint):
    """Matrices with as many rows as columns."""

    event_dim = 2

    def check(self, value):
        """True for every matrix of value when its last two dims are equal, else False."""
        is_square = value.shape[-2] == value.shape[-1]
        return tg.full(value.shape[:-2], is_square, dtype=tg.bool, device=value.device)


class _Symmetric(_Square):
    """Square matrices equal to their transpose (entry by entry, to 1e-6 absolute and 1e-5
    relative, as ``isclose``)."""

    def check(self, value):
        """square's check (returned as it is when some matrix is not square), then
        isclose(x, xᵀ, atol=1e-6) over every entry."""
        square_check = super().check(value)
        if not bool(square_check.all().item()):
            return square_check
        close = tg.isclose(value, value.transpose(-2, -1), atol=1e-6)
        return close.all(-1).all(-1)


class _PositiveSemidefinite(_Symmetric):
    """Symmetric matrices whose eigenvalues are all ≥ 0."""

    def check(self, value):
        """symmetric's check (returned as it is when some matrix is not symmetric), then
        smallest eigenvalue ≥ 0."""
        symmetric_check = super().check(value)
        if not bool(symmetric_check.all().item()):
            return symmetric_check
        return tg.linalg.eigvalsh(value.detach())[..., 0] >= 0


class _PositiveDefinite(_Symmetric):
    """Symmetric matrices whose eigenvalues are all positive."""

    def check(self, value):
        """symmetric's check (returned as it is when some matrix is not symmetric), then
        whether the Cholesky factorisation succeeds."""
        symmetric_check = super().check(value)
        if not bool(symmetric_check.all().item()):
            return symmetric_check
        return tg.linalg.cholesky_ex(value.detach()).info == 0


def _check_dim(name: str, dim: int, value) -> None:
    if not -value.ndim <= dim < value.ndim:
        raise ValueError(f"{name}: dim {dim} is out of range for a value of shape "
                         f"{tuple(value.shape)}")


class _Joined(Constraint):
    """What cat and stack share: the constraints ``cseq`` of the parts along ``dim``."""

    def __init__(self, name: str, cseq, dim: int):
        self.cseq = list(cseq)
        if not all(isinstance(c, Constraint) for c in self.cseq):
            raise ValueError(f"{name}: every entry of cseq must be a Constraint")
        self.dim = dim

    @property
    def is_discrete(self) -> bool:
        """True when any part is discrete."""
        return any(c.is_discrete for c in self.cseq)


class _Cat(_Joined):
    """Constraints cseq[i] applied to consecutive slices of ``lengths[i]`` entries along
    ``dim`` (each 1 long by default), as ``tg.cat`` would join them."""

    def __init__(self, cseq, dim: int = 0, lengths=None):
        super().__init__("cat", cseq, dim)
        self.lengths = [1] * len(self.cseq) if lengths is None else list(lengths)
        if len(self.lengths) != len(self.cseq):
            raise ValueError(f"cat: {len(self.lengths)} lengths for {len(self.cseq)} "
                             "constraints")

    @property
    def event_dim(self) -> int:
        """The largest event_dim of the parts."""
        return max(c.event_dim for c in self.cseq)

    def check(self, value):
        """The parts' checks on value.narrow(dim, start, length), joined along dim."""
        _check_dim("cat", self.dim, value)
        checks = []
        start = 0
        for constraint, length in zip(self.cseq, self.lengths):
            checks.append(constraint.check(value.narrow(self.dim, start, length)))
            start = start + length
        return tg.cat(checks, self.dim)


class _Stack(_Joined):
    """Constraints cseq[i] applied to value.select(dim, i), as ``tg.stack`` would join
    them."""

    def __init__(self, cseq, dim: int = 0):
        super().__init__("stack", cseq, dim)

    @property
    def event_dim(self) -> int:
        """The largest event_dim of the parts, plus one when dim is among the event dims."""
        dim = max(c.event_dim for c in self.cseq)
        if self.dim + dim < 0:
            dim += 1
        return dim

    def check(self, value):
        """The parts' checks on value.select(dim, i), stacked along dim."""
        _check_dim("stack", self.dim, value)
        slices = [value.select(self.dim, i) for i in range(value.shape[self.dim])]
        return tg.stack([c.check(v) for v, c in zip(slices, self.cseq)], self.dim)


dependent = _Dependent()
real = _Real()
boolean = _Boolean()
positive = _GreaterThan(0.0)
nonnegative = _GreaterThanEq(0.0)
unit_interval = _Interval(0.0, 1.0)
nonnegative_integer = _IntegerGreaterThan(0)
positive_integer = _IntegerGreaterThan(1)
simplex = _Simplex()
one_hot = _OneHot()
real_vector = _Independent(real, 1)
lower_triangular = _LowerTriangular()
lower_cholesky = _LowerCholesky()
positive_definite = _PositiveDefinite()
corr_cholesky = _CorrCholesky()
square = _Square()
symmetric = _Symmetric()
positive_semidefinite = _PositiveSemidefinite()
cat = _Cat
stack = _Stack
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq
less_than = _LessThan
interval = _Interval
half_open_interval = _HalfOpenInterval
integer_interval = _IntegerInterval
independent = _Independent
multinomial = _Multinomial
