"""Training the scorer and the cross-encoder reranker on questions with answers (``rag train``).

Layers: ``candidates`` (what serving scores, labelled) -> ``scorer_fitting`` (sentence weights,
blend, confidence, cut-off) and ``reranker_training`` (fine-tuning the cross-encoder) ->
``cross_fitting`` (fold rerankers and their out-of-fold logits) -> ``procedure`` (the one
procedure that ships) -> ``cli``. Serving never imports this package; it only reads the files
the procedure writes (``Settings.scorer_path``, ``Settings.reranker_path``).
"""

DEFAULT_EPOCHS = 2  # 3 scored lower
DEFAULT_FOLDS = 5  # each fold reranker trains on 80% of the fit half
