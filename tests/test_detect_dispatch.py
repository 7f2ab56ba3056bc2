"""The registry's first-byte dispatch only skips detectors that could not have claimed the content."""

from __future__ import annotations

import io
import os
import random

import pytest

from scanner.formats.interface import Probe, make_probe
from scanner.formats.registry import _by_first_byte, all_analyzers, select_analyzers
from tests.conftest import FIXTURES


def _probes() -> list[Probe]:
    """Every committed fixture file, plus random and mutated heads."""
    probes = []
    for path in sorted(FIXTURES.rglob("*")):
        if path.is_file() and path.stat().st_size:
            data = path.read_bytes()
            probes.append(make_probe(io.BytesIO(data), len(data), path.name))
    rnd = random.Random(7)
    for base in list(probes[:200]):
        mutated = bytearray(base.head[:4096])
        for _ in range(4):
            mutated[rnd.randrange(len(mutated))] = rnd.randrange(256)
        probes.append(Probe(bytes(mutated), b"", len(mutated), base.name))
    for _ in range(300):
        data = os.urandom(rnd.randrange(1, 600))
        probes.append(Probe(data, b"", len(data), "blob.bin"))
    return probes


PROBES = _probes()


def test_the_fixtures_cover_many_formats() -> None:
    claimed = {a.name for p in PROBES for a in all_analyzers() if a.first_bytes is not None and a.detect(p)}
    assert {"pickle", "joblib", "gguf", "npy", "gzip", "bzip2", "xz", "zlib", "7z", "onnx", "npz"} <= claimed
    assert len(PROBES) > 500


@pytest.mark.parametrize(
    "analyzer", [a for a in all_analyzers() if a.first_bytes is not None], ids=lambda a: a.name
)
def test_first_bytes_is_a_necessary_condition(analyzer) -> None:  # type: ignore[no-untyped-def]
    assert analyzer.first_bytes is not None
    for probe in PROBES:
        if analyzer.detect(probe):
            assert probe.head[0] in analyzer.first_bytes, (analyzer.name, probe.name, probe.head[:8])


def test_dispatch_selects_what_trying_every_detector_selects() -> None:
    for probe in PROBES:
        fresh = Probe(probe.head, probe.tail, probe.size, probe.name)
        primary = next((a for a in all_analyzers() if not a.supplementary and a.detect(fresh)), None)
        extra = tuple(a for a in all_analyzers() if a.supplementary and a.detect(fresh))
        assert select_analyzers(probe) == (primary, extra), probe.name
    assert _by_first_byte()[256] == all_analyzers()  # empty content meets every detector
    assert len(_by_first_byte()[ord("{")]) < len(all_analyzers()) - 10


def test_modules_the_registry_skips_define_no_analyzer() -> None:
    import importlib
    import inspect

    import scanner.formats as formats_pkg
    from scanner.formats.interface import Analyzer
    from scanner.formats.registry import _NOT_ANALYZERS

    for name in sorted(_NOT_ANALYZERS):
        module = importlib.import_module(f"{formats_pkg.__name__}.{name}")
        defined = [
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, Analyzer) and cls.__module__ == module.__name__ and not inspect.isabstract(cls)
        ]
        assert defined == [], name
