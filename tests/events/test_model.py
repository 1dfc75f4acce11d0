"""`StateEvent.encode` / `decode`: a round trip for every kind, and junk refused."""

from __future__ import annotations

import pytest

from authgate.events import EventKind, StateEvent, decode


@pytest.mark.parametrize("kind", list(EventKind))
def test_every_kind_round_trips(kind: EventKind) -> None:
    event = StateEvent(kind, session_key="ab" * 32, provider="corp", subject="alice",
                       ref="r-1", reason="session-ended")  # fmt: skip
    assert decode(event.encode()) == event


def test_empty_fields_are_left_out_and_read_back_as_empty() -> None:
    data = StateEvent(EventKind.SESSION_ENDED, session_key="k").encode()
    assert data == b'{"kind":"session-ended","session_key":"k"}'
    assert decode(data) == StateEvent(EventKind.SESSION_ENDED, session_key="k")


def test_unknown_fields_from_a_newer_replica_are_ignored() -> None:
    event = decode(b'{"kind":"subject-ended","provider":"corp","subject":"a","later":1}')
    assert event == StateEvent(EventKind.SUBJECT_ENDED, provider="corp", subject="a")


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'"session-ended"',
        b"{}",
        b'{"kind": "no-such-kind"}',
        b'{"kind": "session-ended", "session_key": 7}',
        b'{"kind": "session-ended", "provider": null}',
    ],
)
def test_junk_raises_value_error(junk: bytes) -> None:
    with pytest.raises(ValueError):
        decode(junk)
