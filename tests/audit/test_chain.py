"""The chained decision log: written by ChainingSink, checked by verify_logs.

Each tampering the issue names (a deleted line, an edited line, a swapped pair, a cut
tail) and the others of its class (an inserted plain line, an inserted forged chained
line, an edited checkpoint, a cut head, a foreign key) must be reported at the right
line; an untouched log — with several interleaved streams, a rotation, pseudonymized
fields — must verify.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from authgate.config.schema import DecisionLogConfig
from authgate.decisionlog.audit_verify import Verdict, verify_logs
from authgate.decisionlog.chain import ChainingSink, line_hash
from authgate.decisionlog.pseudonyms import Pseudonymizer, PseudonymizingSink
from authgate.decisionlog.sinks import FileSink, build_sinks
from authgate.mutate.assertion_keys import AssertionKeys

KEYS = AssertionKeys.generate()


def _record(n: int, user: str = "alice") -> str:
    return json.dumps({"time": "2026-12-04T10:00:00.000Z", "request_id": f"r{n}",
                       "user": user, "decision": "allow", "reason": "policy-allow"},
                      separators=(",", ":"))


def _write(path: Path, batches: list[int], keys: AssertionKeys = KEYS) -> ChainingSink:
    sink = ChainingSink(FileSink(path), keys, checkpoint_every=3600)
    n = 0
    for size in batches:
        sink.write_lines([_record(n + i) for i in range(size)])
        n += size
    return sink


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _put(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines))


def _verify(*paths: Path, live: bool = False, keys: AssertionKeys = KEYS) -> Verdict:
    return verify_logs(list(paths), keys.jwks(), live=live)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "decisions.jsonl"
    _write(path, [3, 4, 2]).close()
    return path


def test_an_untouched_log_verifies(log: Path) -> None:
    verdict = _verify(log)
    assert verdict.ok, verdict.problem
    assert (verdict.records, verdict.checkpoints, verdict.streams) == (9, 2, 1)
    lines = [json.loads(line) for line in _lines(log)]
    assert lines[0]["kind"] == "start" and lines[-1]["kind"] == "final"
    assert [line["seq"] for line in lines] == list(range(11))
    # Each line's prev is the hash of the line before it, as written.
    raw = _lines(log)
    assert all(lines[i]["prev"] == line_hash(raw[i - 1]) for i in range(1, len(raw)))
    # The record's own fields come first and are unchanged.
    assert lines[1]["request_id"] == "r0" and list(lines[1])[:2] == ["time", "request_id"]


def test_a_deleted_line_is_reported_where_the_gap_is(log: Path) -> None:
    lines = _lines(log)
    del lines[4]  # seq 4
    _put(log, lines)
    verdict = _verify(log)
    assert not verdict.ok and verdict.problem is not None
    assert verdict.problem.line == 5  # the line after the gap (old line 6)
    assert "deleted" in verdict.problem.what and "seq 5 where seq 4" in verdict.problem.what


def test_an_edited_line_is_reported_at_that_line(log: Path) -> None:
    lines = _lines(log)
    lines[3] = lines[3].replace('"decision":"allow"', '"decision":"deny"')
    _put(log, lines)
    verdict = _verify(log)
    assert not verdict.ok and verdict.problem is not None
    assert verdict.problem.line == 4 and "changed" in verdict.problem.what


def test_an_edited_last_record_is_caught_by_the_final_checkpoint(log: Path) -> None:
    lines = _lines(log)
    lines[-2] = lines[-2].replace("alice", "mallory")
    _put(log, lines)
    verdict = _verify(log)
    assert verdict.problem is not None and verdict.problem.line == len(lines) - 1


def test_a_swapped_pair_is_reported_as_reordered(log: Path) -> None:
    lines = _lines(log)
    lines[5], lines[6] = lines[6], lines[5]
    _put(log, lines)
    verdict = _verify(log)
    assert verdict.problem is not None
    assert verdict.problem.line == 6 and "reordered" in verdict.problem.what


def test_a_cut_tail_is_reported(log: Path) -> None:
    lines = _lines(log)
    _put(log, lines[:-3])  # the final checkpoint and two records gone
    verdict = _verify(log)
    assert not verdict.ok and verdict.problem is not None
    assert verdict.problem.line == len(lines) - 3
    assert "without its final checkpoint" in verdict.problem.what
    # A live gateway's log is not broken for that; its unsigned tail is named.
    live = _verify(log, live=True)
    assert live.ok and list(live.unsigned_tails.values()) == [7]  # since the start checkpoint


def test_a_cut_head_is_reported(log: Path) -> None:
    _put(log, _lines(log)[2:])
    verdict = _verify(log)
    assert verdict.problem is not None and verdict.problem.line == 1
    assert "head is missing" in verdict.problem.what


def test_an_inserted_plain_line_is_reported(log: Path) -> None:
    lines = _lines(log)
    lines.insert(3, _record(99, "mallory"))
    _put(log, lines)
    verdict = _verify(log)
    assert verdict.problem is not None and verdict.problem.line == 4
    assert "inserted" in verdict.problem.what


def test_an_inserted_line_with_forged_chain_fields_is_reported_at_itself(log: Path) -> None:
    lines = _lines(log)
    before = json.loads(lines[2])
    forged = json.loads(_record(99, "mallory"))
    forged.update(stream=before["stream"], seq=before["seq"] + 1, prev=line_hash(lines[2]))
    lines.insert(3, json.dumps(forged, separators=(",", ":")))
    _put(log, lines)
    verdict = _verify(log)
    assert verdict.problem is not None
    assert verdict.problem.line == 4 and "inserted" in verdict.problem.what


def test_a_rewritten_tail_is_caught_by_the_signature(log: Path) -> None:
    # Someone who recomputes the chain after an edit still cannot sign the checkpoint.
    lines = _lines(log)
    edited = [lines[0]]
    for line in lines[1:]:
        fields = json.loads(line)
        fields.pop("stream"), fields.pop("seq"), fields.pop("prev")
        edited.append(json.dumps(fields, separators=(",", ":")).replace("alice", "mallory"))
    chained = [edited[0]]
    for n, line in enumerate(edited[1:], start=1):
        head = json.loads(lines[n])
        chained.append(line[:-1] + f',"stream":"{head["stream"]}","seq":{n},'
                       f'"prev":"{line_hash(chained[-1])}"}}')
    _put(log, chained)
    verdict = _verify(log)
    assert verdict.problem is not None and verdict.problem.line == len(lines)
    assert "signed claims differ" in verdict.problem.what


def test_another_key_does_not_verify(log: Path) -> None:
    verdict = _verify(log, keys=AssertionKeys.generate())
    assert verdict.problem is not None and verdict.problem.line == 1
    assert "signature does not verify" in verdict.problem.what


def test_interleaved_streams_and_a_rotation_verify(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    one, two = _write(path, [2]), _write(path, [1])
    one.write_lines([_record(10)])
    path.rename(tmp_path / "decisions.jsonl.1")  # logrotate moves the file ...
    one.reopen()  # ... and SIGHUP reopens it: the new file starts signed
    two.reopen()
    one.write_lines([_record(11)])
    two.write_lines([_record(12)])
    one.close()
    two.close()
    whole = _verify(tmp_path / "decisions.jsonl.1", path)
    assert whole.ok, whole.problem
    assert (whole.records, whole.streams) == (6, 2)
    assert _verify(path).ok  # the current file alone starts at signed rotation points
    # but the older file alone ends without the final checkpoints
    assert not _verify(tmp_path / "decisions.jsonl.1").ok


def test_pseudonymized_lines_are_chained_as_written(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    chained = ChainingSink(FileSink(path), KEYS)
    sink = PseudonymizingSink(chained, Pseudonymizer("k" * 32, ["user"]))
    sink.write_lines([_record(1)])
    sink.checkpoint()
    sink.close()
    assert "alice" not in path.read_text()
    assert _verify(path).ok
    assert [json.loads(line).get("kind") for line in _lines(path)] == ["start", None, "idle", "final"]


def test_the_config_builds_a_chained_sink_with_its_key_in_the_state_dir(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    config = DecisionLogConfig.model_validate({"sinks": [{"file": str(path), "chain": True}]})
    state = tmp_path / "state"
    [sink] = build_sinks(config, str(state))
    sink.write_lines([_record(1)])
    sink.close()
    key_file = state / "audit-signing-keys.pem"
    assert key_file.stat().st_mode & 0o077 == 0  # the signing key is private
    jwks = json.loads((state / "audit-signing-keys.pem.jwks.json").read_text())
    assert "d" not in jwks["keys"][0]  # only the public half is published
    assert verify_logs([path], jwks).ok


def test_chain_is_for_file_sinks_only() -> None:
    with pytest.raises(ValueError, match="file sinks only"):
        DecisionLogConfig.model_validate({"sinks": [{"stdout": True, "chain": True}]})


async def test_the_writer_signs_unsigned_lines_when_it_goes_idle(tmp_path: Path) -> None:
    from authgate.decisionlog.writer import DecisionLog
    from tests.test_decision_log import make_record  # a real DecisionRecord

    path = tmp_path / "decisions.jsonl"
    log = DecisionLog([ChainingSink(FileSink(path), KEYS, checkpoint_every=3600)],
                      idle_checkpoint=0.05)
    await log.start()
    log.submit(make_record())
    await log.flush()
    for _ in range(100):
        if any('"kind":"idle"' in line for line in _lines(path)):
            break
        await asyncio.sleep(0.02)
    assert [json.loads(line).get("kind") for line in _lines(path)] == ["start", None, "idle"]
    assert _verify(path, live=True).unsigned_tails == {}
    await log.close()
    assert _verify(path).ok
