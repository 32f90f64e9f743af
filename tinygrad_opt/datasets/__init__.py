"""Small data sets that ship with tinygrad_opt, and 2-D surfaces for optimizer studies.

Everything here is host-side NumPy: each loader returns ``(X, y)`` as NumPy
arrays, ``X`` float32 of shape ``(N, D)`` and ``y`` int64 of shape ``(N,)``.
Wrap them in :class:`tinygrad_opt.data.TensorDataset` and a
:class:`tinygrad_opt.data.DataLoader` to train on them.

* :func:`load_digits`       the 8x8 handwritten digits (1797 images, 10 classes),
                            shipped inside the package, so it works offline.
* :func:`spiral`            the CS231n K-arm spiral (not linearly separable).
* :func:`moons`             two interleaving half circles.
* :func:`xor`               four quadrants, opposite quadrants share a class.
* :func:`make_imbalanced`   two Gaussian blobs with a chosen positive rate.

The synthetic generators take ``seed``: an int gives the same data on every call;
a ``numpy.random.Generator`` (or a ``tg.Generator``) is drawn from, so it advances
and the next call gives new data; ``None`` draws from the framework's host
generator, which ``tg.manual_seed`` seeds. Sizes may be whole floats (``10.0``);
``noise`` must be a finite number >= 0 (a standard deviation).

The optimizer test surfaces :func:`rosenbrock`, :func:`beale`, :func:`saddle` and
:func:`himmelblau` are functions of a point ``p`` of shape ``(2,)`` written with
indexing and arithmetic only, so they accept a Tensor (and are differentiable,
twice) as well as a NumPy array (also of shape ``(2, ...)``, e.g. a meshgrid
stacked for a contour plot). Each carries ``.minima`` (its global minima),
``.start`` (a customary starting point) and ``.bounds`` (a plotting window);
``SURFACES`` maps their names to them. See docs/datasets.md.
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

from tinygrad_opt._checks import whole_number
from tinygrad_opt.data import _generator

__all__ = [
    "load_digits", "spiral", "moons", "xor", "make_imbalanced",
    "rosenbrock", "beale", "saddle", "himmelblau", "SURFACES",
]

_DIGITS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "digits.npz")


# --- the shipped data set -----------------------------------------------------

def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 8x8 handwritten digits: ``X`` float32 ``(1797, 64)``, ``y`` int64 ``(1797,)``.

    Each row of ``X`` is an 8x8 image flattened row by row; a pixel is the count
    of "on" pixels in a 4x4 block of the original 32x32 bitmap, so values are the
    integers 0..16 (raw, not scaled: standardize or divide by 16 before
    training). ``y`` holds the digit 0..9; every class has 174 to 183 images.

    Source: E. Alpaydin, C. Kaynak, *Optical Recognition of Handwritten Digits*,
    UCI Machine Learning Repository (1998), https://doi.org/10.24432/C50P49,
    licensed CC BY 4.0. These 1797 images are the repository's test split (the
    same array that scikit-learn's ``load_digits`` returns), stored in
    ``digits.npz`` next to this file as uint8 (no pickle, no download).
    """
    with np.load(_DIGITS_PATH, allow_pickle=False) as archive:
        images = archive["X"]  # (1797, 64) uint8
        labels = archive["y"]  # (1797,) uint8
    return images.astype(np.float32), labels.astype(np.int64)


# --- synthetic classification sets ------------------------------------------

def spiral(n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2,
           seed=None, shuffle: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The CS231n spiral: ``n_classes`` arms of ``n_per_class`` points each.

    Arm ``k`` has radius ``r`` evenly spaced in [0, 1] and angle
    ``t = linspace(4k, 4(k+1)) + noise * N(0, 1)`` (radians), and its points are
    ``(r sin t, r cos t)``: exactly the generator of the CS231n notes, so
    ``noise`` perturbs the angle. Returns ``X`` float32 ``(n_per_class * n_classes, 2)``
    and ``y`` int64, ordered by class unless ``shuffle``.
    """
    n_per_class, n_classes = _check_positive("spiral", n_per_class=n_per_class,
                                             n_classes=n_classes)
    _check_noise("spiral", noise)
    rng = _generator(seed)
    points, labels = [], []
    for k in range(n_classes):
        radius = np.linspace(0.0, 1.0, n_per_class)                        # (n,)
        angle = np.linspace(4.0 * k, 4.0 * (k + 1), n_per_class)            # (n,)
        angle = angle + noise * rng.standard_normal(n_per_class)
        points.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        labels.append(np.full(n_per_class, k, dtype=np.int64))
    return _finish(np.concatenate(points), np.concatenate(labels), rng, shuffle)


def moons(n_samples: int = 200, noise: float = 0.1, seed=None,
          shuffle: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (the layout of scikit-learn's ``make_moons``).

    Class 0: ``(cos t, sin t)``; class 1: ``(1 - cos t, 0.5 - sin t)``, ``t`` evenly
    spaced in [0, pi]; then Gaussian noise of standard deviation ``noise`` on both
    coordinates. Class 0 gets ``n_samples // 2`` points, class 1 the rest.
    """
    n_samples, = _check_positive("moons", n_samples=n_samples)
    _check_noise("moons", noise)
    rng = _generator(seed)
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    t_outer = np.linspace(0.0, np.pi, n_outer)
    t_inner = np.linspace(0.0, np.pi, n_inner)
    outer = np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1)               # (n_outer, 2)
    inner = np.stack([1.0 - np.cos(t_inner), 0.5 - np.sin(t_inner)], axis=1)   # (n_inner, 2)
    X = np.concatenate([outer, inner]) + noise * rng.standard_normal((n_samples, 2))
    y = np.concatenate([np.zeros(n_outer, np.int64), np.ones(n_inner, np.int64)])
    return _finish(X, y, rng, shuffle)


def xor(n_samples: int = 200, noise: float = 0.1, seed=None,
        shuffle: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The XOR problem: points in the four quadrants of [-1, 1]^2.

    The quadrants get equal shares of ``n_samples`` (the remainder goes to the
    first ones), points uniform inside their quadrant; label ``1`` where the
    signs of x and y differ, ``0`` where they agree, so the two classes differ in
    size by at most one. Gaussian noise of standard deviation ``noise`` is added
    after labelling, so points near the axes may cross over.
    """
    n_samples, = _check_positive("xor", n_samples=n_samples)
    _check_noise("xor", noise)
    rng = _generator(seed)
    # quadrant signs in the order (+,+) (+,-) (-,-) (-,+): labels 0, 1, 0, 1
    signs = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]], dtype=np.float64)
    counts = [n_samples // 4 + (q < n_samples % 4) for q in range(4)]
    quadrant = np.repeat(np.arange(4), counts)                              # (N,)
    X = rng.uniform(0.0, 1.0, (n_samples, 2)) * signs[quadrant]             # (N, 2)
    y = (signs[quadrant, 0] != signs[quadrant, 1]).astype(np.int64)         # (N,)
    X = X + noise * rng.standard_normal((n_samples, 2))
    return _finish(X, y, rng, shuffle)


def make_imbalanced(n_samples: int = 1000, positive_rate: float = 0.1, n_features: int = 2,
                    class_sep: float = 1.0, seed=None,
                    shuffle: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A binary problem with a rare positive class: two Gaussian blobs.

    ``round(n_samples * positive_rate)`` samples (halves rounded up) get label 1,
    the rest label 0. Both classes are ``N(mu, I)`` in ``n_features``
    dimensions with means ``-/+ (class_sep / 2) * u``, ``u = (1, ..., 1) / sqrt(D)``,
    so the class means are ``class_sep`` standard deviations apart: smaller
    ``class_sep`` means more overlap.
    """
    n_samples, n_features = _check_positive("make_imbalanced", n_samples=n_samples,
                                            n_features=n_features)
    if not 0.0 < positive_rate < 1.0:
        raise ValueError(f"make_imbalanced: positive_rate must lie in (0, 1), got {positive_rate}")
    n_positive = int(math.floor(n_samples * positive_rate + 0.5))
    n_negative = n_samples - n_positive
    if n_positive == 0 or n_negative == 0:
        raise ValueError(
            f"make_imbalanced: n_samples={n_samples} with positive_rate={positive_rate} "
            f"gives {n_positive} positives and {n_negative} negatives; both must be >= 1")
    rng = _generator(seed)
    direction = np.ones(n_features) / math.sqrt(n_features)               # (D,) unit vector
    negatives = rng.standard_normal((n_negative, n_features)) - 0.5 * class_sep * direction
    positives = rng.standard_normal((n_positive, n_features)) + 0.5 * class_sep * direction
    X = np.concatenate([negatives, positives])                             # (N, D)
    y = np.concatenate([np.zeros(n_negative, np.int64), np.ones(n_positive, np.int64)])
    return _finish(X, y, rng, shuffle)


def _finish(X, y, rng, shuffle):
    """float32 features, int64 labels, optionally in a random order."""
    if shuffle:
        order = rng.permutation(len(y))
        X, y = X[order], y[order]
    return X.astype(np.float32), y.astype(np.int64)


def _check_positive(name, **sizes) -> tuple:
    """The sizes as ints (a whole float such as 10.0 is accepted, as NumPy's shapes are
    not), or ValueError naming the first one that is not a positive whole number."""
    for key, value in sizes.items():
        if not whole_number(value):
            raise ValueError(f"{name}: {key} must be a positive integer, got {value!r}")
    return tuple(int(value) for value in sizes.values())


def _check_noise(name, noise):
    """``noise`` is a standard deviation: a finite real number >= 0 (as scikit-learn asks)."""
    if (isinstance(noise, bool) or not isinstance(noise, numbers.Real)
            or not math.isfinite(noise) or noise < 0):
        raise ValueError(f"{name}: noise must be a finite number >= 0 (a standard "
                         f"deviation), got {noise!r}")


# --- 2-D optimizer test surfaces ------------------------------------------------
# Each takes p = (x, y) as p[0], p[1] and uses only + - * ** on them, so a Tensor
# p gives a differentiable Tensor (gradients and Hessians by autograd) and a
# NumPy p of shape (2, ...) gives values on a whole grid.

def rosenbrock(p, a: float = 1.0, b: float = 100.0):
    """Rosenbrock's banana valley: ``f(x, y) = (a - x)^2 + b (y - x^2)^2``.

    Global minimum 0 at ``(a, a^2)``, i.e. ``(1, 1)`` for the defaults, at the end
    of a long, flat, curved valley: easy to find the valley, slow to follow it.
    """
    x, y = p[0], p[1]
    return (a - x) ** 2 + b * (y - x ** 2) ** 2


def beale(p):
    """Beale's function:
    ``f(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2``.

    Global minimum 0 at ``(3, 0.5)``; flat plateaus and sharp ridges around it.
    """
    x, y = p[0], p[1]
    return ((1.5 - x + x * y) ** 2
            + (2.25 - x + x * y ** 2) ** 2
            + (2.625 - x + x * y ** 3) ** 2)


def saddle(p):
    """The saddle ``f(x, y) = x^2 - y^2``.

    No minimum (unbounded below along y); a saddle point at ``(0, 0)`` where the
    gradient vanishes. Started on the x axis, plain gradient descent gets stuck
    there; a tiny y offset shows which methods escape quickly.
    """
    x, y = p[0], p[1]
    return x ** 2 - y ** 2


def himmelblau(p):
    """Himmelblau's function: ``f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2``.

    Four global minima, all 0: ``(3, 2)``, ``(-2.805118, 3.131312)``,
    ``(-3.779310, -3.283186)`` and ``(3.584428, -1.848126)`` (shown to 6
    decimals; ``himmelblau.minima`` holds them to full float64 precision, found by
    Newton's method); which one an optimizer reaches depends on the start.
    """
    x, y = p[0], p[1]
    return (x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2


rosenbrock.minima = [(1.0, 1.0)]
rosenbrock.start = (-1.2, 1.0)
rosenbrock.bounds = ((-2.0, 2.0), (-1.0, 3.0))

beale.minima = [(3.0, 0.5)]
beale.start = (1.0, 1.5)
beale.bounds = ((-4.5, 4.5), (-4.5, 4.5))

saddle.minima = []
saddle.saddle_points = [(0.0, 0.0)]
saddle.start = (1.0, 1e-3)
saddle.bounds = ((-2.0, 2.0), (-2.0, 2.0))

himmelblau.minima = [
    (3.0, 2.0),
    (-2.805118086952745, 3.131312518250573),
    (-3.779310253377747, -3.283185991286169),
    (3.5844283403304917, -1.8481265269644034),
]
himmelblau.start = (0.0, 0.0)
himmelblau.bounds = ((-5.0, 5.0), (-5.0, 5.0))

# name -> function; each function has .minima, .start and .bounds ((xmin, xmax), (ymin, ymax))
SURFACES = {
    "rosenbrock": rosenbrock,
    "beale": beale,
    "saddle": saddle,
    "himmelblau": himmelblau,
}
