"""data.class_weights, data.shift_rotate and the random transforms RandomShiftRotate,
RandomShift and RandomRotation.

References: hand-worked class counts; np.roll / np.rot90 for whole-pixel moves;
and a per-pixel loop (scalar bilinear interpolation, written here) for any
shift and angle.
"""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt.data import (RandomRotation, RandomShift, RandomShiftRotate, class_weights,
                               shift_rotate)
from tinygrad_opt.datasets import load_digits


# --- class weights ---------------------------------------------------------------------------

def test_class_weights_by_hand(device):
    # 6 samples, 3 classes with counts 3, 2, 1: w = 6 / (3 · n_c) = 2/3, 1, 2
    labels = [0, 1, 0, 2, 1, 0]
    expected = [2 / 3, 1.0, 2.0]
    weights = class_weights(labels)
    assert weights.dtype == np.float32 and weights.shape == (3,)
    np.testing.assert_allclose(weights, expected, rtol=1e-6)
    np.testing.assert_allclose(class_weights(tg.tensor(labels, device=device)), expected,
                               rtol=1e-6)
    # every class carries the same total weight N / C, as in a balanced set
    np.testing.assert_allclose(weights * np.bincount(labels), [2.0, 2.0, 2.0], rtol=1e-6)
    # a balanced set gets weight 1 everywhere; binary: w1 / w0 = n0 / n1 (pos_weight)
    np.testing.assert_allclose(class_weights([0, 1, 2, 2, 1, 0]), [1, 1, 1])
    binary = class_weights([0] * 50 + [1] * 2)
    assert binary[1] / binary[0] == pytest.approx(25.0)


def test_class_weights_balance_the_cross_entropy():
    # the weighted mean Σ w[y_n] l_n / Σ w[y_n] with balanced weights is the plain average of
    # the per-class mean losses: each class counts the same, however many samples it has
    labels = np.array([0, 0, 0, 1])
    logits = np.array([[2.0, 0.0], [1.0, 0.5], [0.0, 0.0], [0.3, -0.2]])
    per_sample = -(logits[np.arange(4), labels] - np.log(np.exp(logits).sum(axis=1)))
    balanced = (per_sample[:3].mean() + per_sample[3]) / 2
    weights = class_weights(labels)
    loss = F.cross_entropy(tg.tensor(logits), tg.tensor(labels),
                           weight=tg.tensor(weights.astype(np.float64)))
    assert loss.item() == pytest.approx(balanced, rel=1e-6)
    assert per_sample.mean() != pytest.approx(balanced, rel=1e-3)      # unweighted differs


def test_class_weights_errors():
    with pytest.raises(ValueError, match=r"classes \[1\] have no sample"):
        class_weights([0, 2, 2])
    with pytest.raises(ValueError, match="does not fit n_classes=2"):
        class_weights([0, 2], n_classes=2)
    np.testing.assert_allclose(class_weights([0, 1, 1], n_classes=2), [1.5, 0.75])
    with pytest.raises(ValueError, match="0..C-1"):
        class_weights([0, -1])
    with pytest.raises(TypeError, match="integer classes"):
        class_weights([0.5, 1.0])
    with pytest.raises(ValueError, match="empty"):
        class_weights([])


# --- shift_rotate --------------------------------------------------------------------------------

def loop_reference(image, shift, degrees, fill=0.0):
    """shift_rotate of one (H, W) image, one pixel at a time with scalar math."""
    height, width = image.shape
    center_r, center_c = (height - 1) / 2, (width - 1) / 2
    theta = math.radians(degrees)
    out = np.zeros_like(image, dtype=np.float64)

    def pixel(r, c):
        return image[r, c] if 0 <= r < height and 0 <= c < width else fill

    for r in range(height):
        for c in range(width):
            q_r, q_c = r - center_r - shift[0], c - center_c - shift[1]
            source_r = math.cos(theta) * q_r + math.sin(theta) * q_c + center_r
            source_c = -math.sin(theta) * q_r + math.cos(theta) * q_c + center_c
            r0, c0 = math.floor(source_r), math.floor(source_c)
            fr, fc = source_r - r0, source_c - c0
            out[r, c] = ((1 - fr) * (1 - fc) * pixel(r0, c0) + (1 - fr) * fc * pixel(r0, c0 + 1)
                         + fr * (1 - fc) * pixel(r0 + 1, c0) + fr * fc * pixel(r0 + 1, c0 + 1))
    return out


def test_whole_pixel_shifts_move_the_pixels():
    image = np.arange(1.0, 17.0).reshape(1, 4, 4)
    down = shift_rotate(image, [(1, 0)], [0.0])[0]
    np.testing.assert_array_equal(down[1:], image[0, :-1])
    np.testing.assert_array_equal(down[0], 0)
    left = shift_rotate(image, [(0, -2)], [0.0])[0]
    np.testing.assert_array_equal(left[:, :2], image[0, :, 2:])
    np.testing.assert_array_equal(left[:, 2:], 0)
    gone = shift_rotate(image, [(5, 0)], [0.0], fill=-1.0)[0]     # moved out: all fill
    np.testing.assert_array_equal(gone, -1.0)
    np.testing.assert_array_equal(shift_rotate(image, [(0, 0)], [0.0]), image)


def test_quarter_turns_are_rot90():
    images = np.random.default_rng(0).normal(size=(3, 5, 5))
    for turns in (1, 2, 3, -1):
        turned = shift_rotate(images, np.zeros((3, 2)), [90.0 * turns] * 3)
        np.testing.assert_allclose(turned, np.rot90(images, k=turns, axes=(1, 2)), atol=1e-12)


def test_half_pixel_shift_averages_neighbours():
    image = np.array([[[0.0, 2.0, 4.0, 8.0]]])                     # one row
    out = shift_rotate(image, [(0, 0.5)], [0.0])
    np.testing.assert_allclose(out, [[[0.0, 1.0, 3.0, 6.0]]])     # (fill + 0)/2, (0 + 2)/2, ...


def test_any_shift_and_angle_match_the_loop_reference():
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 16, size=(4, 8, 8))
    shifts = rng.uniform(-1.5, 1.5, size=(4, 2))
    degrees = rng.uniform(-30, 30, size=4)
    out = shift_rotate(images, shifts, degrees)
    for n in range(4):
        np.testing.assert_allclose(out[n], loop_reference(images[n], shifts[n], degrees[n]),
                                   atol=1e-10)
    # flattened rows (the digits' (N, 64)) give the same pixels
    flat = shift_rotate(images.reshape(4, 64), shifts, degrees)
    assert flat.shape == (4, 64)
    np.testing.assert_allclose(flat.reshape(4, 8, 8), out)
    # a non-square image with its shape given
    wide = rng.uniform(size=(2, 3, 6))
    out = shift_rotate(wide.reshape(2, 18), shifts[:2], degrees[:2], image_shape=(3, 6))
    np.testing.assert_allclose(out.reshape(2, 3, 6)[1], loop_reference(wide[1], shifts[1],
                                                                       degrees[1]), atol=1e-10)


def test_shift_rotate_kinds_and_errors(device):
    X, _ = load_digits()
    batch = X[:5]
    out = shift_rotate(tg.tensor(batch, device=device), [(1, 0)] * 5, [10.0] * 5)
    assert isinstance(out, tg.Tensor) and out.device == tg.tensor(0, device=device).device
    assert out.dtype == tg.float32 and out.shape == (5, 64)
    np.testing.assert_allclose(out.numpy(), shift_rotate(batch, [(1, 0)] * 5, [10.0] * 5))
    assert shift_rotate(batch.astype(np.int64), [(0, 0)] * 5, [0.0] * 5).dtype == np.float32
    with pytest.raises(ValueError, match="not square images"):
        shift_rotate(np.zeros((2, 10)), [(0, 0)] * 2, [0.0] * 2)
    with pytest.raises(ValueError, match="does not hold rows of 10 pixels"):
        shift_rotate(np.zeros((2, 10)), [(0, 0)] * 2, [0.0] * 2, image_shape=(3, 3))
    with pytest.raises(ValueError, match=r"\(N, H, W\) or \(N, H\*W\)"):
        shift_rotate(np.zeros(10), [(0, 0)], [0.0])


# --- the random transform --------------------------------------------------------------

def test_random_shift_rotate_draws_and_seeds():
    X, _ = load_digits()
    batch = X[:20]
    augment = RandomShiftRotate(max_shift=1.0, max_degrees=15.0, seed=3)
    first, second = augment(batch), augment(batch)
    assert not np.allclose(first, second)                          # fresh amounts per call
    # the draws: a generator seeded alike, shifts (N, 2) then angles (N,)
    rng = np.random.default_rng(3)
    for out in (first, second):
        shifts = rng.uniform(-1.0, 1.0, size=(20, 2))
        degrees = rng.uniform(-15.0, 15.0, size=20)
        np.testing.assert_allclose(out, shift_rotate(batch, shifts, degrees))
    again = RandomShiftRotate(max_shift=1.0, max_degrees=15.0, seed=3)
    np.testing.assert_array_equal(again(batch), first)
    # seed=None draws from the framework's generator
    tg.manual_seed(5)
    a = RandomShiftRotate()(batch)
    tg.manual_seed(5)
    np.testing.assert_array_equal(RandomShiftRotate()(batch), a)
    # small moves keep the digit: the images stay close to the originals
    assert np.abs(first - batch).mean() < np.abs(batch[np.arange(1, 21) % 20] - batch).mean()
    # nothing to draw: the identity
    np.testing.assert_array_equal(RandomShiftRotate(0, 0, seed=0)(batch), batch)


def test_random_shift_rotate_errors():
    with pytest.raises(ValueError, match="max_shift must be a finite number >= 0"):
        RandomShiftRotate(max_shift=-1)
    with pytest.raises(ValueError, match="max_degrees must be a finite number >= 0"):
        RandomShiftRotate(max_degrees=float("nan"))


def test_random_shift_moves_only():
    X, _ = load_digits()
    batch = X[:10]
    out = RandomShift(max_shift=2.0, seed=4)(batch)
    rng = np.random.default_rng(4)
    shifts = rng.uniform(-2.0, 2.0, size=(10, 2))                  # the same draws, in order
    np.testing.assert_allclose(out, shift_rotate(batch, shifts, np.zeros(10)))
    assert repr(RandomShift(2.0)) == "RandomShift(max_shift=2.0)"
    with pytest.raises(ValueError, match="max_shift must be a finite number >= 0"):
        RandomShift(max_shift=-0.5)


def test_random_rotation_turns_only_within_its_range():
    X, _ = load_digits()
    batch = X[:10]
    out = RandomRotation(degrees=20.0, seed=6)(batch)
    angles = np.random.default_rng(6).uniform(-20.0, 20.0, size=10)
    np.testing.assert_allclose(out, shift_rotate(batch, np.zeros((10, 2)), angles))
    pair = RandomRotation(degrees=(90, 90), seed=0)(batch)         # a pair: [low, high]
    np.testing.assert_allclose(pair, shift_rotate(batch, np.zeros((10, 2)), np.full(10, 90.0)))
    np.testing.assert_allclose(pair.reshape(10, 8, 8), np.rot90(batch.reshape(10, 8, 8),
                                                                axes=(1, 2)), atol=1e-5)
    assert repr(RandomRotation(15)) == "RandomRotation(degrees=(-15.0, 15.0))"
    for bad in (-1.0, float("inf"), (10, -10)):
        with pytest.raises(ValueError, match="RandomRotation: degrees"):
            RandomRotation(degrees=bad)


# --- a transform given to TensorDataset (API.md: "usable with TensorDataset(..., transform=...)")

def test_tensor_dataset_transform_augments_the_inputs_of_every_read(device):
    X, y = load_digits()
    X, y = X[:40], y[:40]
    dataset = tg.data.TensorDataset(X, y, transform=RandomShift(max_shift=2.0, seed=3))
    loader = tg.data.DataLoader(dataset, batch_size=16, device=device)  # in order
    first = [(xb.numpy(), yb.numpy()) for xb, yb in loader]
    draws = np.random.default_rng(3)  # the loader calls it once per batch, in order
    for b, (xb, yb) in enumerate(first):
        rows = slice(16 * b, 16 * b + len(xb))
        shifts = draws.uniform(-2.0, 2.0, size=(len(xb), 2))
        draws.uniform(-0.0, 0.0, size=len(xb))  # RandomShift draws its (zero) angles too
        np.testing.assert_allclose(xb, shift_rotate(X[rows], shifts, np.zeros(len(xb))),
                                   rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(yb, y[rows])             # the labels untouched
    again = [xb.numpy() for xb, _ in loader]
    assert not np.allclose(again[0], first[0][0])             # a fresh draw every epoch
    sample, label = dataset[5]                                # one sample: its own row
    assert sample.shape == X[5].shape and label == y[5] and not np.allclose(sample, X[5])
    assert dataset[-1][0].shape == X[-1].shape
    assert dataset[2:4][0].shape == (2, 64)
    plain = tg.data.TensorDataset(X, y)
    np.testing.assert_array_equal(plain[5][0], X[5])
    subset = tg.data.Subset(dataset, [0, 1])                  # through a Subset too
    xb, _ = next(iter(tg.data.DataLoader(subset, batch_size=2)))
    assert not np.allclose(xb.numpy(), X[:2])
    assert "transform=RandomShift(max_shift=2.0)" in repr(dataset)
    with pytest.raises(TypeError, match="transform must be callable"):
        tg.data.TensorDataset(X, y, transform="shift")
