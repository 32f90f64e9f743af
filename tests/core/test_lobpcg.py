"""``lobpcg``: eigenpairs against numpy.linalg.eigh (the generalized problem through a
NumPy Cholesky reduction, L⁻¹ A L⁻ᵀ), gradients against finite differences and against
the textbook derivatives of an eigenvalue, the tracker, and the errors.

``LOBPCG_OPS`` is this module's op table (the format of test_ops_gradcheck.OPS), run
through gradcheck, gradgradcheck and the two-path comparison (test_two_modes) here.

Test matrices are Q diag(λ) Qᵀ with Q a random orthogonal matrix and eigenvalues at
least 0.5 apart, so that eigenvectors are well defined and LOBPCG's accuracy (its
residual tolerance over the gap) is known. An eigenvector's sign is arbitrary: values
are compared up to sign, and one test checks the sign rule of ``lobpcg`` itself.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from test_linalg import assert_the_two_paths_agree_in_both_dtypes, draw
from test_ops_gradcheck import Op, each, fixed, per_input
from tinygrad_opt.autograd.gradcheck import gradcheck, gradgradcheck
from tinygrad_opt.lobpcg import Lobpcg, lobpcg

# |error| allowed at the default tol = √eps: eigenvalues (relative), eigenvectors (absolute)
TOLERANCES = {"float64": (1e-9, 1e-5), "float32": (1e-4, 2e-2)}


def spread_spd(rng, m, low=1.0, batch=()):
    """Q diag(λ) Qᵀ with λ ≥ low, consecutive eigenvalues 0.5 to 1.5 apart (exactly
    symmetric, as ``spaced``)."""
    q, _ = np.linalg.qr(rng.standard_normal(batch + (m, m)))
    eigenvalues = low + np.cumsum(rng.uniform(0.5, 1.5, batch + (m,)), axis=-1)
    a = (q * eigenvalues[..., None, :]) @ q.swapaxes(-1, -2)
    return (a + a.swapaxes(-1, -2)) / 2


def reference(a, k, largest=True, b=None):
    """The k extreme eigenpairs of A x = λ B x by NumPy: B = L Lᵀ, eigh(L⁻¹ A L⁻ᵀ) = (w, V),
    x = L⁻ᵀ v (B-orthonormal); largest first if ``largest``."""
    lower_inverse = np.eye(a.shape[-1]) if b is None else np.linalg.inv(np.linalg.cholesky(b))
    w, v = np.linalg.eigh(lower_inverse @ a @ lower_inverse.T)
    order = np.argsort(-w if largest else w, kind="stable")[:k]
    return w[order], lower_inverse.T @ v[:, order]


def assert_pairs(e, x, a, k, largest=True, b=None, dtype="float64"):
    """e, x (NumPy) are the k extreme eigenpairs of (a, b), eigenvectors up to sign."""
    value_tolerance, vector_tolerance = TOLERANCES[dtype]
    expected_e, expected_x = reference(a, k, largest, b)
    assert e.shape == (k,) and x.shape == (a.shape[-1], k)
    np.testing.assert_allclose(e, expected_e, rtol=value_tolerance)
    signs = np.sign((x * expected_x).sum(axis=0))                 # align each vector's sign
    np.testing.assert_allclose(x * signs, expected_x, atol=vector_tolerance)


def t(array, device, dtype="float64", requires_grad=False):
    return tg.tensor(np.asarray(array, dtype=dtype), device=device, requires_grad=requires_grad)


def counting_tracker(steps):
    """A tracker that records ``istep`` at each call."""
    return lambda worker: steps.append(worker.ivars["istep"])


# --- values ---

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("m, k", [(12, 1), (20, 2), (30, 3)])
def test_eigenpairs_match_numpy(device, m, k, largest, dtype, rng):
    a = spread_spd(rng, m)
    e, x = lobpcg(t(a, device, dtype), k=k, largest=largest)
    assert e.dtype == x.dtype == np.dtype(dtype) and e.device == x.device == device
    assert_pairs(e.numpy(), x.numpy(), a, k, largest, dtype=dtype)


@pytest.mark.parametrize("largest", [True, False])
def test_generalized_problem_matches_a_cholesky_reduction(device, largest, rng):
    a, b = spread_spd(rng, 18), spread_spd(rng, 18, low=0.0) / 10
    e, x = lobpcg(t(a, device), k=3, B=t(b, device), largest=largest)
    e, x = e.numpy(), x.numpy()
    assert_pairs(e, x, a, 3, largest, b)
    np.testing.assert_allclose(x.T @ b @ x, np.eye(3), atol=1e-8)         # B-orthonormal
    np.testing.assert_allclose(a @ x, b @ x * e, atol=1e-6 * np.abs(e).max())


def test_a_batch_is_solved_matrix_by_matrix(device, rng):
    a, b = spread_spd(rng, 15, batch=(2, 3)), spread_spd(rng, 15, batch=(2, 3)) / 10
    e, x = lobpcg(t(a, device), k=2, B=t(b, device), largest=False)
    assert e.shape == (2, 3, 2) and x.shape == (2, 3, 15, 2)
    for i, j in np.ndindex(2, 3):
        assert_pairs(e.numpy()[i, j], x.numpy()[i, j], a[i, j], 2, False, b[i, j])


def test_a_good_initial_guess_converges_in_its_first_step(device, rng):
    a = spread_spd(rng, 24)
    _, exact = reference(a, 2)
    guess = exact + 1e-12 * rng.standard_normal(exact.shape)
    steps = []
    e, x = lobpcg(t(a, device), X=t(guess, device), tracker=counting_tracker(steps))
    assert steps == [1]                                            # k = 2: X's column count
    assert_pairs(e.numpy(), x.numpy(), a, 2)


def test_a_jacobi_preconditioner_cuts_the_steps(device, rng):
    """A diagonal spread over 10⁰..10³: the smallest pairs take hundreds of plain steps,
    and a handful with iK = diag(1 / diag A) applied to the residuals."""
    noise = 0.3 * rng.standard_normal((30, 30))
    a = np.diag(np.logspace(0, 3, 30)) + (noise + noise.T) / 2
    plain, preconditioned = [], []
    lobpcg(t(a, device), k=2, largest=False, tracker=counting_tracker(plain))
    e, x = lobpcg(t(a, device), k=2, largest=False, iK=t(np.diag(1 / np.diag(a)), device),
                  tracker=counting_tracker(preconditioned))
    assert len(preconditioned) < 40 < 100 < len(plain)
    assert_pairs(e.numpy(), x.numpy(), a, 2, largest=False)


def test_more_iterated_vectors_than_returned(rng):
    a = spread_spd(rng, 16)
    e, x = lobpcg(t(a, "cpu"), k=2, n=5)
    assert_pairs(e.numpy(), x.numpy(), a, 2)


def test_each_eigenvector_has_its_largest_entry_positive(device, rng):
    _, x = lobpcg(t(spread_spd(rng, 20), device), k=3)
    x = x.numpy()
    largest_entries = x[np.abs(x).argmax(axis=0), np.arange(3)]
    assert (largest_entries > 0).all()


def test_defaults_follow_pytorch(rng):
    """k = 1, n = k, niter = 1000, tol = √eps of the dtype, largest first."""
    a = spread_spd(rng, 12)
    for dtype in ("float64", "float32"):
        seen = []
        e, x = lobpcg(t(a, "cpu", dtype), tracker=lambda worker: seen.append(
            (worker.iparams["n"], worker.ivars["iterations_left"], worker.fvars["tol"])))
        assert e.shape == (1,) and x.shape == (12, 1)
        assert seen[0] == (1, 999, pytest.approx(np.sqrt(np.finfo(dtype).eps)))
        assert_pairs(e.numpy(), x.numpy(), a, 1, dtype=dtype)


# --- the tracker and the iteration count ---

def test_the_tracker_sees_every_step(device, rng):
    a = spread_spd(rng, 20)
    seen = []
    lobpcg(t(a, device), k=2, tracker=lambda worker: seen.append(
        (worker.ivars["istep"], worker.ivars["converged_count"], worker.tvars["E"].numpy())))
    assert [step for step, _, _ in seen] == list(range(1, len(seen) + 1))
    assert len(seen) > 3 and seen[-1][1] >= 2 and all(count < 2 for _, count, _ in seen[:-1])
    np.testing.assert_allclose(seen[-1][2][:2], reference(a, 2)[0], rtol=1e-9)


def test_niter_and_force_stop_end_the_run(rng):
    a = t(spread_spd(rng, 20), "cpu")
    for niter in (1, 3):
        steps = []
        lobpcg(a, k=2, niter=niter, tracker=counting_tracker(steps))
        assert steps == list(range(1, niter + 1))

    def stop_at_two(worker):
        steps.append(worker.ivars["istep"])
        worker.bvars["force_stop"] = worker.ivars["istep"] == 2
    steps = []
    lobpcg(a, k=2, tol=1e-300, niter=-1, tracker=stop_at_two)         # tol never reached
    assert steps == [1, 2]


# --- gradients ---
# Finite differences differentiate the iterations that ran, which are the exact eigenpairs
# only to LOBPCG's accuracy, and a step more or fewer for A ± ε moves the result by that
# accuracy: so these runs converge to tol = 1e-12 (rerr; float64), from a fixed guess.

TOL = 1e-12


def spaced(rng, shape):
    """Q diag(1, 2, ..., m) Qᵀ (a batch of them): eigenvalues 1 apart; exactly symmetric,
    so that lobpcg's symmetrising of an A that requires grad changes nothing (the two
    modes of the forward-mode table then run LOBPCG on the same matrix)."""
    q, _ = np.linalg.qr(rng.standard_normal(shape))
    a = (q * np.arange(1.0, shape[-1] + 1)) @ q.swapaxes(-1, -2)
    return (a + a.swapaxes(-1, -2)) / 2


def positive(rng, shape):
    """B: SPD, eigenvalues in (0.1, 5)."""
    return spread_spd(rng, shape[-1], low=0.0, batch=shape[:-2]) / 5


def pairs(a, b=None, largest=True):
    """lobpcg's k = 2 pairs of the symmetric parts of a and b (so that any perturbation,
    a finite difference's or a tangent's, stays in lobpcg's domain) from a fixed guess, to
    tol = 1e-12 in float64."""
    a = (a + a.transpose(-1, -2)) / 2
    b = None if b is None else (b + b.transpose(-1, -2)) / 2
    guess = np.random.default_rng(7).standard_normal(a.shape[:-1] + (2,))
    guess = tg.tensor(guess, dtype=a.dtype, device=a.device)
    tol = TOL if a.dtype == tg.float64 else None
    return lobpcg(a, k=2, B=b, X=guess, tol=tol, largest=largest)


SIZE = fixed(lambda: [(12, 12)], 0)
LOBPCG_OPS = [
    Op("lobpcg_eigenvalues", lambda a: pairs(a)[0], 1, each(spaced), SIZE),
    Op("lobpcg_eigenvectors_smallest", lambda a: pairs(a, largest=False)[1], 1,
       each(spaced), SIZE),
    Op("lobpcg_generalized", lambda a, b: pairs(a, b)[1] * pairs(a, b)[0], 2,
       per_input(spaced, positive), fixed(lambda: [(12, 12), (12, 12)], 0)),
    Op("lobpcg_batch", lambda a: pairs(a)[1], 1, each(spaced), fixed(lambda: [(2, 12, 12)], 0)),
]
TABLE_SETTINGS = settings(max_examples=1, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("op", LOBPCG_OPS, ids=[op.name for op in LOBPCG_OPS])
@TABLE_SETTINGS
@given(data=st.data())
def test_gradcheck_and_gradgradcheck(op, device, data):
    inputs, _ = draw(op, device, data)
    assert gradcheck(op.fn, inputs, fast_mode=True)
    assert gradgradcheck(op.fn, inputs, fast_mode=True)


@pytest.mark.parametrize("op", LOBPCG_OPS, ids=[op.name for op in LOBPCG_OPS])
@TABLE_SETTINGS
@given(data=st.data())
def test_array_path_equals_tensor_path(op, device, data):
    assert_the_two_paths_agree_in_both_dtypes(op, device, data, draw)


def gradient_problem(rng, m=12):
    """A with eigenvalues 1, 2, ..., m, B SPD, an initial guess (m, 2)."""
    return spaced(rng, (m, m)), positive(rng, (m, m)), rng.standard_normal((m, 2))


def test_gradcheck_of_eigenvalues_and_eigenvectors_wrt_a(rng):
    a, _, guess = gradient_problem(rng)
    guess = t(guess, "cpu")

    def both(a):
        e, x = lobpcg((a + a.T) / 2, k=2, X=guess, tol=TOL)
        return e, x ** 2, x @ x.T

    assert gradcheck(both, (t(a, "cpu", requires_grad=True),))


@pytest.mark.parametrize("largest", [True, False])
def test_gradcheck_wrt_a_and_b_and_forward_mode(device, largest, rng):
    a, b, guess = gradient_problem(rng)
    guess = t(guess, device)
    a_tensor, b_tensor = t(a, device, requires_grad=True), t(b, device, requires_grad=True)
    assert gradcheck(lambda a, b: lobpcg(a, k=2, B=b, X=guess, tol=TOL, largest=largest),
                     (a_tensor, b_tensor), fast_mode=True, check_forward_ad=True)
    assert gradcheck(lambda b: lobpcg(t(a, device), k=2, B=b, X=guess, tol=TOL)[1] ** 2,
                     (b_tensor,), fast_mode=True)


def test_the_op_itself_gives_a_symmetric_gradient(rng):
    """Lobpcg's backward symmetrises, as Eigh's (lobpcg's (A + Aᵀ)/2 aside)."""
    a, _, guess = gradient_problem(rng)
    a_tensor = t(a, "cpu", requires_grad=True)
    packed = Lobpcg.apply(a_tensor, guess=guess, preconditioner=None, tracker=None,
                          iparams=dict(m=12, n=2, k=2, niter=-1), fparams=dict(tol=TOL),
                          bparams=dict(largest=True))
    (packed[1:] * t(rng.standard_normal((12, 2)), "cpu")).sum().backward()
    grad = a_tensor.grad.numpy()
    assert np.abs(grad).max() > 0.1
    np.testing.assert_allclose(grad, grad.T, atol=1e-12)


def test_eigenvalue_gradients_are_the_textbook_ones(device, rng):
    """dλ/dA = x xᵀ and dλ/dB = −λ x xᵀ (x B-normalised), x from NumPy."""
    a, b, _ = gradient_problem(rng)
    a_tensor, b_tensor = t(a, device, requires_grad=True), t(b, device, requires_grad=True)
    e, _ = lobpcg(a_tensor, k=2, B=b_tensor)
    e[1].backward()
    values, vectors = reference(a, 2, b=b)
    value, x = values[1], vectors[:, 1:]                                # λ_1, x_1 (m, 1)
    np.testing.assert_allclose(a_tensor.grad.numpy(), x @ x.T, atol=1e-7)
    np.testing.assert_allclose(b_tensor.grad.numpy(), -value * x @ x.T, atol=1e-6)


# --- errors ---

@pytest.mark.parametrize("arguments, error, message", [
    (dict(A=np.eye(8), k=3), ValueError, r"LPBPCG .* rows \(=8\) .* eigenpairs \(=3\)"),
    (dict(A=np.eye(12), X=np.ones((12, 5))), ValueError, r"\(=12\) .* \(=5\)"),
    (dict(A=np.ones((12, 10))), ValueError, r"A must be a batch of square matrices"),
    (dict(A=np.eye(12), B=np.eye(11)), ValueError, r"B must have A's shape \(12, 12\)"),
    (dict(A=np.eye(12), X=np.ones((11, 2))), ValueError, r"X must have shape"),
    (dict(A=np.eye(12), iK=np.eye(3)), ValueError, r"iK must have shape \(12, 12\)"),
    (dict(A=np.eye(12), X=np.ones((12, 2)), k=3), ValueError, r"k \(=3\) must not exceed"),
    (dict(A=np.eye(12), X=np.ones((12, 2)), n=3), ValueError, r"n \(=3\) must be the number"),
    (dict(A=np.eye(12), k=0), ValueError, r"k must be a positive int"),
    (dict(A=np.eye(12), method="lanczos"), ValueError, r"method must be 'ortho' or 'basic'"),
])
def test_errors_name_what_is_wrong(arguments, error, message):
    arguments = {name: t(value, "cpu") if isinstance(value, np.ndarray) else value
                 for name, value in arguments.items()}
    with pytest.raises(error, match=message):
        lobpcg(**arguments)


def test_inputs_must_be_tensors_of_one_dtype_and_device():
    with pytest.raises(TypeError, match="A must be a Tensor"):
        lobpcg(np.eye(12))
    with pytest.raises(ValueError, match="B is float32 on 'cpu', A is float64 on 'cpu'"):
        lobpcg(t(np.eye(12), "cpu"), B=t(np.eye(12), "cpu", "float32"))
    with pytest.raises(RuntimeError, match="lobpcg: operands are on different devices: 'cpu' "
                                           "and 'strict'"):
        lobpcg(t(np.eye(12), "cpu"), X=t(np.ones((12, 1)), "strict"))
    with pytest.raises(ValueError, match="columns of X .* are linearly dependent"):
        lobpcg(t(np.eye(12), "cpu"), X=t(np.ones((12, 2)), "cpu"))
