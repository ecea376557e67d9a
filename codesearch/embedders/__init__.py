"""Embedder backends behind one interface; heavy backends are imported only when chosen."""

from __future__ import annotations

import importlib
import inspect
import json
import os
from typing import TYPE_CHECKING, Mapping

from codesearch.embedders.base import Embedder, EmbedderSpec, normalize_rows
from codesearch.errors import CodesearchError

if TYPE_CHECKING:
    from codesearch.store import Store

__all__ = [
    "Embedder", "EmbedderSpec", "EmbedderMismatch", "normalize_rows", "create_embedder", "default_spec", "open_embedder",
    "recorded_spec", "BACKENDS",
]

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


def recorded_spec(saved: Mapping[str, object]) -> EmbedderSpec:
    """The spec of an embedder as the index's meta records it."""
    return EmbedderSpec(saved["backend"], saved["model"], saved["dims"])  # type: ignore[arg-type]


def open_embedder(
    store: Store, spec: EmbedderSpec | None, *, record: bool = False, options: Mapping[str, object] | None = None,
    start_over: bool = False, new: Embedder | None = None,
) -> Embedder:
    """The embedder the index was built with; a different one is refused, never mixed in.

    `start_over` (for `--full`) empties the index and records the new embedder in one
    transaction, so that no crash can leave an index without an embedder. `new`, made from
    `spec` already, is the embedder to record when the index has none. It lives here, not in
    the indexer, so that a query opens its embedder without importing the indexer.
    """
    stored = None if start_over else store.get_meta("embedder")
    if stored is None:
        if not record:
            raise CodesearchError("the index has no embedder recorded; run `codesearch index --full`")
        embedder = new or create_embedder(spec or default_spec(), options)
        saved = {"backend": embedder.name, "model": embedder.model, "dims": embedder.dimensions, "signature": embedder.signature}
        with store.transaction():
            if start_over:
                store.clear()
            store.set_meta("embedder", json.dumps(saved))
            store.set_meta("dims", str(embedder.dimensions))
        return embedder
    saved = json.loads(stored)
    differing = _differs(spec, saved) if spec is not None else {}
    if differing:
        raise EmbedderMismatch(saved["signature"], differing)
    embedder = create_embedder(recorded_spec(saved), options)
    if embedder.signature != saved["signature"]:
        raise CodesearchError(
            f"this index was built with {saved['signature']} but this codesearch provides {embedder.signature}; "
            "rebuild it with `codesearch index --full`"
        )
    return embedder


class EmbedderMismatch(CodesearchError):
    """The settings ask for another embedder, model or dims than the index was built with;
    `settings` names them (embedder, model, dims), so a caller can say where each was set."""

    def __init__(self, signature: str, differing: dict[str, object]) -> None:
        asked = ", ".join(f"{key} {value}" for key, value in differing.items())
        flags = " ".join(f"--{key} {value}" for key, value in differing.items())
        super().__init__(
            f"this index was built with {signature}, not {asked}: to switch, rebuild it with "
            f"`codesearch index --full {flags}`; to keep it, drop that setting"
        )
        self.settings = tuple(differing)


def _differs(spec: EmbedderSpec, saved: dict) -> dict[str, object]:
    """The settings of `spec` that differ from the recorded embedder's, by name."""
    asked = {"embedder": spec.backend, "model": spec.model, "dims": spec.dims}
    recorded = {"embedder": saved["backend"], "model": saved["model"], "dims": saved["dims"]}
    return {key: value for key, value in asked.items() if value and value != recorded[key]}
