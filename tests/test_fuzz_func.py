"""Fuzzing ``tg.func`` transform nesting against NumPy + central finite differences.

A program is a small function f(x, y; c) of float64 tensors: x and y are 0-d or of shape
(n,), c is a captured outer tensor of shape (n,), M a fixed (n, n) matrix. Then 2-6
nodes, each an op on earlier values (fan-out allowed): add, mul (broadcasting), sin,
exp(tanh), square, matmul by M (1-d values only), mul by c, sum. The output is the last
node (a "vector" function: its shape), or its sum (a "scalar" function).

The program is a list of ``(op, args)`` interpreted twice, on tinygrad_opt Tensors and on
NumPy arrays; the NumPy evaluator with central differences is the oracle (eps 1e-6 for
first order; second order by a nested central difference with eps 1e-4 and loose
tolerances). Checked, as ``torch.func`` defines them: grad / grad_and_value / has_aux
with argnums 0, 1, (0, 1); vjp with random cotangents; jvp with random tangents;
jacrev / jacfwd (argnums); hessian; jacrev(jacrev); grad(grad) of a scalar function of a
0-d x; vmap over in_dims (0, None) / (None, 0) / (0, 0) with out_dims 0 / -1;
vmap(grad(f)); grad(vmap(f)-then-sum); nested grad whose inner function captures the
outer variable (perturbation confusion); transforms of functions closing over a c that
requires grad (the result must stay differentiable in c: tg.autograd.grad against
central differences). After every transform the caller's x, y, c keep their
requires_grad, .grad and values.

``TINYGRAD_OPT_FUNC_FUZZ_EXAMPLES=300`` draws more programs per test
(``HYPOTHESIS_PROFILE=explore``: new ones).
"""

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

import tinygrad_opt as tg
from fuzzing import examples, fuzz_settings

EXAMPLES = examples("TINYGRAD_OPT_FUNC_FUZZ_EXAMPLES", 200)
SETTINGS = fuzz_settings(EXAMPLES)

EPS1, EPS2 = 1e-6, 1e-4
RTOL1, ATOL1 = 1e-5, 1e-6
RTOL2, ATOL2 = 1e-3, 1e-4
UNARY = ("sin", "exptanh", "square", "matmul", "cmul", "sum")
BINARY = ("add", "mul")


# --- programs -------------------------------------------------------------------------

class Program:
    """f(x, y; c): ``ops`` is a list of (kind, args) over values 0 (x), 1 (y), 2.."""

    def __init__(self, n, x_vec, y_vec, ops, seed):
        self.n, self.x_vec, self.y_vec, self.ops, self.seed = n, x_vec, y_vec, ops, seed
        rng = np.random.default_rng(seed)
        self.x = rng.uniform(-1.2, 1.2, (n,) if x_vec else ())
        self.y = rng.uniform(-1.2, 1.2, (n,) if y_vec else ())
        self.c = rng.uniform(-1.0, 1.0, (n,))
        self.M = rng.uniform(-0.8, 0.8, (n, n))
        self.rng = rng
        self.out_shape = np.shape(self.np(self.x, self.y))

    def __repr__(self):
        return (f"Program(n={self.n}, x_vec={self.x_vec}, y_vec={self.y_vec}, "
                f"ops={self.ops}, seed={self.seed})")

    # the interpreter, shared by both evaluators
    def run(self, x, y, c, M, lib, scalar=False):
        values = [x, y]
        for kind, args in self.ops:
            a = values[args[0]]
            if kind == "add":
                v = a + values[args[1]]
            elif kind == "mul":
                v = a * values[args[1]]
            elif kind == "sin":
                v = lib["sin"](a)
            elif kind == "exptanh":
                v = lib["exp"](lib["tanh"](a))
            elif kind == "square":
                v = a ** 2
            elif kind == "matmul":
                v = M @ a
            elif kind == "cmul":
                v = a * c
            elif kind == "sum":
                v = lib["sum"](a)
            else:  # pragma: no cover
                raise AssertionError(kind)
            values.append(v)
        out = values[-1]
        return lib["sum"](out) if scalar else out

    def np(self, x, y, c=None, scalar=False):
        return np.asarray(self.run(np.asarray(x, float), np.asarray(y, float),
                                   self.c if c is None else np.asarray(c, float),
                                   self.M, NP, scalar), dtype=float)

    def tg_fn(self, c=None, scalar=False, lib=None):
        """f on tg tensors, closing over c (a tg tensor) and M."""
        c = tg.tensor(self.c) if c is None else c
        M = tg.tensor(self.M)
        lib = TG if lib is None else lib
        return lambda x, y: self.run(x, y, c, M, lib, scalar)


NP = {"sin": np.sin, "exp": np.exp, "tanh": np.tanh, "sum": np.sum}
TG = {"sin": lambda t: t.sin(), "exp": lambda t: t.exp(), "tanh": lambda t: t.tanh(),
      "sum": lambda t: t.sum()}
WRONG = dict(TG, sin=lambda t: t.cos())  # for the meta-test: a wrong framework


@st.composite
def programs(draw, use_c=False):
    n = draw(st.integers(2, 3))
    x_vec, y_vec = draw(st.booleans()), draw(st.booleans())
    shapes = [x_vec, y_vec]  # True: (n,), False: ()
    ops = []
    for _ in range(draw(st.integers(2, 6))):
        count = len(shapes)
        # favour recent values so the output depends on more of the program
        i = draw(st.integers(0, count - 1) | st.integers(max(0, count - 2), count - 1))
        kinds = list(BINARY + UNARY)
        if not shapes[i]:
            kinds.remove("matmul")
        kind = draw(st.sampled_from(kinds))
        if kind in BINARY:
            j = draw(st.integers(0, count - 1))
            ops.append((kind, (i, j)))
            shapes.append(shapes[i] or shapes[j])
        else:
            ops.append((kind, (i,)))
            shapes.append(kind == "cmul" or (shapes[i] and kind != "sum"))
    if use_c:  # the captured c reaches the output
        ops.append(("cmul", (len(shapes) - 1,)))
        shapes.append(True)
    # make sure both x and y can reach the output
    ops.append(("add", (len(shapes) - 1, 0)))
    shapes.append(True)
    ops.append(("mul", (len(shapes) - 1, draw(st.sampled_from([1, len(shapes) - 2])))))
    return Program(n, x_vec, y_vec, ops, draw(st.integers(0, 2**32 - 1)))


# --- oracles --------------------------------------------------------------------------

def fd_jac(fn, args, argnum, eps=EPS1):
    """d fn(*args) / d args[argnum], shape out.shape + arg.shape, by central differences."""
    args = [np.array(a, dtype=float) for a in args]
    base = args[argnum]
    out_shape = np.shape(fn(*args))
    jac = np.zeros(out_shape + base.shape)
    for idx in np.ndindex(base.shape):
        plus = [a.copy() for a in args]
        minus = [a.copy() for a in args]
        plus[argnum][idx] += eps
        minus[argnum][idx] -= eps
        jac[(Ellipsis,) + idx] = (np.asarray(fn(*plus)) - np.asarray(fn(*minus))) / (2 * eps)
    return jac


def host(t):
    return np.asarray(t.numpy() if isinstance(t, tg.Tensor) else t, dtype=float)


def close(actual, expected, rtol=RTOL1, atol=ATOL1, what=""):
    actual = host(actual)
    assert actual.shape == np.shape(expected), f"{what}: shape {actual.shape} != {np.shape(expected)}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


class Caller:
    """The caller's tensors, and a check that a transform left them alone."""

    def __init__(self, prog, requires_grad=False):
        self.x = tg.tensor(prog.x.copy())
        self.y = tg.tensor(prog.y.copy())
        if requires_grad:
            self.x.requires_grad_(True)
        self.prog = prog
        self.snapshot = [(t, t.requires_grad, t.grad, host(t).copy()) for t in (self.x, self.y)]

    def check(self):
        for t, flag, g, data in self.snapshot:
            assert t.requires_grad == flag, "a transform changed the caller's requires_grad"
            assert t.grad is g, "a transform changed the caller's .grad"
            np.testing.assert_array_equal(host(t), data)


def argnum_strategy():
    return st.sampled_from([0, 1, (0, 1)])


# --- the checks (plain functions: the meta-test runs them on a wrong framework) -------

def check_grad(prog, argnums, mode, lib=None):
    f = prog.tg_fn(scalar=True, lib=lib)
    fnp = lambda x, y: prog.np(x, y, scalar=True)
    args = Caller(prog)
    if mode == "grad":
        g = tg.func.grad(f, argnums)(args.x, args.y)
    elif mode == "grad_and_value":
        g, v = tg.func.grad_and_value(f, argnums)(args.x, args.y)
        close(v, fnp(prog.x, prog.y), what="value")
        assert not v.requires_grad
    else:  # has_aux
        g, aux = tg.func.grad(lambda x, y: (f(x, y), (f(x, y) * 2, x)), argnums,
                              has_aux=True)(args.x, args.y)
        close(aux[0], 2 * fnp(prog.x, prog.y), what="aux")
        close(aux[1], prog.x, what="aux x")
        assert not aux[0].requires_grad and not aux[1].requires_grad
    args.check()
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    got = g if isinstance(argnums, tuple) else (g,)
    assert isinstance(got, tuple) and len(got) == len(nums)
    for a, gi in zip(nums, got):
        assert not gi.requires_grad
        close(gi, fd_jac(fnp, (prog.x, prog.y), a), what=f"grad argnum {a}")


def check_vjp_jvp(prog, lib=None):
    f = prog.tg_fn(lib=lib)
    fnp = lambda x, y: prog.np(x, y)
    args = Caller(prog)
    jx = fd_jac(fnp, (prog.x, prog.y), 0)
    jy = fd_jac(fnp, (prog.x, prog.y), 1)
    out_nd = len(prog.out_shape)
    u = prog.rng.standard_normal(prog.out_shape)
    out, vjp_fn = tg.func.vjp(f, args.x, args.y)
    close(out, fnp(prog.x, prog.y), what="vjp output")
    for _ in range(2):  # vjp_fn can be called twice
        gx, gy = vjp_fn(tg.tensor(u))
        close(gx, np.tensordot(u, jx, out_nd), what="vjp x")
        close(gy, np.tensordot(u, jy, out_nd), what="vjp y")
    vx = prog.rng.standard_normal(prog.x.shape)
    vy = prog.rng.standard_normal(prog.y.shape)
    out, tangent = tg.func.jvp(f, (args.x, args.y), (tg.tensor(vx), tg.tensor(vy)))
    close(out, fnp(prog.x, prog.y), what="jvp output")
    expected = (np.tensordot(jx, vx, prog.x.ndim) if prog.x.ndim else jx * vx) + \
        (np.tensordot(jy, vy, prog.y.ndim) if prog.y.ndim else jy * vy)
    close(tangent, expected, what="jvp")
    assert not tangent.requires_grad and not out.requires_grad
    args.check()


def check_jacobian(prog, transform, argnums, lib=None):
    f = prog.tg_fn(lib=lib)
    fnp = lambda x, y: prog.np(x, y)
    args = Caller(prog)
    jac = getattr(tg.func, transform)(f, argnums)(args.x, args.y)
    args.check()
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    got = jac if isinstance(argnums, tuple) else (jac,)
    for a, j in zip(nums, got):
        close(j, fd_jac(fnp, (prog.x, prog.y), a), what=f"{transform} argnum {a}")


def check_second_order(prog, transform, argnums, lib=None):
    """hessian(f_scalar) or jacrev(jacrev(f_vector)) against nested central differences."""
    scalar = transform == "hessian"
    f = prog.tg_fn(scalar=scalar, lib=lib)
    fnp = lambda x, y: prog.np(x, y, scalar=scalar)
    args = Caller(prog)
    if transform == "hessian":
        h = tg.func.hessian(f, argnums)(args.x, args.y)
    else:
        h = tg.func.jacrev(tg.func.jacrev(f, argnums), argnums)(args.x, args.y)
    args.check()
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    for i, a in enumerate(nums):
        for k, b in enumerate(nums):
            grad_a = lambda x, y, a=a: fd_jac(fnp, (x, y), a, EPS2)
            expected = fd_jac(grad_a, (prog.x, prog.y), b, EPS2)
            got = h[i][k] if isinstance(argnums, tuple) else h
            close(got, expected, RTOL2, ATOL2, what=f"{transform} [{a}][{b}]")


def check_vmap(prog, in_dims, out_dim, batch, lib=None):
    f = prog.tg_fn(lib=lib)
    xs = prog.rng.uniform(-1.2, 1.2, (batch,) + prog.x.shape)
    ys = prog.rng.uniform(-1.2, 1.2, (batch,) + prog.y.shape)
    X = tg.tensor(xs) if in_dims[0] == 0 else tg.tensor(prog.x)
    Y = tg.tensor(ys) if in_dims[1] == 0 else tg.tensor(prog.y)
    rows = []
    for b in range(batch):
        rows.append(prog.np(xs[b] if in_dims[0] == 0 else prog.x,
                            ys[b] if in_dims[1] == 0 else prog.y))
    expected = np.stack(rows, axis=out_dim)
    got = tg.func.vmap(f, in_dims=in_dims, out_dims=out_dim)(X, Y)
    close(got, expected, what=f"vmap in_dims={in_dims} out_dims={out_dim}")
    assert not X.requires_grad and not Y.requires_grad and X.grad is None
    # vmap(grad(f)): per-sample gradients
    fs = prog.tg_fn(scalar=True, lib=lib)
    fnp = lambda x, y: prog.np(x, y, scalar=True)
    for argnum in (0, 1):
        got = tg.func.vmap(tg.func.grad(fs, argnum), in_dims=in_dims)(X, Y)
        rows = [fd_jac(fnp, (xs[b] if in_dims[0] == 0 else prog.x,
                             ys[b] if in_dims[1] == 0 else prog.y), argnum)
                for b in range(batch)]
        close(got, np.stack(rows), what=f"vmap(grad argnum {argnum})")
    # grad of vmap-then-sum, wrt the mapped argument(s) and the unmapped ones
    vsum = lambda a, b: tg.func.vmap(fs, in_dims=in_dims)(a, b).sum()
    vsum_np = lambda a, b: sum(fnp(a[i] if in_dims[0] == 0 else a, b[i] if in_dims[1] == 0 else b)
                               for i in range(batch))
    ga, gb = tg.func.grad(vsum, (0, 1))(X, Y)
    close(ga, fd_jac(vsum_np, (host(X), host(Y)), 0), what="grad(vmap) x")
    close(gb, fd_jac(vsum_np, (host(X), host(Y)), 1), what="grad(vmap) y")
    assert not X.requires_grad and not Y.requires_grad and X.grad is None and Y.grad is None


# --- the fuzz tests -------------------------------------------------------------------

@SETTINGS
@given(programs(), argnum_strategy(), st.sampled_from(["grad", "grad_and_value", "has_aux"]))
def test_grad_grad_and_value_has_aux_against_central_differences(prog, argnums, mode):
    note(repr(prog))
    check_grad(prog, argnums, mode)


@SETTINGS
@given(programs())
def test_vjp_and_jvp_against_central_differences(prog):
    note(repr(prog))
    check_vjp_jvp(prog)


@SETTINGS
@given(programs(), st.sampled_from(["jacrev", "jacfwd"]), argnum_strategy())
def test_jacrev_and_jacfwd_against_central_differences(prog, transform, argnums):
    note(repr(prog))
    check_jacobian(prog, transform, argnums)


@SETTINGS
@given(programs(), st.sampled_from(["hessian", "jacrev_jacrev"]), argnum_strategy())
def test_hessian_and_jacrev_of_jacrev_against_nested_differences(prog, transform, argnums):
    note(repr(prog))
    check_second_order(prog, transform, argnums)


@SETTINGS
@given(programs(), st.sampled_from([(0, None), (None, 0), (0, 0)]), st.sampled_from([0, -1]),
       st.integers(1, 3))
def test_vmap_vmap_of_grad_and_grad_of_vmap(prog, in_dims, out_dim, batch):
    note(repr(prog))
    if out_dim == -1 and not prog.out_shape:
        out_dim = 0
    check_vmap(prog, in_dims, out_dim, batch)


@SETTINGS
@given(programs(), st.integers(1, 3))
def test_grad_of_grad_of_a_scalar_function_of_a_scalar(prog, order):
    """grad^order of f(x, y0) with x 0-d and f summed: a scalar function of a scalar."""
    note(repr(prog))
    x0 = float(prog.x.ravel()[0])
    y = tg.tensor(prog.y)
    f = prog.tg_fn(scalar=True)
    # the program's x is broadcast from a 0-d x: (n,) copies of it when x is a vector
    fnp = lambda x: prog.np(np.full(prog.x.shape, x), prog.y, scalar=True)
    g = lambda x: f(x * tg.ones(prog.x.shape, dtype=tg.float64) if prog.x.shape else x, y)
    for _ in range(order):
        g = tg.func.grad(g)
    x = tg.tensor(np.array(x0))
    got = g(x)
    assert not x.requires_grad and x.grad is None
    oracle = fnp
    for k in range(order):
        oracle = (lambda h, e: (lambda x: (h(x + e) - h(x - e)) / (2 * e)))(oracle, 1e-3 if order == 3 else EPS2)
    rtol, atol = (RTOL2, ATOL2) if order > 1 else (RTOL1, 1e-5)
    if order == 3:
        rtol, atol = 2e-2, 2e-3
    close(got, oracle(x0), rtol, atol, what=f"grad^{order}")


@SETTINGS
@given(programs(), st.sampled_from([0, 1]))
def test_nested_grad_capturing_the_outer_variable(prog, argnum):
    """d/dx sum(x * grad_y f(x, y)) with the inner function closing over the outer x
    (perturbation confusion: the inner grad must not differentiate the outer x)."""
    note(repr(prog))
    fs = prog.tg_fn(scalar=True)
    x, y = tg.tensor(prog.x), tg.tensor(prog.y)

    def outer(x):
        inner = tg.func.grad(lambda yy: fs(x, yy))(y)
        return (x * inner.sum()).sum()

    got = tg.func.grad(outer)(x)
    assert not x.requires_grad and x.grad is None and y.grad is None
    fnp = lambda a, b: prog.np(a, b, scalar=True)
    outer_np = lambda a: np.sum(a * np.sum(fd_jac(fnp, (a, prog.y), 1, EPS2)))
    close(got, fd_jac(outer_np, (prog.x,), 0, EPS2), RTOL2, ATOL2, what="nested grad")


@SETTINGS
@given(programs(use_c=True), st.sampled_from(["grad", "jacrev", "vjp", "jvp", "vmap", "hessian",
                                    "grad_x_requires_grad"]))
def test_transforms_of_a_function_closing_over_a_tensor_that_requires_grad(prog, transform):
    """R(c) = transform(f_c)(x, y) must stay differentiable in the captured c:
    tg.autograd.grad(sum(W * R), c) against central differences over c."""
    note(repr(prog))
    c = tg.tensor(prog.c.copy(), requires_grad=True)
    args = Caller(prog, requires_grad=transform == "grad_x_requires_grad")
    x, y = args.x, args.y
    scalar = transform in ("grad", "hessian", "grad_x_requires_grad")
    f = prog.tg_fn(c=c, scalar=scalar)
    u = prog.rng.standard_normal(prog.out_shape)
    v = prog.rng.standard_normal(prog.x.shape)

    def result_np(cc):
        fnp = lambda a, b: prog.np(a, b, c=cc, scalar=scalar)
        if transform in ("grad", "grad_x_requires_grad"):
            return fd_jac(fnp, (prog.x, prog.y), 0, EPS2)
        if transform == "jacrev":
            return fd_jac(fnp, (prog.x, prog.y), 1, EPS2)
        if transform == "vjp":
            return np.tensordot(u, fd_jac(fnp, (prog.x, prog.y), 0, EPS2), len(prog.out_shape))
        if transform == "jvp":
            j = fd_jac(fnp, (prog.x, prog.y), 0, EPS2)
            return np.tensordot(j, v, prog.x.ndim) if prog.x.ndim else j * v
        if transform == "vmap":
            return np.stack([fnp(prog.x, prog.y), fnp(2 * prog.x, prog.y)])
        grad_x = lambda a, b: fd_jac(fnp, (a, b), 0, 1e-3)
        return fd_jac(grad_x, (prog.x, prog.y), 0, 1e-3)

    if transform in ("grad", "grad_x_requires_grad"):
        r = tg.func.grad(f)(x, y)
    elif transform == "jacrev":
        r = tg.func.jacrev(f, 1)(x, y)
    elif transform == "vjp":
        r = tg.func.vjp(f, x, y)[1](tg.tensor(u))[0]
    elif transform == "jvp":
        r = tg.func.jvp(lambda a: f(a, y), (x,), (tg.tensor(v),))[1]
    elif transform == "vmap":
        r = tg.func.vmap(f, in_dims=(0, None))(tg.stack([x, 2 * x]), y)
    else:
        r = tg.func.hessian(f)(x, y)
    expected = result_np(prog.c)
    close(r, expected, RTOL2, ATOL2, what=f"{transform} value")
    w = prog.rng.standard_normal(np.shape(expected))
    # (r may not depend on c: then it need not require grad, and dc/dc = 0)
    if r.requires_grad:
        (dc,) = tg.autograd.grad((r * tg.tensor(w)).sum(), [c], retain_graph=True,
                                 allow_unused=True)
    else:
        dc = None
    dc = np.zeros(prog.c.shape) if dc is None else host(dc)
    loose = transform == "hessian"
    eps = 1e-3 if loose else EPS2
    expected_dc = fd_jac(lambda cc: np.sum(w * result_np(cc)), (prog.c,), 0, eps)
    close(dc, expected_dc, 2e-2 if loose else RTOL2, 2e-3 if loose else ATOL2,
          what=f"d {transform} / dc")
    assert c.grad is None
    if transform == "grad_x_requires_grad":
        # a caller's x that requires grad: the gradient is differentiable in x too
        (dx,) = tg.autograd.grad((r * tg.tensor(w)).sum(), [x], allow_unused=True) \
            if r.requires_grad else (None,)
        dx = np.zeros(prog.x.shape) if dx is None else host(dx)
        expected_dx = fd_jac(lambda a: np.sum(w * fd_jac(
            lambda a2, b: prog.np(a2, b, scalar=True), (a, prog.y), 0, EPS2)), (prog.x,), 0, EPS2)
        close(dx, expected_dx, RTOL2, ATOL2, what="d grad / dx")
    args.check()


COMPOSITIONS = ("hvp_jvp_of_grad", "grad_of_jvp", "vjp_of_grad", "vmap_of_jacrev",
                "jacrev_of_vmap", "jvp_of_jvp", "grad_wrt_the_tangent", "grad_wrt_the_cotangent")


def check_composition(prog, kind, lib=None):
    """More nestings of vector transforms, for a scalar f_s = sum f and a vector f."""
    fs, fv = prog.tg_fn(scalar=True, lib=lib), prog.tg_fn(lib=lib)
    fs_np = lambda a, b: prog.np(a, b, scalar=True)
    fv_np = lambda a, b: prog.np(a, b)
    args = Caller(prog)
    x, y = args.x, args.y
    v = prog.rng.standard_normal(prog.x.shape)
    u = prog.rng.standard_normal(prog.out_shape)
    V = tg.tensor(v)
    dot = lambda j, t, nd: np.tensordot(j, t, nd) if nd else j * t
    hess = lambda: fd_jac(lambda a, b: fd_jac(fs_np, (a, b), 0, EPS2), (prog.x, prog.y), 0, EPS2)
    second = False
    if kind == "hvp_jvp_of_grad":
        got = tg.func.jvp(lambda a: tg.func.grad(fs)(a, y), (x,), (V,))[1]
        expected, second = dot(hess(), v, prog.x.ndim), True
    elif kind == "grad_of_jvp":
        got = tg.func.grad(lambda a: tg.func.jvp(lambda b: fs(b, y), (a,), (V,))[1])(x)
        expected, second = dot(hess(), v, prog.x.ndim), True
    elif kind == "vjp_of_grad":
        got = tg.func.vjp(lambda a: tg.func.grad(fs)(a, y), x)[1](V)[0]
        expected, second = dot(v, hess(), prog.x.ndim), True
    elif kind == "vmap_of_jacrev":
        xs = prog.rng.uniform(-1.2, 1.2, (2,) + prog.x.shape)
        got = tg.func.vmap(tg.func.jacrev(fv), in_dims=(0, None))(tg.tensor(xs), y)
        expected = np.stack([fd_jac(fv_np, (xs[i], prog.y), 0) for i in range(2)])
    elif kind == "jacrev_of_vmap":
        xs = prog.rng.uniform(-1.2, 1.2, (2,) + prog.x.shape)
        got = tg.func.jacrev(tg.func.vmap(fs, in_dims=(0, None)))(tg.tensor(xs), y)
        expected = fd_jac(lambda a, b: np.stack([fs_np(a[i], b) for i in range(2)]),
                          (xs, prog.y), 0)
    elif kind == "jvp_of_jvp":
        got = tg.func.jvp(lambda a: tg.func.jvp(lambda b: fs(b, y), (a,), (V,))[1], (x,), (V,))[1]
        expected, second = np.sum(v * dot(hess(), v, prog.x.ndim)), True
    elif kind == "grad_wrt_the_tangent":
        got = tg.func.grad(lambda t: tg.func.jvp(lambda b: fv(b, y), (x,), (t,))[1].sum())(V)
        expected = np.tensordot(np.ones(prog.out_shape), fd_jac(fv_np, (prog.x, prog.y), 0),
                                len(prog.out_shape))
    else:  # grad_wrt_the_cotangent
        _, vjp_fn = tg.func.vjp(lambda b: fv(b, y), x)
        got = tg.func.grad(lambda w: (vjp_fn(w)[0] * V).sum())(tg.tensor(u))
        expected = dot(fd_jac(fv_np, (prog.x, prog.y), 0), v, prog.x.ndim)
    rtol, atol = (RTOL2, ATOL2) if second else (RTOL1, 1e-5)
    close(got, expected, rtol, atol, what=kind)
    assert not got.requires_grad, f"{kind}: the result keeps a graph (torch.func unwraps it)"
    args.check()


@SETTINGS
@given(programs(), st.sampled_from(COMPOSITIONS))
def test_more_compositions_against_central_differences(prog, kind):
    note(repr(prog))
    check_composition(prog, kind)


# --- deterministic cases and the meta-test --------------------------------------------

def test_perturbation_confusion_minimal():
    """d/dx [x * d/dy (x * y)](y=c) = d/dx x^2 = 2x (confused: x + ... )."""
    x, c = tg.tensor(np.array(1.5)), tg.tensor(np.array(0.7))
    got = tg.func.grad(lambda x: x * tg.func.grad(lambda y: x * y)(c))(x)
    assert abs(got.item() - 3.0) < 1e-12
    assert not x.requires_grad and x.grad is None


def test_grad_with_respect_to_a_jvp_tangent_returns_no_graph():
    """The result kept a graph to jvp's private copy of the primal (found by this file);
    torch.func.grad returns a plain tensor."""
    x = tg.tensor(np.array([0.3]))
    r = tg.func.grad(lambda v: tg.func.jvp(lambda a: a.sin(), (x,), (v,))[1].sum())(
        tg.tensor(np.array([1.0])))
    assert abs(r.item() - np.cos(0.3)) < 1e-12  # the value is right
    assert not r.requires_grad and r.grad_fn is None  # it was grad_fn=<Mul>


def test_grad_with_respect_to_a_vjp_cotangent_returns_no_graph():
    """As above, through a vjp_fn called inside grad (vjp made outside it)."""
    x = tg.tensor(np.array([0.3]))
    _, vjp_fn = tg.func.vjp(lambda a: a.sin(), x)
    r = tg.func.grad(lambda u: vjp_fn(u)[0].sum())(tg.tensor(np.array([1.0])))
    assert abs(r.item() - np.cos(0.3)) < 1e-12
    assert not r.requires_grad and r.grad_fn is None  # it was grad_fn=<Mul>


def _example():
    return Program(3, True, True, [("sin", (0,)), ("mul", (2, 1)), ("matmul", (3,)),
                                   ("cmul", (4,)), ("exptanh", (5,)), ("add", (6, 0)),
                                   ("mul", (7, 1))], 1234)


@pytest.mark.parametrize("check", ["grad", "vjp_jvp", "jacrev", "hessian", "vmap",
                                   "composition"])
def test_the_oracles_catch_a_wrong_framework(check):
    """With sin replaced by cos on the tg side only, every check must fail."""
    prog = _example()
    runs = {"grad": lambda lib: check_grad(prog, (0, 1), "grad", lib),
            "composition": lambda lib: check_composition(prog, "grad_of_jvp", lib),
            "vjp_jvp": lambda lib: check_vjp_jvp(prog, lib),
            "jacrev": lambda lib: check_jacobian(prog, "jacrev", (0, 1), lib),
            "hessian": lambda lib: check_second_order(prog, "hessian", 0, lib),
            "vmap": lambda lib: check_vmap(prog, (0, 0), 0, 2, lib)}
    runs[check](TG)  # the right framework passes
    with pytest.raises(AssertionError):
        runs[check](WRONG)


def test_the_caller_check_catches_a_changed_tensor():
    prog = _example()
    args = Caller(prog)
    args.x.requires_grad_(True)
    with pytest.raises(AssertionError):
        args.check()
