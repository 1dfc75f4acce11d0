"""What the GeoIP databases say about one IP address.

Contract: `GeoFacts` is a frozen value; a field is None (or False) when no configured
database knows it, so "unknown" is never mistaken for a fact — a country criterion
sees `country is None`, not a guess. `GeoError` is a database that cannot be used
(missing, unreadable, corrupt, or of the wrong kind), naming the file.
Pure module: no `maxminddb` import.
"""

from __future__ import annotations

from dataclasses import dataclass


class GeoError(Exception):
    """A GeoIP database cannot be used; the message names the file and the reason."""


@dataclass(frozen=True, slots=True)
class GeoFacts:
    country: str | None = None  # ISO 3166-1 alpha-2, upper case
    city: str | None = None  # English name where the database has one
    latitude: float | None = None
    longitude: float | None = None
    accuracy_km: float | None = None  # MaxMind's accuracy_radius: the point is this vague
    asn: int | None = None
    as_org: str | None = None
    is_anonymous: bool = False
    is_vpn: bool = False
    is_tor: bool = False
    is_hosting: bool = False
    is_public_proxy: bool = False
    is_residential_proxy: bool = False

    @property
    def anonymous_network(self) -> bool:
        """Whether the database lists the address as any kind of anonymizer."""
        return (
            self.is_anonymous
            or self.is_vpn
            or self.is_tor
            or self.is_hosting
            or self.is_public_proxy
            or self.is_residential_proxy
        )

    @property
    def coordinates(self) -> tuple[float, float] | None:
        if self.latitude is None or self.longitude is None:
            return None
        return self.latitude, self.longitude


NO_GEO = GeoFacts()
