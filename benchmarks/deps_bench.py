"""Dependency-audit figures: index import time, and lookup time for 500 requirements against the full local
PyPA advisory snapshot (../shared/vuln-db/pypa-advisory-database). Prints figures; not run by CI.

    PYTHONPATH=. python benchmarks/deps_bench.py [SNAPSHOT]
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from scanner.deps.audit import AuditSetup, audit_source
from scanner.deps.osv_store import OsvStore, import_records
from scanner.deps.services.ml_rules import MlRulesService
from scanner.deps.services.offline import OfflineOsvService
from scanner.deps.sources.requirements import RequirementsSource

SNAPSHOT = Path(__file__).resolve().parents[1].parent / "shared" / "vuln-db" / "pypa-advisory-database"
COUNT = 500


def main() -> None:
    snapshot = Path(sys.argv[1]) if len(sys.argv) > 1 else SNAPSHOT
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "osv.sqlite"
        summary = import_records(snapshot, index)
        print(
            f"import: {summary.records} advisories in {summary.seconds:.2f} s "
            f"({index.stat().st_size >> 10} KiB index)"
        )

        packages = list(OsvStore(index).packages())
        # 500 pins: every indexed package (old versions, so most match) topped up with unknown names.
        names = (packages + [f"not-vulnerable-{i}" for i in range(COUNT)])[:COUNT]
        versions = ["0.1", "1.0.0", "2.0", "1.13.0", "9.0.0"]
        text = "".join(f"{name}=={versions[i % len(versions)]}\n" for i, name in enumerate(names))

        started = time.perf_counter()
        result = RequirementsSource(text, "requirements.txt").collect()
        parsed = time.perf_counter() - started

        deps = result.dependencies
        store = OsvStore(index)
        service = OfflineOsvService(store)
        for label in ("cold", "warm"):
            started = time.perf_counter()
            answers = list(service.query_all(deps))
            elapsed = time.perf_counter() - started
            hits = sum(len(a.advisories) for a in answers)
            print(
                f"lookup only ({label} cache): {len(deps)} requirements in {elapsed * 1000:.1f} ms "
                f"({elapsed / len(deps) * 1e6:.0f} us each), {hits} advisories matched"
            )
        fresh = AuditSetup((MlRulesService(), OfflineOsvService(OsvStore(index))), True)
        started = time.perf_counter()
        outcome = audit_source(result, fresh, policy=False)
        elapsed = time.perf_counter() - started
        print(
            f"full audit (lookup + findings, cold): {len(deps)} requirements in {elapsed * 1000:.1f} ms, "
            f"{len(outcome.findings)} findings"
        )
        print(f"parse: {len(result.dependencies)} requirement lines in {parsed * 1000:.1f} ms")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS: {peak >> 10} MiB")


if __name__ == "__main__":
    main()
