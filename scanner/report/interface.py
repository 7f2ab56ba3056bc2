"""The renderer interface: one renderer per output format, each turning a ScanReport into text."""

from __future__ import annotations

import abc
from typing import ClassVar

from scanner.model import ScanReport


class Renderer(abc.ABC):
    """Renders a scan report to one output format."""

    name: ClassVar[str]
    """Format name as used on the command line (``json``, ``text`` ...)."""

    @abc.abstractmethod
    def render(self, report: ScanReport) -> str:
        """The whole output as text; deterministic for the same report."""
