"""Shared base for wire models: frozen, strict about unknown fields, camelCase on the wire."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, JsonValue
from pydantic.alias_generators import to_camel

__all__ = ["JsonValue", "WireModel"]


class WireModel(BaseModel):
    """A frozen message model whose JSON field names are camelCase, as AWS's are."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    def to_wire(self) -> bytes:
        """Serialise to the UTF-8 JSON bytes that go on the wire."""
        return self.model_dump_json().encode()

    @classmethod
    def from_wire(cls, body: bytes | str) -> Self:
        """Parse and validate wire bytes; raises ``pydantic.ValidationError`` when invalid."""
        return cls.model_validate_json(body)
