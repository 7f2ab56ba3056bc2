"""Reading a JSON document from a file of bounded size (stored results, baselines)."""

from __future__ import annotations

import json
import os
from typing import Any


class JsonFileError(Exception):
    """The file is missing, unreadable, too large or not JSON; the message names the path."""


def read_json_file(path: str, max_bytes: int) -> Any:
    """The parsed content of ``path``, refused before reading when larger than ``max_bytes``."""
    try:
        if os.path.getsize(path) > max_bytes:
            raise JsonFileError(f"{path}: larger than {max_bytes >> 20} MiB")
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as exc:
        raise JsonFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonFileError(f"{path}: not JSON: {exc}") from None
