"""Opening one GeoIP database file safely: a private copy, checked before it is used.

Contract: `open_checked(slot, path)` answers a `maxminddb` reader and the `FileId` of
the file version it was read from, or raises `GeoError` naming the slot and the file:
missing, unreadable, not a MaxMind DB file, a MaxMind database of another kind than
the slot (`GeoLite2-ASN` under `city`), or corrupt where a probe lookup reaches.

Why a private copy: the C reader maps the file into memory. A file rewritten in place
(`cp new.mmdb GeoLite2-City.mmdb`) would change under the map — wrong answers, or a
SIGBUS that kills the worker when the file shrinks. So the file is copied to a
temporary file that only this process knows, mapped, and the copy unlinked at once
(the map keeps it alive; nothing is left behind). Nothing the operator does to the
configured path can touch a reader afterwards. The cost is one copy per (re)load, in
the temporary directory (`TMPDIR`).

The `FileId` is taken before copying: if the file changes while it is copied, the
recorded version is the older one, so the next check loads again — never the reverse.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import maxminddb
from maxminddb import InvalidDatabaseError

from authgate.geo.facts import GeoError

Slot = Literal["city", "country", "asn", "anonymous_ip"]
SLOTS: tuple[Slot, ...] = get_args(Slot)

# Addresses looked up once per load, spread over the tree, so a corrupt node or data
# pointer on a common path is found before a request finds it.
_PROBES = ("1.1.1.1", "8.8.8.8", "81.2.69.142", "128.101.101.101", "203.0.113.7", "2001:db8::1")
# MaxMind's own database types, by the kind of slot they belong in. Other vendors'
# names (ip-location-db, DB-IP, ...) follow no scheme and are not checked.
_MAXMIND_KINDS: dict[str, tuple[str, ...]] = {
    "location": ("City", "Country", "Enterprise"),
    "asn": ("ASN", "ISP"),
    "anonymous_ip": ("Anonymous",),
}
_SLOT_KIND: dict[Slot, str] = {
    "city": "location",
    "country": "location",
    "asn": "asn",
    "anonymous_ip": "anonymous_ip",
}
# What a corrupt database raises from a lookup (besides InvalidDatabaseError, a
# RuntimeError): the pure-Python reader can also fail with these on garbage.
CORRUPT_ERRORS = (InvalidDatabaseError, TypeError, RecursionError, UnicodeDecodeError)


@dataclass(frozen=True, slots=True)
class FileId:
    """What identifies one version of a file on disk."""

    mtime_ns: int
    size: int
    inode: int
    device: int

    @classmethod
    def of(cls, path: Path) -> FileId | None:
        """The file's current version, or None when it cannot be stat'ed (missing)."""
        try:
            st = path.stat()
        except OSError:
            return None
        return cls(st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)


def open_checked(slot: Slot, path: Path) -> tuple[maxminddb.Reader, FileId]:
    """Open a private copy of `path` and check it; see the module docstring."""
    file_id = FileId.of(path)
    if file_id is None:
        raise GeoError(f"geoip.{slot}: {path}: no such file")
    try:
        reader = _open_copy(path)
    except (OSError, ValueError, RuntimeError) as error:  # InvalidDatabaseError too
        detail = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise GeoError(f"geoip.{slot}: {path}: not a readable MaxMind DB file: {detail}") from None
    try:
        _check_kind(slot, reader.metadata().database_type)
        _probe(reader)
    except GeoError as error:
        reader.close()
        raise GeoError(f"geoip.{slot}: {path}: {error}") from None
    return reader, file_id


def _open_copy(path: Path) -> maxminddb.Reader:
    fd, copy = tempfile.mkstemp(prefix="authgate-geoip-", suffix=".mmdb")
    try:
        with os.fdopen(fd, "wb") as target, path.open("rb") as source:
            shutil.copyfileobj(source, target, 1 << 20)
        return maxminddb.open_database(copy)
    finally:
        os.unlink(copy)  # the reader's map keeps the data; no file is left behind


def _check_kind(slot: Slot, database_type: str) -> None:
    if not database_type.startswith(("GeoIP", "GeoLite")):
        return
    kinds = _MAXMIND_KINDS.items()
    kind = next((k for k, words in kinds if any(w in database_type for w in words)), None)
    if kind is not None and kind != _SLOT_KIND[slot]:
        raise GeoError(f"a {database_type} database does not belong under `{slot}`")


def _probe(reader: maxminddb.Reader) -> None:
    for address in _PROBES:
        try:
            reader.get(address)
        except ValueError:
            continue  # an IPv4-only database asked an IPv6 address
        except CORRUPT_ERRORS as error:
            raise GeoError(f"corrupt database: {error}") from None
