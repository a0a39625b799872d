"""The textbook LangChain RAG as a baseline: every table of the eval report shows it beside our system.

- the raw files (the same files our ingest reads, found with ingestion.pipeline.discover) read as plain text,
  YAML front matter and Markdown included, as a TextLoader would;
- RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200) with its default separators;
- langchain_chroma.Chroma (own local Chroma directory, default collection settings) with one dense embedder:
  our USE embedder wrapped as a langchain_core Embeddings;
- similarity_search(question, k=4) for the answer; no roles, no decline, no lexical search.

Answer without an LLM: the first sentence (of at least 5 words) of each of the top-4 passages, in rank order,
each followed by [n] for its passage (n = rank). Retrieval metrics take k=10 from the same store with the same
call (the pipeline itself only ever shows 4).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter

from assistant.german import sentences
from ingestion.pipeline import discover

TOP_K = 4


class USEEmbeddings(Embeddings):
    """assistant.search.embeddings' embedder as LangChain Embeddings."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_documents(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text).tolist()


class LangChainBaseline:
    name = "langchain-baseline"

    def __init__(self, paths: Iterable[Path], data_dir: Path, embedder: Any, collection: str = "baseline") -> None:
        import chromadb
        from langchain_chroma import Chroma

        files, _ = discover(list(paths))
        docs = [Document(page_content=p.read_text(encoding="utf-8", errors="replace"),
                         metadata={"source": p.name, "doc_id": p.stem}) for p in files]
        self.chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
        client = chromadb.PersistentClient(path=str(data_dir), settings=chromadb.Settings(anonymized_telemetry=False))
        self.store = Chroma(collection_name=collection, embedding_function=USEEmbeddings(embedder), client=client)
        self.store.add_documents(self.chunks)

    def search(self, question: str, k: int = TOP_K) -> list[Document]:
        return self.store.similarity_search(question, k=k)

    @staticmethod
    def first_sentence(text: str) -> str:
        for s in sentences(text):
            if len(s.split()) >= 5:
                return s
        return " ".join(text.split())[:300]

    def answer(self, question: str, docs: list[Document] | None = None) -> dict[str, Any]:
        docs = (docs or self.search(question, TOP_K))[:TOP_K]
        parts = [f"{self.first_sentence(d.page_content)} [{n}]" for n, d in enumerate(docs, 1)]
        return {"text": " ".join(parts), "answerable": True, "answerer": self.name,
                "sources": [{"n": n, "text": d.page_content, "doc_id": d.metadata.get("doc_id"),
                             "source": d.metadata.get("source")} for n, d in enumerate(docs, 1)]}
