"""Where boto3's credential chain finds credentials, said without the secret and without the network.

The chain is botocore's own (environment, shared credentials and config files for ``AWS_PROFILE``,
SSO, assumed roles, ``credential_process``, ...) minus its last two links, which ask a metadata
service over the network: the EC2 instance role and the container role. Container credentials are
recognised by their environment variables instead; an instance role cannot be seen without asking
the instance, so on EC2 without any other credentials this says ``None`` (and publishing asks for
keys, which the user may leave empty to use the role).
"""

from __future__ import annotations

import os

_NETWORK_PROVIDERS = ("iam-role", "container-role")
_CONTAINER_VARIABLES = ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")


def find_credentials() -> str | None:
    """A short description of where credentials come from now, or ``None`` if none are found."""
    import botocore.session
    from botocore.exceptions import BotoCoreError

    session = botocore.session.Session()
    profile = os.environ.get("AWS_PROFILE") or "default"
    try:
        resolver = session.get_component("credential_provider")
        for name in _NETWORK_PROVIDERS:
            resolver.remove(name)
        found = resolver.load_credentials()  # deferred kinds (SSO, roles) fetch nothing yet
    except BotoCoreError:  # a profile that does not exist, a broken config file
        return None
    if found is None:
        container = next((v for v in _CONTAINER_VARIABLES if os.environ.get(v)), None)
        return f"container credentials ({container})" if container else None
    descriptions = {
        "env": "environment (AWS_ACCESS_KEY_ID)",
        "shared-credentials-file": f"AWS profile {profile} (shared credentials file)",
        "config-file": f"AWS profile {profile} (config file)",
        "sso": f"AWS SSO login (profile {profile})",
        "login": f"AWS console login (profile {profile})",
        "assume-role": f"role assumed by AWS profile {profile}",
        "assume-role-with-web-identity": "web identity role (AWS_ROLE_ARN)",
        "custom-process": f"credential_process of AWS profile {profile}",
    }
    return descriptions.get(found.method, f"boto3 credential chain ({found.method})")
