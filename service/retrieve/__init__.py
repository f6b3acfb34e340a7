"""Retrieval: candidate products for a query (``base``), built by ``factory.build_retriever``.

Kept import-light: ``from service.retrieve.base import Candidate`` does not load jieba or bm25s.
"""
