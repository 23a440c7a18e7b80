"""Service configuration, read from ``SEED_AUTHORITY_*`` environment variables."""

from __future__ import annotations

from dataclasses import fields
from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.permutations import PermutationLimits
from app.core.streams import Limits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEED_AUTHORITY_")

    max_count: int = Field(10_000_000, gt=0, description="Most elements one slice may return.")
    max_skip_ms: float = Field(
        2_000.0, ge=0,
        description="Most estimated time (ms) spent regenerating a stream from its nearest "
                    "checkpoint to reach an offset; beyond it the request is a 422.")
    chunk_bytes: int = Field(1 << 20, ge=4096, description="Bytes generated and sent at a time.")
    cache_bytes: int = Field(64 << 20, ge=0, description="Memory budget of the checkpoint cache.")
    max_init_elements: int = Field(
        50_000_000, gt=0, description="Most elements one tensor or module init may return.")
    max_call_elements: int = Field(
        10_000_000, gt=0, description="Most elements one POST /v1/calls program may make and "
                                      "read, each call's weighted by its cost (GET /v1/calls).")
    checkpoint_interval_ms: float = Field(
        25.0, gt=0, description="A checkpoint is saved every this many ms of estimated "
                                "generation, bounding the cost of offsets near generated ones.")
    seek: Literal["auto", "always", "never"] = Field(
        "auto", description="How a generator reaches an offset on an engine that can seek: "
                            "auto (the cheaper of a seek and the nearest checkpoint), or "
                            "always / never (diagnostics: force one path).")
    park_after_ms: float = Field(
        0.02, ge=0, description="A slice keeps its generator for the next slice only when "
                                "reaching its end again would take at least this long "
                                "(estimated); 0 = always.")

    cuda: str = Field(
        "auto", pattern=r"^(auto|off|(cuda:)?[0-9]+)$",
        description="The GPU that engines with GPU streams generate on: `auto` (cuda:0 when "
                    "this process has CUDA), `off` (CPU emulation only; what needs the GPU is "
                    "refused), or a device index / `cuda:N`.")

    database_url: str = Field(
        "sqlite:///seed-authority.db",
        description="SQLAlchemy URL of the database of runs, cursors and the audit trail: an "
                    "SQLite file (one replica only) or postgresql://user:pass@host/db (shared "
                    "by replicas).")
    audit: bool = Field(False, description="on: one audit row per request naming a run.")
    audit_flush_ms: float = Field(
        200.0, gt=0, description="Audit rows are written in batches at least this often.")
    log_format: Literal["json", "text"] = Field(
        "json", description="Log lines as one JSON object each (containers) or as text "
                            "(`make run` uses text).")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Least severe level logged; requests are logged at info.")
    gc_pace_requests: int = Field(
        16, ge=0, description="Collect the young generation of Python objects every this many "
                              "requests (and the middle one every tenth time), keeping "
                              "each pause short; 0 = CPython's own schedule.")
    tracing: Literal["off", "otlp", "console"] = Field(
        "off", description="OpenTelemetry spans: off, otlp (OTEL_EXPORTER_OTLP_* variables) "
                           "or console; needs the `tracing` extra.")

    # Hardening (docs/security.md)
    memory_budget: int = Field(
        1 << 30, gt=0, description="Bytes that in-flight requests may hold at once (tensors, "
                                   "temporaries, serialised bodies); beyond it requests wait.")
    queue_timeout_s: float = Field(
        30.0, ge=0, description="Longest wait for memory budget before a 503 with Retry-After.")
    queue_max: int = Field(32, ge=0, description="Most requests waiting for memory at once; "
                                                  "more are a 503 at once.")
    max_body_bytes: int = Field(1 << 20, gt=0, description="Largest request body; larger is a "
                                                          "413 before it is read.")
    api_keys: str = Field("", description="Comma-separated API keys; when set (or "
                                          "api_keys_file), /v1 needs Authorization: Bearer.")
    api_keys_file: str | None = Field(None, description="A file of API keys, one per line.")
    rate_limit: float = Field(0.0, ge=0, description="Requests per second per API key (or "
                                                     "client address); 0 = off.")
    rate_burst: int = Field(0, ge=0, description="Requests a client may send at once above "
                                                 "the rate; 0 = the rate rounded up.")
    cors_origins: str = Field("", description="Comma-separated origins allowed by CORS; "
                                              "empty = none.")

    max_permutation_n: int = Field(
        10**9, ge=0, description="Largest n of a permutation, DistributedSampler or DataLoader "
                                 "epoch (within the permutation memory budget).")
    permutation_cache_bytes: int = Field(
        1 << 30, ge=0, description="Memory budget of the permutations held and being built "
                                   "(int32 where n <= 2**31: 4 bytes per element).")
    max_permutation_build_ms: float = Field(
        30_000.0, gt=0, description="Most estimated time (ms) to build one permutation; "
                                    "beyond it the request is a 422 naming n.")

    def permutation_limits(self) -> PermutationLimits:
        return PermutationLimits(max_n=self.max_permutation_n,
                                 cache_bytes=self.permutation_cache_bytes,
                                 max_build_ms=self.max_permutation_build_ms)

    def limits(self) -> Limits:
        return Limits(**{f.name: getattr(self, f.name) for f in fields(Limits)})


@lru_cache
def get_settings() -> Settings:
    return Settings()
