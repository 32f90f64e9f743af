"""Einstein summation, ``tg.einsum``, and the contractions built on it.

Read after ``ops/linalg.py``. ``einsum('ij,jk->ik', a, b)`` names each axis of
each operand with a letter (a label); the output keeps the labels after ``->``
and sums over all the others:  y[i, k] = Σ_j a[i, j] · b[j, k].

One primitive, ``Einsum``, works on a *canonical* equation: letters only, an
explicit output, one size per label. ``einsum`` gets there first: it drops the
spaces, replaces ``...`` by letters the equation does not use, writes out an
implicit output (the labels that appear once, in alphabetical order), and
broadcasts size-1 axes with ``BroadcastTo``, whose backward sums the gradient
back ("broadcast forward = sum backward" stays taught once, in ops/shape.py).

The backward of an einsum is an einsum: the gradient of operand k contracts
the output gradient with the other operands into operand k's labels. It calls
``Einsum.apply``, so it runs on arrays in a plain backward and records a graph
under ``create_graph=True``: second derivatives work.

``tensordot``, ``kron``, ``inner``, ``addmm``, ``addmv``, ``baddbmm``,
``addbmm`` and ``chain_matmul`` are compositions of ``einsum`` and ``matmul``
(their gradients are those ops').
"""

from __future__ import annotations

import string

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.ops.linalg import matmul
from tinygrad_opt.ops.shape import as_operand, broadcast_to, normalize_dim, same_device

import tinygrad_opt.tensor as tensor_module

__all__: list = ["einsum", "tensordot", "kron", "inner", "addmm", "addmv", "baddbmm",
                 "addbmm", "chain_matmul"]

LETTERS = string.ascii_uppercase + string.ascii_lowercase  # in sorted order, as PyTorch's


class Einsum(Function):
    """y = einsum(equation, x_0, ..., x_n-1) on a canonical equation ``s_0,...,s_n-1->out``.

    y[out] = Σ over the labels not in out of  Π_k x_k[s_k].

    dL/dx_k[s_k] = Σ over the labels not in s_k of  dL/dy[out] · Π_{j≠k} x_j[s_j]:
    an einsum of the output gradient and the other operands into s_k, where

    * a label that only x_k has was summed within x_k alone, so y changes equally with
      each of its entries: the gradient is broadcast along it;
    * a label that x_k repeats (``'ii->i'``) reads only the diagonal: the gradient lands
      there, and is 0 off it.
    """

    def forward(self, *operands: "Array", equation: str) -> "Array":
        self.equation = equation
        xp = backend.xp_of(operands[0])
        y = xp.asarray(xp.einsum(equation, *operands, optimize=True))  # (0-d: not a scalar)
        if any(backend.memory_owner(y) is backend.memory_owner(x) for x in operands):
            y = y.copy()  # a transpose or a diagonal comes back as a view of its operand
        return y

    def backward(self, grad_output: "Grad") -> "Grads":
        inputs, output = split_equation(self.equation)
        return tuple(self._gradient(k, grad_output, inputs, output)
                     if self.needs_input_grad[k] else None for k in range(len(inputs)))

    def _gradient(self, k: int, grad_output: "Grad", inputs: list, output: str) -> "Grad":
        """dL/dx_k: the einsum of dL/dy and the other operands into x_k's labels."""
        labels, shape = inputs[k], self.inputs[k].shape
        others = [j for j in range(len(inputs)) if j != k]
        reachable = set(output).union(*[inputs[j] for j in others])   # what einsum can give
        kept = "".join(label for label in dict.fromkeys(labels) if label in reachable)
        equation = ",".join([output] + [inputs[j] for j in others]) + "->" + kept
        grad = Einsum.apply(grad_output, *[self.saved_input(j) for j in others],
                            equation=equation)                       # (sizes of kept)
        in_place = tuple(size if label in kept and labels.index(label) == axis else 1
                         for axis, (label, size) in enumerate(zip(labels, shape)))
        grad = grad.reshape(in_place)              # each kept label on its first axis
        if grad.shape != shape:
            grad = self.xp.broadcast_to(grad, shape)   # along x_k's own labels and repeats
        if len(set(labels)) < len(labels):
            grad = self.xp.where(self._diagonal(k, labels, shape), grad, 0)
        return grad

    def _diagonal(self, k: int, labels: str, shape: tuple) -> "Array":
        """True where each label that x_k repeats has the same index on all its axes."""
        xp = backend.xp_of(self.inputs[k].data)
        mask = xp.ones(shape, dtype=backend.bool_)
        for axis, label in enumerate(labels):
            first = labels.index(label)
            if first != axis:
                index = xp.arange(shape[axis])
                same = _along(index, first, len(shape)) == _along(index, axis, len(shape))
                mask = mask & same
        return mask


def _along(index, axis: int, ndim: int):
    """A 1-D ``index`` reshaped to lie along ``axis`` of ``ndim`` axes (size 1 elsewhere)."""
    return index.reshape((1,) * axis + (-1,) + (1,) * (ndim - axis - 1))


def split_equation(equation: str) -> tuple:
    """``'ij,jk->ik'`` → (['ij', 'jk'], 'ik'), for a canonical equation."""
    inputs, output = equation.split("->")
    return inputs.split(","), output


def einsum(equation: str, *operands):
    """Einstein summation, as ``torch.einsum``: ``einsum('ij,jk->ik', a, b)`` is a @ b.

    Each operand's axes are named by letters; the output keeps the labels after ``->``
    and sums over the others: y[i, k] = Σ_j a[i, j] · b[j, k]. Without ``->`` the output
    is the labels that appear once, in alphabetical order (``'ij,jk'`` → ``'ik'``).
    ``...`` stands for the leading axes, broadcast between operands (``'...ij,...jk'``);
    a label repeated in one operand takes a diagonal (``'ii->i'``, trace ``'ii'``);
    size-1 axes broadcast against their label's size; spaces are ignored. The operands
    may also come as one list: ``einsum('i,i', [a, b])``, or in the sublist format,
    ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` (``'AB,BC->AC'``). Operands of different dtypes
    are promoted to a common one (as ``a @ b`` does here).
    """
    if not isinstance(equation, str):
        equation, operands = _from_sublists((equation,) + operands)
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    title = f"einsum('{equation}')"
    for k, x in enumerate(operands):
        if not isinstance(x, tensor_module.Tensor):
            raise TypeError(f"{title}: operand {k} must be a Tensor, got {type(x).__name__}")
    inputs, output, ellipsis = _parse(title, equation.replace(" ", ""), operands)
    sizes = _label_sizes(title, inputs, operands, ellipsis)
    operands = _common_dtype(title, operands)
    operands = [broadcast_to(x, tuple(sizes[label] for label in labels))  # size-1 axes grow
                for x, labels in zip(operands, inputs)]
    return Einsum.apply(*operands, equation=",".join(inputs) + "->" + output)


def _from_sublists(arguments: tuple) -> tuple:
    """The sublist format ``(x_0, labels_0, x_1, labels_1, ..., [output])`` as an equation
    and its operands, as PyTorch's: label 0-25 is 'A'-'Z', 26-51 is 'a'-'z', and
    ``Ellipsis`` is '...'."""
    def subscripts(labels, what: str) -> str:
        if not isinstance(labels, (list, tuple)):
            raise TypeError(f"einsum: in the sublist format, {what} must be a list of "
                            f"subscripts, got {type(labels).__name__}")
        letters = []
        for label in labels:
            if label is Ellipsis:
                letters.append("...")
            elif isinstance(label, int) and not isinstance(label, bool) \
                    and 0 <= label < len(LETTERS):
                letters.append(LETTERS[label])
            else:
                raise ValueError(f"einsum: subscript {label!r} of {what} is not within the "
                                 f"valid range [0, {len(LETTERS)}) nor Ellipsis")
        return "".join(letters)

    pairs = len(arguments) // 2
    if pairs == 0:
        raise TypeError(f"einsum: the first argument must be the equation string or an operand "
                        f"followed by its sublist, got {type(arguments[0]).__name__} alone")
    terms = [subscripts(arguments[2 * k + 1], f"operand {k}") for k in range(pairs)]
    equation = ",".join(terms)
    if len(arguments) % 2:
        equation += "->" + subscripts(arguments[-1], "the output")
    return equation, tuple(arguments[0:2 * pairs:2])


def _parse(title: str, equation: str, operands) -> tuple:
    """One label string per operand and the output's, with ``...`` replaced by unused
    letters (right-aligned: an operand's ``...`` covers the last of them) and the
    implicit output written out. Also returns the letters that stand for ``...``."""
    terms, arrow, output = equation.partition("->")
    terms = terms.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"{title}: the equation has {len(terms)} operand(s) but "
                         f"{len(operands)} were given")
    ellipsis_ndims = []
    for k, (term, x) in enumerate(zip(terms, operands)):
        letters = term.replace("...", "", 1)
        if any(char not in LETTERS for char in letters):
            raise ValueError(f"{title}: the subscripts '{term}' of operand {k} must be "
                             "letters a-z, A-Z with at most one '...'")
        covered = x.ndim - len(letters)  # the axes '...' stands for
        if covered < 0 or (covered > 0 and "..." not in term):
            raise ValueError(f"{title}: operand {k} has {x.ndim} dims (shape {x.shape}) but "
                             f"its subscripts '{term}' name {len(letters)}")
        ellipsis_ndims.append(covered if "..." in term else 0)
    unused = [letter for letter in LETTERS if letter not in equation]
    if max(ellipsis_ndims, default=0) > len(unused):
        raise ValueError(f"{title}: too many dims for '...': only {len(unused)} letters left")
    ellipsis = "".join(unused[:max(ellipsis_ndims, default=0)])
    inputs = [term.replace("...", ellipsis[len(ellipsis) - covered:])
              for term, covered in zip(terms, ellipsis_ndims)]
    if not arrow:  # implicit: '...' first, then the labels that appear once, sorted
        named = "".join(terms).replace(".", "")
        once = sorted(label for label in set(named) if named.count(label) == 1)
        return inputs, ellipsis + "".join(once), ellipsis
    letters = output.replace("...", "", 1)
    if any(char not in LETTERS for char in letters):
        raise ValueError(f"{title}: the output subscripts '{output}' must be letters "
                         "a-z, A-Z with at most one '...'")
    for label in letters:
        if letters.count(label) > 1:
            raise ValueError(f"{title}: the output repeats the subscript '{label}'")
        if not any(label in term for term in terms):
            raise ValueError(f"{title}: the output subscript '{label}' is in no operand")
    return inputs, output.replace("...", ellipsis), ellipsis


def _label_sizes(title: str, inputs: list, operands, ellipsis: str) -> dict:
    """The size of each label: equal on every axis it names, or 1 there (broadcast)."""
    sizes = {}
    for k, (labels, x) in enumerate(zip(inputs, operands)):
        own = {}
        for label, size in zip(labels, x.shape):
            name = "a '...' dim" if label in ellipsis else f"subscript '{label}'"
            if own.setdefault(label, size) != size:
                raise ValueError(f"{title}: {name} is repeated in operand {k} (shape "
                                 f"{x.shape}) on axes of different sizes: {own[label]} != {size}")
            known = sizes.get(label, 1)
            if size != known and known != 1 and size != 1:
                raise ValueError(f"{title}: {name} has size {known} in an earlier operand but "
                                 f"{size} in operand {k} (shape {x.shape})")
            sizes[label] = size if known == 1 else known
    return sizes


def _common_dtype(title: str, operands) -> list:
    """The operands on one device, in their common dtype under PyTorch's promotion (as
    ``a @ b``): integers meeting floats take the floats' dtype (int32 with float32 is
    float32, where NumPy's rule gives float64), else the widest dtype."""
    same_device(title, *operands)
    dtypes = [x.dtype for x in operands]
    floats = [dtype for dtype in dtypes if backend.is_floating(dtype)]
    dtype = backend.result_dtype(*(floats or dtypes))
    return [x if x.dtype == dtype else x.astype(dtype) for x in operands]


# --- contractions composed of einsum and matmul ---


def tensordot(a, b, dims=2):
    """Σ over pairs of axes of a and b, as ``torch.tensordot``. ``dims=d`` (an int)
    contracts the last d axes of a with the first d of b; ``dims=([1, 0], [0, 1])``
    contracts a's axis 1 with b's 0 and a's 0 with b's 1. The result's axes are a's
    free axes, then b's:  y[i, l] = Σ_jk a[i, j, k] · b[j, k, l]  for dims=2. Both
    operands must have one dtype, as PyTorch's."""
    _check_dtypes("tensordot", a=a, b=b)
    dims_a, dims_b = _tensordot_dims(a, b, dims)
    if a.ndim + b.ndim > len(LETTERS):
        raise ValueError(f"tensordot: {a.ndim} + {b.ndim} dims are more than einsum can name")
    a_labels = list(LETTERS[:a.ndim])
    b_labels = list(LETTERS[a.ndim:a.ndim + b.ndim])
    for dim_a, dim_b in zip(dims_a, dims_b):
        if a.shape[dim_a] != b.shape[dim_b]:
            raise ValueError(f"tensordot: contracted dims differ in size: dim {dim_a} of a "
                             f"{a.shape} is {a.shape[dim_a]}, dim {dim_b} of b {b.shape} is "
                             f"{b.shape[dim_b]}")
        b_labels[dim_b] = a_labels[dim_a]  # one label: summed over
    free = ([label for dim, label in enumerate(a_labels) if dim not in dims_a]
            + [label for dim, label in enumerate(b_labels) if dim not in dims_b])
    return einsum(f"{''.join(a_labels)},{''.join(b_labels)}->{''.join(free)}", a, b)


def _tensordot_dims(a, b, dims) -> tuple:
    """The contracted axes of a and of b, as two lists of non-negative dims."""
    if isinstance(dims, int):
        if not 0 <= dims <= min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: dims={dims} must be in 0..{min(a.ndim, b.ndim)} for "
                             f"shapes {a.shape} and {b.shape}")
        return list(range(a.ndim - dims, a.ndim)), list(range(dims))
    if not isinstance(dims, (list, tuple)) or len(dims) != 2:
        raise TypeError(f"tensordot: dims must be an int or a pair of lists, got {dims!r}")
    dims_a, dims_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(dims_a) != len(dims_b):
        raise ValueError(f"tensordot: dims {dims!r} name {len(dims_a)} axes of a but "
                         f"{len(dims_b)} of b")
    dims_a = [normalize_dim(d, a.ndim, "tensordot") for d in dims_a]
    dims_b = [normalize_dim(d, b.ndim, "tensordot") for d in dims_b]
    if len(set(dims_a)) < len(dims_a) or len(set(dims_b)) < len(dims_b):
        raise ValueError(f"tensordot: dims {dims!r} repeat an axis")
    return dims_a, dims_b


def kron(input, other):
    """The Kronecker product, as ``torch.kron``: with a = ``input``, b = ``other``, block
    (i, j) of the result is a[i, j] · b, and generally y[i·p + k, j·q + l] = a[i, j] · b[k, l]
    for b of shape (p, q), in any number of dims (the operand with fewer dims gets leading
    1s)."""
    a, b = input, other
    ndim = max(a.ndim, b.ndim)
    if 2 * ndim > len(LETTERS):
        raise ValueError(f"kron: {ndim} dims are more than einsum can name")
    a = a.reshape((1,) * (ndim - a.ndim) + a.shape)
    b = b.reshape((1,) * (ndim - b.ndim) + b.shape)
    a_labels, b_labels = LETTERS[:ndim], LETTERS[ndim:2 * ndim]
    pairs = "".join(i + k for i, k in zip(a_labels, b_labels))
    blocks = einsum(f"{a_labels},{b_labels}->{pairs}", a, b)     # (a_0, b_0, a_1, b_1, ...)
    return blocks.reshape(tuple(p * q for p, q in zip(a.shape, b.shape)))


def inner(input, other):
    """Σ over the last axes, as ``torch.inner``: with a = ``input``, b = ``other``,
    y[i, j] = Σ_k a[i, k] · b[j, k], the result's axes a's others then b's; a 0-d operand
    scales the other (a · b, promoted); else both must have one dtype (``tensordot``)."""
    a, b = input, other
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    _check_dtypes("inner", input=a, other=b)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"inner: the last dims of {a.shape} and {b.shape} differ")
    return tensordot(a, b, dims=([-1], [-1]))


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """out = β · input + α · (mat1 @ mat2), as ``torch.addmm``: mat1 (n, k), mat2 (k, m),
    input broadcast to (n, m). With β = 0 the input is ignored (NaN in it too)."""
    _check_ndim("addmm", mat1=(mat1, 2), mat2=(mat2, 2))
    if mat1.shape[1] != mat2.shape[0]:
        raise ValueError(f"addmm: mat1 {mat1.shape} and mat2 {mat2.shape} cannot be "
                         f"multiplied: {mat1.shape[1]} columns, {mat2.shape[0]} rows")
    _check_dtypes("addmm", input=input, mat1=mat1, mat2=mat2)
    return _scaled_sum("addmm", input, matmul, (mat1, mat2), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """out = β · input + α · (mat @ vec), as ``torch.addmv``: mat (n, m), vec (m,),
    input broadcast to (n,). With β = 0 the input is ignored (NaN in it too)."""
    _check_ndim("addmv", mat=(mat, 2), vec=(vec, 1))
    if mat.shape[1] != vec.shape[0]:
        raise ValueError(f"addmv: mat {mat.shape} and vec {vec.shape} cannot be multiplied: "
                         f"{mat.shape[1]} columns, {vec.shape[0]} entries")
    _check_dtypes("addmv", input=input, mat=mat, vec=vec)
    return _scaled_sum("addmv", input, matmul, (mat, vec), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """out[b] = β · input[b] + α · (batch1[b] @ batch2[b]), as ``torch.baddbmm``: batch1
    (B, n, k), batch2 (B, k, m), input broadcast to (B, n, m)."""
    _check_batches("baddbmm", batch1, batch2)
    _check_dtypes("baddbmm", input=input, batch1=batch1, batch2=batch2)
    return _scaled_sum("baddbmm", input, matmul, (batch1, batch2), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """out = β · input + α · Σ_b batch1[b] @ batch2[b], as ``torch.addbmm``: batch1
    (B, n, k), batch2 (B, k, m), input broadcast to (n, m)."""
    _check_batches("addbmm", batch1, batch2)
    _check_dtypes("addbmm", input=input, batch1=batch1, batch2=batch2)
    return _scaled_sum("addbmm", input, lambda a, b: einsum("bnk,bkm->nm", a, b),
                       (batch1, batch2), beta, alpha)


def chain_matmul(*matrices):
    """M_1 @ M_2 @ ... @ M_N of 2-D matrices, as ``torch.chain_matmul``, in the order of
    products that costs least (one einsum, ``'ab,bc,cd->ad'``, whose path is optimised).
    One matrix is returned as a copy (as PyTorch's: never the argument itself)."""
    if not matrices:
        raise ValueError("chain_matmul: expected one matrix or more, got none")
    for i, matrix in enumerate(matrices):
        if matrix.ndim != 2:
            raise ValueError(f"chain_matmul: matrix {i} must be 2-D, got shape {matrix.shape}")
        if i > 0 and matrices[i - 1].shape[1] != matrix.shape[0]:
            raise ValueError(f"chain_matmul: matrices {i - 1} {matrices[i - 1].shape} and {i} "
                             f"{matrix.shape} cannot be multiplied")
    _check_dtypes("chain_matmul", **{f"matrix {i}": m for i, m in enumerate(matrices)})
    if len(matrices) == 1:
        return matrices[0].clone()
    if len(matrices) >= len(LETTERS):
        raise ValueError(f"chain_matmul: at most {len(LETTERS) - 1} matrices, "
                         f"got {len(matrices)}")
    terms = [LETTERS[i] + LETTERS[i + 1] for i in range(len(matrices))]
    return einsum(",".join(terms) + "->" + LETTERS[0] + LETTERS[len(matrices)], *matrices)


def _check_ndim(name: str, **operands) -> None:
    for what, (x, ndim) in operands.items():
        if x.ndim != ndim:
            raise ValueError(f"{name}: {what} must have {ndim} dim(s), got shape {x.shape}")


def _check_dtypes(name: str, **operands) -> None:
    """PyTorch's matrix products (mm, bmm, mv, dot, addmm, tensordot, ...) take operands of
    one dtype: they call BLAS for a single dtype and do not promote (``a * b`` does)."""
    tensors = {what: x for what, x in operands.items() if isinstance(x, tensor_module.Tensor)}
    dtypes = {x.dtype for x in tensors.values()}
    if len(dtypes) > 1:
        found = ", ".join(f"{what} {x.dtype}" for what, x in tensors.items())
        raise TypeError(f"{name}: expected operands of one dtype, got {found}; cast one of "
                        "them first")


def _check_batches(name: str, batch1, batch2) -> None:
    _check_ndim(name, batch1=(batch1, 3), batch2=(batch2, 3))
    if batch1.shape[0] != batch2.shape[0] or batch1.shape[2] != batch2.shape[1]:
        raise ValueError(f"{name}: batch1 {batch1.shape} and batch2 {batch2.shape} cannot be "
                         "multiplied: expected (B, n, k) and (B, k, m)")


def _scaled_sum(name: str, input, multiply, factors, beta, alpha, widen: bool = True):
    """β · input + α · multiply(*factors), input broadcast to the product's shape (β = 0:
    ignored). float16 factors are multiplied and summed in float32 and the result rounded
    once, as PyTorch's gemm: the product rounded to float16 before adding the input could
    land one ulp off (1 + 2⁻¹¹ − 2⁻²¹ plus 2048 gave 2048 where PyTorch gives 2050).
    ``widen=False`` rounds every step instead (``addr``: PyTorch's elementwise kernel)."""
    if widen and factors[0].dtype == backend.float16:
        wide = backend.float32
        if isinstance(input, tensor_module.Tensor):
            input = input.astype(wide)
        factors = tuple(factor.astype(wide) for factor in factors)
        return _scaled_sum(name, input, multiply, factors, beta, alpha).astype(backend.float16)
    product = multiply(*factors)
    input = as_operand(input, product, name)
    try:
        fits = backend.broadcast_shapes(input.shape, product.shape) == product.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{name}: input of shape {input.shape} cannot be broadcast to the "
                         f"product's shape {product.shape}")
    if not (backend.is_floating(product.dtype) or backend.is_floating(input.dtype)):
        for what, scale in (("beta", beta), ("alpha", alpha)):  # as PyTorch: no rounding
            if isinstance(scale, float):
                raise TypeError(f"{name}: for integer inputs ({product.dtype}), {what} must "
                                f"be an integer, got {scale!r}")
    if alpha != 1:
        product = alpha * product
    if beta == 0:
        return product
    return (input if beta == 1 else beta * input) + product
