"""Load-time checks of every expression of a questionnaire (relevant, constraint, derived).

Each expression is parsed and type-checked against the questions that come *before* it, so a
forward reference, an unknown name, a comparison of a choice with a number or a ``.`` outside a
constraint is reported with the file, line and question it belongs to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from questionnaires.document import Location, Problems
from questionnaires.errors import ExpressionError
from questionnaires.model import Question, Questionnaire, question_symbol

__all__ = ["check_expressions"]

_KIND_WORDS = {
    "number": "a number",
    "text": "a text",
    "choice": "a choice",
    "multi": "a set of choices",
    "boolean": "true or false",
}


def check_expressions(
    qn: Questionnaire,
    problems: Problems,
    qloc: Callable[[str, str | None], Location],
    contexts: Mapping[str, str],
    names: Mapping[str, Any],
    section_locs: Mapping[str, Location],
) -> None:
    """Parse and check every expression of ``qn``, recording problems in ``problems``.

    ``qloc(name, key)`` gives where a question's key was written, ``contexts`` how to name
    each question in messages, ``names`` every name of the question namespace (to tell a
    forward reference from an unknown one), ``section_locs`` where each section's
    ``relevant`` was written.
    """
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
        kind: Literal["relevant", "constraint", "derived"] = "relevant",
        gives: str | None = None,
    ) -> None:
        if text is None:
            return
        try:
            expression = parse(text)
            result = expression.check(
                available,
                self_symbol=self_symbol,
                context=kind,
                all_names=all_names,
            )
        except ExpressionError as exc:
            at = f" (at character {exc.position + 1})" if exc.position is not None else ""
            problems.error(loc, context, f'{key} "{text}"{at}: {exc.message}')
            return
        if gives == "boolean" and result != "boolean":
            problems.error(
                loc,
                context,
                f'{key} "{text}" gives {_KIND_WORDS.get(result, result)}, but the derived '
                "score has type: boolean; make it a condition or use type: number",
            )
        elif gives == "number" and result != "number":
            fix = "add type: boolean" if result == "boolean" else "make it a number"
            problems.error(
                loc,
                context,
                f'{key} "{text}" gives {_KIND_WORDS.get(result, result)}, but the derived '
                f"score is a number; {fix}",
            )

    for section in qn.sections:
        sctx = f"section '{section.name}'"
        check(section.relevant, "relevant", sctx, section_locs.get(section.name, Location()))
        for q in section.questions:
            ctx = contexts.get(q.name, f"question '{q.name}'")
            own = question_symbol(q, Symbol)
            check(q.relevant, "relevant", ctx, qloc(q.name, "relevant"), self_symbol=own)
            if q.type == "matrix":
                for item in q.items:
                    ictx = contexts.get(item.name, f"item '{item.name}'")
                    check(
                        item.relevant,
                        "relevant",
                        ictx,
                        qloc(item.name, "relevant"),
                        self_symbol=question_symbol(item, Symbol),
                    )
                    _add(available, item, Symbol)
                continue
            check(
                q.constraint,
                "constraint",
                ctx,
                qloc(q.name, "constraint"),
                self_symbol=own,
                kind="constraint",
            )
            _add(available, q, Symbol)
    for d in qn.derived:
        ctx = contexts.get(d.name, f"derived score '{d.name}'")
        check(
            d.expression,
            "expression",
            ctx,
            qloc(d.name, "expression"),
            self_symbol=Symbol(d.name, "boolean" if d.type == "boolean" else "number"),
            kind="derived",
            gives=d.type,
        )
        available[d.name] = Symbol(d.name, "boolean" if d.type == "boolean" else "number")


def _add(available: dict[str, Any], q: Question, symbol_type: Any) -> None:
    symbol = question_symbol(q, symbol_type)
    if symbol is not None:
        available[q.name] = symbol
