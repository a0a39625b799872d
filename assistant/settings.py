"""One Settings object, built once by the app factory or the CLI and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All configuration. Environment variables carry the prefix ``LB_``; an optional .env file is read."""

    model_config = SettingsConfigDict(env_prefix="LB_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Holds the index and everything the app writes.")
    collection: str = Field("lernbegleiter", description="Name of the Chroma collection.")
    chroma_url: str | None = Field(None, description="http://host:port of a Chroma server; embedded if unset.")

    embedder: str = Field("use", description="'use' (bundled multilingual USE) or 'st:<name or path>'.")
    embedder_threads: int = 2

    chunk_size: int = Field(900, description="Target passage size in characters.")
    chunk_overlap: int = Field(150, description="Overlap in characters when a section is split by size.")

    top_k: int = 8
    answer_sources: int = Field(4, description="At most this many sources are cited in an answer.")

    host: str = "127.0.0.1"
    port: int = 8000

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def lexical_path(self) -> Path:
        return self.data_dir / "lexical"
