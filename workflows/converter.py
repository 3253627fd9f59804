"""The data converter: msgspec for our Structs, and a codec that seals every payload.

Temporal's default JSON converter cannot encode msgspec Structs; ours encodes any value msgspec
can and decodes into the type hint of the receiving parameter. The codec encrypts whole payloads
with AES-GCM under a key derived from the master key, and failure messages are encoded into the
sealed payloads too, so the server, its history and its web UI see only ciphertext.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

import msgspec
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    BinaryNullPayloadConverter,
    BinaryPlainPayloadConverter,
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    EncodingPayloadConverter,
    PayloadCodec,
)

from casework.keys import seal, unseal

ENCRYPTED = b"binary/encrypted"


class MsgspecJSONConverter(EncodingPayloadConverter):
    @property
    def encoding(self) -> str:
        return "json/plain"

    def to_payload(self, value: Any) -> Payload | None:
        return Payload(
            metadata={"encoding": self.encoding.encode()}, data=msgspec.json.encode(value)
        )

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        return msgspec.json.decode(payload.data, type=type_hint or Any)


class MsgspecPayloadConverter(CompositePayloadConverter):
    def __init__(self) -> None:
        super().__init__(
            BinaryNullPayloadConverter(), BinaryPlainPayloadConverter(), MsgspecJSONConverter()
        )


class SealingCodec(PayloadCodec):
    def __init__(self, master_key: bytes) -> None:
        self.key = hmac.new(master_key, b"temporal-payloads", hashlib.sha256).digest()

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload(
                metadata={"encoding": ENCRYPTED},
                data=seal(self.key, p.SerializeToString(), "temporal"),
            )
            for p in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for p in payloads:
            if p.metadata.get("encoding") != ENCRYPTED:
                decoded.append(p)
                continue
            inner = Payload()
            inner.ParseFromString(unseal(self.key, p.data, "temporal"))
            decoded.append(inner)
        return decoded


def data_converter(master_key: bytes) -> DataConverter:
    return DataConverter(
        payload_converter_class=MsgspecPayloadConverter,
        # Failure messages may echo what was refused: seal them with the payloads.
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
        payload_codec=SealingCodec(master_key),
    )
