"""Server-side sessions: signed opaque cookie ids, a store, encrypted tokens.

Contract: the public names below. A cookie carries `keys.SessionKeys.sign_session_id`
output only; everything else lives in a `SessionStore` (memory for one process,
Redis for replicas), with tokens encrypted at rest (`cipher.TokenCipher`). The
Redis client is imported only by `redis_store`, when a Redis store is built.
"""

from authgate.sessions.cipher import TokenCipher, TokenDecryptError
from authgate.sessions.keys import SessionKeys, new_session_id, storage_key
from authgate.sessions.model import Session, Tokens
from authgate.sessions.refresh import RefreshCoordinator
from authgate.sessions.store import (
    LockTimeout,
    SessionStore,
    StoreUnavailable,
    build_store,
)

__all__ = [
    "LockTimeout",
    "RefreshCoordinator",
    "Session",
    "SessionKeys",
    "SessionStore",
    "StoreUnavailable",
    "TokenCipher",
    "TokenDecryptError",
    "Tokens",
    "build_store",
    "new_session_id",
    "storage_key",
]
