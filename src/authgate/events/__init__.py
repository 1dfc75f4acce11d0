"""State events shared by every process on one store: sessions ended or changed,
grants and bans changed (see `channel.py` for the contract).

Contract: the public names below. `build_channel(store)` gives the channel for a
configured store — memory for the memory store, Redis pub/sub for a Redis one — built
without I/O (`start()` connects). The Redis client is imported only then.
"""

from __future__ import annotations

from authgate.config.schema_auth import StoreConfig
from authgate.events.channel import EventChannel, Listener, LostListener
from authgate.events.memory import MemoryEventChannel
from authgate.events.model import EventKind, StateEvent, decode


def build_channel(config: StoreConfig) -> EventChannel:
    """The channel every process sharing `config`'s store publishes and listens on."""
    if config.backend == "memory":
        return MemoryEventChannel()
    # Imported here so a memory-only gateway never loads the Redis client.
    from authgate.events.redis import RedisEventChannel
    from authgate.sessions.redis_client import redis_client

    return RedisEventChannel(redis_client(config), name=f"{config.key_prefix}events")


__all__ = [
    "EventChannel",
    "EventKind",
    "Listener",
    "LostListener",
    "MemoryEventChannel",
    "StateEvent",
    "build_channel",
    "decode",
]
