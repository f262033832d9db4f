"""The names a message to people must never show (issue 16, row 12), for the tests of messages."""

from __future__ import annotations

import inspect
import re
import sys


def class_names() -> set[str]:
    """Every CamelCase class name defined in subsidy_engine's modules (those the CLI and the service load)."""
    import subsidy_engine.service.cli  # noqa: F401  (and all it imports)
    import subsidy_engine.service.serve  # noqa: F401

    names = set()
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith("subsidy_engine"):
            names |= {name for name, value in vars(module).items()
                      if inspect.isclass(value) and value.__module__.startswith("subsidy_engine")
                      and re.fullmatch(r"_?[A-Z][a-z]+[A-Z]\w*", name)}
    return {name.lstrip("_") for name in names}
