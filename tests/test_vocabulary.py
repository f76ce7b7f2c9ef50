"""One vocabulary across the public API (see docs/contributing.rst, "Vocabulary").

Walks every public callable — the names in ``__all__`` of ``reluinj`` and of its public
subpackages, and the public methods of the public classes — and inspects the signatures:

* no banned synonym: ``rcond`` (say ``rank_tol``), ``maxiter`` / ``n_iter`` as a cap (say
  ``max_iter``; ``n_iter`` is the result field), ``rng`` / ``random_state`` (say ``seed``),
  ``return_*`` flags (return one type; a separate function or a result dataclass gives more);
* ``tol`` only where it is *not* a rank tolerance (an explicit allow-list);
* parameters with a default are keyword-only (after ``*``), except an explicit allow-list of
  data arguments that merely have a default;
* every dataclass defined in the package is frozen, and no field uses a banned name.

``test_checker_can_fail`` plants each kind of violation and checks that it is reported.
"""
import dataclasses
import importlib
import inspect
import pkgutil

import pytest

import reluinj
from reluinj.frames._reconstruct import INVERSE_OPTIONS

PUBLIC_MODULES = ["reluinj", "reluinj.frames", "reluinj.inr", "reluinj.cnn", "reluinj.hull",
                  "reluinj.distributed", "reluinj.testing"]

BANNED = {
    "rcond": "rank_tol",
    "rank_tolerance": "rank_tol",
    "rtol_rank": "rank_tol",
    "maxiter": "max_iter",
    "max_iters": "max_iter",
    "maxit": "max_iter",
    "n_iter": "max_iter (n_iter is the result field: iterations used)",
    "n_iterations": "max_iter",
    "num_iter": "max_iter",
    "rng": "seed",
    "random_state": "seed",
    "random_seed": "seed",
    "generator": "seed",
    "facets": "facet_mode (the mode), facet_vertices (index sets), facet_index (result)",
}
"""Banned parameter / option / field name -> the vocabulary name."""

TOL_ALLOWED = {
    "reluinj.is_omnidirectional": "threshold on the LP margin t*, not a rank tolerance",
    "reluinj.iht": "relative residual ||x - W.T z|| / ||x|| at which IHT stops",
}
"""Callables that may take a parameter named ``tol``, with what it means there."""

POSITIONAL_ALLOWED = {
    # data arguments that have a default value
    ("reluinj.effective_n_threads", "n_threads"): "the function's only argument",
    ("reluinj.ReLULayer", "alpha"): "the layer's bias, data like W",
    ("reluinj.polytope_bias", "domain"): "the domain is data of the estimate",
    ("reluinj.sampled_bias", "domain"): "the domain is data of the estimate",
    ("reluinj.distributed.sampled_bias", "domain"): "the domain is data of the estimate",
    ("reluinj.gram_matrix", "domain"): "the domain is data of the integral",
    ("reluinj.variation_norm", "output_weights"): "second weight matrix of the network",
    ("reluinj.ConvOperator", "stride"): "shape of the operator, as input_length",
    ("reluinj.ConvOperator2D", "stride"): "shape of the operator, as input_shape",
    ("reluinj.ConvOperator.random", "stride"): "shape of the operator, as input_length",
    ("reluinj.ConvOperator2D.random", "stride"): "shape of the operator, as input_shape",
    # c: the parameter of the activation ψ_c itself (the math writes ψ_c(x), ψ(x, c))
    ("reluinj.bwrelu", "c"): "ψ_c(x): parameter of the function",
    ("reluinj.bwrelu_grad", "c"): "ψ_c'(x): parameter of the function",
    ("reluinj.bwrelu_to_relu", "c"): "ψ_c: parameter of the network's activation",
    ("reluinj.bwrelu_features", "c"): "ψ_c: parameter of the features",
    ("reluinj.variation_norm", "c"): "ψ_c: parameter of the network's activation",
    ("reluinj.deep_variation_norm", "c"): "ψ_c: parameter of the network's activation",
    ("reluinj.bwrelu_relu_composition", "c"): "ψ_c(x): parameter of the function",
    ("reluinj.BWReLU", "c"): "ψ_c: the module's (initial) parameter, as torch.nn.LeakyReLU",
}
"""(callable, parameter) pairs that may be passed positionally although they have a default."""


def _public_callables():
    """(qualified name, callable, is_dataclass_init) for every public callable, deduplicated."""
    out, seen = [], set()
    torch_ok = importlib.util.find_spec("torch") is not None
    for mod_name in PUBLIC_MODULES:
        mod = importlib.import_module(mod_name)
        names = list(mod.__all__)
        if mod_name == "reluinj" and torch_ok:
            names += [n for n in ("BWReLU", "INR") if n not in names]
        for name in names:
            obj = getattr(mod, name)
            if inspect.ismodule(obj) or not callable(obj) or id(obj) in seen:
                continue
            seen.add(id(obj))
            qual = f"{mod_name}.{name}"
            if inspect.isclass(obj):
                if issubclass(obj, BaseException):
                    continue
                out.append((qual, obj, dataclasses.is_dataclass(obj)))
                for attr, member in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    if isinstance(member, (classmethod, staticmethod)):
                        member = member.__func__
                    if inspect.isfunction(member):
                        out.append((f"{qual}.{attr}", member, False))
            else:
                out.append((qual, obj, False))
    return out


def violations(qual, func, *, dataclass_init=False):
    """The vocabulary violations of one callable's signature (empty list: none)."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return []
    found = []
    params = [p for p in sig.parameters.values() if p.name not in ("self", "cls")]
    for p in params:
        name = p.name
        if name in BANNED and not (dataclass_init and name == "n_iter"):
            found.append(f"{qual}({name}=...): banned name, say {BANNED[name]}")
        if name.startswith("return_"):
            found.append(f"{qual}({name}=...): return_* flag; return one type (a result "
                         f"dataclass or a separate function gives the richer result)")
        if ("seed" in name or "rng" in name or "random" in name) and name != "seed":
            found.append(f"{qual}({name}=...): the seed is called `seed`")
        if name == "tol" and qual not in TOL_ALLOWED:
            found.append(f"{qual}(tol=...): `tol` is not allowed here; a rank tolerance is "
                         f"`rank_tol`, any other tolerance must be listed in TOL_ALLOWED")
        if name == "rank_tol" and p.default is not inspect.Parameter.empty \
                and p.default != reluinj.DEFAULT_RANK_TOL:
            found.append(f"{qual}(rank_tol={p.default!r}): the default is DEFAULT_RANK_TOL")
        if (not dataclass_init and p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
                and p.default is not inspect.Parameter.empty
                and (qual, name) not in POSITIONAL_ALLOWED):
            found.append(f"{qual}({name}=...): an option with a default must be keyword-only "
                         f"(after `*`) or be listed in POSITIONAL_ALLOWED")
    return found


CALLABLES = _public_callables()


def test_walk_covers_the_api():
    names = {q for q, _, _ in CALLABLES}
    for q in ("reluinj.relu_inverse", "reluinj.ReLULayer.is_injective_at", "reluinj.iht",
              "reluinj.hull.facets", "reluinj.hull.nnls", "reluinj.gram_matrix",
              "reluinj.random_frame", "reluinj.ReLUNetwork.inverse", "reluinj.testing.dottest",
              "reluinj.ConvOperator.random", "reluinj.distributed.relu_inverse"):
        assert q in names
    assert len(CALLABLES) > 80


@pytest.mark.parametrize("qual,func,dc_init", CALLABLES, ids=[q for q, _, _ in CALLABLES])
def test_signature_vocabulary(qual, func, dc_init):
    assert violations(qual, func, dataclass_init=dc_init) == []


def test_allow_lists_are_not_stale():
    names = {q: f for q, f, _ in CALLABLES}
    for qual, param in POSITIONAL_ALLOWED:
        assert qual in names, qual
        assert param in inspect.signature(names[qual]).parameters, (qual, param)
    for qual in TOL_ALLOWED:
        assert "tol" in inspect.signature(names[qual]).parameters, qual


def test_relu_inverse_option_names():
    for method, keys in INVERSE_OPTIONS.items():
        for key in keys:
            assert key not in BANNED and not key.startswith("return_"), (method, key)
            assert "rank" not in key, "the rank tolerance is the top-level rank_tol"


def _package_dataclasses():
    for info in pkgutil.walk_packages(reluinj.__path__, prefix="reluinj."):
        if info.name.endswith("__main__") or info.name == "reluinj.inr._torch":
            continue
        mod = importlib.import_module(info.name)
        for obj in vars(mod).values():
            if (inspect.isclass(obj) and dataclasses.is_dataclass(obj)
                    and obj.__module__ == info.name):
                yield obj


DATACLASSES = sorted(set(_package_dataclasses()), key=lambda c: c.__qualname__)


def test_dataclasses_found():
    names = {c.__name__ for c in DATACLASSES}
    assert {"InverseResult", "StabilityEstimate", "IHTResult", "BiasEstimate", "Facets",
            "Interval", "ModelRIPEstimate"} <= names


@pytest.mark.parametrize("cls", DATACLASSES, ids=[c.__qualname__ for c in DATACLASSES])
def test_dataclasses_frozen_and_named(cls):
    assert cls.__dataclass_params__.frozen, f"{cls.__qualname__} must be frozen"
    for f in dataclasses.fields(cls):
        if f.name == "n_iter":      # the result field: iterations used
            continue
        assert f.name not in BANNED, f"{cls.__qualname__}.{f.name}: say {BANNED[f.name]}"


def test_checker_can_fail():
    def planted(W, rcond=None, *, maxiter=10, rng=None, return_rank=False, tol=1e-9):
        pass

    found = "\n".join(violations("reluinj.planted", planted))
    for needle in ("rcond=...): banned", "maxiter=...): banned", "rng=...): banned",
                   "return_rank=...): return_* flag", "tol=...): `tol` is not allowed",
                   "rcond=...): an option with a default must be keyword-only"):
        assert needle in found

    def fine(W, *, rank_tol=reluinj.DEFAULT_RANK_TOL, max_iter=10, seed=None):
        pass

    assert violations("reluinj.fine", fine) == []

    @dataclasses.dataclass
    class Loose:
        x: int

    with pytest.raises(AssertionError, match="must be frozen"):
        test_dataclasses_frozen_and_named(Loose)
