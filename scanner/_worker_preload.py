"""Imported once by the forkserver before it forks scan workers (see :mod:`scanner.parallel`).

It loads what every worker needs — the engine, every analyzer module (including those imported lazily on
first use), the rule catalogue, the default policy and the compiled secret patterns — so that each
forked worker starts warm instead of paying for it again. The forkserver process runs no thread of ours,
so forking from it is safe.
"""

from __future__ import annotations

import importlib

import scanner.engine  # the engine and the analyzers it registers
import scanner.formats
import scanner.pickles
from scanner._modules import package_modules
from scanner.policy import default_policy
from scanner.rulebook import all_rules
from scanner.secret_scan import find_secrets

for _package in (scanner.formats, scanner.pickles):
    for _name in package_modules(_package.__path__):
        importlib.import_module(f"{_package.__name__}.{_name}")
all_rules()
default_policy()
list(find_secrets("warm-up password = token"))
