"""The OpenAI chat completions wire shape: what we read from a request, what we answer.

Only the fields that mean something for a browser agent are typed; every other field an OpenAI
client may send (temperature, tools, n, seed, ...) is accepted and ignored, as the agent picks its
own sampling. Answers carry OpenAI's fields plus an ``openhelm`` object, which OpenAI clients keep
as an extra attribute (their models allow unknown fields).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class ContentPart(_Loose):
    type: str
    text: str | None = None


class ChatMessage(_Loose):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None

    def text(self) -> str:
        """The message's text (text parts joined; images and audio are not for this agent)."""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text for p in self.content or [] if p.type == "text" and p.text)


class JsonSchemaFormat(_Loose):
    name: str = "result"
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Loose):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(_Loose):
    include_usage: bool = False


class ChatCompletionRequest(_Loose):
    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=500)
    stream: bool = False
    stream_options: StreamOptions | None = None
    response_format: ResponseFormat | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    user: str | None = Field(None, max_length=500)
    metadata: dict[str, str] | None = None


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class OpenHelmInfo(BaseModel):
    """What only OpenHelm knows: the run behind the answer, its cost and its evidence."""

    run_id: str
    status: str
    run_url: str = Field(description="The run envelope (GET with the same key): steps, network log, evidence.")
    cost_usd: str | None = None
    cost_micros: int | None = None
    confidence: float | None = None
    steps: int | None = None
    evidence_status: str | None = None
    evidence: list[str] = Field(default_factory=list, description="Presigned screenshot URLs, step order.")
    evidence_manifest_url: str | None = None


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "openhelm"
    description: str | None = None
    underlying_model: str | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]
