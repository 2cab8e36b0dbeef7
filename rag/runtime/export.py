"""Exporting the torch models to ONNX files (this module imports torch: it runs once per
weights, at install time or on first use, never when the files are already there).

Two graphs, both taking ``input_ids``, ``attention_mask`` and ``token_type_ids`` (int64,
batch x tokens, both axes dynamic):

* the encoder: all-MiniLM-L6-v2's token states (``tokens``, batch x tokens x 384); mean
  pooling and normalisation happen in numpy, so sentence vectors can be pooled from the same
  pass (``embed_spans``);
* the cross-encoder (``rag.runtime.reranking.PairModel`` over the same token embeddings): per pair
the
  head's ``logit``, ``span_lse``, the log-sum-exp of the start and end logits over the
  sentence's tokens, and ``span_logits`` (batch x tokens x 2), those start and end logits per
  token (``NOT_IN_SENTENCE`` outside the sentence), from which the answer span is decoded
  (``rag.answering.span``). The span evidence is normalised across a question's candidates in
  numpy (``rag.runtime.crossencoder``), so pairs of several questions can share one batch.

The int8 files are ``onnxruntime.quantization.quantize_dynamic`` of the fp32 ones (the weights
of MatMuls, per output channel; the token embeddings stay float32). Files are written to a
temporary name and renamed, so a reader never sees half of one. Run
``python -m rag.runtime.export`` to build every file the settings ask for.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from rag.errors import ModelFileError
from rag.runtime.crossencoder import OUTPUTS
from rag.runtime.files import ModelFiles

log = logging.getLogger(__name__)

OPSET = 17  # LayerNormalization is a single op from opset 17 on
INPUTS = ["input_ids", "attention_mask", "token_type_ids"]
PER_TOKEN = {"span_logits"}  # reranker outputs with a tokens axis as well as a batch one


class _EncoderGraph(torch.nn.Module):
    """BERT's token states, with the same layer loop the cross-encoder uses."""

    def __init__(self, bert: Any) -> None:
        super().__init__()
        self.bert = bert

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        from rag.runtime.reranking import additive_mask, run_layer

        hidden = self.bert.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
        mask = additive_mask(attention_mask)
        for layer in self.bert.encoder.layer:
            hidden = run_layer(layer, hidden, mask)
        return hidden


class _PairGraph(torch.nn.Module):
    """The cross-encoder's per-pair outputs, before the cross-candidate normalisation."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model
        self.bert = model.bert[0]  # registered here, so the export sees its weights
        self.requires_grad_(False)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        from rag.runtime.reranking import sentence_mask

        enc = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": token_type_ids,
        }
        states = self.model.states(self.model.lower(enc), attention_mask)
        logit = self.model.score(states, attention_mask)
        span = self.model.span_logits(states, sentence_mask(enc))
        return logit, torch.logsumexp(span, dim=1), span


def _bert(model_dir: Path) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers

    transformers.logging.disable_progress_bar()
    return transformers.AutoModel.from_pretrained(str(model_dir)).eval()


def _write(
    graph: torch.nn.Module, outputs: list[str], target: Path, metadata: dict[str, str]
) -> None:
    import onnx

    ids = torch.tensor([[101, 2054, 2003, 102, 1996, 3899, 102]])
    example = (ids, torch.ones_like(ids), torch.tensor([[0, 0, 0, 0, 1, 1, 1]]))
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    axes.update({name: {0: "batch"} for name in outputs})
    axes.update({name: {0: "batch", 1: "tokens"} for name in outputs if name in PER_TOKEN})
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        raw = Path(tmp) / "raw.onnx"
        # the exporter warns that it is the legacy one, and that the attention's "is causal"
        # test is traced as a constant (it is: a mask is always given)
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph,
                example,
                str(raw),
                input_names=INPUTS,
                output_names=outputs,
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        model = onnx.load(str(raw))
        for key, value in metadata.items():
            model.metadata_props.add(key=key, value=value)
        onnx.save(model, str(raw))
        os.replace(raw, target)


def _quantize(source: Path, target: Path) -> None:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # onnxruntime's quantiser advises pre-processing on every call
    try:
        _quantize_quietly(source, target)
    finally:
        root.setLevel(level)


def _quantize_quietly(source: Path, target: Path) -> None:
    from onnxruntime.quantization import (  # type: ignore[import-untyped]
        QuantType,
        quantize_dynamic,
    )

    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        out = Path(tmp) / "int8.onnx"
        # per-channel weight scales, and only MatMuls with a weight operand: quantising the
        # attention products too, with per-tensor scales, moved the encoder's vectors away
        # from fp32 (docs/experiments.md, "Model backend")
        quantize_dynamic(
            source,
            out,
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            extra_options={"MatMulConstBOnly": True},
        )
        os.replace(out, target)


def export_encoder(files: ModelFiles, int8: bool) -> Path:
    """Write the encoder file (fp32, or int8 from the fp32 one); returns its path."""
    fp32 = files.encoder(int8=False)
    if not fp32.exists():
        log.warning("exporting the encoder to %s (once per model)", fp32)
        _write(_EncoderGraph(_bert(files.model_dir)), ["tokens"], fp32, {"kind": "encoder"})
    target = files.encoder(int8=True)
    if int8 and not target.exists():
        _quantize(fp32, target)
    return target if int8 else fp32


def export_reranker(files: ModelFiles, int8: bool) -> Path:
    """Write the cross-encoder file (fp32, or int8 from the fp32 one); returns its path."""
    from rag.runtime.reranking import PairModel

    fp32 = files.reranker(int8=False)
    if not fp32.exists():
        log.warning("exporting the cross-encoder to %s (once per weights file)", fp32)
        try:
            state = torch.load(files.reranker_weights, map_location="cpu", weights_only=True)
            model = PairModel.from_state(_bert(files.model_dir), state)
        except Exception as exc:  # the same meaning as in rag.runtime.reranking: not usable
            raise ModelFileError(
                f"cannot read the reranker weights {files.reranker_weights} "
                f"({type(exc).__name__}); reinstall the package or set RAG_RERANK=false"
            ) from None
        meta = {"kind": "reranker", "span_weight": json.dumps(float(model.span_weight))}
        _write(_PairGraph(model.eval()), list(OUTPUTS), fp32, meta)
    target = files.reranker(int8=True)
    if int8 and not target.exists():
        _quantize(fp32, target)
    return target if int8 else fp32


def main() -> None:
    """Build every file for the current settings (``make install`` runs this)."""
    from rag.settings import load_settings

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    settings = load_settings()
    files = ModelFiles.from_settings(settings)
    for int8 in (False, True):
        for export in (export_encoder, export_reranker):
            path = export(files, int8)
            print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
