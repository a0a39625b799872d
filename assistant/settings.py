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

    # conversations (sessions, feedback)
    database_url: str | None = Field(None, description="SQLAlchemy URL; SQLite file under data_dir if unset.")
    retention_days: int = Field(30, ge=1, description="Sessions idle longer than this are erased.")
    history_turns: int = Field(3, description="Previous question/answer pairs used to understand a follow-up.")

    # web
    cors_origins: str = Field("", description="Comma-separated origins allowed to call /api/* cross-origin.")
    rate_limit_per_minute: int = Field(30, description="Chat requests per client and minute; 0 disables.")

    # optional LLM: any OpenAI-compatible chat endpoint
    llm_base_url: str | None = Field(None, description="e.g. http://127.0.0.1:11434/v1 (Ollama)")
    llm_model: str = "gpt-4o-mini"
    llm_api_key: str = "not-needed"
    llm_timeout: float = Field(60.0, description="Seconds for the whole LLM answer.")
    llm_first_token_timeout: float = Field(20.0, description="Seconds until the first token arrives.")
    llm_temperature: float = 0.2
    llm_max_tokens: int = 600
    llm_system_in_user: bool = Field(False, description="Fold the system prompt into the first user turn "
                                                        "(models without a system role, e.g. base Gemma GGUFs).")

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def lexical_path(self) -> Path:
        return self.data_dir / "lexical"
