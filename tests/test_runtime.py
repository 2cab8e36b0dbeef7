"""The onnxruntime backend: micro-batching, exported files, parity with torch, no torch import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rag.errors import ModelFileError
from rag.runtime.batching import MicroBatcher
from rag.runtime.files import ModelFiles, file_hash
from rag.runtime.pairs import scores_of
from rag.settings import Settings
from tests.helpers import ALBANESE, SEEDS


# -- micro-batching (fast lane) -----------------------------------------------------------------
class _SlowSquares:
    """A model stand-in that takes a while per call and records what each call received."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def __call__(self, items: list[int]) -> list[int]:
        self.calls.append(list(items))
        time.sleep(0.05)
        return [i * i for i in items]


def test_concurrent_callers_share_model_calls_and_each_gets_its_own_results() -> None:
    model = _SlowSquares()
    batcher: MicroBatcher[int, int] = MicroBatcher(model, window_s=0.01, max_items=64)
    results: dict[int, list[int]] = {}

    def caller(n: int) -> None:
        results[n] = batcher([n, n + 100])

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {n: [n * n, (n + 100) ** 2] for n in range(12)}
    assert len(model.calls) < 12  # requests that queued behind a busy model shared its calls
    assert batcher.jobs == 12


def test_identical_inputs_in_a_batch_are_computed_once() -> None:
    model = _SlowSquares()
    batcher: MicroBatcher[int, int] = MicroBatcher(model, window_s=0.0)
    assert batcher([3, 3, 4, 3]) == [9, 9, 16, 9]
    assert model.calls == [[3, 4]]


def test_a_failing_model_call_fails_every_caller_waiting_for_it() -> None:
    def broken(items: list[int]) -> list[int]:
        raise ValueError("boom")

    batcher: MicroBatcher[int, int] = MicroBatcher(broken)
    with pytest.raises(ValueError, match="boom"):
        batcher([1])
    assert batcher([]) == []  # nothing to compute: no call at all


def test_weights_hash_is_remembered_and_follows_changes(tmp_path: Path) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"a" * 1000)
    first = file_hash(weights, tmp_path / "cache")
    assert file_hash(weights, tmp_path / "cache") == first
    weights.write_bytes(b"b" * 1001)
    assert file_hash(weights, tmp_path / "cache") != first


def test_exported_file_names_change_with_the_weights(tmp_path: Path) -> None:
    model_dir, cache = tmp_path / "model", tmp_path / "cache"
    model_dir.mkdir()
    (model_dir / "model.safetensors").write_bytes(b"weights")
    reranker = tmp_path / "reranker.pt"
    reranker.write_bytes(b"head")
    files = ModelFiles(model_dir, reranker, cache)
    before = {files.encoder(False), files.encoder(True), files.reranker(False)}
    assert len(before) == 3 and all(p.parent == cache / "onnx" for p in before)
    time.sleep(0.01)
    reranker.write_bytes(b"retrained head")
    assert files.reranker(False) not in before and files.encoder(False) in before


def test_an_unloadable_file_is_exported_again_and_a_second_failure_is_one_line(
    tmp_path: Path,
) -> None:
    from rag.runtime.sessions import open_session

    path = tmp_path / "encoder.onnx"
    path.write_bytes(b"not an onnx file")
    calls: list[int] = []

    def export_garbage() -> Path:
        calls.append(1)
        path.write_bytes(b"still not an onnx file")
        return path

    with pytest.raises(ModelFileError) as err:
        open_session(path, export_garbage, ("tokens",))
    assert calls == [1]  # rebuilt once, then refused
    assert "\n" not in err.value.message and "RAG_BACKEND=torch" in err.value.message


def test_the_hash_embedder_gets_no_reranker() -> None:
    from rag.runtime import load_reranker
    from rag.runtime.embedding import HashEmbedder

    assert load_reranker(Settings(), HashEmbedder()) is None


# -- the real model (model lane) ----------------------------------------------------------------
@pytest.fixture(scope="module")
def onnx_fp32():  # type: ignore[no-untyped-def]
    from rag.runtime import load_embedder, load_reranker

    settings = Settings(onnx_int8_encoder=False, onnx_int8_reranker=False)
    embedder = load_embedder(settings)
    return embedder, load_reranker(settings, embedder)


@pytest.mark.model
def test_onnx_encoder_matches_sentence_transformers(embedder, onnx_fp32) -> None:  # type: ignore[no-untyped-def]
    from rag.models import Span

    texts = [ALBANESE, "The treaty was signed in Vienna in 1815. It ended the war.", "x " * 400]
    cosine = (embedder.embed(texts) * onnx_fp32[0].embed(texts)).sum(1)
    assert cosine.min() > 0.9999
    spans = [[Span(0, 12)], [Span(0, 40), Span(41, 58)], []]
    _, want = embedder.embed_spans(texts, spans)
    _, got = onnx_fp32[0].embed_spans(texts, spans)
    for a, b in zip(want, got, strict=True):
        assert a.shape == b.shape and (a.size == 0 or (a * b).sum(1).min() > 0.9999)
    # the chunker counts the same word pieces
    assert [len(onnx_fp32[0].tokenizer.tokenize(t)) for t in texts] == [
        len(embedder.tokenizer.tokenize(t)) for t in texts
    ]


@pytest.mark.model
def test_onnx_cross_encoder_matches_torch(embedder, onnx_fp32) -> None:  # type: ignore[no-untyped-def]
    from rag.runtime.reranking import CrossEncoderReranker

    question = "In what year was the treaty signed?"
    sentences = [
        "Treaty: The treaty was finally signed in Vienna in 1815 after months of talks.",
        "Treaty: The talks in Vienna were attended by diplomats from many countries.",
        "Treaty: " + "long " * 300,
    ]
    want = scores_of(CrossEncoderReranker(embedder).rerank(question, sentences))
    got = scores_of(onnx_fp32[1].rerank(question, sentences))
    assert np.allclose(want, got, atol=1e-3)
    # scored alone or together with another question's pairs: the same numbers
    other = threading.Thread(target=onnx_fp32[1].rerank, args=("Who?", sentences[:2]))
    other.start()
    assert np.allclose(scores_of(onnx_fp32[1].rerank(question, sentences)), got, atol=1e-4)
    other.join()


@pytest.mark.model
def test_a_smaller_cross_encoder_file_scores_the_same_in_onnx_and_torch(  # type: ignore[no-untyped-def]
    embedder, onnx_fp32, tmp_path: Path
) -> None:
    """`rag train --layers 2` writes a two-layer cross-encoder: both backends rebuild it from
    the file alone, and read with two layers (the same weights on top of six score otherwise)."""
    import torch

    from rag.runtime import load_reranker
    from rag.runtime.reranking import CrossEncoderReranker, PairModel

    torch.manual_seed(0)
    small = PairModel(embedder.model[0].auto_model, trained_layers=2, depth=2)
    torch.nn.init.normal_(small.head.weight, std=0.5)  # a head that tells pairs apart
    path, six = tmp_path / "small.pt", tmp_path / "six.pt"
    torch.save(small.trained_state(), path)
    # the same weights in a file from before depths: the top two of six layers
    torch.save({k: v for k, v in small.trained_state().items() if k != "depth"}, six)
    question = "In what year was the treaty signed?"
    sentences = [
        "Treaty: The treaty was finally signed in Vienna in 1815 after months of talks.",
        "Treaty: The talks in Vienna were attended by diplomats from many countries.",
    ]
    want = scores_of(CrossEncoderReranker(embedder, path).rerank(question, sentences))
    settings = Settings(reranker_path=path, onnx_int8_reranker=False, model_cache_dir=tmp_path)
    onnx = load_reranker(settings, onnx_fp32[0])  # the exported encoder's tokenizer
    assert onnx is not None
    assert np.allclose(scores_of(onnx.rerank(question, sentences)), want, atol=1e-3)
    on_six = scores_of(CrossEncoderReranker(embedder, six).rerank(question, sentences))
    assert not np.allclose(on_six, want, atol=1e-2)


@pytest.mark.model
def test_int8_files_stay_close_to_fp32(onnx_fp32) -> None:  # type: ignore[no-untyped-def]
    from rag.runtime import load_embedder, load_reranker

    settings = Settings(onnx_int8_encoder=True, onnx_int8_reranker=True)
    int8 = load_embedder(settings)
    texts = [ALBANESE, "The treaty was signed in Vienna in 1815. It ended the war."]
    assert (int8.embed(texts) * onnx_fp32[0].embed(texts)).sum(1).min() > 0.98
    question = "In what year was the treaty signed?"
    sentences = ["The treaty was signed in 1815.", "Diplomats from many countries attended."]
    assert scores_of(load_reranker(settings, int8).rerank(question, sentences)).argmax() == 0


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        env={**os.environ, **env},
        text=True,
        capture_output=True,
        timeout=300,
    )


@pytest.mark.model
def test_rag_ask_on_onnx_imports_neither_torch_nor_sentence_transformers(tmp_path: Path) -> None:
    index = str(tmp_path / "index")
    env = {"RAG_BACKEND": "onnx", "RAG_INDEX_DIR": index}
    assert _run(["-m", "rag.cli.commands", "ingest", str(SEEDS)], env).returncode == 0
    probe = (
        "import sys; from rag.cli.commands import main; rc = main(['ask', sys.argv[1]]); "
        "print('LOADED', sorted(m for m in ('torch', 'sentence_transformers', "
        "'transformers') if m in sys.modules)); sys.exit(rc)"
    )
    done = _run(["-c", probe, ALBANESE], env)
    assert done.returncode == 0, done.stderr
    assert "natural candidate" in done.stdout
    assert "LOADED []" in done.stdout


@pytest.mark.model
def test_a_damaged_exported_file_is_rebuilt_by_rag_ask(tmp_path: Path) -> None:
    """The cache is a copy of the real one with the encoder file cut short."""
    from rag.runtime import load_embedder, load_reranker
    from rag.runtime.files import default_cache_dir

    load_reranker(Settings(), load_embedder(Settings()))  # the real cache holds every file
    cache = tmp_path / "cache"
    shutil.copytree(default_cache_dir(), cache)
    env = {"RAG_INDEX_DIR": str(tmp_path / "index"), "RAG_MODEL_CACHE_DIR": str(cache)}
    assert _run(["-m", "rag.cli.commands", "ingest", str(SEEDS)], env).returncode == 0
    files = ModelFiles.from_settings(Settings(model_cache_dir=cache))
    encoder = files.encoder(Settings().onnx_int8_encoder)
    encoder.write_bytes(encoder.read_bytes()[:5000])
    done = _run(["-m", "rag.cli.commands", "ask", ALBANESE], env)
    assert done.returncode == 0, done.stderr
    assert "natural candidate" in done.stdout and "Traceback" not in done.stderr
    assert encoder.stat().st_size > 5000


# -- models loaded ahead of their first use (`rag serve`) ---------------------------------------
@pytest.fixture
def fresh_preloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Preloads made by a test stay in that test."""
    from rag import runtime

    monkeypatch.setattr(runtime, "_preloads", {})


@pytest.mark.usefixtures("fresh_preloads")
def test_a_failed_preload_leaves_the_loader_its_own_error(tmp_path: Path) -> None:
    from rag import runtime

    settings = Settings(model_path=tmp_path)  # a folder with no model in it
    runtime.preload(settings)
    with pytest.raises(ModelFileError, match="RAG_MODEL_PATH"):
        runtime.load_embedder(settings)


def test_a_model_that_cannot_load_stops_rag_serve_in_one_line(tmp_path: Path) -> None:
    env = {
        "RAG_MODEL_PATH": str(tmp_path / "nowhere"),
        "RAG_INDEX_DIR": str(tmp_path / "index"),
        "RAG_SEEDS_DIR": str(tmp_path / "no-seeds"),
    }
    done = _run(["-m", "rag.cli.commands", "serve", "--port", "0"], env)
    assert done.returncode == 1
    assert "RAG_MODEL_PATH" in done.stderr and "Traceback" not in done.stderr
    assert "serving on" not in done.stdout


@pytest.mark.model
@pytest.mark.usefixtures("fresh_preloads")
def test_the_engine_gets_the_preloaded_models() -> None:
    from rag import runtime
    from rag.engine import Engine

    runtime.preload(Settings())
    first, second = Engine(Settings()), Engine(Settings())
    assert first.embedder is second.embedder  # built once, ahead of both
    assert first.reranker is not None and first.reranker is second.reranker
