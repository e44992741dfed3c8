"""Python source read as a syntax tree, for the tests that check the tree's own code."""

from __future__ import annotations

import ast

ATTEMPTS = 5


def parse(source: str) -> ast.Module:
    """``ast.parse(source)``, asked again when CPython 3.11 (3.11.7 here) says "AST constructor
    recursion depth mismatch": its count of that depth is kept per interpreter, not per
    thread, so another thread building a tree at the same moment can trip the check of this
    one (python/cpython#106905; seen once in a whole run of the suite). Nothing is wrong with
    the source then; any other error is raised as it is."""
    for attempt in range(ATTEMPTS):
        try:
            return ast.parse(source)
        except SystemError as exc:
            if "recursion depth mismatch" not in str(exc) or attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
