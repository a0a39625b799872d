"""Embedders, the Chroma index, the lexical index, hybrid retrieval."""
