"""Where publishing keeps its own objects under a target: ``<prefix>/.hayakoe/``.

Readers never look there (speaker folders are ``<repo folder>/speakers/<name>/``), so staged trees
and the state object are invisible to them.
"""

from __future__ import annotations

from hayakoe_core.types import Target
from hayakoe_dest_s3.urls import target_for

HIDDEN = ".hayakoe"
STATE = f"{HIDDEN}/state.json"
STAGING = f"{HIDDEN}/staging"
PROBE = f"{HIDDEN}/probe-"
#: Inside a staging area: what was staged there (sha256, size, how, the live ETag it matched).
INDEX = ".staged.json"
#: Inside a staging area: the multipart uploads a pre-copy opened at live keys (precopy.py).
PRECOPY = ".precopy.json"
#: The staging area's own records, which are not part of the staged tree.
RECORDS = (INDEX, PRECOPY)


def staging_folder(target: Target, staging_id: str) -> str:
    """The key prefix of one staging area: ``<prefix>/.hayakoe/staging/<id>``."""
    return target.join(STAGING, staging_id)


def staging_target(target: Target, staging_id: str) -> Target:
    """The staging area as a target of its own: its URL loads like any S3 destination."""
    return target_for(target.location, staging_folder(target, staging_id))
