"""Ingest: articles into chunks (``chunking``), chunks into embeddings and entities and then
a store (``indexing``)."""
