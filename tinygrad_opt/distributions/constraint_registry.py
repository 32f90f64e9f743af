"""``biject_to(constraint)`` and ``transform_to(constraint)``: a Transform from the reals
onto a constraint's set, to optimise a constrained parameter through an unconstrained one
(PyTorch's ``torch.distributions.constraint_registry``):

    unconstrained = tg.zeros(3, requires_grad=True)
    scale = biject_to(constraints.positive)(unconstrained)      # always > 0

``biject_to`` returns a bijection (``log_abs_det_jacobian`` exists: usable in
``TransformedDistribution`` and in HMC-like samplers); ``transform_to`` only promises a map
onto the set (the simplex gets a softmax rather than stick-breaking):

    constraint                          biject_to                        transform_to
    real                                identity                         identity
    positive, nonnegative               ExpTransform                     ExpTransform
    greater_than(a), greater_than_eq(a) y = a + eˣ                       the same
    less_than(b)                        y = b − eˣ                       the same
    unit_interval                       SigmoidTransform                 the same
    interval(a, b), half_open(a, b)     y = a + (b − a)·σ(x)             the same
    simplex                             StickBreakingTransform           SoftmaxTransform
    independent(c, n)                   IndependentTransform(..., n)     the same
    lower_cholesky                      (none)                           LowerCholeskyTransform
    positive_definite, pos. semidef.    (none)                           PositiveDefiniteTransform
    corr_cholesky                       CorrCholeskyTransform            the same
    cat(cseq, dim, lengths)             CatTransform of each part's      the same
    stack(cseq, dim)                    StackTransform of each part's    the same

New rules are added with ``biject_to.register(constraint_type)(factory)``.
"""

from __future__ import annotations

import numbers

from tinygrad_opt.distributions import constraints, transforms

__all__ = ["ConstraintRegistry", "biject_to", "transform_to"]


class ConstraintRegistry:
    """A table from constraint types to functions ``factory(constraint) -> Transform``;
    calling the registry on a constraint looks up its type."""

    def __init__(self):
        self._registry: dict = {}

    def register(self, constraint, factory=None):
        """Register ``factory`` for ``constraint``'s type (a Constraint subclass, or an
        instance: its type); usable as a decorator when ``factory`` is omitted."""
        if factory is None:
            return lambda factory: self.register(constraint, factory)
        if isinstance(constraint, constraints.Constraint):
            constraint = type(constraint)
        if not (isinstance(constraint, type) and issubclass(constraint, constraints.Constraint)):
            raise TypeError("Expected constraint to be either a Constraint subclass or "
                            f"instance, but got {constraint}")
        self._registry[constraint] = factory
        return factory

    def __call__(self, constraint) -> transforms.Transform:
        """The Transform from the reals onto ``constraint``'s set."""
        try:
            factory = self._registry[type(constraint)]
        except KeyError:
            raise NotImplementedError(f"Cannot transform {type(constraint).__name__} "
                                      "constraints") from None
        return factory(constraint)


biject_to = ConstraintRegistry()
transform_to = ConstraintRegistry()


def _is_number(value, target: float) -> bool:
    return isinstance(value, numbers.Number) and value == target


@biject_to.register(constraints.real)
@transform_to.register(constraints.real)
def _transform_to_real(constraint):
    return transforms.identity_transform


@biject_to.register(constraints.independent)
def _biject_to_independent(constraint):
    base = biject_to(constraint.base_constraint)
    return transforms.IndependentTransform(base, constraint.reinterpreted_batch_ndims)


@transform_to.register(constraints.independent)
def _transform_to_independent(constraint):
    base = transform_to(constraint.base_constraint)
    return transforms.IndependentTransform(base, constraint.reinterpreted_batch_ndims)


@biject_to.register(constraints.greater_than)
@biject_to.register(constraints.greater_than_eq)
@transform_to.register(constraints.greater_than)
@transform_to.register(constraints.greater_than_eq)
def _transform_to_greater_than(constraint):
    """eˣ for (0, ∞); a + eˣ for (a, ∞)."""
    if _is_number(constraint.lower_bound, 0):
        return transforms.ExpTransform()
    return transforms.ComposeTransform([transforms.ExpTransform(),
                                        transforms.AffineTransform(constraint.lower_bound, 1)])


@biject_to.register(constraints.less_than)
@transform_to.register(constraints.less_than)
def _transform_to_less_than(constraint):
    """b − eˣ."""
    return transforms.ComposeTransform([transforms.ExpTransform(),
                                        transforms.AffineTransform(constraint.upper_bound, -1)])


@biject_to.register(constraints.interval)
@biject_to.register(constraints.half_open_interval)
@transform_to.register(constraints.interval)
@transform_to.register(constraints.half_open_interval)
def _transform_to_interval(constraint):
    """σ(x) for [0, 1]; a + (b − a)·σ(x) for [a, b]."""
    if _is_number(constraint.lower_bound, 0) and _is_number(constraint.upper_bound, 1):
        return transforms.SigmoidTransform()
    loc = constraint.lower_bound
    scale = constraint.upper_bound - constraint.lower_bound
    return transforms.ComposeTransform([transforms.SigmoidTransform(),
                                        transforms.AffineTransform(loc, scale)])


@biject_to.register(constraints.simplex)
def _biject_to_simplex(constraint):
    return transforms.StickBreakingTransform()


@transform_to.register(constraints.simplex)
def _transform_to_simplex(constraint):
    return transforms.SoftmaxTransform()


@transform_to.register(constraints.lower_cholesky)
def _transform_to_lower_cholesky(constraint):
    return transforms.LowerCholeskyTransform()


@transform_to.register(constraints.positive_definite)
@transform_to.register(constraints.positive_semidefinite)
def _transform_to_positive_definite(constraint):
    """L·Lᵀ of a Cholesky factor (a positive semidefinite target gets a definite matrix)."""
    return transforms.PositiveDefiniteTransform()


@biject_to.register(constraints.corr_cholesky)
@transform_to.register(constraints.corr_cholesky)
def _transform_to_corr_cholesky(constraint):
    return transforms.CorrCholeskyTransform()


@biject_to.register(constraints.cat)
def _biject_to_cat(constraint):
    parts = [biject_to(part) for part in constraint.cseq]
    return transforms.CatTransform(parts, constraint.dim, constraint.lengths)


@transform_to.register(constraints.cat)
def _transform_to_cat(constraint):
    parts = [transform_to(part) for part in constraint.cseq]
    return transforms.CatTransform(parts, constraint.dim, constraint.lengths)


@biject_to.register(constraints.stack)
def _biject_to_stack(constraint):
    parts = [biject_to(part) for part in constraint.cseq]
    return transforms.StackTransform(parts, constraint.dim)


@transform_to.register(constraints.stack)
def _transform_to_stack(constraint):
    parts = [transform_to(part) for part in constraint.cseq]
    return transforms.StackTransform(parts, constraint.dim)
