"""The command that installs one of this project's packages from where this copy came from.

The name ``hayakoe`` on the public index belongs to upstream HayaKoe, so ``pip install
'hayakoe[s3]'`` would replace this project with upstream's. A hint must instead name this
project's own plugin distribution, taken from:

1. the checkout this code runs from (``<checkout>/plugins/<package>/``): ``pip install -e`` when
   the code is used in place (an editable install or a source tree), plain ``pip install``
   otherwise;
2. else the place pip recorded for the installed ``hayakoe`` (PEP 610 ``direct_url.json``): a
   folder (a checkout, as above) or a wheel file, whose folder is searched for the plugin's wheel
   (``--no-index --find-links``; ``python -m build`` in each plugin folder makes them);
3. else an index serving this project (it was installed from one): the distribution by name.

The command uses the running interpreter (``<python> -m pip``), so it installs into the same
environment.
"""

from __future__ import annotations

import json
import shlex
import sys
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlsplit

_CHECKOUT = Path(__file__).resolve().parent.parent
# This project's own requirements of each distribution's extras: installing from a folder, pip
# would look these names up on the index (and find nothing, or someone else's package).
_OWN_REQUIREMENTS = {"hayakoe-backend-onnx[export]": ("hayakoe-backend-torch",)}


def install_command(requirement: str) -> str:
    """A shell command that installs ``requirement`` (``"hayakoe-dest-s3"``,
    ``"hayakoe-backend-onnx[export]"``) of this project, with this project's own dependencies."""
    wanted = [requirement, *_OWN_REQUIREMENTS.get(requirement, ())]
    pip = f"{shlex.quote(sys.executable)} -m pip install"
    checkout = _checkout()
    if checkout is not None:
        editable = not _inside_site_packages(Path(__file__))
        args = [_folder_argument(checkout, r, editable) for r in wanted]
        return f"{pip} {' '.join(args)}"
    wheels = _wheel_folder()
    names = " ".join(shlex.quote(r) for r in wanted)
    if wheels is not None:
        return f"{pip} --no-index --find-links {shlex.quote(str(wheels))} {names}"
    return f"{pip} {names}"


def _folder_argument(checkout: Path, requirement: str, editable: bool) -> str:
    name, _, extra = requirement.partition("[")
    folder = checkout / "plugins" / name.replace("-", "_")
    target = shlex.quote(f"{folder}[{extra}" if extra else str(folder))
    return f"-e {target}" if editable else target


def _checkout() -> Path | None:
    """The checkout holding this code, or the one pip installed ``hayakoe`` from."""
    if (_CHECKOUT / "plugins").is_dir() and (_CHECKOUT / "pyproject.toml").is_file():
        return _CHECKOUT
    origin = _origin()
    if origin is not None and origin.is_dir() and (origin / "plugins").is_dir():
        return origin
    return None


def _wheel_folder() -> Path | None:
    origin = _origin()
    return origin.parent if origin is not None and origin.suffix == ".whl" else None


def _origin() -> Path | None:
    """Where pip installed ``hayakoe`` from, when that was a local path (PEP 610)."""
    try:
        text = metadata.distribution("hayakoe").read_text("direct_url.json")
        url = json.loads(text)["url"] if text else ""
    except (metadata.PackageNotFoundError, ValueError, KeyError, TypeError):
        return None
    parts = urlsplit(url)
    return Path(unquote(parts.path)) if parts.scheme == "file" else None


def _inside_site_packages(path: Path) -> bool:
    return any(part in ("site-packages", "dist-packages") for part in path.parts)
