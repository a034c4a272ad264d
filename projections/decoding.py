"""The ledger's events as the projection reads them: ``Mapper.to_domain_event``, in less time.

The same event objects (class, attributes and their types and values) as the mapper makes, with the JSON decoded
by a leaner hook and UUIDs made without parsing their text twice. Only for a mapper that neither encrypts nor
compresses, with the library's JSON transcoder; anything else, and any event this cannot decode, goes through the
mapper itself (which then says what is wrong).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from uuid import UUID, SafeUUID

from eventsourcing.persistence import JSONTranscoder, Mapper, UUIDAsHex, find_id_convertor
from eventsourcing.utils import resolve_topic


def _uuid(text: Any) -> UUID:
    """``UUID(text)`` for the 32 hex digits ``UUIDAsHex`` writes, without its parsing; anything else by ``UUID``."""
    if type(text) is str and len(text) == 32 and text.isascii() and text.isalnum():
        value = object.__new__(UUID)
        object.__setattr__(value, "int", int(text, 16))
        object.__setattr__(value, "is_safe", SafeUUID.unknown)
        return value
    return UUID(text)


class EventDecoder:
    def __init__(self, mapper: Mapper[Any]) -> None:
        self.mapper = mapper
        transcoder = mapper.transcoder
        self.lean = (not mapper.cipher and not mapper.compressor and type(transcoder) is JSONTranscoder
                     and type(transcoder.decoder) is json.JSONDecoder)
        if not self.lean:
            return
        assert isinstance(transcoder, JSONTranscoder)
        names: dict[str, Callable[[Any], Any]] = {name: t.decode for name, t in transcoder.names.items()}
        if type(transcoder.names.get("uuid_hex")) is UUIDAsHex:
            names["uuid_hex"] = _uuid
        tagged = transcoder._decode_obj

        def hook(d: dict[str, Any]) -> Any:
            if len(d) == 2 and "_type_" in d and "_data_" in d:
                decode = names.get(d["_type_"])  # type: ignore[call-overload]
                return tagged(d) if decode is None else decode(d["_data_"])
            return d

        self._decode = json.JSONDecoder(object_hook=hook).decode

    def __call__(self, stored: Any) -> Any:
        if not self.lean:
            return self.mapper.to_domain_event(stored)
        try:
            cls = resolve_topic(stored.topic)
            state: dict[str, Any] = self._decode(stored.state.decode("utf8"))
            state["originator_id"] = find_id_convertor(cls, type(stored.originator_id))(stored.originator_id)
            state["originator_version"] = stored.originator_version
            version, target = state.pop("class_version", 1), getattr(cls, "class_version", 1)
            while version < target:
                getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
                version += 1
        except Exception:
            return self.mapper.to_domain_event(stored)
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event
