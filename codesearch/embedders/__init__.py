"""Embedder backends behind one interface; heavy backends are imported only when chosen."""

from __future__ import annotations

import importlib
import inspect
import os
from typing import Mapping

from codesearch.embedders.base import Embedder, EmbedderSpec, normalize_rows
from codesearch.errors import CodesearchError

__all__ = ["Embedder", "EmbedderSpec", "normalize_rows", "create_embedder", "default_spec", "BACKENDS"]

BACKENDS: dict[str, str] = {
    "static": "codesearch.embedders.static:StaticEmbedder",
    "jina": "codesearch.embedders.jina:JinaEmbedder",
    "local": "codesearch.embedders.local:LocalEmbedder",
}


def default_spec(backend: str | None = None, model: str | None = None, dims: int | None = None) -> EmbedderSpec:
    """The backend the user asked for, else `jina` when a key is set, else the built-in `static`."""
    chosen = backend or ("jina" if os.environ.get("JINA_API_KEY") else "static")
    if chosen not in BACKENDS:
        raise CodesearchError(f"unknown embedder {chosen!r}; choose one of: {', '.join(BACKENDS)}")
    return EmbedderSpec(backend=chosen, model=model or "", dims=dims)


def create_embedder(spec: EmbedderSpec, options: Mapping[str, object] | None = None) -> Embedder:
    """Import the backend's module only now, so `ask` on a static index never loads torch.

    `options` are run-time settings that do not change the vectors (`truncate`, `device`,
    `threads`); one the backend does not take is an error, not silently dropped.
    """
    module_name, _, class_name = BACKENDS[spec.backend].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    given = {name: value for name, value in (options or {}).items() if value not in (None, False)}
    unknown = sorted(set(given) - set(inspect.signature(cls).parameters))
    if unknown:
        flags = ", ".join(f"--{name}" for name in unknown)
        raise CodesearchError(f"{flags} does not apply to the {spec.backend} embedder")
    return cls(model=spec.model or None, dims=spec.dims, **given)
