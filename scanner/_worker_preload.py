"""Imported once by the forkserver before it forks scan workers (see :mod:`scanner.parallel`).

It loads what every worker needs — the engine, every analyzer module (including those imported lazily on
first use), the rule catalogue, the default policy and the compiled secret patterns — so that each
forked worker starts warm instead of paying for it again. The forkserver process runs no thread of ours,
so forking from it is safe.
"""

from __future__ import annotations

from scanner._warm_up import warm_up

warm_up(every_module=True)
