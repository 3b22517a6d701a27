"""Load-time checks of every expression of a questionnaire (relevant, constraint, derived).

Each expression is parsed and type-checked against the questions that come *before* it, so a
forward reference, an unknown name, a comparison of a choice with a number or a ``.`` outside a
constraint is reported with the file, line and question it belongs to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from questionnaires.document import Location, Problems
from questionnaires.errors import ExpressionError
from questionnaires.model import Question, Questionnaire, question_symbol

__all__ = ["check_expressions"]


def check_expressions(
    qn: Questionnaire,
    problems: Problems,
    qloc: Callable[[str, str | None], Location],
    contexts: Mapping[str, str],
    names: Mapping[str, Any],
) -> None:
    """Parse and check every expression of ``qn``, recording problems in ``problems``."""
    from questionnaires.expressions import Symbol, parse

    all_names = tuple(names)
    available: dict[str, Symbol] = {}

    def check(
        text: str | None,
        key: str,
        context: str,
        loc: Location,
        *,
        self_symbol: Symbol | None = None,
        kind: str = "relevant",
    ) -> None:
        if text is None:
            return
        try:
            expression = parse(text)
            expression.check(
                dict(available), self_symbol=self_symbol, context=kind, all_names=all_names
            )
        except ExpressionError as exc:
            at = f" (at character {exc.position + 1})" if exc.position is not None else ""
            problems.error(loc, context, f'{key} "{text}"{at}: {exc.message}')

    for section in qn.sections:
        sctx = f"section '{section.name}'"
        check(section.relevant, "relevant", sctx, Location(line=section.line))
        for q in section.questions:
            ctx = contexts.get(q.name, f"question '{q.name}'")
            check(q.relevant, "relevant", ctx, qloc(q.name, "relevant"))
            if q.type == "matrix":
                for item in q.items:
                    ictx = contexts.get(item.name, f"item '{item.name}'")
                    check(item.relevant, "relevant", ictx, qloc(item.name, "relevant"))
                    _add(available, item, Symbol)
                continue
            self_symbol = question_symbol(q, Symbol)
            check(
                q.constraint,
                "constraint",
                ctx,
                qloc(q.name, "constraint"),
                self_symbol=self_symbol,
                kind="constraint",
            )
            _add(available, q, Symbol)
    for d in qn.derived:
        ctx = contexts.get(d.name, f"derived score '{d.name}'")
        check(d.expression, "expression", ctx, qloc(d.name, "expression"), kind="derived")
        available[d.name] = Symbol(d.name, "boolean" if d.type == "boolean" else "number")


def _add(available: dict[str, Any], q: Question, symbol_type: Any) -> None:
    symbol = question_symbol(q, symbol_type)
    if symbol is not None:
        available[q.name] = symbol
