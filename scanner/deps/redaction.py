"""Credentials in dependency declarations: ``https://user:password@index/simple`` and token-only userinfo
(``https://TOKEN@host``) are common in requirements files and lock sources. The shared secret patterns do
not cover a URL password, so it is redacted here, in the project's form (type, at most 4 leading
characters, length), before any text leaves a dependency source."""

from __future__ import annotations

import re

from scanner.secret_scan import redact

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")
_TOKEN_LIKE = 20
"""A user part without a password at least this long is taken for a token."""


def _mask(kind: str, secret: str) -> str:
    return f"[REDACTED {kind}: {secret[:4]}… ({len(secret)} chars)]"


def _replace(match: re.Match[str]) -> str:
    userinfo = match.group("userinfo")
    if userinfo.startswith("[REDACTED"):
        return match.group(0)
    user, sep, password = userinfo.partition(":")
    if sep and password:
        return f"{match.group('scheme')}{user}:{_mask('url-password', password)}@"
    if not sep and len(user) >= _TOKEN_LIKE:
        return f"{match.group('scheme')}{_mask('url-token', user)}@"
    return match.group(0)


def redact_dependency_text(text: str) -> str:
    """``text`` with URL credentials and every known secret pattern redacted."""
    return _USERINFO.sub(_replace, redact(text)) if text else text
