"""Build the CycloneDX 1.6 JSON BOM of a :class:`~scanner.model.ScanReport`.

One ``machine-learning-model`` component per model (see :mod:`scanner.bom.grouping`) with its files as
``file`` sub-components carrying SHA-256 and BLAKE3; libraries the model needs as ``library``
components with ``pkg:pypi`` purls (from requirements/pyproject in the model directory and from
versions its files record), which the model depends on; vulnerabilities from dependency findings
pointing at the affected library; the verdict and finding counts as metadata properties. bom-refs are
derived from paths and purls, so they are stable; in reproducible mode the timestamp is the report's
pinned one and the serial number is derived from the content.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from scanner import __version__
from scanner.bom.grouping import ModelGroup, group_models
from scanner.bom.modelcard import CardFacts, model_card_json, read_card
from scanner.model import Finding, ScanReport, ScanResult, Severity

NAMESPACE = "artifact-scanner"
"""Prefix of every property name this project adds."""
MAX_SHAPES = 32
"""Tensor shapes listed per file (the count of the rest is given)."""
_FRAMEWORK_PACKAGES = {
    "onnx": "onnx",
    "keras": "keras",
    "tensorflow": "tensorflow",
    "pytorch": "torch",
    "torch": "torch",
    "safetensors": "safetensors",
    "gguf": "gguf",
    "numpy": "numpy",
    "npy": "numpy",
    "npz": "numpy",
    "joblib": "joblib",
    "transformers": "transformers",
}
"""Framework (or format) recorded by a file -> the PyPI package that loads it."""


def _prop(name: str, value: Any) -> Any:
    from cyclonedx.model import Property

    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return Property(name=f"{NAMESPACE}:{name}", value=text)


def _shapes(shapes: Any) -> str | None:
    if not isinstance(shapes, dict) or not shapes:
        return None
    items = sorted(shapes.items())[:MAX_SHAPES]
    summary: dict[str, Any] = {str(k): v for k, v in items}
    if len(shapes) > MAX_SHAPES:
        summary["..."] = f"{len(shapes) - MAX_SHAPES} more"
    return json.dumps(summary, sort_keys=True, separators=(",", ":"))


def _file_properties(result: ScanResult) -> list[Any]:
    props = result.properties
    out = [_prop("format", result.format), _prop("size", str(result.digests.size if result.digests else 0))]
    for key in ("tensor_count", "parameter_count", "framework", "architecture", "chat_template"):
        if key in props:
            out.append(_prop(key, str(props[key]) if not isinstance(props[key], str) else props[key]))
    if props.get("dtypes"):
        out.append(_prop("dtypes", ",".join(str(d) for d in props["dtypes"])))
    shapes = _shapes(props.get("shapes"))
    if shapes:
        out.append(_prop("shapes", shapes))
    if props.get("libraries"):
        out.append(_prop("libraries", props["libraries"]))
    active = [f for f in result.findings if f.suppressed_by is None]
    out.append(_prop("findings", str(len(active))))
    if result.worst is not None:
        out.append(_prop("worst_severity", result.worst.label))
    return out


def _file_component(result: ScanResult, ref: str) -> Any:
    from cyclonedx.model import HashAlgorithm, HashType
    from cyclonedx.model.component import Component, ComponentType

    hashes = []
    if result.digests is not None:
        hashes = [
            HashType(alg=HashAlgorithm.SHA_256, content=result.digests.sha256),
            HashType(alg=HashAlgorithm.BLAKE3, content=result.digests.blake3),
        ]
    return Component(
        type=ComponentType.FILE,
        name=result.artifact.relpath,
        bom_ref=ref,
        hashes=hashes,
        properties=_file_properties(result),
    )


def _model_properties(group: ModelGroup, facts: CardFacts) -> list[Any]:
    tensors = params = 0
    have_tensors = have_params = False
    dtypes: set[str] = set()
    formats: list[str] = []
    frameworks: list[str] = []
    chat = False
    for r in group.files:
        props = r.properties
        if isinstance(props.get("tensor_count"), int):
            tensors += props["tensor_count"]
            have_tensors = True
        if isinstance(props.get("parameter_count"), int):
            params += props["parameter_count"]
            have_params = True
        dtypes.update(str(d) for d in props.get("dtypes") or ())
        if r.format not in formats and r.format not in ("text", "unknown", "empty"):
            formats.append(r.format)
        if isinstance(props.get("framework"), str) and props["framework"] not in frameworks:
            frameworks.append(props["framework"])
        chat = chat or bool(props.get("chat_template"))
    out = [_prop("format", ",".join(formats))]
    if have_tensors:
        out.append(_prop("tensor_count", str(tensors)))
    if have_params:
        out.append(_prop("parameter_count", str(params)))
    if dtypes:
        out.append(_prop("dtypes", ",".join(sorted(dtypes))))
    if frameworks:
        out.append(_prop("framework", ",".join(frameworks)))
    if facts.architecture:
        out.append(_prop("architecture", facts.architecture))
    if facts.task:
        out.append(_prop("task", facts.task))
    if chat:
        out.append(_prop("chat_template", "true"))
    findings = [f for r in group.files for f in r.findings if f.suppressed_by is None]
    out.append(_prop("findings", str(len(findings))))
    if findings:
        out.append(_prop("worst_severity", max(f.severity for f in findings).label))
    missing = facts.missing()
    out.append(_prop("modelcard:missing", ",".join(missing)))
    return out


def _purl(name: str, version: str | None) -> Any:
    from packageurl import PackageURL

    return PackageURL(type="pypi", name=name.lower().replace("_", "-"), version=version or None)


class _Libraries:
    """Library components by purl, so each appears once."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def add(self, name: str, version: str | None, source: str) -> str:
        from cyclonedx.model.component import Component, ComponentType

        purl = _purl(name, version)
        ref: str = purl.to_string()
        if ref not in self.components:
            self.components[ref] = Component(
                type=ComponentType.LIBRARY,
                name=purl.name,
                version=version or None,
                purl=purl,
                bom_ref=ref,
                properties=[_prop("source", source)],
            )
        return ref


def _file_libraries(
    files: Iterable[ScanResult], libraries: _Libraries, known: Mapping[str, str] | None = None
) -> list[str]:
    """Library bom-refs the files need: requirements, recorded versions (and ``known`` ones, e.g. a
    config's ``transformers_version``), then unversioned loaders of formats and frameworks not
    already named with a version."""
    refs: list[str] = []
    named: set[str] = set()
    loaders: list[tuple[str, str]] = []
    for name, version in sorted((known or {}).items()):
        refs.append(libraries.add(name, version, "recorded:config.json"))
        named.add(name)
    for r in files:
        props = r.properties
        for row in props.get("dependencies") or ():
            if isinstance(row, dict) and isinstance(row.get("name"), str):
                refs.append(
                    libraries.add(row["name"], row.get("version"), f"requirement:{r.artifact.relpath}")
                )
                named.add(row["name"].lower())
        recorded = props.get("libraries")
        if isinstance(recorded, dict):
            for name, version in sorted(recorded.items()):
                source = f"recorded:{r.artifact.relpath}"
                refs.append(libraries.add(str(name), str(version) if version else None, source))
                named.add(str(name).lower())
        # The format's own loader (safetensors, onnx ...) and the framework the file records (a
        # safetensors file saved from numpy or torch) are both libraries the model needs.
        for label in (r.format, props.get("framework")):
            package = _FRAMEWORK_PACKAGES.get(label) if isinstance(label, str) else None
            if package:
                loaders.append((package, r.artifact.relpath))
    for package, where in loaders:
        if package not in named:
            refs.append(libraries.add(package, None, f"framework:{where}"))
    return list(dict.fromkeys(refs))


def _cvss_method(vector: str) -> Any:
    from cyclonedx.model.vulnerability import VulnerabilityScoreSource

    if vector.startswith("CVSS:4"):
        return VulnerabilityScoreSource.CVSS_V4
    if vector.startswith("CVSS:3.1"):
        return VulnerabilityScoreSource.CVSS_V3_1
    if vector.startswith("CVSS:3"):
        return VulnerabilityScoreSource.CVSS_V3
    return VulnerabilityScoreSource.CVSS_V2 if vector.startswith("AV:") else VulnerabilityScoreSource.OTHER


def _vulnerabilities(findings: Iterable[Finding], libraries: _Libraries) -> list[Any]:
    from cyclonedx.model.impact_analysis import ImpactAnalysisAffectedStatus
    from cyclonedx.model.vulnerability import (
        BomTarget,
        BomTargetVersionRange,
        Vulnerability,
        VulnerabilityRating,
        VulnerabilityReference,
        VulnerabilitySeverity,
        VulnerabilitySource,
    )

    seen: dict[tuple[str, str], Any] = {}
    for f in findings:
        extra = f.extra
        vid, package = extra.get("vulnerability_id"), extra.get("package")
        if not isinstance(vid, str) or not isinstance(package, str):
            continue
        version = extra.get("version") if isinstance(extra.get("version"), str) else None
        ref = libraries.add(package, version, "vulnerable-dependency")
        if (vid, ref) in seen:
            continue
        fixed = [str(v) for v in extra.get("fixed_in") or () if v]
        versions = []
        if version:
            versions.append(
                BomTargetVersionRange(version=version, status=ImpactAnalysisAffectedStatus.AFFECTED)
            )
        versions += [
            BomTargetVersionRange(version=v, status=ImpactAnalysisAffectedStatus.UNAFFECTED) for v in fixed
        ]
        rating: dict[str, Any] = {"severity": VulnerabilitySeverity(f.severity.label)}
        vector = extra.get("cvss_vector")
        if isinstance(vector, str) and vector:
            rating["method"] = _cvss_method(vector)
            rating["vector"] = vector
        try:
            if extra.get("cvss_score") is not None:
                rating["score"] = Decimal(str(extra["cvss_score"]))
        except InvalidOperation:
            pass
        service = extra.get("service")
        source = VulnerabilitySource(name=service if isinstance(service, str) and service else "OSV")
        aliases = [a for a in extra.get("aliases") or () if isinstance(a, str) and a != vid]
        seen[(vid, ref)] = Vulnerability(
            bom_ref=f"vuln:{vid}:{ref}",
            id=vid,
            source=source,
            references=[VulnerabilityReference(id=a, source=source) for a in aliases],
            ratings=[VulnerabilityRating(**rating)],
            description=f.detail or f.title,
            recommendation=f"Upgrade {package} to {' or '.join(fixed)}"
            if fixed
            else "No fixed version known",
            affects=[BomTarget(ref=ref, versions=versions)],
            properties=[_prop("rule", f.rule_id)]
            + (
                [_prop("affected_range", str(extra["affected_range"]))] if extra.get("affected_range") else []
            ),
        )
    return [seen[k] for k in sorted(seen)]


def _with_config_properties(facts: CardFacts, config: ScanResult | None) -> CardFacts:
    """Fill what the card does not say from what the config analyzer recorded (task, architecture)."""
    if config is None:
        return facts
    props = config.properties

    def text(key: str) -> str | None:
        value = props.get(key)
        return value[:200] if isinstance(value, str) and value else None

    return replace(
        facts,
        task=facts.task if facts.task and facts.task != facts.derived_task else (text("task") or facts.task),
        architecture=facts.architecture or text("architecture"),
        family=facts.family or text("model_type"),
    )


_NULL_SERIAL = "urn:uuid:00000000-0000-0000-0000-000000000000"
"""The serial number in place while a reproducible BOM's digest is computed."""


def _model_ref(index: int, group: ModelGroup) -> str:
    where = group.files[0].artifact.relpath if group.standalone else (group.directory or ".")
    return f"model:{index}:{where}"


def build_bom(report: ScanReport, *, reproducible: bool = False) -> str:
    """The BOM as CycloneDX 1.6 JSON text (``modelCard`` added to each model component)."""
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot6

    roots = list(dict.fromkeys(r.artifact.root for r in report.results))
    groups, loose = group_models(report.results)
    libraries = _Libraries()
    bom = Bom()
    bom.metadata.timestamp = datetime.fromisoformat(report.generated_at.replace("Z", "+00:00"))
    bom.metadata.tools.components.add(
        Component(
            type=ComponentType.APPLICATION,
            name="artifact-scanner",
            version=__version__,
            bom_ref="tool:artifact-scanner",
        )
    )
    counts = Counter(f.severity for r in report.results for f in r.findings if f.suppressed_by is None)
    metadata_props = [_prop("verdict", report.verdict.value), _prop("fail_on", report.fail_on.label)]
    metadata_props += [_prop(f"findings:{s.label}", str(counts.get(s, 0))) for s in reversed(Severity)]
    metadata_props.append(
        _prop("errors", str(len(report.errors) + sum(len(r.errors) for r in report.results)))
    )
    bom.metadata.properties.update(metadata_props)

    cards: dict[str, dict[str, Any]] = {}
    for group in groups:
        index = roots.index(group.root)
        ref = _model_ref(index, group)
        readme = group.file("README.md") if not group.standalone else None
        config = group.file("config.json") if not group.standalone else None
        facts = _with_config_properties(
            read_card(
                Path(readme.artifact.fs_path) if readme else None,
                Path(config.artifact.fs_path) if config else None,
            ),
            config,
        )
        license_choice = []
        if facts.license:
            from cyclonedx.contrib.license.factories import LicenseFactory

            license_choice = [LicenseFactory().make_from_string(facts.license)]
        model = Component(
            type=ComponentType.MACHINE_LEARNING_MODEL,
            name=group.name,
            version=group.version,
            bom_ref=ref,
            licenses=license_choice,
            properties=_model_properties(group, facts),
        )
        for r in group.files:
            model.components.add(_file_component(r, f"file:{index}:{r.artifact.relpath}"))
        bom.components.add(model)
        cards[ref] = model_card_json(facts, f"{ref}#modelcard")
        known = {"transformers": facts.transformers_version} if facts.transformers_version else {}
        lib_refs = _file_libraries(group.files, libraries, known)
        bom.register_dependency(model, [libraries.components[r] for r in lib_refs])
    _file_libraries(loose, libraries)
    for r in loose:
        if r.digests is not None:
            bom.components.add(
                _file_component(r, f"file:{roots.index(r.artifact.root)}:{r.artifact.relpath}")
            )
    for vuln in _vulnerabilities((f for r in report.results for f in r.findings), libraries):
        bom.vulnerabilities.add(vuln)
    for lib in libraries.components.values():
        bom.components.add(lib)

    data = json.loads(JsonV1Dot6(bom).output_as_string())
    _add_model_cards(data.get("components") or [], cards)
    placeholder = f'"serialNumber": "{_NULL_SERIAL}"'
    data["serialNumber"] = _NULL_SERIAL
    text = json.dumps(data, indent=2, sort_keys=False)
    if reproducible:
        digest = hashlib.sha256(text.encode("utf-8")).digest()
        serial = uuid.UUID(bytes=digest[:16], version=5)
    else:
        serial = uuid.uuid4()
    # The key and its value appear once: any other string holding them is escaped (quotes as \").
    return text.replace(placeholder, f'"serialNumber": "{serial.urn}"', 1) + "\n"


def _add_model_cards(components: list[Any], cards: Mapping[str, dict[str, Any]]) -> None:
    for component in components:
        if isinstance(component, dict) and component.get("bom-ref") in cards:
            component["modelCard"] = cards[component["bom-ref"]]
