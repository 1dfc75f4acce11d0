"""The GeoIP databases: one reader per configured file, a per-IP cache, reload on change.

Contract:
- `GeoDatabases(paths)` opens every configured file (see `reader.open_checked`), or
  raises one `GeoError` naming each file that is missing, unreadable, corrupt, or of
  the wrong kind.
- `lookup(ip)` answers `GeoFacts` and never raises: an invalid address, an address
  family a database does not cover, or a record that cannot be decoded leaves those
  fields unknown (a decoding failure is logged once per loaded version). Answers are
  cached per IP in a bounded LRU, emptied whenever a database is reloaded.
- `maybe_reload()` stats each file (mtime, size, inode); a changed one is opened and
  checked as at start, then swapped in. A new version that is missing or bad is
  logged once and the previous reader keeps serving; it is tried again when the file
  changes again. Unchanged files cost one `stat` each. `reload_changed()` is the same
  with the copy and checks in a worker thread, for the event loop; `watch(interval)`
  calls it periodically.
- `close()` closes the readers (the app's cleanup context owns this object).
Lookups and swaps both run on the event loop thread, so a lookup never meets a
reader that is being closed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import maxminddb

from authgate.config.schema_adaptive import GeoConfig
from authgate.geo.facts import NO_GEO, GeoError, GeoFacts
from authgate.geo.reader import CORRUPT_ERRORS, SLOTS, FileId, Slot, open_checked
from authgate.geo.records import Place, read_asn, read_flags, read_place

__all__ = ["GeoDatabases", "GeoError", "GeoFacts", "Slot"]

log = logging.getLogger(__name__)

Opened = tuple[maxminddb.Reader, FileId] | GeoError


class _Database:
    """One configured file: its reader and the file version it was opened from."""

    def __init__(self, slot: Slot, path: Path, reader: maxminddb.Reader, file_id: FileId) -> None:
        self.slot = slot
        self.path = path
        self.reader = reader
        self.file_id = file_id
        # The latest version seen on disk (None: missing). A version that failed to
        # load is tried and logged once, then again only when the file changes.
        self.seen: FileId | None = file_id
        self.warned = False  # a lookup failure was logged for this reader

    def get(self, address: str) -> object:
        try:
            return self.reader.get(address)
        except ValueError:
            return None  # an IPv6 address asked of an IPv4-only database
        except CORRUPT_ERRORS as error:  # a corrupt part the probes did not reach
            if not self.warned:
                self.warned = True
                log.warning("GeoIP %s (%s): lookup failed: %s", self.slot, self.path, error)
            return None


def _try_open(slot: Slot, path: Path) -> Opened:
    try:
        return open_checked(slot, path)
    except GeoError as error:
        return error


def _address(ip: str) -> str | None:
    """The address to look up (IPv4-mapped IPv6 as IPv4), or None when not an IP."""
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(parsed)


class GeoDatabases:
    def __init__(
        self, paths: Mapping[Slot, str | os.PathLike[str]], *, cache_size: int = 16_384
    ) -> None:
        self._databases: dict[Slot, _Database] = {}
        self._cache: OrderedDict[str, GeoFacts] = OrderedDict()
        self._cache_size = cache_size
        errors: list[str] = []
        for slot in SLOTS:  # a fixed order, so errors read the same at each start
            raw = paths.get(slot)
            if raw is None:
                continue
            opened = _try_open(slot, Path(raw))
            if isinstance(opened, GeoError):
                errors.append(str(opened))
            else:
                self._databases[slot] = _Database(slot, Path(raw), *opened)
        if errors:
            self.close()
            raise GeoError("; ".join(errors))

    @classmethod
    def from_config(cls, config: GeoConfig, base_dir: Path | None = None) -> GeoDatabases:
        """The databases of `geoip:`; relative paths are taken from `base_dir`."""
        paths: dict[Slot, str | os.PathLike[str]] = {}
        for slot in SLOTS:
            value: str | None = getattr(config, slot)
            if value is not None:
                paths[slot] = base_dir / value if base_dir is not None else Path(value)
        return cls(paths, cache_size=config.cache_size)

    @property
    def slots(self) -> frozenset[Slot]:
        """Which databases are loaded."""
        return frozenset(self._databases)

    # ------------------------------------------------------------ lookups

    def lookup(self, ip: str) -> GeoFacts:
        facts = self._cache.get(ip)
        if facts is not None:
            self._cache.move_to_end(ip)
            return facts
        facts = self._lookup(ip)
        if self._cache_size:
            self._cache[ip] = facts
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return facts

    def _lookup(self, ip: str) -> GeoFacts:
        address = _address(ip)
        if address is None or not self._databases:
            return NO_GEO
        place = self._place(address) or Place()
        asn, as_org = read_asn(self._record("asn", address))
        facts = GeoFacts(
            country=place.country,
            city=place.city,
            latitude=place.latitude,
            longitude=place.longitude,
            accuracy_km=place.accuracy_km,
            asn=asn,
            as_org=as_org,
            **read_flags(self._record("anonymous_ip", address)),
        )
        # Most cached addresses are in no database: share one empty value for them.
        return NO_GEO if facts == NO_GEO else facts

    def _place(self, address: str) -> Place | None:
        city = read_place(self._record("city", address))
        if city is not None and city.country is not None:
            return city
        # The city database knows no country here: the country database may.
        country = read_place(self._record("country", address))
        if city is None or country is None:
            return city or country
        return Place(country.country, city.city, city.latitude, city.longitude, city.accuracy_km)

    def _record(self, slot: Slot, address: str) -> object:
        database = self._databases.get(slot)
        return None if database is None else database.get(address)

    # ------------------------------------------------------------ reload

    def maybe_reload(self) -> tuple[Slot, ...]:
        """Reload the databases whose file changed; answer the slots reloaded."""
        changed = [db for db in self._databases.values() if self._due(db)]
        return self._install_all([(db, _try_open(db.slot, db.path)) for db in changed])

    async def reload_changed(self) -> tuple[Slot, ...]:
        """`maybe_reload`, with the copying and checking in a worker thread."""
        changed = [db for db in self._databases.values() if self._due(db)]
        opened = [(db, await asyncio.to_thread(_try_open, db.slot, db.path)) for db in changed]
        return self._install_all(opened)

    async def watch(self, interval: float) -> None:
        """Reload changed databases every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            await self.reload_changed()

    def _due(self, database: _Database) -> bool:
        """Whether the file changed to a version not tried yet (a missing one: logged)."""
        current = FileId.of(database.path)
        if current == database.file_id or current == database.seen:
            database.seen = current
            return False
        database.seen = current
        if current is None:
            _keep(database, "the file is gone")
        return current is not None

    def _install_all(self, opened: list[tuple[_Database, Opened]]) -> tuple[Slot, ...]:
        reloaded = tuple(db.slot for db, result in opened if self._install(db, result))
        if reloaded:
            self._cache.clear()
        return reloaded

    def _install(self, database: _Database, opened: Opened) -> bool:
        if database.slot not in self._databases:  # closed while the thread worked
            if not isinstance(opened, GeoError):
                opened[0].close()
            return False
        if isinstance(opened, GeoError):
            return _keep(database, str(opened))
        old = database.reader
        database.reader, database.file_id = opened
        database.warned = False
        old.close()
        log.info("GeoIP %s reloaded from %s", database.slot, database.path)
        return True

    def close(self) -> None:
        for database in self._databases.values():
            database.reader.close()
        self._databases.clear()
        self._cache.clear()


def _keep(database: _Database, reason: str) -> bool:
    log.error(
        "GeoIP %s (%s): %s; still serving the database loaded before",
        database.slot, database.path, reason,
    )  # fmt: skip
    return False
