"""Loading what scanning needs before worker processes start, so that they inherit it instead of each
paying for it (see :mod:`scanner.parallel`)."""

from __future__ import annotations

import importlib


def warm_up(every_module: bool = False) -> None:
    """Import the engine and every analyzer, load the rule catalogue and the default policy, and compile
    the secret patterns. ``every_module``: also the modules analyzers import only on first use (for a
    forkserver, which pays once for all the workers it forks)."""
    import scanner.engine
    import scanner.formats
    import scanner.pickles
    from scanner.formats.registry import all_analyzers
    from scanner.policy import default_policy
    from scanner.rulebook import all_rules
    from scanner.secret_scan import find_secrets

    if every_module:
        from scanner._modules import package_modules

        for package in (scanner.formats, scanner.pickles):
            for name in package_modules(package.__path__):
                importlib.import_module(f"{package.__name__}.{name}")
    all_analyzers()
    all_rules()
    default_policy()
    list(find_secrets("warm-up password = token"))
