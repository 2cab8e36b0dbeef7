"""Extractive question answering over news articles.

Articles -> chunks -> embeddings -> FAISS + BM25 index on disk -> hybrid retrieval ->
an extractive answer made only of quoted sentences, each with an exact citation.
"""

__version__ = "0.1.0"
