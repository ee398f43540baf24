"""params.yaml section `llm`: which server and model write the synthetic texts, and how calls are made."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from synthclf.assets import DEFAULT_GENERATOR, bundled_generators
from synthclf.schema import Strict


class LLMParams(Strict):
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint; null starts the bundled model")
    model: str = DEFAULT_GENERATOR
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key")
    backend: Literal["auto", "llama_cpp", "openai"] = Field(
        "auto", description="auto: llama_cpp for the bundled server (base_url null), openai otherwise; "
                            "llama_cpp servers also get repeat_penalty")
    prompt_style: Literal["auto", "chat", "completion"] = Field(
        "auto", description="auto: completion for llama_cpp backends (small local models), chat otherwise")
    temperature: float = Field(0.8, ge=0, le=2)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(0, ge=0, description="tokens per generated text; 0 = from the task card's max_words "
                            "(tokens per word estimated on the task's texts)")
    context_tokens: int = Field(0, ge=0, description="the endpoint's context window; 0 = llm.server_context for the "
                                "bundled server, unknown for other endpoints (examples are then cut to max_words only)")
    repeat_penalty: float = Field(1.15, ge=1, le=2, description="sent to llama.cpp servers only")
    concurrency: int = Field(4, gt=0, le=256)
    requests_per_minute: int = Field(0, ge=0, description="0 = unlimited")
    tokens_per_minute: int = Field(0, ge=0, description="0 = unlimited")
    timeout_s: float = Field(180, gt=0, description="per call; the bundled server answers concurrent calls one "
                                                    "after another")
    max_retries: int = Field(6, ge=0, description="retries per call on 429, 5xx, timeouts, dropped connections")
    retry_base_s: float = Field(0.5, gt=0, description="first backoff ceiling; doubles per retry (full jitter)")
    retry_max_s: float = Field(30, gt=0, description="largest backoff ceiling")
    server_threads: int = Field(0, ge=0, description="threads of the bundled llama.cpp server; "
                                                 "0 = the cores free now (server.auto_threads)")
    server_context: int = Field(2048, ge=256)

    @field_validator("model")
    @classmethod
    def _bundled_when_no_base_url(cls, model: str, info: ValidationInfo) -> str:
        """Without base_url the bundled llama.cpp server serves the model: it must be one it ships."""
        if info.data.get("base_url") is None and model not in bundled_generators():
            raise PydanticCustomError(
                "bundled_generator", "with llm.base_url null the bundled generators are {allowed}; "
                "set llm.base_url for any other model", {"allowed": ", ".join(bundled_generators())})
        return model
