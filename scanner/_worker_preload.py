"""Imported once by the forkserver before it forks scan workers (see :mod:`scanner.parallel`).

It loads what every worker needs — the engine and analyzers, the rule catalogue, the default policy and
the compiled secret patterns — so that each forked worker starts warm instead of paying for it again.
The forkserver process runs no thread of ours, so forking from it is safe.
"""

from __future__ import annotations

import scanner.engine  # noqa: F401 - imported for its side effect: analyzers registered
from scanner.policy import default_policy
from scanner.rulebook import all_rules
from scanner.secret_scan import find_secrets

all_rules()
default_policy()
list(find_secrets("warm-up"))
