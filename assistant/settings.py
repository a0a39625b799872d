"""One Settings object, built once by the app factory or the CLI and passed down."""

from __future__ import annotations

import importlib.util
import ipaddress
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All configuration. Environment variables carry the prefix ``LB_``; an optional .env file is read."""

    model_config = SettingsConfigDict(env_prefix="LB_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Holds the index and everything the app writes.")
    collection: str = Field("lernbegleiter", description="Name of the Chroma collection.")
    chroma_url: str | None = Field(None, description="http://host:port of a Chroma server; embedded if unset.")

    embedder: str = Field("e5", description="'e5' (bundled multilingual-e5-small, default), 'use' (bundled "
                                            "multilingual USE) or 'st:<name or path>'.")
    embedder_threads: int = Field(2, ge=1, description="OpenMP threads of the embedder (process-wide); "
                                                       "`serve --workers N` sets cores / N unless given.")
    embedder_concurrency: int = Field(1, ge=1, description="E5 encoder calls at once per process; waiting question "
                                                           "encodings go before answer sentences.")
    compose_concurrency: int = Field(2, ge=0, description="Extractive answers composed at once per server process "
                                                          "(the first event of a chat never waits); 0: no cap.")
    threadpool_size: int = Field(100, ge=8, description="Worker threads of a server process for the sync endpoints "
                                                        "and SSE streams (anyio's default is 40).")
    warm_cache: bool = Field(True, description="serve: embed the answer sentences of the index in the background "
                                               "at start (indexes up to warm_max_passages passages).")
    warm_max_passages: int = Field(5000, ge=0)

    chunk_size: int = Field(900, description="Target passage size in characters.")
    chunk_overlap: int = Field(150, description="Overlap in characters when a section is split by size.")

    # ingest limits per file (untrusted files); see ingestion/limits.py
    ingest_max_file_mb: float = Field(50.0, gt=0, description="Largest file read (MB on disk).")
    ingest_max_unpacked_mb: float = Field(200.0, gt=0, description="Largest unpacked size of a DOCX (ZIP), MB.")
    ingest_max_text_mb: float = Field(3.0, gt=0, description="Most text one file may yield (MB of characters).")
    ingest_file_timeout_s: float = Field(120.0, gt=0, description="Seconds to parse and chunk one file.")
    ingest_max_memory_mb: float = Field(2048.0, ge=256, description="Memory cap of the parsing worker process (MB).")

    top_k: int = 8
    answer_sources: int = Field(4, description="At most this many sources are cited in an answer.")
    stand_warn_months: int = Field(12, ge=0, description="`ingest` and `serve` list documents whose `stand` is "
                                                         "older than this many months; 0 disables.")

    host: str = "127.0.0.1"
    port: int = 8000

    # conversations (sessions, feedback)
    database_url: str | None = Field(None, description="SQLAlchemy URL; SQLite file under data_dir if unset.")
    retention_days: int = Field(30, ge=1, description="Sessions idle longer than this are erased.")
    learning_retention_days: int = Field(730, ge=1, description="Learning progress untouched this long is erased.")
    tutor_concurrency: int = Field(16, ge=1, le=512, description="Chat answers the /tutor app runs at once "
                                                                  "(its Gradio queue; Gradio's default is 1).")
    history_turns: int = Field(3, description="Previous question/answer pairs used to understand a follow-up.")

    # web
    cors_origins: str = Field("", description="Comma-separated origins allowed to call /api/* cross-origin.")
    rate_limit_per_minute: int = Field(30, ge=0, description="Chat requests per client and minute; 0 disables.")
    rate_limit_search_per_minute: int = Field(60, ge=0, description="POST /api/search per client and minute.")
    rate_limit_sessions_per_minute: int = Field(20, ge=0, description="POST /api/sessions per client and minute.")
    rate_limit_feedback_per_minute: int = Field(30, ge=0, description="POST /api/feedback per client and minute.")
    rate_limit_tutor_per_minute: int = Field(120, ge=0, description="POSTs to the tutor (/tutor) per client and "
                                                                   "minute.")
    redis_url: str | None = Field(None, description="Storage of the rate limits shared by several processes "
                                                    "(redis://...); in memory if unset.")
    trusted_proxies: str = Field("", description="Comma-separated IPs/CIDRs of reverse proxies whose "
                                                 "X-Forwarded-For names the client; nobody else is believed.")
    max_body_bytes: int = Field(65536, ge=1024, description="Largest request body under /api (413 beyond).")
    admin_token: str | None = Field(None, description="Bearer token that unlocks the details of GET /api/health.")

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

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: str) -> str:
        for item in v.split(","):
            if item.strip():
                try:
                    ipaddress.ip_network(item.strip(), strict=False)
                except ValueError:
                    raise ValueError("IP-Adressen oder Netze (CIDR) durch Kommas getrennt erwartet") from None
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, v: str | None) -> str | None:
        if not v:
            return None
        if v.split("://", 1)[0] not in ("redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster"):
            raise ValueError("redis://… erwartet")
        if importlib.util.find_spec("redis") is None:
            raise ValueError("dafür fehlt das Paket redis (pip install '.[redis]')")
        return v

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def lexical_path(self) -> Path:
        return self.data_dir / "lexical"


_EXPECTED = {
    "int_parsing": "ganze Zahl erwartet", "int_from_float": "ganze Zahl erwartet",
    "float_parsing": "Zahl erwartet", "bool_parsing": "true oder false erwartet",
    "greater_than_equal": "mindestens {ge} erwartet", "greater_than": "größer als {gt} erwartet",
    "less_than_equal": "höchstens {le} erwartet", "less_than": "kleiner als {lt} erwartet",
    "string_type": "Text erwartet", "url_parsing": "URL erwartet",
}


def settings_error_de(exc: ValidationError) -> str:
    """One German line naming each invalid LB_* variable; its value is never repeated (it may be a secret)."""
    parts = []
    for e in exc.errors(include_input=False, include_url=False):
        name = "LB_" + "_".join(str(x) for x in e.get("loc", ())[:1]).upper()
        ctx = e.get("ctx") or {}
        if e.get("type") == "value_error":
            what = str(ctx.get("error") or "ungültiger Wert")
        else:
            template = _EXPECTED.get(e.get("type", ""), "ungültiger Wert")
            try:
                what = template.format(**{k: str(v) for k, v in ctx.items()})
            except (KeyError, IndexError):
                what = "ungültiger Wert"
        parts.append(f"Ungültige Einstellung {name}: {what}.")
    return " ".join(dict.fromkeys(parts)) or "Ungültige Einstellung."
