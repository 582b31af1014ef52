"""The publish ledger's sweep: records whose publisher died, and records cut off before they were
renamed into place (a publisher killed inside ``open_record``)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hayakoe_core.publish import ledger

URL = "s3://bucket/voices"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HAYAKOE_CACHE", str(tmp_path / "cache"))
    record = ledger.open_record(URL, "first")  # makes the folder
    record.remove()
    return ledger._folder()


def _part_held_by_dead_process(folder: Path) -> Path:
    """A ``.part`` file as a publisher SIGKILLed inside open_record leaves it: locked, written
    half, never renamed."""
    part = folder / ".cut.12345.part"
    code = (
        "import fcntl, os, signal, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.write(fd, b'{\"url\": ')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(part)], timeout=60)
    assert done.returncode == -9 and part.is_file()
    return part


def test_a_part_file_whose_writer_died_is_swept(folder: Path) -> None:
    part = _part_held_by_dead_process(folder)
    assert list(ledger.abandoned(URL)) == []
    assert not part.exists()


def test_a_part_file_still_being_written_is_left(folder: Path) -> None:
    part = folder / ".busy.1.part"
    fd = os.open(part, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        list(ledger.abandoned(URL))
        assert part.exists()
    finally:
        os.close(fd)


def test_a_record_whose_publisher_died_is_yielded(folder: Path) -> None:
    record = ledger.open_record(URL, "dead")
    record.close()  # as its process's exit would
    found = [r.staging_id for r in ledger.abandoned(URL)]
    assert found == ["dead"]
