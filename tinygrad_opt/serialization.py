"""Checkpoints: ``tg.save(obj, path)`` and ``tg.load(path)``.

A checkpoint holds a tree of state: nested dicts (string or int keys; an
OrderedDict comes back as an OrderedDict), lists and tuples whose leaves are
Tensors, arrays, NumPy scalars, ints, floats, strings, booleans and None. That covers ``model.state_dict()``,
``optimizer.state_dict()`` (int keys), scheduler state and epoch counters::

    tg.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 7},
            "run.ckpt")
    state = tg.load("run.ckpt")
    model.load_state_dict(state["model"])

The file is a plain NumPy ``.npz`` archive (a zip of ``.npy`` files), written at
exactly the given path whatever its suffix (or into a binary file object, such as
``io.BytesIO``, at its current position):

* ``a0``, ``a1``, ... : the arrays, numbered in the order the tree is walked;
* ``__structure__``   : UTF-8 JSON bytes (a uint8 array) describing the tree:
  ``{"format": "tinygrad_opt.checkpoint", "version": 2, "tree": ...}``.

As ``torch.save``, a Tensor or array that appears several times in the tree (tied
weights in a state dict: the same memory under two keys) is stored once, and comes
back as one object (or Tensors sharing one array); an ``nn.Parameter`` comes back
as a Parameter.

docs/checkpoint-format.md describes the tree encoding. Safety and robustness:

* **No pickle**, ever: arrays of Python objects are refused when saving, and
  loading reads each member's ``.npy`` header itself and refuses object
  dtypes, so a crafted file cannot run code.
* **Bounded reads**: a member is read only up to the size its header declares
  (shape times item size, which must equal the bytes it stores); compressed,
  encrypted or unreferenced members are refused unread.
* **Atomic writes** (to a path): the archive is written to a temporary file in the target's
  directory, flushed and fsync'ed, then renamed over the target with
  ``os.replace``. A crash or an error leaves the previous file as it was, and
  the temporary file is removed. The whole tree is checked before any file is
  touched, so an unsupported value fails without side effects.
* **Clear errors**: loading an empty, truncated, corrupt or foreign file raises
  :class:`CheckpointError` (a ValueError) naming the file.
"""

from __future__ import annotations

import collections
import errno
import io
import json
import math
import os
import tempfile
import zipfile
import zlib

import numpy as np

from tinygrad_opt import backend
from tinygrad_opt._checks import is_uninitialized

__all__ = ["save", "load", "CheckpointError", "FORMAT", "VERSION"]

FORMAT = "tinygrad_opt.checkpoint"
VERSION = 2  # 2: a member may be named by several nodes; "parameter"
_STRUCTURE = "__structure__"
_MAX_DEPTH = 100  # containers inside containers: deeper trees might save but not load


class CheckpointError(ValueError):
    """A file that is not a readable tinygrad_opt checkpoint."""


class _DirectoryError(IsADirectoryError, CheckpointError):
    """``load`` of a directory: what ``open(path, 'rb')`` raises (errno EISDIR, the path as
    ``filename``), and still a CheckpointError, as it always was."""


def _tensor_type():
    from tinygrad_opt.tensor import Tensor  # lazy: the package imports the core first
    return Tensor


def _parameter_type():
    from tinygrad_opt.nn.module import Parameter
    return Parameter


# --- encoding: object tree -> (JSON tree, arrays) -----------------------------

def _key_text(key) -> str:
    return f"[{key!r}]"


def _encode(obj, where: str, arrays: dict, open_containers: set, stored: dict):
    """The JSON node for ``obj``; arrays found on the way are added to ``arrays``.

    Node kinds:  null, true/false, int, str, float (non-finite floats as
    {"float": "nan"|"inf"|"-inf"}), {"list": [...]}, {"tuple": [...]},
    {"dict": [[key, node], ...]} (key a JSON string or int; with "ordered": true for an
    OrderedDict), {"tensor": name, "requires_grad": bool} (with "parameter": true for an
    ``nn.Parameter``, and "device": its location, such as "cuda:0", when not "cpu"),
    {"array": name}, {"scalar": name} (a NumPy scalar). The optional keys are ignored by
    older readers, which load an OrderedDict as a dict and every Tensor on their device.
    A namedtuple is refused: its class could only come back through unpickling, which
    PyTorch's ``torch.load(weights_only=True)`` refuses too. ``stored`` maps the id of each
    array already added (a Tensor's ``.data`` or an array of the tree) to its name and
    the array, so that memory met twice is stored once. ``open_containers`` holds the
    containers around ``obj``: a cycle, or more than ``_MAX_DEPTH`` of them, is an error.
    """
    Tensor = _tensor_type()
    if isinstance(obj, np.generic):  # first: np.float64 is also a Python float
        return {"scalar": _add_array(np.asarray(obj), where, arrays)}
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if math.isfinite(obj):
            return float(obj)
        return {"float": "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")}
    if isinstance(obj, Tensor):
        if is_uninitialized(obj):  # its placeholder would load as an empty Parameter
            raise TypeError(f"{where}: an uninitialized parameter or buffer of a lazy module "
                            "(its shape is not known yet): call the module once before saving")
        node = {"tensor": _add_stored(obj.data, where, arrays, stored),
                "requires_grad": bool(obj.requires_grad)}
        if isinstance(obj, _parameter_type()):
            node["parameter"] = True
        location = _location(obj.data)
        if location != "cpu":  # (a CPU tensor's node stays as version 2 first wrote it)
            node["device"] = location
        return node
    if isinstance(obj, np.ndarray) or backend.is_array(obj):
        return {"array": _add_stored(obj, where, arrays, stored)}
    if isinstance(obj, (dict, list, tuple)):
        if id(obj) in open_containers:
            raise ValueError(f"{where}: the object contains itself (a reference cycle)")
        if len(open_containers) >= _MAX_DEPTH:  # (the containers around obj)
            raise ValueError(f"{where}: containers are nested more than {_MAX_DEPTH} deep "
                             "(the checkpoint could not be read back)")
        open_containers.add(id(obj))
        try:
            if isinstance(obj, dict):
                items = []
                for key, value in obj.items():
                    if isinstance(key, bool) or not isinstance(key, (str, int)):
                        raise TypeError(f"{where}: unsupported dict key {key!r} of type "
                                        f"{type(key).__name__} (keys must be str or int)")
                    items.append([key if isinstance(key, str) else int(key),
                                  _encode(value, where + _key_text(key), arrays, open_containers,
                                          stored)])
                if isinstance(obj, collections.OrderedDict):
                    return {"dict": items, "ordered": True}
                return {"dict": items}
            if isinstance(obj, tuple) and hasattr(type(obj), "_fields"):
                raise TypeError(f"{where}: a namedtuple ({type(obj).__name__}) cannot be saved: "
                                "loading would have to unpickle its class (PyTorch's "
                                "torch.load(weights_only=True) refuses it too); save "
                                "tuple(value) or value._asdict() instead")
            kind = "list" if isinstance(obj, list) else "tuple"
            return {kind: [_encode(value, f"{where}[{i}]", arrays, open_containers, stored)
                           for i, value in enumerate(obj)]}
        finally:
            open_containers.discard(id(obj))
    raise TypeError(f"{where}: unsupported type {type(obj).__name__}")


def _location(array) -> str:
    """The location ``map_location`` sees for a Tensor's array: ``'cpu'``, ``'strict'``, or
    ``'cuda:N'`` with the GPU's number, as PyTorch names a CUDA storage's location."""
    device = backend.device_of(array)
    return f"cuda:{array.device.id}" if device == "cuda" else device


def _add_stored(array, where: str, arrays: dict, stored: dict) -> str:
    """The member name of a device or host array of the tree, added on its first meeting."""
    if id(array) not in stored:  # (the array is kept too: its id stays its own meanwhile)
        stored[id(array)] = (_add_array(backend.to_host(array), where, arrays), array)
    return stored[id(array)][0]


def _add_array(array: np.ndarray, where: str, arrays: dict) -> str:
    if array.dtype.hasobject:
        raise TypeError(f"{where}: arrays of Python objects (dtype {array.dtype}) are not "
                        "supported: they would need pickle")
    try:
        repr(np.lib.format.dtype_to_descr(array.dtype)).encode("latin1")
    except UnicodeEncodeError:
        raise TypeError(f"{where}: field names of dtype {array.dtype} are not Latin-1; .npy "
                        "stores them only in format 3.0, which checkpoints do not use") from None
    name = f"a{len(arrays)}"
    arrays[name] = array
    return name


# --- writing -----------------------------------------------------------------

def save(obj, f, pickle_module=None, pickle_protocol: int = 2) -> None:
    """Write ``obj`` (a tree of dicts/lists/tuples of Tensors, arrays and plain values) to ``f``.

    ``f`` is a file path (str, bytes or ``os.PathLike``) or, as in ``torch.save(obj, f)``, a
    binary file object with ``write`` (``io.BytesIO``, ``open(path, 'wb')``): the archive is
    written at its current position, then it is flushed (and left open). ``pickle_module`` and ``pickle_protocol`` are
    accepted for PyTorch code: the file is not a pickle, so ``pickle_protocol`` changes
    nothing and ``pickle_module`` must be None or the standard ``pickle`` module.

    Tensors on any device are copied to the host; ``requires_grad`` and the device (the
    location a ``map_location`` of :func:`load` sees) are kept. A path's write is atomic (temporary file, fsync, ``os.replace``): ``path`` holds
    either its old content or the complete new checkpoint, never a mix (a device or a
    pipe, such as ``/dev/null``, is written into instead). Raises
    TypeError naming the place (``obj['model']['fc'][2]``) of an unsupported
    value before anything is written, and, naming ``path``, as ``open(path, 'wb')``
    would: IsADirectoryError when it is a directory or ends with a separator,
    NotADirectoryError or FileNotFoundError when its directory does not exist (or
    the path is empty), PermissionError when it is a file we may not write (a
    read-only checkpoint is not replaced).
    """
    path = _file_path("save", f, "write")
    _check_pickle_module("save", pickle_module)
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, "obj", arrays, set(), {})
    header = {"format": FORMAT, "version": VERSION, "tree": tree}
    text = json.dumps(header, allow_nan=False, separators=(",", ":"))
    arrays[_STRUCTURE] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    if path is None:  # a file object: written into where it stands, as torch.save does
        _write_archive(f, arrays)
        if callable(getattr(f, "flush", None)):
            f.flush()
        return

    target = os.path.realpath(path)  # through a symlink to its file, as open() writes
    directory = os.path.dirname(target)
    _check_target(path, target, directory)
    if os.path.exists(target) and not os.path.isfile(target):
        # a device or a pipe (``/dev/null``): written into as open() would; replacing it
        # with a renamed file would delete the device node
        with open(target, "wb") as file:
            np.savez(file, **arrays)
        return
    try:
        old_mode = _file_mode(target)  # (a private file's data is never readable by others)
        handle, temporary = _create_temporary(directory, os.path.basename(target),
                                              0o666 if old_mode is None else old_mode)
    except OSError as error:  # name the checkpoint, not the temporary file's random name
        raise type(error)(error.errno, f"cannot write the checkpoint '{path}' in "
                          f"'{directory}': {error.strerror}", path) from error
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        if old_mode is not None:  # exactly the old mode, whatever the umask removed
            os.chmod(temporary, old_mode)
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _write_archive(file, arrays: dict) -> None:
    """What ``np.savez(file, **arrays)`` writes, into any object with ``write``: NumPy
    wants ``read`` too, but zipfile writes to an unseekable stream (a socket, a pipe) as
    well."""
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED,
                         allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def _file_path(name: str, f, method: str) -> str | None:
    """``f`` as a path string (bytes decoded as ``open`` does), or None for a binary file
    object with ``method`` (``'write'`` for save, ``'read'`` for load); anything else, and a
    text file (the archive is bytes), is a TypeError."""
    try:
        return os.fsdecode(os.fspath(f))
    except TypeError:
        pass
    if isinstance(f, io.TextIOBase):
        raise TypeError(f"{name}: f is a text file ({type(f).__name__}); open it in binary "
                        f"mode ('{method[0]}b')")
    if callable(getattr(f, method, None)):
        return None
    raise TypeError(f"{name}: f must be a file path (str or os.PathLike) or a binary file "
                    f"object with {method}(), got {type(f).__name__}")


def _check_pickle_module(name: str, pickle_module) -> None:
    """PyTorch's ``pickle_module``: only the default is meaningful, nothing is pickled."""
    if pickle_module is not None and getattr(pickle_module, "__name__", None) != "pickle":
        raise ValueError(f"{name}: pickle_module must be None or the pickle module, got "
                         f"{pickle_module!r} (checkpoints here are not pickles)")


def _check_target(path: str, target: str, directory: str) -> None:
    """Refuse, before anything is written, what ``open(path, 'wb')`` would refuse: an empty
    path, a directory (or a name ending with a separator), a missing directory, and a
    file we may not write (``target``, the file behind ``path``). As open()'s, each error
    has an ``errno`` and the path as its ``filename``."""
    if not path:
        raise FileNotFoundError(errno.ENOENT, "cannot save a checkpoint to '': the path is "
                                "empty", path)
    if os.path.isdir(path) or path.endswith((os.sep, os.altsep or os.sep)):
        raise IsADirectoryError(errno.EISDIR, f"cannot save a checkpoint to '{path}': it is a "
                                "directory (give a file path)", path)
    if not os.path.isdir(directory):
        if os.path.exists(directory):
            raise NotADirectoryError(errno.ENOTDIR, f"cannot save a checkpoint to '{path}': "
                                     f"'{directory}' is not a directory", path)
        raise FileNotFoundError(errno.ENOENT, f"cannot save a checkpoint to '{path}': the "
                                f"directory '{directory}' does not exist", path)
    if os.path.isfile(target) and not os.access(target, os.W_OK):
        raise PermissionError(errno.EACCES, f"cannot save a checkpoint to '{path}': the file "
                              "is read-only (it is not replaced)", path)


def _create_temporary(directory: str, name: str, mode: int) -> tuple[int, str]:
    """A new file ``.<name>.<random>.tmp`` in ``directory``, open for writing: ``(descriptor,
    path)``. It is created with ``mode``, which the system reduces by the umask: with 0o666
    it gets the permissions a plain ``open()`` gives a new file. (Reading the umask would
    mean setting it, process-wide: a file another thread created meanwhile would get the
    wrong mode; ``tempfile.mkstemp`` creates 0o600 files.)"""
    flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    for _ in range(tempfile.TMP_MAX):
        temporary = os.path.join(directory, f".{name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(temporary, flags, mode), temporary
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary file name", directory)


def _file_mode(path: str) -> int | None:
    """The permission bits of the file at ``path`` (kept when it is replaced), or None."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        return None


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


# --- reading -----------------------------------------------------------------

# what NumPy and zipfile raise on damaged input
_READ_ERRORS = (ValueError, KeyError, EOFError, OSError, zipfile.BadZipFile, zlib.error,
                UnicodeDecodeError, TypeError, NotImplementedError, RecursionError)
_CHUNK = 1 << 24  # array data is read 16 MiB at a time
_MAX_DIMENSION = 1 << 48  # no real array has an axis this long (256 TiB of bytes)


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
         device: str | None = None):
    """Read a checkpoint written by :func:`save` from ``f``; the same tree, Tensors where
    ``map_location`` puts them.

    ``f`` is a file path (str, bytes or ``os.PathLike``) or, as in ``torch.load``, a binary
    file object with ``read``, ``seek`` and ``tell`` (``io.BytesIO``, ``open(path, 'rb')``),
    read from its current position. A path is opened as ``open(path, 'rb')`` opens it: a
    missing file raises FileNotFoundError (errno ENOENT, ``filename`` the path), a directory
    IsADirectoryError (which is also a CheckpointError).

    The arguments are ``torch.load``'s, in its order. ``map_location`` places each Tensor
    from the location it was saved from (``'cpu'``, ``'strict'`` or ``'cuda:N'``; ``'cpu'``
    for a file that recorded none):

    * a device name (``'cpu'``, ``'cuda'``, ``'cuda:0'``, ``'strict'``): every Tensor there;
    * None (the default), as PyTorch: each Tensor back on the device it was saved from
      (``'cpu'`` for a file that recorded none); a Tensor saved on ``'cuda:N'`` raises a
      RuntimeError where CuPy or a GPU is not available (load it with
      ``map_location='cpu'``);
    * a dict ``{location: device name}``, such as ``{'cuda:0': 'cpu'}``: a Tensor saved at
      a key goes to its value, any other back to where it was saved.
    * a function ``fn(array, location)``, called once per stored array with its host NumPy
      array (PyTorch's storage, read on the CPU) and saved location: it returns the array
      on its device (a NumPy, CuPy or strict array), or None to put it back where it was
      saved.

    ``device=`` (keyword only, our name) is the device name form: give it or
    ``map_location``, not both. ``weights_only`` is accepted for PyTorch code and changes
    nothing: loading reads only arrays and JSON, whatever its value. ``pickle_module``
    must be None or the standard ``pickle`` module (nothing is unpickled); ``mmap=True``
    (map the file instead of reading it) raises NotImplementedError.

    Tensors come back as Tensors (with their ``requires_grad``; Parameters as
    Parameters), arrays as NumPy arrays, NumPy scalars as NumPy scalars, tuples as
    tuples, OrderedDicts as OrderedDicts and int keys as ints, any other dict subclass as
    a dict. (A namedtuple is refused by :func:`save`; a file of an older version that holds
    one gives a plain tuple of its values.) What was saved once for several places (the
    same Tensor twice, tied weights) comes back shared. Never unpickles. Raises
    :class:`CheckpointError` naming the file if it is empty, truncated, corrupt, or not a
    tinygrad_opt checkpoint.

    The archive is read as :func:`save` writes it, and nothing else is trusted:
    every member must be stored (not compressed), unencrypted and referenced by
    the structure (by exactly one node in a version 1 file), and a member is read
    once, only up to the size its own ``.npy`` header declares (shape times item
    size), which must match the bytes it holds. So a small file cannot make ``load``
    use much more memory than its own size. Each violation raises CheckpointError
    naming the member.
    """
    path = _file_path("load", f, "read")
    _check_pickle_module("load", pickle_module)
    if mmap:
        raise NotImplementedError("load: mmap=True is not supported (the arrays are read "
                                  "into memory); leave mmap=None")
    if map_location is not None and device is not None:
        raise ValueError("load: give device= or map_location=, not both")
    if weights_only is not None and not isinstance(weights_only, bool):
        raise TypeError(f"load: weights_only must be a bool, got {weights_only!r}")
    place = _placement(map_location if device is None else backend.check_device(device))
    if path is None:
        for method in ("seek", "tell"):
            if not callable(getattr(f, method, None)):
                raise TypeError(f"load: f must be a file path or a seekable binary file object "
                                f"(read, seek and tell); {type(f).__name__} has no {method}()")
        if callable(getattr(f, "seekable", None)) and not f.seekable():
            raise io.UnsupportedOperation(f"load: f ({type(f).__name__}) is not seekable; read "
                                          "it into an io.BytesIO and load from that")
        name = getattr(f, "name", None)
        return _load_stream(f, name if isinstance(name, str) else f"<{type(f).__name__}>",
                            place)
    if os.path.isdir(path):  # open() on Linux says so too, but not on every system
        raise _DirectoryError(errno.EISDIR, "Is a directory, not a checkpoint file", path)
    with open(path, "rb") as file:  # a missing file: open()'s own FileNotFoundError
        return _load_stream(file, path, place)


def _placement(map_location):
    """``load``'s ``map_location`` as a function (host array, saved location) -> the array
    on its device; each device named is checked when it is first used, as PyTorch does."""
    if isinstance(map_location, dict):
        for key, value in map_location.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"load: map_location must map saved locations to device names "
                                f"(str to str), got the item {key!r}: {value!r}")
        return lambda array, location: (
            backend.to_device(array, backend.check_device(map_location[location]))
            if location in map_location else _restore_location(array, location))
    if callable(map_location):
        def place(array, location):
            result = map_location(array, location)
            if result is None:  # PyTorch: back to the location it was saved from
                return _restore_location(array, location)
            if not backend.is_array(result):
                raise TypeError(f"load: map_location returned {type(result).__name__} for "
                                f"location {location!r}; expected an array (NumPy, CuPy or "
                                "strict) or None")
            if result.shape != array.shape or result.dtype != array.dtype:
                raise ValueError(f"load: map_location returned an array of shape "
                                 f"{tuple(result.shape)} and dtype {result.dtype} for location "
                                 f"{location!r}; the stored array has shape {array.shape} and "
                                 f"dtype {array.dtype}")
            return result
        return place
    if map_location is None:  # PyTorch: each Tensor back to the location it was saved from
        return _restore_location
    target = backend.check_device(map_location)
    return lambda array, location: backend.to_device(array, target)


def _restore_location(array, location: str):
    """The array on the device it was saved from (PyTorch's ``default_restore_location``);
    a CUDA location without a GPU is PyTorch's error, which points to ``map_location``."""
    if location.startswith("cuda") and not backend.cuda_available():
        raise RuntimeError(f"load: attempting to deserialize a Tensor saved on '{location}', "
                           "but CuPy or a GPU is not available (PyTorch: "
                           "torch.cuda.is_available() is False); on a CPU-only machine, load "
                           "with map_location='cpu' to put the Tensors on the CPU")
    return backend.to_device(array, backend.check_device(location))


class _MapLocationError(Exception):
    """Carries an error of ``map_location`` out of the decoding, which would otherwise
    report it as a corrupt file."""


def _load_stream(file, path: str, place):
    """:func:`load` from the binary file object ``file``, from its current position."""
    start = file.tell()
    file.seek(0, os.SEEK_END)
    file_size = file.tell() - start
    file.seek(start)
    if file_size <= 0:
        raise CheckpointError(f"'{path}' is empty: not a tinygrad_opt checkpoint")
    magic = file.read(4)
    file.seek(start)
    if not isinstance(magic, bytes):
        raise TypeError(f"load: f is a text file ({type(file).__name__}); open it in binary "
                        "mode ('rb')")
    if magic == b"\x93NUM":
        raise CheckpointError(f"'{path}' is a single .npy array, not a tinygrad_opt checkpoint")
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):  # a zip's first bytes (or an empty zip's)
        raise CheckpointError(f"'{path}' is not a tinygrad_opt checkpoint (not an .npz archive)")
    try:
        archive = zipfile.ZipFile(file)  # (data before ``start`` is skipped by zipfile)
    except _READ_ERRORS as error:
        raise CheckpointError(f"'{path}' is not a tinygrad_opt checkpoint (not a readable "
                              f".npz archive: {error})") from error
    with archive:
        try:
            members = _members(archive, path, file_size)
            first = min((info.header_offset for info in members.values()), default=start)
            if first != start:  # zipfile reads the last archive of the stream, not this one
                raise CheckpointError(f"'{path}': the archive found starts at byte {first}, "
                                      f"not at the file's position {start} (data or another "
                                      "checkpoint follows the one there?)")
            if _STRUCTURE not in members:
                raise CheckpointError(f"'{path}' is an .npz archive without a '{_STRUCTURE}' "
                                      "entry: not a tinygrad_opt checkpoint")
            header = _read_header(_read_member(archive, members[_STRUCTURE], path, file_size),
                                  path)
            arrays = _Arrays(archive, members, path, file_size, header["version"])
            tree = _decode(header["tree"], arrays, place, path, "obj")
            unused = sorted(name for name in members if name != _STRUCTURE
                            and name not in arrays.used)
            if unused:
                raise CheckpointError(f"'{path}': member '{unused[0]}.npy' is not referenced by "
                                      "any tensor or array of the structure (tampered file)")
            return tree
        except CheckpointError:
            raise
        except _MapLocationError as wrapped:
            raise wrapped.args[0] from None
        except RecursionError as error:
            raise CheckpointError(f"'{path}': the structure is nested too deeply") from error
        except _READ_ERRORS as error:
            raise CheckpointError(f"'{path}' is corrupt or truncated: {error}") from error


def _members(archive: zipfile.ZipFile, path: str, file_size: int) -> dict:
    """{name without .npy: ZipInfo}, refusing every member :func:`save` would not write."""
    members = {}
    for info in archive.infolist():
        member = f"'{path}': member {info.filename!r}"
        if info.flag_bits & 0x1:
            raise CheckpointError(f"{member} is encrypted; checkpoints are never encrypted")
        if info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(f"{member} is compressed (zip method {info.compress_type}); "
                                  "tinygrad_opt checkpoints store their members uncompressed")
        if not info.filename.endswith(".npy") or "/" in info.filename:
            raise CheckpointError(f"{member} is not a top-level .npy entry")
        if info.file_size != info.compress_size or info.compress_size > file_size:
            raise CheckpointError(f"{member} declares {info.file_size} bytes but the file has "
                                  f"{file_size} (corrupt or truncated)")
        name = info.filename[:-len(".npy")]
        if name in members:
            raise CheckpointError(f"{member} appears twice in the archive")
        members[name] = info
    return members


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str,
                 file_size: int) -> np.ndarray:
    """One .npy member as an array, reading no more bytes than its header declares."""
    member = f"'{path}': member {info.filename!r}"
    with archive.open(info) as stream:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise CheckpointError(f"{member} has .npy format version {version}; tinygrad_opt "
                                  "writes and reads versions 1.0 and 2.0")
        if dtype.hasobject:
            raise CheckpointError(f"'{path}' contains a pickled object array (member "
                                  f"{info.filename!r}); tinygrad_opt never unpickles (its "
                                  "checkpoints hold no pickle): refusing it")
        if any(size < 0 or size > _MAX_DIMENSION for size in shape):
            raise CheckpointError(f"{member} declares the impossible shape {shape}")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        stored = info.file_size - stream.tell()
        if nbytes != stored or count > max(file_size, 1) * 8:
            raise CheckpointError(f"{member} declares shape {shape} of {dtype} ({nbytes} bytes) "
                                  f"but holds {stored} bytes of data (tampered or corrupt file)")
        buffer = bytearray(nbytes)
        view = memoryview(buffer)
        done = 0
        while done < nbytes:
            chunk = stream.read(min(_CHUNK, nbytes - done))
            if not chunk:
                raise CheckpointError(f"{member} is truncated")
            view[done:done + len(chunk)] = chunk
            done += len(chunk)
        if stream.read(1):  # also makes zipfile check the CRC
            raise CheckpointError(f"{member} holds more bytes than its header declares")
    array = np.frombuffer(buffer, dtype=dtype, count=count) if count else np.empty(0, dtype)
    return array.reshape(shape, order="F" if fortran_order else "C")


class _Arrays:
    """The archive's arrays, each read when the structure first refers to it, and only once.

    Version 1 names each member once; from version 2 a member named again is the array
    already read (and ``tensors`` keeps the Tensors made of each member), so sharing
    costs no memory either."""

    def __init__(self, archive: zipfile.ZipFile, members: dict, path: str, file_size: int,
                 version: int):
        self.archive, self.members, self.path, self.file_size = archive, members, path, file_size
        self.version = version
        self.used: dict[str, np.ndarray] = {}
        self.tensors: dict[str, dict] = {}  # member -> the Tensors made of it

    def read(self, name, where: str) -> np.ndarray:
        if not isinstance(name, str) or name == _STRUCTURE or name not in self.members:
            raise CheckpointError(f"'{self.path}': {where}: the structure refers to array "
                                  f"{name!r}, which the archive does not contain (tampered or "
                                  "corrupt file)")
        if name in self.used:
            if self.version >= 2:
                return self.used[name]
            raise CheckpointError(f"'{self.path}': {where}: the structure refers to member "
                                  f"'{name}.npy' a second time (save stores each value once)")
        self.used[name] = _read_member(self.archive, self.members[name], self.path,
                                       self.file_size)
        return self.used[name]


def _read_header(entry: np.ndarray, path: str) -> dict:
    if entry.dtype == np.uint8 and entry.ndim == 1:
        text = entry.tobytes().decode("utf-8")
    elif entry.dtype.kind == "U" and entry.ndim == 0:
        text = str(entry[()])
    else:
        raise CheckpointError(f"'{path}': the '{_STRUCTURE}' entry has dtype {entry.dtype} and "
                              f"shape {entry.shape}; expected UTF-8 JSON bytes")
    try:
        header = json.loads(text)
    except ValueError as error:
        raise CheckpointError(f"'{path}': the '{_STRUCTURE}' entry is not valid JSON: "
                              f"{error}") from error
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise CheckpointError(f"'{path}': format tag {found!r} is not {FORMAT!r}: not a "
                              "tinygrad_opt checkpoint")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"'{path}': invalid checkpoint version {version!r}")
    if version > VERSION:
        raise CheckpointError(f"'{path}' has checkpoint format version {version}; this "
                              f"tinygrad_opt reads version {VERSION} (upgrade it)")
    if "tree" not in header:
        raise CheckpointError(f"'{path}': the structure has no 'tree'")
    return header


def _decode_tensor(node: dict, arrays: _Arrays, place, path: str, where: str):
    """A tensor node: a Tensor (or Parameter) of its member, on the device that
    ``place(array, saved location)`` (:func:`_placement`) gives. Nodes naming the same member
    share its memory: an equal node gives the same object, as torch.load."""
    name = node["tensor"]
    array = arrays.read(name, where)
    requires_grad, parameter = node.get("requires_grad", False), node.get("parameter", False)
    if not isinstance(requires_grad, bool) or not isinstance(parameter, bool):
        raise CheckpointError(f"'{path}': {where}: requires_grad and parameter must be bools")
    location = node.get("device", "cpu")
    if not isinstance(location, str):
        raise CheckpointError(f"'{path}': {where}: the tensor's device must be a string, got "
                              f"{location!r:.80}")
    if requires_grad and array.dtype.kind != "f":
        raise CheckpointError(f"'{path}': {where}: member '{name}.npy' has dtype "
                              f"{array.dtype} but is marked requires_grad (only floating-point "
                              "tensors can require gradients)")
    made = arrays.tensors.setdefault(name, {})  # {(requires_grad, parameter): Tensor}
    if (requires_grad, parameter) not in made:
        first = next(iter(made.values()), None)  # shares its array and version counter
        if first is None:
            try:
                placed = place(array, location)
            except Exception as error:  # map_location's own error, not a corrupt file's
                raise _MapLocationError(error) from error
            tensor = _tensor_type()(placed, device=backend.device_of(placed))
        else:
            tensor = first.detach()
        made[requires_grad, parameter] = (_parameter_type()(tensor, requires_grad) if parameter
                                          else tensor.requires_grad_(requires_grad))
    return made[requires_grad, parameter]


def _decode(node, arrays: _Arrays, place, path: str, where: str):
    """The inverse of :func:`_encode`; every malformed node raises CheckpointError."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, dict):
        if "tensor" in node:
            return _decode_tensor(node, arrays, place, path, where)
        if "array" in node:
            return arrays.read(node["array"], where)
        if "scalar" in node:
            array = arrays.read(node["scalar"], where)
            if array.ndim != 0:
                raise CheckpointError(f"'{path}': {where}: a scalar entry must be 0-d")
            return array[()]
        if node.get("float") in ("nan", "inf", "-inf"):
            return float(node["float"])
        for kind in ("list", "tuple"):
            if isinstance(node.get(kind), list):
                values = [_decode(value, arrays, place, path, f"{where}[{i}]")
                          for i, value in enumerate(node[kind])]
                return values if kind == "list" else tuple(values)
        if isinstance(node.get("dict"), list):
            ordered = node.get("ordered", False)
            if not isinstance(ordered, bool):
                raise CheckpointError(f"'{path}': {where}: 'ordered' must be a bool")
            result = collections.OrderedDict() if ordered else {}
            for item in node["dict"]:
                if (not isinstance(item, list) or len(item) != 2 or isinstance(item[0], bool)
                        or not isinstance(item[0], (str, int))):
                    raise CheckpointError(f"'{path}': {where}: malformed dict item {item!r:.80}")
                key, value = item
                result[key] = _decode(value, arrays, place, path, where + _key_text(key))
            return result
    raise CheckpointError(f"'{path}': {where}: malformed structure node {node!r:.80}")

