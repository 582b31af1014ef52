""".env handling: where it is, reading without overriding, and saving privately and whole."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from dotenv import dotenv_values

from hayakoe_core.errors import HayakoeError
from hayakoe_core.publish.envfile import env_file, load_env_file, save_env_values

SECRET = "hf_s3cr3t'quote\"double\\back $dollar #hash ü"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask():
    """The loosest umask: a file made with default permissions would be world-readable."""
    old = os.umask(0)
    yield
    os.umask(old)


def test_the_path_is_the_argument_then_the_variable_then_dot_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HAYAKOE_ENV_FILE", raising=False)
    assert env_file() == Path(".env")
    monkeypatch.setenv("HAYAKOE_ENV_FILE", "/etc/hayakoe.env")
    assert env_file() == Path("/etc/hayakoe.env")
    assert env_file("/x/.env") == Path("/x/.env")


def test_loading_never_overrides_the_real_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / ".env"
    path.write_text("# creds\nHAYAKOE_T_REAL=from-file\nHAYAKOE_T_NEW='from file'\nEMPTY_KEY\n")
    monkeypatch.setenv("HAYAKOE_T_REAL", "from-environment")
    monkeypatch.delenv("HAYAKOE_T_NEW", raising=False)

    found = load_env_file(path)

    assert found == {"HAYAKOE_T_REAL": "from-file", "HAYAKOE_T_NEW": "from file"}
    assert os.environ["HAYAKOE_T_REAL"] == "from-environment"
    assert os.environ["HAYAKOE_T_NEW"] == "from file"


def test_loading_a_missing_file_finds_nothing(tmp_path: Path) -> None:
    assert load_env_file(tmp_path / "absent.env") == {}


def test_a_new_file_is_0600_from_its_first_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, permissive_umask: None
) -> None:
    """Watch every file the save opens for writing and every rename: the file is private when
    the first byte could be written, and the one renamed into place is private too."""
    path = tmp_path / ".env"
    seen: list[tuple[str, int, int]] = []
    real_fdopen, real_replace = os.fdopen, os.replace

    def fdopen(fd, *args, **kwargs):
        st = os.fstat(fd)
        seen.append(("open", stat.S_IMODE(st.st_mode), st.st_size))
        return real_fdopen(fd, *args, **kwargs)

    def replace(src, dst, *args, **kwargs):
        seen.append(("rename", _mode(Path(src)), Path(src).stat().st_size))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "fdopen", fdopen)
    monkeypatch.setattr(os, "replace", replace)
    save_env_values({"HF_TOKEN": SECRET}, path)
    monkeypatch.undo()

    assert next((what, mode) for what, mode, _ in seen if what == "open") == ("open", 0o600)
    assert seen[0][2] == 0  # empty when opened: nothing was written before the mode was set
    assert all(mode == 0o600 for _, mode, _ in seen)
    assert _mode(path) == 0o600
    assert dotenv_values(path) == {"HF_TOKEN": SECRET}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]  # no temporary file left


def test_an_update_keeps_lines_and_comments_and_stays_0600(tmp_path: Path, permissive_umask: None) -> None:
    path = tmp_path / ".env"
    path.write_text("# my settings\nHAYAKOE_HF_REPO=org/voices\n\n# token below\nHF_TOKEN=old\nOTHER=1")
    path.chmod(0o644)  # a hand-made file that was world-readable

    save_env_values({"HF_TOKEN": SECRET, "AWS_REGION": "ap-northeast-1"}, path)

    assert path.read_text().splitlines() == [
        "# my settings",
        "HAYAKOE_HF_REPO=org/voices",
        "",
        "# token below",
        f"HF_TOKEN='{SECRET.replace(chr(92), chr(92) * 2).replace(chr(39), chr(92) + chr(39))}'",
        "OTHER=1",
        "AWS_REGION='ap-northeast-1'",
    ]
    assert dotenv_values(path)["HF_TOKEN"] == SECRET
    assert _mode(path) == 0o600
    save_env_values({"OTHER": "2"}, path)
    assert _mode(path) == 0o600
    assert dotenv_values(path)["OTHER"] == "2"


def test_a_linked_env_file_is_updated_where_it_points(tmp_path: Path) -> None:
    real = tmp_path / "secrets" / "hayakoe.env"
    real.parent.mkdir()
    real.write_text("A=1\n")
    link = tmp_path / ".env"
    link.symlink_to(real)
    save_env_values({"B": "2"}, link)
    assert link.is_symlink()
    assert dotenv_values(real) == {"A": "1", "B": "2"}


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"BAD NAME": "x"}, "not an environment variable name"),
        ({"HF_TOKEN": "line\nbreak"}, "line break or NUL"),
    ],
)
def test_unsavable_values_change_nothing(tmp_path: Path, values: dict, needle: str) -> None:
    path = tmp_path / ".env"
    path.write_text("KEEP=1\n")
    with pytest.raises(HayakoeError, match=needle) as err:
        save_env_values(values, path)
    assert "line\nbreak" not in str(err.value)
    assert path.read_text() == "KEEP=1\n"


def test_a_write_that_fails_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    """A real failure half-way: the process may not write files over 120 bytes, so copying the
    old content works and adding the token does not."""
    path = tmp_path / ".env"
    original = "# keep me\nHAYAKOE_S3_BUCKET=voices\nAWS_ACCESS_KEY_ID=AKIAEXAMPLE\n"
    path.write_text(original)
    path.chmod(0o600)
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (120, 120))
        from hayakoe_core.errors import HayakoeError
        from hayakoe_core.publish.envfile import save_env_values
        try:
            save_env_values({{"AWS_SECRET_ACCESS_KEY": {SECRET * 4!r}}}, {str(path)!r})
        except HayakoeError as exc:
            print(exc)
            sys.exit(3)
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 3, run.stderr
    assert f"cannot write {path}: File too large; it was left as it was" in run.stdout
    assert "s3cr3t" not in run.stdout + run.stderr
    assert path.read_text() == original
    assert _mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]


def test_an_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(HayakoeError, match=r"cannot write .*missing-dir.*\.env"):
        save_env_values({"A": "1"}, tmp_path / "missing-dir" / ".env")
