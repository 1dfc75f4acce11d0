"""The closed vocabulary of risk signals (STYLE.md lesson 2: short kebab-case codes).

Contract: `Signal` names every signal the risk engine can raise; the config schema
validates `adaptive.weights` keys against it, and decision records carry these codes.
Pure module with no imports from the rest of authgate, so the schema can import it.
"""

from __future__ import annotations

import enum


class Signal(enum.StrEnum):
    """One reason a request looks less like its user than usual."""

    NEW_DEVICE = "new-device"
    NEW_COUNTRY = "new-country"
    IMPOSSIBLE_TRAVEL = "impossible-travel"
    ANONYMOUS_NETWORK = "anonymous-network"
    IP_REPUTATION = "ip-reputation"
    FAILED_LOGINS = "failed-logins"
    OUTSIDE_HOURS = "outside-hours"
