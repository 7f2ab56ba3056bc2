"""CycloneDX 1.6 ML-BOM of a scan: models, their files, libraries, vulnerabilities and model cards.

- :mod:`scanner.bom.grouping`: which scanned files form which model;
- :mod:`scanner.bom.modelcard`: what a model card README and ``config.json`` tell;
- :mod:`scanner.bom.builder`: the BOM itself, built with cyclonedx-python-lib.

Every property this project adds is named ``artifact-scanner:...`` (documented in docs/bom.md).
"""

from scanner.bom.builder import NAMESPACE, build_bom

__all__ = ["NAMESPACE", "build_bom"]
