"""Articles in: loading files and folders, HTML pages, front matter, feeds, fetching URLs and
watching feeds, with the limits and the parse worker that keep hostile pages out.

Depends on stores/runtime-free parts only (``rag.models``, ``rag.newsparts``, ``rag.time``):
the layers contract in pyproject.toml keeps it so.
"""
