"""The Nuke fake stays faithful to the real API as the ``types-nuke`` stubs type it: every public
name of the fake ``nuke`` module exists there, every public method exists on the stub's class, and
each function and method accepts no call Nuke would refuse for its parameters (same names in the
same order; nothing the stub lacks; nothing optional that Nuke requires).

Names prefixed ``fake_`` are the fake's own controls and are not checked."""

from __future__ import annotations

import ast
import importlib.util
import inspect
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True, repr=False)
class StubApi:
    names: dict[str, ast.AST]  # module-level name -> its ClassDef, FunctionDef (first overload) or assignment
    functions: dict[str, list[ast.FunctionDef]]  # module-level function -> its overloads
    classes: dict[str, ast.ClassDef]

    def methods(self, cls: str, name: str) -> list[ast.FunctionDef]:
        """The overloads of ``cls.name``, looked up through the stub's base classes."""
        node = self.classes.get(cls)
        if node is None:
            return []
        found = [f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == name]
        if found:
            return found
        for base in node.bases:
            if isinstance(base, ast.Name):
                found = self.methods(base.id, name)
                if found:
                    return found
        return []


def _stub_root() -> Path:
    spec = importlib.util.find_spec("nuke-stubs")
    roots = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    if not roots:
        pytest.skip("types-nuke is not installed (it is in requirements.txt)")
    return roots[0]


def _load_stubs() -> StubApi:
    """The names ``import nuke`` offers per the stubs: what ``nuke-stubs/__init__.pyi`` re-exports."""
    root = _stub_root()
    names: dict[str, ast.AST] = {}
    functions: dict[str, list[ast.FunctionDef]] = {}
    classes: dict[str, ast.ClassDef] = {}

    def top_level(module: str) -> dict[str, ast.AST]:
        found: dict[str, ast.AST] = {}
        for node in ast.parse((root / f"{module}.pyi").read_text()).body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                found.setdefault(node.name, node)
                if isinstance(node, ast.FunctionDef):
                    functions.setdefault(node.name, []).append(node)
                else:
                    classes[node.name] = node
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                found[node.target.id] = node
            elif isinstance(node, ast.Assign):
                found.update({t.id: node for t in node.targets if isinstance(t, ast.Name)})
        return found

    for node in ast.parse((root / "__init__.pyi").read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            exported = top_level(node.module)
            for alias in node.names:
                if alias.name == "*":
                    names.update({k: v for k, v in exported.items() if not k.startswith("_")})
                else:
                    names[alias.asname or alias.name] = exported[alias.name]
    return StubApi(names, functions, classes)


@pytest.fixture(scope="module")
def stubs() -> StubApi:
    return _load_stubs()


def _public(name: str) -> bool:
    return not name.startswith("_") and not name.startswith("fake_")


def _fake_names(nuke) -> list[str]:
    return sorted(n for n in nuke.__all__ if _public(n))


def _fake_methods(nuke) -> list[tuple[str, str, object]]:
    """(class, method, function) for each public method a fake class defines or inherits from the fake."""
    out: dict[tuple[str, str], object] = {}
    for cls in (getattr(nuke, n) for n in _fake_names(nuke)):
        if not inspect.isclass(cls):
            continue
        for klass in reversed(cls.__mro__[:-1]):  # the nearest definition wins
            for name, value in vars(klass).items():
                if (name == "__init__" or _public(name)) and inspect.isfunction(value):
                    out[(cls.__name__, name)] = value
    return [(c, m, fn) for (c, m), fn in sorted(out.items())]


# -- signatures ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Params:
    positional: list[tuple[str, bool]]  # (name, has a default), in order
    varargs: bool
    keyword_only: list[str]
    varkw: bool


def _stub_params(fn: ast.FunctionDef, method: bool) -> Params:
    args = fn.args
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    params = [(a.arg, i >= first_default) for i, a in enumerate(positional)]
    is_static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)
    if method and not is_static and params:
        params = params[1:]  # self (the stubs call it self even on their classmethods)
    return Params(params, args.vararg is not None, [a.arg for a in args.kwonlyargs], args.kwarg is not None)


def _fake_params(fn, method: bool) -> Params:
    sig = inspect.signature(fn)
    items = list(sig.parameters.values())
    if method and items:
        items = items[1:]  # self
    kinds = inspect.Parameter
    positional = [
        (p.name, p.default is not kinds.empty)
        for p in items
        if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
    ]
    return Params(
        positional,
        any(p.kind is kinds.VAR_POSITIONAL for p in items),
        [p.name for p in items if p.kind is kinds.KEYWORD_ONLY],
        any(p.kind is kinds.VAR_KEYWORD for p in items),
    )


def _refusal(stub: Params, names: list[str]) -> str | None:
    """Why Nuke refuses a call passing ``names`` positionally, in that order (None: it takes it)."""
    required = sum(1 for _, optional in stub.positional if not optional)
    for i, name in enumerate(names):
        if i < len(stub.positional):
            if stub.positional[i][0] != name:
                return f"parameter {i + 1} is {name!r}, Nuke's is {stub.positional[i][0]!r}"
        elif not stub.varargs:
            return f"{name!r} is not a parameter in Nuke"
    if len(names) < required:
        return f"{stub.positional[len(names)][0]!r} is optional, Nuke requires it"
    return None


def _mismatch(fake: Params, overloads: list[Params]) -> str | None:
    """Why the fake accepts a call that no overload of the stub does (None: it accepts none).

    Each call the fake takes, passing its first n parameters (n from its required count to all
    of them), must suit some overload; so must its *args, **kwargs and keyword-only parameters.
    """
    required = sum(1 for _, optional in fake.positional if not optional)
    names = [n for n, _ in fake.positional]
    for n in range(required, len(names) + 1):
        refusals = [_refusal(o, names[:n]) for o in overloads]
        if all(refusals):
            return "; ".join(sorted({r for r in refusals if r}))
    if fake.varargs and not any(o.varargs for o in overloads):
        return "takes *args, Nuke takes only " + (", ".join(n for n, _ in overloads[0].positional) or "no arguments")
    for name in fake.keyword_only:
        if not any(name in {n for n, _ in o.positional} | set(o.keyword_only) or o.varkw for o in overloads):
            return f"keyword {name!r} is not a parameter in Nuke"
    if fake.varkw and not any(o.varkw for o in overloads):
        return "takes **kwargs, Nuke does not"
    return None


def _check(fake_fn, overloads: list[ast.FunctionDef], method: bool) -> str | None:
    return _mismatch(_fake_params(fake_fn, method), [_stub_params(o, method) for o in overloads])


# -- the tests ---------------------------------------------------------------------------------


def test_every_public_name_of_the_fake_is_listed_in_its_all(fake_nuke):
    loose = sorted(n for n in dir(fake_nuke) if not n.startswith("_") and n not in fake_nuke.__all__)
    assert loose == [], "public names the checks below would miss"


def test_every_public_name_of_the_fake_exists_in_the_stubs(fake_nuke, stubs):
    missing = [n for n in _fake_names(fake_nuke) if n not in stubs.names]
    assert not missing, "not in types-nuke: " + ", ".join(missing)


def test_every_public_method_of_the_fake_exists_on_the_stubs_class(fake_nuke, stubs):
    # Constructors are the fake's own business where the stubs declare none (Nuke makes those objects).
    missing = [f"{c}.{m}" for c, m, _ in _fake_methods(fake_nuke) if m != "__init__" and not stubs.methods(c, m)]
    assert not missing, "not in types-nuke:\n" + "\n".join(missing)


def test_every_fake_function_and_method_takes_the_stubs_parameters(fake_nuke, stubs):
    problems = []
    for name in _fake_names(fake_nuke):
        fn = getattr(fake_nuke, name)
        if inspect.isfunction(fn) and stubs.functions.get(name):
            problem = _check(fn, stubs.functions[name], method=False)
            if problem:
                problems.append(f"{name}: {problem}")
    for cls, method, fn in _fake_methods(fake_nuke):
        overloads = stubs.methods(cls, method)
        if overloads:
            problem = _check(fn, overloads, method=True)
            if problem:
                problems.append(f"{cls}.{method}: {problem}")
    assert not problems, "\n".join(problems)
