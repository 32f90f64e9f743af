"""Every public name of the API has a docstring of its own (API.md: "documented in a
docstring"): each public ``Tensor`` method and property, each function or class
exported at the top level of ``tinygrad_opt``, and the functions of ``tg.cuda``."""

import inspect
import types

import tinygrad_opt as tg


def _has_doc(obj) -> bool:
    return bool((obj.__doc__ or "").strip())


def _ours(obj) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module == "tinygrad_opt" or module.startswith("tinygrad_opt.")


def test_every_public_tensor_method_and_property_has_a_docstring():
    missing = []
    for name in dir(tg.Tensor):
        if name.startswith("_"):
            continue
        owner = next(cls for cls in tg.Tensor.__mro__ if name in cls.__dict__)
        if owner is object:
            continue
        raw = owner.__dict__[name]
        if isinstance(raw, property):
            documented = _has_doc(raw.fget)
        elif isinstance(raw, types.MemberDescriptorType):  # a __slots__ attribute
            documented = f"``{name}``" in (tg.Tensor.__doc__ or "")  # the class docstring
        else:
            documented = _has_doc(getattr(tg.Tensor, name))
        if not documented:
            missing.append(name)
    assert not missing, f"Tensor members without a docstring: {missing}"


def test_every_public_top_level_function_and_class_has_a_docstring():
    missing = []
    for name in dir(tg):
        obj = getattr(tg, name)
        if name.startswith("_") or isinstance(obj, types.ModuleType):
            continue
        if not (inspect.isclass(obj) or inspect.isroutine(obj)) or not _ours(obj):
            continue  # plain values (dtypes, __version__) and NumPy's own callables
        if not _has_doc(obj):  # __doc__ itself: an inherited docstring does not count
            missing.append(name)
    assert not missing, f"top-level names without a docstring: {missing}"


def test_every_public_function_of_tg_cuda_has_a_docstring():
    missing = [name for name, obj in vars(tg.cuda).items()
               if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
               and obj.__module__ == tg.cuda.__name__ and not _has_doc(obj)]
    assert not missing, f"tg.cuda functions without a docstring: {missing}"


def test_the_check_finds_a_missing_docstring():
    def undocumented():
        return None

    class Plain:
        pass

    assert not _has_doc(undocumented) and not _has_doc(Plain)
    assert not _has_doc(type("Child", (tg.Tensor,), {}))  # a class docstring is not inherited
