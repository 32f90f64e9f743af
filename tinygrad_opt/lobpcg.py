"""``tg.lobpcg``: a few extreme eigenpairs of a large symmetric positive-definite problem
by Knyazev's LOBPCG (Locally Optimal Block Preconditioned Conjugate Gradient), with
``torch.lobpcg``'s arguments and defaults.

The problem is the generalized one, A X = B X diag(E) (B = I when not given), with A
symmetric and B symmetric positive-definite. LOBPCG never factors A: it improves n
approximate eigenvectors X by a Rayleigh-Ritz step over the block of 3n vectors

    S = [X, P, W],   W = iK R,   R = A X − B X diag(E)   (the residuals, preconditioned)

where P is the direction of the last step. With S B-orthonormal (Sᵀ B S = I), the best
n vectors of span(S) are S C, C the n extreme eigenvectors of the small Sᵀ A S. Every
step thus needs only products with A, B and iK, which is why LOBPCG suits large matrices.

The iterations run on arrays and record nothing (``LOBPCG``, the worker); the op
``Lobpcg`` gives them the exact gradient of the k eigenpairs it returns (its docstring).
"""

from __future__ import annotations

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.linalg import Cholesky, Eigh, Inv, _parts, _ratio
from tinygrad_opt.ops.shape import same_device
from tinygrad_opt.tensor import Tensor

__all__ = ["lobpcg", "LOBPCG"]


class LOBPCG:
    """The state of one LOBPCG run on one matrix (as PyTorch's ``torch._lobpcg.LOBPCG``),
    the object a ``tracker`` receives after every step. What it holds:

    * ``ivars``: ``istep`` (the steps done, 1 after the first), ``converged_count`` (the
      leading pairs whose relative residual is below ``tol``), ``iterations_left``;
    * ``fvars``: ``A_norm``, ``B_norm`` (estimates ‖A X₀‖/‖X₀‖, ‖B X₀‖/‖X₀‖) and ``tol``;
    * ``bvars``: ``largest``; a tracker sets ``bvars['force_stop'] = True`` to stop;
    * ``tvars``: detached Tensors ``X`` (m, n), ``E`` (n,), ``R`` (m, n), ``rerr`` (n,);
    * ``iparams`` (``m``, ``n``, ``k``, ``niter``, ``batch_index``), ``fparams``,
      ``bparams``: the parameters of the run.

    The relative residual of a pair is PyTorch's, rerr_i = ‖R_i‖ / ((‖A‖ + E_i ‖B‖) ‖X_i‖).
    The run stops when the first k pairs have converged, or after ``niter`` steps (the
    first one included; niter ≤ 0: until convergence, as PyTorch's counter never reaches 0).
    """

    def __init__(self, A: "Array", B, X: "Array", iK, iparams: dict, fparams: dict,
                 bparams: dict, tracker=None):
        self.A, self.B, self.iK, self.X, self.tracker = A, B, iK, X, tracker
        self.xp = backend.xp_of(A)
        self.iparams, self.fparams, self.bparams = dict(iparams), dict(fparams), dict(bparams)
        self.ivars = {"istep": 0, "converged_count": 0, "iterations_left": iparams["niter"]}
        self.fvars = {"tol": fparams["tol"]}
        self.bvars = {"largest": bparams["largest"], "force_stop": False}
        self.tvars = {}
        self.P = X[:, :0]                                    # no direction before step 1

    def run(self) -> None:
        """Step until ``stop_iteration``; call the tracker after every step."""
        while True:
            self.update()
            if self.tracker is not None:
                self.tracker(self)
            if self.stop_iteration():
                return

    def stop_iteration(self) -> bool:
        return (self.bvars["force_stop"] or self.ivars["iterations_left"] == 0
                or self.ivars["converged_count"] >= self.iparams["k"])

    def update(self) -> None:
        """One step (the first: Rayleigh-Ritz on the guess alone), then the residuals."""
        if self.ivars["istep"] == 0:
            self._initialize()
        else:
            self._step()
        self._update_residual()
        self.ivars["istep"] += 1
        self.ivars["iterations_left"] -= 1
        self.tvars = {name: Tensor._make(array) for name, array in
                      (("X", self.X), ("E", self.E), ("R", self.R), ("rerr", self.rerr))}

    def _initialize(self) -> None:
        """The norm estimates, then X ← the Ritz vectors of span(X₀)."""
        norm, x = self.xp.linalg.norm, self.X
        self.fvars["A_norm"] = norm(self.A @ x).item() / norm(x).item()
        self.fvars["B_norm"] = norm(self._b(x)).item() / norm(x).item()
        basis = self._orthonormal(self._orthonormal(x))
        if basis.shape[-1] < x.shape[-1]:
            raise ValueError(f"lobpcg: the columns of X (shape {tuple(x.shape)}) are linearly "
                             "dependent: the initial guess needs n independent vectors")
        self.E, ritz = self._rayleigh_ritz(basis)
        self.X = basis @ ritz                                # (m, n)

    def _step(self) -> None:
        """S = [X, P, W], X ← S C₁ (the n extreme Ritz vectors), P ← S C₂ Q: the other
        Ritz vectors, combined (Q) into the part of the old X that the new X lacks."""
        xp, n = self.xp, self.X.shape[-1]
        w = self.R if self.iK is None else self.iK @ self.R              # W = iK R (m, n)
        found = xp.concatenate([self.X, self.P], axis=-1)                # (m, n + p)
        s = xp.concatenate([found, self._orthogonalized(w, found)], axis=-1)   # (m, n_s)
        theta, c = self._rayleigh_ritz(s)                                # (n_s,), (n_s, n_s)
        self.E, self.X = theta[:n], s @ c[:, :n]
        if c.shape[-1] == n:
            self.P = self.X[:, :0]
            return
        q, _ = _parts(xp, xp.linalg.qr(xp.swapaxes(c[:n, n:], -1, -2)))  # (n_s − n, ≤ n)
        self.P = s @ (c[:, n:] @ q)

    def _update_residual(self) -> None:
        """R = A X − B X diag(E), rerr, and the count of leading converged pairs."""
        xp, x, e = self.xp, self.X, self.E
        self.R = self.A @ x - self._b(x) * e                             # (m, n)
        scale = self.fvars["A_norm"] + e * self.fvars["B_norm"]          # ‖A‖ + E_i ‖B‖
        self.rerr = xp.linalg.norm(self.R, axis=0) / (xp.linalg.norm(x, axis=0) * scale)
        leading = xp.cumprod(self.rerr < self.fvars["tol"])              # 1 up to the first miss
        self.ivars["converged_count"] = int(leading.sum().item())

    def _rayleigh_ritz(self, s: "Array"):
        """The eigenpairs (θ, C) of Sᵀ A S (S B-orthonormal), largest θ first if
        ``largest``, else smallest first."""
        xp = self.xp
        h = xp.swapaxes(s, -1, -2) @ self.A @ s                            # (n_s, n_s)
        theta, c = _parts(xp, xp.linalg.eigh((h + xp.swapaxes(h, -1, -2)) * 0.5))
        if self.bvars["largest"]:
            return theta[::-1], c[:, ::-1]
        return theta, c

    def _orthogonalized(self, w: "Array", q: "Array") -> "Array":
        """A B-orthonormal basis of the part of span(W) B-orthogonal to span(Q) (Q
        B-orthonormal): twice W ← W − Q (Qᵀ B W), then orthonormalised, which makes it
        orthogonal to working precision (one pass leaves what rounding brought back)."""
        xp, bq = self.xp, self._b(q)
        for _ in range(2):
            w = w - q @ (xp.swapaxes(bq, -1, -2) @ w)
            w = self._orthonormal(w)
        return w

    def _orthonormal(self, v: "Array") -> "Array":
        """V T with (V T)ᵀ B (V T) = I, by an eigendecomposition of the Gram matrix (SVQB):
        D = diag(G)^(−½), D G D = U diag(θ) Uᵀ, T = D U diag(θ)^(−½), keeping the θ above
        eps · max θ (the others are directions V holds only by rounding: dropped)."""
        xp = self.xp
        gram = xp.swapaxes(v, -1, -2) @ self._b(v)                       # G = Vᵀ B V
        diagonal = xp.diagonal(gram)
        scale = 1 / xp.sqrt(xp.where(diagonal > 0, diagonal, 1))        # D (a 0 column stays 0)
        theta, u = _parts(xp, xp.linalg.eigh(gram * scale[:, None] * scale[None, :]))
        floor = xp.finfo(v.dtype).eps * xp.maximum(theta[-1:], 0)
        kept = int((theta > floor).sum().item())                         # θ ascending: the last
        if kept == 0:
            return v[:, :0]
        return v @ (scale[:, None] * u[:, -kept:] / xp.sqrt(theta[-kept:]))

    def _b(self, v: "Array") -> "Array":
        return v if self.B is None else self.B @ v

    def signed_result(self, k: int) -> "Array":
        """E[:k] over X[:, :k], packed (m + 1, k), each vector signed so that its entry of
        largest magnitude (the first of a tie) is positive."""
        xp, e, x = self.xp, self.E[:k], self.X[:, :k]
        largest = xp.argmax(xp.abs(x), axis=0)                          # (k,)
        sign = xp.where(xp.take_along_axis(x, largest[None, :], axis=0) < 0, -1, 1)
        return xp.concatenate([e[None, :], x * sign.astype(x.dtype)], axis=0)


class Lobpcg(Function):
    """E, X = the k extreme eigenpairs of A X = B X diag(E), packed in one (..., m+1, k)
    array: row 0 is E, rows 1..m are X (``lobpcg`` splits it). Forward runs LOBPCG on
    each matrix of the batch; backward is the exact derivative of these eigenpairs.

    With (w_j, z_j) every eigenpair (B-orthonormal: Zᵀ B Z = I), pair i = pair p(i) of
    them, and GE, GX the two parts of G, perturbation theory gives

        dE_i = x_iᵀ (dA − E_i dB) x_i
        dx_i = Σ_{j≠p(i)} z_j z_jᵀ (dA − E_i dB) x_i / (E_i − w_j) − ½ x_i (x_iᵀ dB x_i)

    so, with Y_i = GE_i x_i + Σ_{j≠p(i)} z_j (z_jᵀ GX_i) / (E_i − w_j) and d_i = x_iᵀ GX_i,

        dL/dA = sym(Y Xᵀ),   dL/dB = −sym((Y diag(E) + ½ X diag(d)) Xᵀ),   sym(M) = (M + Mᵀ)/2

    symmetric, as Eigh's, the gradient for a symmetric change. Backward takes all pairs
    from Eigh (B: Cholesky, B = L Lᵀ, and the eigenpairs of L⁻¹ A L⁻ᵀ, Z = L⁻ᵀ V): ops of
    linalg.py, so the formula records a graph under create_graph=True. It takes pair i to
    be the i-th largest (``largest``) or smallest of them, which it is once LOBPCG has
    converged. E_i tied with another w_j leaves x_i undefined: its gradient is then huge
    or NaN (as Eigh's at a tie); the gradient through E alone stays finite.
    """

    def forward(self, a: "Array", b: "Array" = None, *, guess: "Array", preconditioner,
                iparams: dict, fparams: dict, bparams: dict, tracker) -> "Array":
        xp, m, k = backend.xp_of(a), a.shape[-1], iparams["k"]
        self.largest = bparams["largest"]
        flat = (-1, m, m)
        many_a, many_x = a.reshape(flat), guess.reshape(-1, m, guess.shape[-1])
        many_b = None if b is None else b.reshape(flat)
        many_ik = None if preconditioner is None else xp.broadcast_to(
            preconditioner, a.shape).reshape(flat)
        results = []
        for index in range(many_a.shape[0]):
            worker = LOBPCG(many_a[index], None if b is None else many_b[index], many_x[index],
                            None if many_ik is None else many_ik[index],
                            dict(iparams, batch_index=index), fparams, bparams, tracker)
            worker.run()
            results.append(worker.signed_result(k))                      # (m + 1, k)
        if not results:                                                  # an empty batch
            return xp.zeros(a.shape[:-2] + (m + 1, k), dtype=a.dtype)
        return xp.stack(results).reshape(a.shape[:-2] + (m + 1, k))

    def backward(self, grad_output: "Grad") -> "Grads":
        xp, k = self.xp, grad_output.shape[-1]
        a = self.saved_input(0)
        b = self.saved_input(1) if len(self.inputs) == 2 else None
        packed = self.saved_output
        e, x = packed[..., :1, :], packed[..., 1:, :]                   # (..., 1, k), (..., m, k)
        grad_e, grad_x = grad_output[..., :1, :], grad_output[..., 1:, :]
        w, z = _all_eigenpairs(xp, a, b)                                 # (..., m), (..., m, m)
        chosen = _chosen(self.inputs[0].data, k, self.largest)           # (m, k): j = p(i)
        gaps = e - w[..., :, None]                                       # E_i − w_j (..., m, k)
        projected = xp.swapaxes(z, -1, -2) @ grad_x                      # z_jᵀ GX_i (..., m, k)
        coefficients = xp.where(chosen, 0, _ratio(xp, projected, gaps))   # j = p(i): left out
        y = x * grad_e + z @ coefficients                                # (..., m, k)
        x_t = xp.swapaxes(x, -1, -2)                                     # (..., k, m)
        grad_a = _symmetric(xp, y @ x_t)
        if b is None:
            return grad_a
        d = (x * grad_x).sum(axis=-2, keepdims=True)                     # x_iᵀ GX_i (..., 1, k)
        grad_b = -_symmetric(xp, (y * e + x * d * 0.5) @ x_t)
        needs_a, needs_b = self.needs_input_grad
        return grad_a if needs_a else None, grad_b if needs_b else None


def _all_eigenpairs(xp, a, b):
    """Every eigenpair of A z = w B z, w ascending, Zᵀ B Z = I: Eigh of A, or (B = L Lᵀ)
    of L⁻¹ A L⁻ᵀ = V diag(w) Vᵀ with Z = L⁻ᵀ V."""
    if b is None:
        packed = Eigh.apply(a, uplo="L")                                 # (..., m + 1, m)
        return packed[..., 0, :], packed[..., 1:, :]
    lower_inverse = Inv.apply(Cholesky.apply(b))                         # L⁻¹
    lower_inverse_t = xp.swapaxes(lower_inverse, -1, -2)
    packed = Eigh.apply(lower_inverse @ a @ lower_inverse_t, uplo="L")
    return packed[..., 0, :], lower_inverse_t @ packed[..., 1:, :]


def _chosen(array, k: int, largest: bool):
    """The (m, k) mask of j = p(i): pair i of the result is the i-th largest (w ascending:
    j = m − 1 − i) or i-th smallest (j = i) eigenpair; on the device of ``array``."""
    xp, m = backend.xp_of(array), array.shape[-1]
    j, i = xp.arange(m).reshape(m, 1), xp.arange(k).reshape(1, k)
    return j == (m - 1 - i if largest else i)


def _symmetric(xp, matrix):
    return (matrix + xp.swapaxes(matrix, -1, -2)) * 0.5


def lobpcg(A: Tensor, k: int = None, B: Tensor = None, X: Tensor = None, n: int = None,
           iK: Tensor = None, niter: int = None, tol: float = None, largest: bool = None,
           method: str = None, tracker=None, ortho_iparams: dict = None,
           ortho_fparams: dict = None, ortho_bparams: dict = None) -> tuple:
    """``(E, X)``: the k largest (``largest=True``, the default) or smallest eigenvalues
    E (..., k) and their eigenvectors X (..., m, k) of A X = B X diag(E), A (..., m, m)
    symmetric, B (..., m, m) symmetric positive-definite (None: the identity), by LOBPCG.

    * ``X`` (..., m, n): the initial guess (default: n standard normal columns drawn from
      the seeded generator, ``tg.manual_seed``); ``n`` its column count (default k);
      ``k`` defaults to 1, or to X's column count; LOBPCG needs m ≥ 3n.
    * ``iK`` (m, m) or (..., m, m): a preconditioner, applied to the residuals (W = iK R);
      a good one is close to A⁻¹ (``iK = diag(1 / diag(A))``, Jacobi).
    * ``niter``: the most steps (default 1000; ≤ 0: until convergence); ``tol``: the
      relative residual for convergence (default √eps of A's dtype); ``tracker``:
      called with the ``LOBPCG`` worker after every step.
    * ``method``: 'ortho' (default) or 'basic': both run the same algorithm here, the
      orthogonal-basis one ('ortho' in PyTorch); ``ortho_iparams``, ``ortho_fparams``,
      ``ortho_bparams`` (PyTorch's knobs of its repeated orthogonalization) are accepted
      and ignored: the basis is B-orthogonalised twice, which is enough.

    Each eigenvector is B-normalised (xᵀ B x = 1) and signed so that its entry of largest
    magnitude is positive (PyTorch leaves the sign as it comes). E and X are
    differentiable with respect to A and B (``Lobpcg``); as in PyTorch, A and B that
    require grad are symmetrised first ((A + Aᵀ)/2), so their gradients are symmetric.
    """
    m, k, n = _check_inputs(A, k, B, X, n, iK, method)
    batch = A.shape[:-2]
    guess = X.data if X is not None else backend.random_normal(
        batch + (m, n), A.dtype, A.device)
    eps = float(backend.get_xp(A.device).finfo(A.dtype).eps)
    options = dict(guess=guess, preconditioner=None if iK is None else iK.data,
                   iparams={"m": m, "n": n, "k": k, "niter": 1000 if niter is None else niter},
                   fparams={"tol": eps ** 0.5 if tol is None else tol},
                   bparams={"largest": True if largest is None else largest}, tracker=tracker)
    inputs = (_symmetrised(A),) if B is None else (_symmetrised(A), _symmetrised(B))
    packed = Lobpcg.apply(*inputs, **options)                        # (..., m + 1, k)
    return packed[..., 0, :], packed[..., 1:, :]


def _check_inputs(A, k, B, X, n, iK, method) -> tuple:
    """Raise unless the arguments fit together (errors name what is wrong); return
    m (A's rows), k and n with their defaults filled in."""
    m = _check_matrix("A", A, A)
    for name, matrix in (("B", B), ("X", X), ("iK", iK)):
        if matrix is not None:
            _check_matrix(name, matrix, A, square=name != "X")
    if B is not None and B.shape != A.shape:
        raise ValueError(f"lobpcg: B must have A's shape {A.shape}, got {B.shape}")
    if X is not None and X.shape[:-1] != A.shape[:-1]:
        raise ValueError(f"lobpcg: X must have shape {A.shape[:-1] + ('n',)} (A's batch "
                         f"dims and m = {m} rows), got {X.shape}")
    if iK is not None and iK.shape not in (A.shape, (m, m)):
        raise ValueError(f"lobpcg: iK must have shape {(m, m)} or A's shape {A.shape}, "
                         f"got {iK.shape}")
    if method not in (None, "ortho", "basic"):
        raise ValueError(f"lobpcg: method must be 'ortho' or 'basic', got {method!r}")
    k = (1 if X is None else X.shape[-1]) if k is None else k
    if X is not None and n is not None and n != X.shape[-1]:
        raise ValueError(f"lobpcg: n (={n}) must be the number of columns of X "
                         f"(={X.shape[-1]})")
    n = (k if n is None else n) if X is None else X.shape[-1]
    for name, count in (("k", k), ("n", n)):
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"lobpcg: {name} must be a positive int, got {count!r}")
    if k > n:
        raise ValueError(f"lobpcg: k (={k}) must not exceed n (={n}), the number of "
                         "approximate eigenvectors iterated")
    if m < 3 * n:
        raise ValueError(f"LPBPCG algorithm is not applicable when the number of A rows "
                         f"(={m}) is smaller than 3 x the number of requested eigenpairs "
                         f"(={n})")
    return m, k, n


def _check_matrix(name: str, matrix, A, square: bool = True) -> int:
    """Raise unless ``matrix`` is a Tensor of (square) matrices with A's dtype and device;
    return its row count."""
    if not isinstance(matrix, Tensor):
        raise TypeError(f"lobpcg: {name} must be a Tensor, got {type(matrix).__name__}")
    if matrix.dtype not in (backend.float32, backend.float64):
        raise TypeError(f"lobpcg: {name} must be float32 or float64, got {matrix.dtype}")
    if matrix.ndim < 2 or (square and matrix.shape[-1] != matrix.shape[-2]):
        kind = "square matrices (..., m, m)" if square else "matrices (..., m, n)"
        raise ValueError(f"lobpcg: {name} must be a batch of {kind}, got shape {matrix.shape}")
    same_device("lobpcg", A, matrix)
    if matrix.dtype != A.dtype:
        raise ValueError(f"lobpcg: {name} is {matrix.dtype} on '{matrix.device}', A is "
                         f"{A.dtype} on '{A.device}': they must match")
    return matrix.shape[-2]


def _symmetrised(matrix: Tensor) -> Tensor:
    """(M + Mᵀ)/2 where M requires grad (so that its gradient is symmetric), else M."""
    return (matrix + matrix.transpose(-1, -2)) / 2 if matrix.requires_grad else matrix
