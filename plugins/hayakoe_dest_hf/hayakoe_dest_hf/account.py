"""Who publishes: where the client finds a token, and whether that token may write to the repo."""

from __future__ import annotations

import os
from pathlib import Path

from huggingface_hub import constants

from hayakoe_core.errors import HayakoeError
from hayakoe_core.types import Target
from hayakoe_dest_hf import hub
from hayakoe_dest_hf.errors import TOKEN_HINT, is_missing
from hayakoe_dest_hf.session import hub_call

# huggingface_hub's own order (get_token): OIDC exchange, these variables, the saved login file.
_TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


def find_credentials(target: Target) -> str | None:
    """Where a token for ``target`` comes from now, by the client's rules; never the token itself.

    Reads only the environment and the token file: no network (``get_token`` itself may refresh
    an OAuth token or exchange an OIDC one).
    """
    if target.credential:
        return "the token given to hayakoe (hf_token)"
    if os.environ.get("HF_OIDC_RESOURCE", "").strip():
        return "OIDC token exchange (HF_OIDC_RESOURCE)"
    for name in _TOKEN_VARIABLES:
        if os.environ.get(name, "").strip():
            return name
    saved = Path(constants.HF_TOKEN_PATH)
    try:
        if saved.read_text(encoding="utf-8").strip():
            return f"saved login ({saved})"
    except (OSError, UnicodeDecodeError):
        pass
    return None


def probe(target: Target) -> None:
    """A token is there, the Hub knows it, it may write, its owner may write to the repo's
    namespace, and the repo is reachable (a missing one is fine: publishing creates it). A URL
    that pins a commit is refused first: only a branch can be published to."""
    hub.branch_to_write(target)
    source = find_credentials(target)
    repo, api = target.location, hub._api(target)
    if source is None:
        raise HayakoeError(f"no Hugging Face token to publish to {repo}: {TOKEN_HINT}")
    namespace = repo.split("/", 1)[0]
    with hub_call(target):
        me = api.whoami()
        role = (me.get("auth") or {}).get("accessToken", {}).get("role")
        if role == "read":
            raise HayakoeError(
                f"the token from {source} can only read: publishing to {repo} needs a write token"
            )
        owners = {me.get("name"), *(org.get("name") for org in me.get("orgs") or [])}
        if namespace not in owners:
            raise HayakoeError(
                f"the token from {source} belongs to {me.get('name')!r}, who cannot write to {namespace!r}: "
                f"use a token of {namespace!r} or of a member of it"
            )
        try:
            api.repo_info(repo)
        except Exception as exc:
            if not is_missing(exc):
                raise
