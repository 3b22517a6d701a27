"""The questionnaire expression language: parsing, type checking and evaluation.

Questionnaires use small XLSForm-like expressions for skip logic (``relevant``), validation
(``constraint``) and derived scores (``derived``), e.g.
``${age} >= 18 and selected(${products}, 'loan')``. This module parses them with a hand-written
tokenizer and a recursive-descent parser into an immutable syntax tree (never ``eval``), checks
them against the questions visible at that point of the questionnaire, and evaluates them either
for one respondent (:meth:`Expression.evaluate`, used by the app) or vectorised over stored
responses (:meth:`Expression.evaluate_frame`, used by scoring and analysis). Both evaluations
follow exactly the same rules, written down here.

Grammar
-------
Operators by increasing precedence (all binary operators are left-associative)::

    expression  := or
    or          := and ('or' and)*
    and         := not ('and' not)*
    not         := 'not' not | comparison
    comparison  := additive [('=' | '==' | '!=' | '<' | '<=' | '>' | '>=') additive]
    additive    := multiplicative (('+' | '-') multiplicative)*
    multiplicative := unary (('*' | '/' | 'div' | 'mod') unary)*
    unary       := '-' unary | primary
    primary     := number | string | 'true' | 'false' | '${' name '}' | '.'
                 | function '(' [expression (',' expression)*] ')' | '(' expression ')'

- Numbers are written ``18`` or ``2.5`` (ASCII digits, no exponent, no leading ``.``).
- Strings are ``'loan'`` or ``"loan"``; there are no escapes (a string cannot contain its own
  quote character).
- ``${name}`` refers to a question, matrix item or derived score defined earlier; ``.`` is the
  answer being validated and may only be used in a ``constraint``.
- Keywords (``and or not div mod true false``) and function names are lower case.
- Comparisons cannot be chained: write ``1 < ${x} and ${x} < 5``, not ``1 < ${x} < 5``.
- Parentheses, functions, ``not`` and unary ``-`` may be nested at most 50 deep.

Functions
---------
======================== ==========================================================
``selected(ref, 'opt')`` true when ``ref`` (a choice or multiple choice) has option ``opt``;
                         the option must be written in quotes
``count-selected(ref)``  number of options chosen in a multiple choice (also
                         ``count_selected``); 0 when empty or special
``string-length(x)``     number of characters of a text; 0 when empty
``answered(ref)``        true when ``ref`` has a real answer: not empty, not special
``if(cond, a, b)``       ``a`` when ``cond`` is true, else ``b`` (also when ``cond`` is empty)
``min(a, ...)``          smallest of the numbers; empty when any argument is empty
``max(a, ...)``          largest of the numbers; empty when any argument is empty
``abs(x)``               absolute value
``round(x, digits)``     rounded half away from zero to ``digits`` decimals (``digits``
                         may be negative; ``round(x)`` means 0 digits)
``int(x)``               truncated toward zero
``coalesce(a, ...)``     the first argument that has a real answer (not empty, not special)
======================== ==========================================================

Values
------
A number question gives a number; a single choice, likert or matrix item gives the chosen
option's *name* (a string: ``${sex} = 'female'``); a multiple choice gives the set of chosen
option names (use ``selected()`` / ``count-selected()``); a text gives a string; a special
answer gives the string ``'dont_know'`` or ``'prefer_not'``; a derived score gives its value
(a number or true/false).

Empty answers and special answers
---------------------------------
An answer that was not given or was skipped is *empty* (null). An empty text ``''`` and a
multiple choice with no option chosen are empty as well. The literal ``''`` is the empty value.

- ``X = ''`` is true exactly when ``X`` is empty and ``X != ''`` when it is not (a special
  answer is not empty). These two never give empty.
- ``X = 'dont_know'`` (or ``'prefer_not'``) asks whether ``X`` is that special answer;
  ``X != 'dont_know'`` is true for every other non-empty answer, numbers included.
- Any other comparison involving an empty value is false, ``!=`` included: ``${x} != 3`` is
  false when ``${x}`` is empty. A comparison between values of different kinds (a special
  answer and a number, a number and a text) is false as well, again ``!=`` included.
- ``and``, ``or`` and ``not`` treat an empty value as false and always give true or false.
- Arithmetic, ``min``, ``max``, ``abs``, ``int`` and ``round`` give empty when any operand is
  empty or special; division or ``mod`` by zero gives empty, and so does any result that is not
  a finite number (overflow).
- ``selected(empty, ...)`` is false, ``count-selected(empty)`` and ``string-length(empty)``
  are 0, ``answered(empty)`` is false.
- A special answer never leaves an expression as a value: where ``if()`` would give one, or
  where it would be the result of the whole expression (``${income}`` alone), the value is
  empty; ``coalesce()`` skips special answers.
- ``mod`` is the remainder of truncated division (its sign follows the dividend, as in XPath):
  ``-7 mod 2`` is ``-1``. ``/`` and ``div`` are the same true division.

At run time evaluation never raises: values of an unexpected kind follow the rules above.
The strings ``'dont_know'`` and ``'prefer_not'`` always mean the special answers, also when a
respondent types them into a text question (so option names must not use them).

Checked at load time (:meth:`Expression.check`)
-----------------------------------------------
Syntax; unknown references (with close-match suggestions); references to questions that come
later or to the question itself (use ``.`` in a constraint); types: comparing a choice with a
number, a quoted name that is not an option (or an allowed special answer) of that question,
``selected()`` on a question that is not a choice, arithmetic on text, choices or conditions,
``and``/``or``/``not``/``if`` on something that is not a condition, a ``relevant`` or
``constraint`` that is not a condition, a ``derived`` expression that is neither a number nor a
condition, and ``.`` outside a constraint.

Stored data (:meth:`Expression.evaluate_frame`)
-----------------------------------------------
One row per response; a number is a numeric column (special answers stored as ``-1`` /
``-2`` when the question allows them), a choice an integer code column (codes that are not an
option or an allowed special answer are read as empty), a multiple choice one 0/1 column per
option named ``<question>__<option>`` (all ``-1`` / ``-2`` for a special answer, null when
skipped), a text a string column, a derived score a column named by the score (numeric or
boolean).
"""

from __future__ import annotations

import difflib
import math
import numbers
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias, cast, get_args

import numpy as np
import pandas as pd

from questionnaires.errors import ExpressionError

__all__ = [
    "SPECIAL_CODES",
    "Expression",
    "ExpressionType",
    "Symbol",
    "SymbolKind",
    "parse",
]

SymbolKind: TypeAlias = Literal["number", "text", "choice", "multi", "boolean"]
"""The kind of value a question, matrix item or derived score holds."""

ExpressionType: TypeAlias = Literal["number", "text", "choice", "multi", "boolean"]
"""The kind of value an expression gives (``"text"`` also for quoted strings)."""

Context: TypeAlias = Literal["relevant", "constraint", "derived"]

SPECIAL_CODES: Final[Mapping[str, int]] = {"dont_know": -1, "prefer_not": -2}
"""The special answers and the codes they are stored as (see FORMAT.md, "Special answers")."""

_SPECIAL_NAMES: Final = frozenset(SPECIAL_CODES)
_KINDS: Final = frozenset(get_args(SymbolKind))
_CONTEXTS: Final = frozenset(get_args(Context))
_MAX_DEPTH: Final = 50

_KIND_WORDS: Final[Mapping[str, str]] = {
    "number": "a number",
    "text": "a text",
    "choice": "a choice",
    "multi": "a multiple choice",
    "boolean": "a true/false value",
}


@dataclass(frozen=True)
class Symbol:
    """What an expression may know about a question, matrix item or derived score.

    Parameters
    ----------
    name
        The name used as ``${name}``.
    kind
        ``"number"`` (integer, decimal, number-valued derived score), ``"text"``, ``"choice"``
        (single choice, likert, matrix item), ``"multi"`` (multiple choice) or ``"boolean"``
        (a true/false derived score).
    options
        For ``choice`` and ``multi``: option name -> stored integer code, in display order.
    specials
        The special answers the question allows: ``"dont_know"`` and/or ``"prefer_not"``.
    """

    name: str
    kind: SymbolKind
    options: Mapping[str, int] = field(default_factory=dict, hash=False)
    specials: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(
                f"Symbol {self.name!r} has kind {self.kind!r}; "
                f"the kind must be one of {', '.join(sorted(_KINDS))}"
            )
        unknown = set(self.specials) - _SPECIAL_NAMES
        if unknown:
            raise ValueError(
                f"Symbol {self.name!r} has unknown special answers {sorted(unknown)}; "
                f"special answers are {', '.join(SPECIAL_CODES)}"
            )
        if self.options and self.kind not in ("choice", "multi"):
            raise ValueError(
                f"Symbol {self.name!r} is {_KIND_WORDS[self.kind]} and cannot have options"
            )


# ---------------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------------

_NUMBER_RE: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_WORD_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HYPHEN_WORD_RE: Final = re.compile(r"(?:count-selected|string-length)(?![A-Za-z0-9_-])")
_REF_RE: Final = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_OPERATORS: Final = ("==", "!=", "<=", ">=", "=", "<", ">", "+", "-", "*", "/")
_FULL_WIDTH: Final[Mapping[str, str]] = {
    "（": "(", "）": ")", "，": ",", "＝": "=", "＞": ">", "＜": "<", "！": "!", "‘": "'",
    "’": "'", "“": '"', "”": '"', "｛": "{", "｝": "}", "＄": "$", "＋": "+", "－": "-",
    "＊": "*", "／": "/", "。": ".", "．": ".", "　": " ",
}

_KEYWORDS: Final = frozenset({"and", "or", "not", "div", "mod", "true", "false"})
_COMPARISONS: Final = frozenset({"=", "!=", "<", "<=", ">", ">="})
_EQUALITIES: Final = frozenset({"=", "!="})


@dataclass(frozen=True, slots=True)
class _Token:
    kind: Literal["number", "string", "ref", "self", "word", "op", "(", ")", ",", "end"]
    text: str
    pos: int
    value: Any = None

    def describe(self) -> str:
        if self.kind == "string":
            return f"the text {self.text}"
        if self.kind == "number":
            return f"the number {self.text}"
        if self.kind == "ref":
            return self.text
        if self.kind == "end":
            return "the end of the expression"
        return f"'{self.text}'"


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        if "0" <= c <= "9":
            m = _match(_NUMBER_RE, text, i)
            value = float(m.group())
            if not math.isfinite(value):
                raise _error(text, i, f"The number at position {i} is too large")
            after = m.end()
            if after < n and (text[after].isalnum() or text[after] in "._"):
                stuck = re.match(r"[.\w]+", text[after:])
                raise _error(
                    text, after,
                    f"Unexpected {stuck.group() if stuck else text[after]!r} right after the "
                    f"number {m.group()} at position {after}: write numbers like 18 or 2.5 "
                    "(no exponents, units or trailing '.')",
                )
            tokens.append(_Token("number", m.group(), i, value))
            i = m.end()
            continue
        if c == ".":
            if i + 1 < n and "0" <= text[i + 1] <= "9":
                raise _error(
                    text, i,
                    f"Unexpected '.' at position {i}: write numbers with a leading digit, "
                    f"e.g. 0{text[i:i + 2]}",
                )
            tokens.append(_Token("self", ".", i))
            i += 1
            continue
        if c in "'\"":
            end = text.find(c, i + 1)
            if end < 0:
                raise _error(
                    text, i,
                    f"Unclosed text starting at position {i}: add the closing {c}",
                )
            tokens.append(_Token("string", text[i:end + 1], i, text[i + 1:end]))
            i = end + 1
            continue
        if c == "$":
            ref = _REF_RE.match(text, i)
            if ref is None:
                if text.startswith("${", i) and "}" not in text[i:]:
                    message = (
                        f"Unclosed reference at position {i}: add the closing }}, "
                        "e.g. ${age}"
                    )
                else:
                    message = (
                        f"Malformed reference at position {i}: write ${{name}} with a question "
                        "name made of letters, digits and _, e.g. ${age}"
                    )
                raise _error(text, i, message)
            tokens.append(_Token("ref", ref.group(), i, ref.group(1)))
            i = ref.end()
            continue
        if c.isascii() and (c.isalpha() or c == "_"):
            m = _HYPHEN_WORD_RE.match(text, i) or _match(_WORD_RE, text, i)
            tokens.append(_Token("word", m.group(), i, m.group()))
            i = m.end()
            continue
        if c in "(),":
            tokens.append(_Token(c, c, i))  # type: ignore[arg-type]
            i += 1
            continue
        op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
        if op is not None:
            tokens.append(_Token("op", op, i, "=" if op == "==" else op))
            i += len(op)
            continue
        raise _error(text, i, _bad_character_message(text, i))
    tokens.append(_Token("end", "", n))
    return tokens


def _match(pattern: re.Pattern[str], text: str, i: int) -> re.Match[str]:
    m = pattern.match(text, i)
    if m is None:  # pragma: no cover - the caller has checked the first character
        raise RuntimeError(f"tokenizer out of step at position {i}")
    return m


def _bad_character_message(text: str, i: int) -> str:
    c = text[i]
    message = f"Unexpected character {c!r} at position {i}"
    if c in _FULL_WIDTH:
        return f"{message}: it is a full-width character; use the ASCII {_FULL_WIDTH[c]!r} instead"
    if text.startswith("&&", i) or text.startswith("||", i):
        return f"{message}: write 'and' / 'or' instead of && / ||"
    if c == "!":
        return f"{message}: write != for 'not equal' or not(...) for negation"
    if c == "{":
        return f"{message}: a reference is written ${{name}}"
    return message


def _error(text: str, position: int, message: str) -> ExpressionError:
    return ExpressionError(message, expression=text, position=position)


# ---------------------------------------------------------------------------------------------
# Syntax tree
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Number:
    pos: int
    value: float
    text: str


@dataclass(frozen=True, slots=True)
class _String:
    pos: int
    value: str


@dataclass(frozen=True, slots=True)
class _Boolean:
    pos: int
    value: bool


@dataclass(frozen=True, slots=True)
class _Ref:
    pos: int
    name: str


@dataclass(frozen=True, slots=True)
class _Self:
    pos: int


@dataclass(frozen=True, slots=True)
class _Negate:
    pos: int
    operand: _Node


@dataclass(frozen=True, slots=True)
class _Not:
    pos: int
    operand: _Node


@dataclass(frozen=True, slots=True)
class _Logic:
    pos: int
    op: Literal["and", "or"]
    operands: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Arith:
    """A left-associative chain ``first op1 x1 op2 x2 ...`` of one precedence level."""

    pos: int
    first: _Node
    rest: tuple[tuple[str, int, _Node], ...]


@dataclass(frozen=True, slots=True)
class _Compare:
    pos: int  # the operator's position
    op: str
    left: _Node
    right: _Node


@dataclass(frozen=True, slots=True)
class _Call:
    pos: int
    name: str  # canonical name
    args: tuple[_Node, ...]


_Node: TypeAlias = (
    _Number | _String | _Boolean | _Ref | _Self | _Negate | _Not | _Logic | _Arith | _Compare
    | _Call
)

# name -> (canonical name, minimum arguments, maximum arguments or None, usage)
_FUNCTIONS: Final[Mapping[str, tuple[str, int, int | None, str]]] = {
    "selected": ("selected", 2, 2, "selected(${question}, 'option')"),
    "count-selected": ("count-selected", 1, 1, "count-selected(${question})"),
    "count_selected": ("count-selected", 1, 1, "count-selected(${question})"),
    "string-length": ("string-length", 1, 1, "string-length(${question})"),
    "answered": ("answered", 1, 1, "answered(${question})"),
    "if": ("if", 3, 3, "if(condition, value if true, value if false)"),
    "min": ("min", 1, None, "min(a, b, ...)"),
    "max": ("max", 1, None, "max(a, b, ...)"),
    "abs": ("abs", 1, 1, "abs(x)"),
    "round": ("round", 1, 2, "round(x, digits)"),
    "int": ("int", 1, 1, "int(x)"),
    "coalesce": ("coalesce", 1, None, "coalesce(a, b, ...)"),
}
_FUNCTION_LIST: Final = ", ".join(
    dict.fromkeys(f"{canonical}()" for canonical, *_ in _FUNCTIONS.values())
)


def _is_empty_literal(node: _Node) -> bool:
    return isinstance(node, _String) and node.value == ""


def _special_literal(node: _Node) -> str | None:
    if isinstance(node, _String) and node.value in _SPECIAL_NAMES:
        return node.value
    return None


def _walk(node: _Node) -> Iterator[_Node]:
    yield node
    if isinstance(node, _Negate | _Not):
        yield from _walk(node.operand)
    elif isinstance(node, _Logic):
        for operand in node.operands:
            yield from _walk(operand)
    elif isinstance(node, _Arith):
        yield from _walk(node.first)
        for _, _, operand in node.rest:
            yield from _walk(operand)
    elif isinstance(node, _Compare):
        yield from _walk(node.left)
        yield from _walk(node.right)
    elif isinstance(node, _Call):
        for arg in node.args:
            yield from _walk(arg)


# ---------------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0

    # -- helpers ------------------------------------------------------------------------------
    def peek(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def is_word(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.text in words

    def error(self, position: int, message: str) -> ExpressionError:
        return _error(self.text, position, message)

    def enter(self, position: int) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error(
                position,
                f"The expression is nested too deeply at position {position}: at most "
                f"{_MAX_DEPTH} levels of parentheses, functions, 'not' and '-' are allowed",
            )

    def unexpected(
        self, token: _Token, *, after: _Token | None = None, missing_operator: bool = False
    ) -> ExpressionError:
        if token.kind == "end":
            what = f" after {after.describe()}" if after is not None else ""
            return self.error(
                token.pos, f"The expression ends too early: a value is missing{what}"
            )
        message = f"Unexpected {token.describe()} at position {token.pos}"
        if missing_operator:
            message += ": an operator (such as and, or, =, +) is missing before it"
        return self.error(token.pos, message)

    def chained(self, token: _Token) -> ExpressionError:
        return self.error(
            token.pos,
            f"Comparisons cannot be chained: '{token.text}' at position {token.pos} follows "
            "another comparison; combine them with and, e.g. 1 < ${x} and ${x} < 5",
        )

    # -- grammar ------------------------------------------------------------------------------
    def parse(self) -> _Node:
        if self.peek().kind == "end":
            raise self.error(
                0, "The expression is empty: write a condition such as ${age} >= 18"
            )
        node = self.parse_or()
        token = self.peek()
        if token.kind == ")":
            raise self.error(token.pos, f"Unexpected ')' at position {token.pos}")
        if token.kind == "word" and token.text not in _KEYWORDS and token.text not in _FUNCTIONS:
            self.advance()
            self.parse_word(token)  # raises: an unknown word
        if token.kind != "end":
            value_start = token.kind in ("number", "string", "ref", "self", "(") or (
                token.kind == "word" and token.text not in _KEYWORDS - {"true", "false"}
            )
            raise self.unexpected(token, missing_operator=value_start)
        return node

    def parse_or(self) -> _Node:
        return self.parse_logic("or", self.parse_and)

    def parse_and(self) -> _Node:
        return self.parse_logic("and", self.parse_not)

    def parse_logic(self, op: Literal["and", "or"], operand: Callable[[], _Node]) -> _Node:
        first = operand()
        if not self.is_word(op):
            return first
        pos = self.peek().pos
        operands = [first]
        while self.is_word(op):
            keyword = self.advance()
            operands.append(self.parse_operand(operand, keyword))
        return _Logic(pos, op, tuple(operands))

    def parse_operand(self, operand: Callable[[], _Node], operator: _Token) -> _Node:
        if self.peek().kind == "end":
            raise self.unexpected(self.peek(), after=operator)
        return operand()

    def parse_not(self) -> _Node:
        if self.is_word("not"):
            keyword = self.advance()
            self.enter(keyword.pos)
            operand = self.parse_operand(self.parse_not, keyword)
            self.depth -= 1
            return _Not(keyword.pos, operand)
        return self.parse_comparison()

    def parse_comparison(self) -> _Node:
        left = self.parse_additive()
        token = self.peek()
        if token.kind == "op" and token.value in _COMPARISONS:
            self.advance()
            right = self.parse_operand(self.parse_additive, token)
            following = self.peek()
            if following.kind == "op" and following.value in _COMPARISONS:
                raise self.chained(following)
            return _Compare(token.pos, token.value, left, right)
        return left

    def parse_additive(self) -> _Node:
        return self.parse_chain(("+", "-"), self.parse_multiplicative)

    def parse_multiplicative(self) -> _Node:
        return self.parse_chain(("*", "/", "div", "mod"), self.parse_unary)

    def parse_chain(self, ops: tuple[str, ...], operand: Callable[[], _Node]) -> _Node:
        first = operand()
        rest: list[tuple[str, int, _Node]] = []
        while True:
            token = self.peek()
            if not (token.kind in ("op", "word") and token.text in ops):
                break
            self.advance()
            op = "/" if token.text == "div" else token.text
            rest.append((op, token.pos, self.parse_operand(operand, token)))
        if not rest:
            return first
        return _Arith(_position(first), first, tuple(rest))

    def parse_unary(self) -> _Node:
        token = self.peek()
        if token.kind == "op" and token.text == "-":
            self.advance()
            self.enter(token.pos)
            operand = self.parse_operand(self.parse_unary, token)
            self.depth -= 1
            return _Negate(token.pos, operand)
        return self.parse_primary()

    def parse_primary(self) -> _Node:
        token = self.advance()
        if token.kind == "number":
            return _Number(token.pos, token.value, token.text)
        if token.kind == "string":
            return _String(token.pos, token.value)
        if token.kind == "ref":
            return _Ref(token.pos, token.value)
        if token.kind == "self":
            return _Self(token.pos)
        if token.kind == "(":
            self.enter(token.pos)
            if self.peek().kind == "end":
                raise self.unexpected(self.peek(), after=token)
            node = self.parse_or()
            self.expect_close(token, "the '('")
            self.depth -= 1
            return node
        if token.kind == "word":
            return self.parse_word(token)
        raise self.unexpected(token, after=self.tokens[self.i - 2] if self.i > 1 else None)

    def expect_close(self, opening: _Token, what: str) -> None:
        token = self.peek()
        if token.kind == ")":
            self.advance()
            return
        if token.kind == "end":
            raise self.error(
                opening.pos, f"Missing ')' to close {what} at position {opening.pos}"
            )
        raise self.error(
            token.pos,
            f"Unexpected {token.describe()} at position {token.pos}: expected ')' to close "
            f"{what} at position {opening.pos}",
        )

    def parse_word(self, token: _Token) -> _Node:
        word = token.text
        if word in ("true", "false"):
            if self.peek().kind == "(":
                raise self.error(
                    self.peek().pos,
                    f"Unexpected '(' at position {self.peek().pos}: write {word} without "
                    "parentheses",
                )
            return _Boolean(token.pos, word == "true")
        if word in _FUNCTIONS:
            if self.peek().kind != "(":
                raise self.error(
                    token.pos,
                    f"The function {word} at position {token.pos} must be followed by '(': "
                    f"write {_FUNCTIONS[word][3]}",
                )
            return self.parse_call(token)
        if word in _KEYWORDS:
            raise self.unexpected(token)
        if self.peek().kind == "(":
            suggestions = difflib.get_close_matches(word.lower(), list(_FUNCTIONS), n=1)
            hint = (
                f" (did you mean {suggestions[0]}()?)" if suggestions
                else f"; the functions are {_FUNCTION_LIST}"
            )
            raise self.error(
                token.pos, f"Unknown function {word}() at position {token.pos}{hint}"
            )
        keywords = difflib.get_close_matches(word.lower(), sorted(_KEYWORDS), n=1, cutoff=0.75)
        if keywords:
            hint = f" (did you mean '{keywords[0]}'?)"
        else:
            hint = f": refer to a question as ${{{word}}}"
        raise self.error(token.pos, f"Unknown word '{word}' at position {token.pos}{hint}")

    def parse_call(self, name_token: _Token) -> _Call:
        canonical, low, high, usage = _FUNCTIONS[name_token.text]
        self.advance()
        self.enter(name_token.pos)
        args: list[_Node] = []
        if self.peek().kind != ")":
            while True:
                if self.peek().kind in ("end", ",", ")"):
                    if self.peek().kind == "end":
                        raise self.error(
                            name_token.pos,
                            f"Missing ')' to close {name_token.text}( at position "
                            f"{name_token.pos}",
                        )
                    raise self.error(
                        self.peek().pos,
                        f"Unexpected {self.peek().describe()} at position {self.peek().pos}: "
                        f"an argument of {name_token.text}() is missing",
                    )
                args.append(self.parse_or())
                if self.peek().kind == ",":
                    self.advance()
                    continue
                break
        self.expect_close(name_token, f"{name_token.text}(")
        self.depth -= 1
        count = len(args)
        if count < low or (high is not None and count > high):
            if high is None:
                expected = f"at least {low} argument{'s' if low > 1 else ''}"
            elif low == high:
                expected = f"{low} argument{'s' if low > 1 else ''}"
            else:
                expected = f"{low} or {high} arguments"
            raise self.error(
                name_token.pos,
                f"{name_token.text}() takes {expected}, got {count}: write {usage}",
            )
        if canonical in ("selected", "count-selected", "answered") and not isinstance(
            args[0], _Ref | _Self
        ):
            raise self.error(
                _position(args[0]),
                f"The first argument of {name_token.text}() must be a question reference such "
                f"as ${{question}} (or . in a constraint): write {usage}",
            )
        if canonical == "selected" and not isinstance(args[1], _String):
            raise self.error(
                _position(args[1]),
                f"The second argument of selected() must be an option name in quotes: "
                f"write {usage}",
            )
        return _Call(name_token.pos, canonical, tuple(args))


def _position(node: _Node) -> int:
    if isinstance(node, _Arith):
        return _position(node.first)
    if isinstance(node, _Logic):
        return _position(node.operands[0])
    if isinstance(node, _Compare):
        return _position(node.left)
    return node.pos


def parse(text: str) -> Expression:
    """Parse an expression.

    Parameters
    ----------
    text
        The expression, e.g. ``"${age} >= 18 and selected(${products}, 'loan')"``.

    Returns
    -------
    Expression
        The parsed, immutable expression. Type checking against the questionnaire is a
        separate step: :meth:`Expression.check`.

    Raises
    ------
    ExpressionError
        When the text is not a well-formed expression; ``position`` is the 0-based offset of
        the offending token and the message says how to fix it.

    Notes
    -----
    The grammar is in the module docstring. The parser is a hand-written tokenizer and
    recursive-descent parser; nothing is ever passed to ``eval``.

    Examples
    --------
    >>> parse("${age} >= 18").references
    frozenset({'age'})
    """
    if not isinstance(text, str):
        raise ExpressionError(
            f"An expression must be text, not {type(text).__name__}: quote it in the YAML file",
            expression=str(text),
            position=None,
        )
    root = _Parser(text).parse()
    references = frozenset(node.name for node in _walk(root) if isinstance(node, _Ref))
    uses_self = any(isinstance(node, _Self) for node in _walk(root))
    return Expression(text=text, references=references, uses_self=uses_self, _root=root)


# ---------------------------------------------------------------------------------------------
# Type checking
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Type:
    kind: ExpressionType
    symbol: Symbol | None = None  # set for references and `.`


_NUMBER: Final = _Type("number")
_TEXT: Final = _Type("text")
_BOOLEAN: Final = _Type("boolean")


class _Checker:
    """Type checks a syntax tree, remembering each node's type for the vectorised evaluator."""

    def __init__(
        self,
        text: str,
        symbols: Mapping[str, Symbol],
        *,
        self_symbol: Symbol | None,
        all_names: Collection[str],
        allow_self: bool,
        allow_self_reference: bool = False,
    ) -> None:
        self.text = text
        self.symbols = symbols
        self.self_symbol = self_symbol
        self.all_names = all_names
        self.allow_self = allow_self
        self.allow_self_reference = allow_self_reference
        self.types: dict[int, _Type] = {}

    def error(self, position: int, message: str) -> ExpressionError:
        return _error(self.text, position, message)

    def check(self, node: _Node) -> _Type:
        t = self._check(node)
        self.types[id(node)] = t
        return t

    def describe(self, node: _Node, t: _Type) -> str:
        if isinstance(node, _Ref):
            return f"${{{node.name}}} ({_KIND_WORDS[t.kind]})"
        if isinstance(node, _Self):
            return f". (this answer, {_KIND_WORDS[t.kind]})"
        if isinstance(node, _Number):
            return f"the number {node.text}"
        if isinstance(node, _String):
            return f"the text '{node.value}'"
        if isinstance(node, _Boolean):
            return "true" if node.value else "false"
        return _KIND_WORDS[t.kind]

    def _check(self, node: _Node) -> _Type:
        if isinstance(node, _Number):
            return _NUMBER
        if isinstance(node, _String):
            return _TEXT
        if isinstance(node, _Boolean):
            return _BOOLEAN
        if isinstance(node, _Ref):
            return self.check_ref(node)
        if isinstance(node, _Self):
            return self.check_self(node)
        if isinstance(node, _Negate):
            self.require_number(node.operand, "-")
            return _NUMBER
        if isinstance(node, _Not):
            self.require_condition(node.operand, "'not' needs")
            return _BOOLEAN
        if isinstance(node, _Logic):
            for operand in node.operands:
                self.require_condition(operand, f"'{node.op}' needs on each side")
            return _BOOLEAN
        if isinstance(node, _Arith):
            first_op = node.rest[0][0]
            self.require_number(node.first, first_op)
            for op, _, operand in node.rest:
                self.require_number(operand, op)
            return _NUMBER
        if isinstance(node, _Compare):
            return self.check_compare(node)
        return self.check_call(node)

    def check_ref(self, node: _Ref) -> _Type:
        name = node.name
        if (
            self.self_symbol is not None
            and name == self.self_symbol.name
            and not self.allow_self_reference
        ):
            raise self.error(
                node.pos,
                f"${{{name}}} refers to this question itself; an expression can only refer to "
                "earlier questions (in a constraint, write . for this answer)",
            )
        symbol = self.symbols.get(name)
        if symbol is not None:
            return _Type(symbol.kind, symbol)
        if name in self.all_names:
            raise self.error(
                node.pos,
                f"${{{name}}} is defined after this question; an expression can only refer to "
                "earlier questions",
            )
        candidates = list(dict.fromkeys([*self.symbols, *self.all_names]))
        suggestions = [c for c in candidates if c.lower() == name.lower()][:1]
        if not suggestions:
            suggestions = difflib.get_close_matches(name, candidates, n=1)
        hint = (
            f" (did you mean ${{{suggestions[0]}}}?)" if suggestions
            else ": no question, matrix item or derived score has that name"
        )
        raise self.error(node.pos, f"Unknown reference ${{{name}}}{hint}")

    def check_self(self, node: _Self) -> _Type:
        if not self.allow_self:
            raise self.error(
                node.pos,
                f"'.' (this answer) at position {node.pos} can only be used in a constraint; "
                "refer to questions as ${name}",
            )
        if self.self_symbol is None:
            raise self.error(
                node.pos,
                f"'.' (this answer) at position {node.pos} needs the question being validated "
                "(pass self_symbol)",
            )
        return _Type(self.self_symbol.kind, self.self_symbol)

    def require_number(self, node: _Node, op: str) -> None:
        t = self.check(node)
        if t.kind == "number":
            return
        what = self.describe(node, t)
        message = f"Cannot use '{op}' on {what}: arithmetic needs numbers"
        if t.kind == "choice":
            example = _first_option(t.symbol)
            ref = _source_ref(node)
            message += (
                f"; a choice gives its option name, so score it with "
                f"if({ref} = '{example}', 1, 0)"
            )
        elif t.kind == "boolean":
            message += "; turn a condition into a number with if(condition, 1, 0)"
        elif t.kind == "multi":
            message += f"; count its options with count-selected({_source_ref(node)})"
        raise self.error(_position(node), message)

    def require_condition(self, node: _Node, what: str) -> None:
        t = self.check(node)
        if t.kind != "boolean":
            raise self.error(
                _position(node),
                f"{what} a condition (true or false), but {self.describe(node, t)} is not one",
            )

    def check_compare(self, node: _Compare) -> _Type:
        left, right = node.left, node.right
        lt, rt = self.check(left), self.check(right)
        op = node.op
        if op in _EQUALITIES:
            if _is_empty_literal(left) or _is_empty_literal(right):
                return _BOOLEAN
            for this, other, other_t in ((left, right, rt), (right, left, lt)):
                special = _special_literal(this)
                if special is not None:
                    self.check_special(cast(_String, this), special, other, other_t)
                    return _BOOLEAN
        if op not in _EQUALITIES:
            for this, t in ((left, lt), (right, rt)):
                if t.kind != "number":
                    message = (
                        f"'{op}' compares numbers, but {self.describe(this, t)} is not a number"
                    )
                    if t.kind == "choice":
                        message += (
                            f"; compare choices with = or != and an option name, e.g. "
                            f"{_source_ref(this)} = '{_first_option(t.symbol)}'"
                        )
                    raise self.error(_position(this), message)
            return _BOOLEAN
        for this, t in ((left, lt), (right, rt)):
            if t.kind == "multi":
                ref = _source_ref(this)
                raise self.error(
                    _position(this),
                    f"Cannot compare {self.describe(this, t)} with '{op}': use "
                    f"selected({ref}, '{_first_option(t.symbol)}') or count-selected({ref})",
                )
        text_like = ("text", "choice")
        if lt.kind == rt.kind == "number" or lt.kind == rt.kind == "boolean":
            return _BOOLEAN
        if lt.kind in text_like and rt.kind in text_like:
            for this, t, other in ((left, lt, right), (right, rt, left)):
                if t.kind == "choice" and isinstance(other, _String):
                    self.check_option(this, t, other)
            return _BOOLEAN
        for this, t, other, other_t in ((left, lt, right, rt), (right, rt, left, lt)):
            if t.kind == "choice" and other_t.kind == "number":
                raise self.error(
                    _position(other),
                    f"Cannot compare {self.describe(this, t)} with "
                    f"{self.describe(other, other_t)}: compare with an option name in quotes, "
                    f"e.g. {_source_ref(this)} = '{_first_option(t.symbol)}'",
                )
            if t.kind == "number" and isinstance(other, _String):
                raise self.error(
                    _position(other),
                    f"Cannot compare {self.describe(this, t)} with "
                    f"{self.describe(other, other_t)}: compare with a number, "
                    f"e.g. {_source_ref(this)} = 1",
                )
        raise self.error(
            node.pos,
            f"Cannot compare {self.describe(left, lt)} with {self.describe(right, rt)}: "
            "they are different kinds of value",
        )

    def check_special(self, literal: _String, special: str, other: _Node, t: _Type) -> None:
        symbol = t.symbol
        if symbol is not None:
            if special in symbol.specials:
                return
            if symbol.kind in ("choice", "multi"):
                self.check_option(other, t, literal)
                return
            hint = (
                f"; add special: [{special}] to {_source_ref(other)} to allow it"
                if symbol.kind == "number" else ""
            )
            raise self.error(
                _position(literal),
                f"'{special}' is not an allowed answer of {_source_ref(other)}{hint}",
            )
        if t.kind == "text":
            return
        raise self.error(
            _position(literal),
            f"Cannot compare {self.describe(other, t)} with the special answer '{special}': "
            "only answers to questions can be special",
        )

    def check_option(self, ref: _Node, t: _Type, literal: _String) -> None:
        symbol = t.symbol
        if symbol is None:
            return
        value = literal.value
        if value in symbol.options or value in symbol.specials or value == "":
            return
        names = [*symbol.options, *(s for s in SPECIAL_CODES if s in symbol.specials)]
        listed = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        suggestions = difflib.get_close_matches(value, names, n=1)
        hint = f" (did you mean '{suggestions[0]}'?)" if suggestions else ""
        if value in _SPECIAL_NAMES:
            hint += f"; add special: [{value}] to {_source_ref(ref)} to allow it"
        raise self.error(
            literal.pos,
            f"'{value}' is not an option of {_source_ref(ref)}; options are: {listed}{hint}",
        )

    def check_call(self, node: _Call) -> _Type:
        name, args = node.name, node.args
        if name == "selected":
            ref, literal = args[0], cast(_String, args[1])
            t = self.check(ref)
            self.check(literal)
            if t.kind in ("choice", "multi"):
                self.check_option(ref, t, literal)
                if literal.value == "":
                    raise self.error(
                        literal.pos,
                        "selected() needs an option name, not '': to test for an empty answer "
                        f"write {_source_ref(ref)} = ''",
                    )
                return _BOOLEAN
            if literal.value in _SPECIAL_NAMES and t.symbol is not None:
                self.check_special(literal, literal.value, ref, t)
                return _BOOLEAN
            raise self.error(
                _position(ref),
                f"selected() needs a single or multiple choice question, but "
                f"{self.describe(ref, t)} is not one",
            )
        if name == "count-selected":
            t = self.check(args[0])
            if t.kind != "multi":
                raise self.error(
                    _position(args[0]),
                    f"count-selected() needs a multiple choice question, but "
                    f"{self.describe(args[0], t)} is not one",
                )
            return _NUMBER
        if name == "answered":
            self.check(args[0])
            return _BOOLEAN
        if name == "string-length":
            t = self.check(args[0])
            if t.kind != "text":
                raise self.error(
                    _position(args[0]),
                    f"string-length() needs a text, but {self.describe(args[0], t)} is not one",
                )
            return _NUMBER
        if name == "if":
            self.require_condition(args[0], "The first argument of if() must be")
            return self.unify(node, args[1:])
        if name == "coalesce":
            return self.unify(node, args)
        for arg in args:
            self.require_number(arg, f"{name}()")
        return _NUMBER

    def unify(self, node: _Call, args: tuple[_Node, ...]) -> _Type:
        kinds: list[tuple[_Node, _Type]] = []
        for arg in args:
            t = self.check(arg)
            if t.kind == "multi":
                raise self.error(
                    _position(arg),
                    f"{node.name}() cannot give {self.describe(arg, t)}; use selected() or "
                    "count-selected() on it",
                )
            kinds.append((arg, t))
        first_node, first = kinds[0]
        family = _family(first.kind)
        for arg, t in kinds[1:]:
            if _family(t.kind) != family:
                raise self.error(
                    _position(arg),
                    f"{node.name}() gives {self.describe(first_node, first)} in one place and "
                    f"{self.describe(arg, t)} in another; all its values must be of the same "
                    "kind",
                )
        if family == "text":
            return _TEXT
        return _Type(family)


def _family(kind: ExpressionType) -> ExpressionType:
    return "text" if kind == "choice" else kind


def _first_option(symbol: Symbol | None) -> str:
    if symbol is not None and symbol.options:
        return next(iter(symbol.options))
    return "option"


def _source_ref(node: _Node) -> str:
    if isinstance(node, _Ref):
        return f"${{{node.name}}}"
    if isinstance(node, _Self):
        return "."
    return "${question}"


# ---------------------------------------------------------------------------------------------
# Scalar evaluation
# ---------------------------------------------------------------------------------------------
# Run-time values: None (empty), float (finite), str (non-empty), frozenset (non-empty), bool.


def _normalise(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, numbers.Number):
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            return None
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        return value or None
    if isinstance(value, set | frozenset | list | tuple):
        try:
            chosen = frozenset(value)
        except TypeError:
            return None
        return chosen or None
    return None


def _is_special(value: object) -> bool:
    return isinstance(value, str) and value in _SPECIAL_NAMES


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _round_kernel(x: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Round half away from zero to ``digits`` decimals (negative: tens, hundreds, ...)."""
    with np.errstate(all="ignore"):
        d = np.trunc(digits)
        positive = d >= 0
        factor = np.power(10.0, np.abs(d))
        magnitude = np.abs(x)
        scaled = np.where(positive, magnitude * factor, magnitude / factor)
        whole = np.floor(scaled + 0.5)
        back = np.where(positive, whole / factor, whole * factor)
        out = np.copysign(back, x)
        # Already exact at this precision (or the factor overflowed): keep x as it is.
        out = np.where(positive & ~(scaled < 2.0**52), x, out)
        out = np.where(~positive & np.isinf(factor), np.copysign(0.0, x), out)
    return np.asarray(out, dtype=np.float64)


class _Scalar:
    def __init__(self, values: Mapping[str, object], self_value: object) -> None:
        self.values = values
        self.self_value = _normalise(self_value)
        self.cache: dict[str, object] = {}

    def ref(self, name: str) -> object:
        if name not in self.cache:
            try:
                raw = self.values.get(name)
            except Exception:  # a misbehaving mapping is still only a missing value
                raw = None
            self.cache[name] = _normalise(raw)
        return self.cache[name]

    def ev(self, node: _Node) -> object:
        if isinstance(node, _Number):
            return node.value
        if isinstance(node, _String):
            return node.value or None
        if isinstance(node, _Boolean):
            return node.value
        if isinstance(node, _Ref):
            return self.ref(node.name)
        if isinstance(node, _Self):
            return self.self_value
        if isinstance(node, _Negate):
            v = self.ev(node.operand)
            return -v if type(v) is float else None
        if isinstance(node, _Not):
            return self.ev(node.operand) is not True
        if isinstance(node, _Logic):
            if node.op == "and":
                return all(self.ev(operand) is True for operand in node.operands)
            return any(self.ev(operand) is True for operand in node.operands)
        if isinstance(node, _Arith):
            acc = self.ev(node.first)
            for op, _, operand in node.rest:
                acc = _arith(op, acc, self.ev(operand))
            return acc
        if isinstance(node, _Compare):
            return self.compare(node)
        return self.call(node)

    def compare(self, node: _Compare) -> bool:
        op = node.op
        if op in _EQUALITIES:
            if _is_empty_literal(node.left) or _is_empty_literal(node.right):
                other = node.right if _is_empty_literal(node.left) else node.left
                empty = self.ev(other) is None
                return empty if op == "=" else not empty
            special = _special_literal(node.left)
            other = node.right
            if special is None:
                special, other = _special_literal(node.right), node.left
            if special is not None:
                v = self.ev(other)
                if op == "=":
                    return v == special
                return v is not None and v != special
        a, b = self.ev(node.left), self.ev(node.right)
        if a is None or b is None or type(a) is not type(b):
            return False
        if op == "=":
            return a == b
        if op == "!=":
            return a != b
        if not (isinstance(a, float) and isinstance(b, float)):
            return False
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        return a >= b

    def call(self, node: _Call) -> object:
        name, args = node.name, node.args
        if name == "selected":
            v = self.ev(args[0])
            option = cast(_String, args[1]).value
            if isinstance(v, str):
                return v == option
            if isinstance(v, frozenset):
                return option in v
            return False
        if name == "count-selected":
            v = self.ev(args[0])
            if isinstance(v, frozenset):
                return float(len(v))
            if isinstance(v, str) and not _is_special(v):
                return 1.0
            return 0.0
        if name == "answered":
            v = self.ev(args[0])
            return v is not None and not _is_special(v)
        if name == "string-length":
            v = self.ev(args[0])
            if v is None:
                return 0.0
            return float(len(v)) if isinstance(v, str) else None
        if name == "if":
            chosen = args[1] if self.ev(args[0]) is True else args[2]
            v = self.ev(chosen)
            return None if _is_special(v) else v
        if name == "coalesce":
            for arg in args:
                v = self.ev(arg)
                if v is not None and not _is_special(v):
                    return v
            return None
        values = [self.ev(arg) for arg in args]
        if not all(type(v) is float for v in values):
            return None
        numbers_: list[float] = values  # type: ignore[assignment]
        if name == "min":
            return min(numbers_)
        if name == "max":
            return max(numbers_)
        if name == "abs":
            return abs(numbers_[0])
        if name == "int":
            return float(np.trunc(numbers_[0]))
        digits = numbers_[1] if len(numbers_) > 1 else 0.0
        rounded = float(_round_kernel(np.array([numbers_[0]]), np.array([digits]))[0])
        return _finite(rounded)


def _arith(op: str, a: object, b: object) -> float | None:
    if not (isinstance(a, float) and isinstance(b, float)):
        return None
    if op == "+":
        return _finite(a + b)
    if op == "-":
        return _finite(a - b)
    if op == "*":
        return _finite(a * b)
    if b == 0.0:
        return None
    if op == "/":
        return _finite(a / b)
    return _finite(math.fmod(a, b))


# ---------------------------------------------------------------------------------------------
# Vectorised evaluation
# ---------------------------------------------------------------------------------------------
# Every vector value has `empty` (bool: no answer; never set where `special` is) and `special`
# (int8: 0, or the code of the special answer). Literals are numpy scalars, broadcast lazily.


_NO_SPECIAL: Final = np.int8(0)


@dataclass
class _Vec:
    kind: ExpressionType
    values: Any  # number: float64; boolean: bool; text: object (str/None); choice: float codes
    empty: Any  # bool
    special: Any = _NO_SPECIAL  # int8 codes 0 / -1 / -2
    symbol: Symbol | None = None
    chosen: dict[str, np.ndarray] | None = None  # multi: option -> bool

    def valid(self) -> Any:
        """Rows with a real (non-empty, non-special) answer."""
        if np.ndim(self.special) == 0 and self.special == 0:
            return ~self.empty
        return ~self.empty & (self.special == 0)


def _or(a: Any, b: Any) -> Any:
    """``a | b`` for masks, without a pass over the rows when either is a constant."""
    if np.ndim(a) == 0:
        return b if not a else np.bool_(True)
    if np.ndim(b) == 0:
        return a if not b else np.bool_(True)
    return a | b


def _pick(truth: Any, a: Any, b: Any) -> Any:
    """``np.where(truth, a, b)`` for masks, short-cutting equal constants."""
    if np.ndim(a) == 0 and np.ndim(b) == 0 and bool(a) == bool(b):
        return np.bool_(a)
    return np.where(truth, a, b)


def _symbol_of(vec: _Vec) -> Symbol:
    if vec.symbol is None:  # pragma: no cover - the type checker guarantees a symbol
        raise RuntimeError("a choice value without its question")
    return vec.symbol


def _special_of(values: Any, symbol: Symbol | None) -> Any:
    specials = symbol.specials if symbol is not None else _SPECIAL_NAMES
    out: Any = np.zeros(np.shape(values), dtype=np.int8)
    for name, code in SPECIAL_CODES.items():
        if name in specials:
            out = np.where(values == code, np.int8(code), out)
    return out


def _text_special(values: Any) -> Any:
    out: Any = np.zeros(np.shape(values), dtype=np.int8)
    for name, code in SPECIAL_CODES.items():
        out = np.where(values == name, np.int8(code), out)
    return out


class _Vector:
    def __init__(
        self,
        text: str,
        frame: pd.DataFrame,
        symbols: Mapping[str, Symbol],
        types: Mapping[int, _Type],
        self_name: str | None,
    ) -> None:
        self.text = text
        self.frame = frame
        self.symbols = symbols
        self.types = types
        self.self_name = self_name
        self.n = len(frame)
        self.cache: dict[str, _Vec] = {}

    # -- reading stored columns ---------------------------------------------------------------
    def column(self, column: str, symbol: Symbol) -> pd.Series:
        if column not in self.frame.columns:
            raise ExpressionError(
                f"The data has no column '{column}' for ${{{symbol.name}}} "
                f"({_KIND_WORDS[symbol.kind]})",
                expression=self.text,
            )
        return self.frame[column]

    def floats(self, column: str, symbol: Symbol) -> np.ndarray:
        series = self.column(column, symbol)
        try:
            out = series.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise ExpressionError(
                f"Column '{column}' for ${{{symbol.name}}} ({_KIND_WORDS[symbol.kind]}) must "
                f"hold numbers, but it has dtype {series.dtype}",
                expression=self.text,
            ) from exc
        return np.asarray(out, dtype=np.float64)

    def load(self, name: str) -> _Vec:
        if name in self.cache:
            return self.cache[name]
        symbol = self.symbols[name]
        kind = symbol.kind
        vec: _Vec
        if kind == "number":
            values = self.floats(name, symbol)
            special = _special_of(values, symbol)
            vec = _Vec("number", values, ~np.isfinite(values) & (special == 0), special, symbol)
        elif kind == "choice":
            codes = self.floats(name, symbol)
            known = np.isin(codes, np.fromiter(symbol.options.values(), dtype=np.float64))
            special = _special_of(codes, symbol)
            vec = _Vec("choice", codes, ~known & (special == 0), special, symbol)
        elif kind == "multi":
            chosen: dict[str, np.ndarray] = {}
            special = np.zeros(self.n, dtype=np.int8)
            for i, option in enumerate(symbol.options):
                values = self.floats(f"{name}__{option}", symbol)
                if i == 0:
                    special = _special_of(values, symbol)
                chosen[option] = (values == 1) & (special == 0)
            any_chosen = np.zeros(self.n, dtype=bool)
            for flags in chosen.values():
                any_chosen |= flags
            vec = _Vec("multi", None, ~any_chosen & (special == 0), special, symbol, chosen)
        elif kind == "text":
            series = self.column(name, symbol)
            objects = np.asarray(series.to_numpy(dtype=object, na_value=None), dtype=object)
            empty = np.asarray(pd.isna(objects), dtype=bool) | (objects == "")
            objects = np.where(empty, np.asarray(None, dtype=object), objects)
            special = _text_special(objects)
            vec = _Vec("text", objects, empty & (special == 0), special, symbol)
        else:
            series = self.column(name, symbol)
            empty = np.asarray(series.isna().to_numpy(), dtype=bool)
            try:
                flags = series.to_numpy(dtype=bool, na_value=False)
            except (TypeError, ValueError) as exc:
                raise ExpressionError(
                    f"Column '{name}' for ${{{name}}} (a true/false value) must hold true/false "
                    f"values, but it has dtype {series.dtype}",
                    expression=self.text,
                ) from exc
            vec = _Vec("boolean", np.asarray(flags, dtype=bool), empty, np.int8(0), symbol)
        self.cache[name] = vec
        return vec

    # -- conversions --------------------------------------------------------------------------
    def names(self, vec: _Vec) -> Any:
        """Object array of the names (text values, option names, special names; None when empty)."""
        if vec.kind == "text":
            return vec.values
        symbol = _symbol_of(vec)
        pairs = sorted(
            [(float(code), option) for option, code in symbol.options.items()]
            + [(float(SPECIAL_CODES[s]), s) for s in symbol.specials]
        )
        if not pairs:
            return np.full(np.shape(vec.values), None, dtype=object)
        keys = np.array([code for code, _ in pairs], dtype=np.float64)
        labels = np.array([option for _, option in pairs] + [None], dtype=object)
        codes = np.where(np.isnan(vec.values), keys[0], vec.values)
        index = np.clip(np.searchsorted(keys, codes), 0, len(keys) - 1)
        index = np.where(vec.empty, len(keys), index)
        return labels[index]

    def plain(self, vec: _Vec) -> _Vec:
        """The value as it leaves if()/coalesce(): special answers become empty."""
        empty = vec.empty if np.ndim(vec.special) == 0 and vec.special == 0 else (
            vec.empty | (vec.special != 0)
        )
        if vec.kind == "number":
            return _Vec("number", vec.values, empty)
        if vec.kind == "boolean":
            return _Vec("boolean", vec.values, empty)
        return _Vec("text", np.where(empty, None, self.names(vec)), empty)

    def scalar(self, value: Any, kind: ExpressionType) -> _Vec:
        if kind == "text":
            empty = value is None
            special = np.int8(SPECIAL_CODES.get(value, 0)) if isinstance(value, str) else 0
            return _Vec("text", np.asarray(value, dtype=object), np.bool_(empty), np.int8(special))
        if kind == "number":
            return _Vec("number", np.float64(value), np.bool_(False))
        return _Vec("boolean", np.bool_(value), np.bool_(False))

    # -- evaluation ---------------------------------------------------------------------------
    def ev(self, node: _Node) -> _Vec:
        if isinstance(node, _Number):
            return self.scalar(node.value, "number")
        if isinstance(node, _String):
            return self.scalar(node.value or None, "text")
        if isinstance(node, _Boolean):
            return self.scalar(node.value, "boolean")
        if isinstance(node, _Ref):
            return self.load(node.name)
        if isinstance(node, _Self):
            return self.load(cast(str, self.self_name))
        if isinstance(node, _Negate):
            x = self.ev(node.operand)
            return _Vec("number", -x.values, ~x.valid())
        if isinstance(node, _Not):
            x = self.ev(node.operand)
            return _Vec("boolean", ~(x.values & ~x.empty), np.bool_(False))
        if isinstance(node, _Logic):
            parts = [self.ev(operand) for operand in node.operands]
            truths = [p.values & ~p.empty for p in parts]
            combined = truths[0]
            for truth in truths[1:]:
                combined = (combined & truth) if node.op == "and" else (combined | truth)
            return _Vec("boolean", combined, np.bool_(False))
        if isinstance(node, _Arith):
            acc = self.ev(node.first)
            values, empty = acc.values, ~acc.valid()
            for op, _, operand in node.rest:
                x = self.ev(operand)
                values, empty = _vector_arith(op, values, empty, x.values, ~x.valid())
            return _Vec("number", values, empty)
        if isinstance(node, _Compare):
            return self.compare(node)
        return self.call(node)

    def compare(self, node: _Compare) -> _Vec:
        op = node.op
        false = np.bool_(False)
        if op in _EQUALITIES:
            if _is_empty_literal(node.left) or _is_empty_literal(node.right):
                other = node.right if _is_empty_literal(node.left) else node.left
                empty = self.ev(other).empty
                return _Vec("boolean", empty if op == "=" else ~empty, false)
            special = _special_literal(node.left)
            other = node.right
            if special is None:
                special, other = _special_literal(node.right), node.left
            if special is not None:
                x = self.ev(other)
                hit = x.special == SPECIAL_CODES[special]
                return _Vec("boolean", hit if op == "=" else (~x.empty & ~hit), false)
        a, b = self.ev(node.left), self.ev(node.right)
        fn = _COMPARE_FUNCTIONS[op]
        with np.errstate(invalid="ignore"):
            if a.kind == "number":
                return _Vec("boolean", a.valid() & b.valid() & fn(a.values, b.values), false)
            if a.kind == "boolean":
                both = ~a.empty & ~b.empty
                return _Vec("boolean", both & fn(a.values, b.values), false)
            both = ~a.empty & ~b.empty
            if a.kind == "choice" and b.kind == "choice" and a.symbol == b.symbol:
                return _Vec("boolean", both & fn(a.values, b.values), false)
            for x, y in ((a, b), (b, a)):
                if x.kind == "choice" and y.kind == "text" and np.ndim(y.values) == 0:
                    literal = y.values.item()
                    options = _symbol_of(x).options
                    if literal in options:
                        code = float(options[literal])
                        return _Vec("boolean", both & fn(x.values, code), false)
            return _Vec("boolean", both & fn(self.names(a), self.names(b)), false)

    def call(self, node: _Call) -> _Vec:
        name, args = node.name, node.args
        false = np.bool_(False)
        if name == "selected":
            x = self.ev(args[0])
            option = cast(_String, args[1]).value
            if option in SPECIAL_CODES:
                return _Vec("boolean", x.special == SPECIAL_CODES[option], false)
            if x.kind == "multi":
                return _Vec("boolean", (x.chosen or {}).get(option, false), false)
            code = float(_symbol_of(x).options[option])
            return _Vec("boolean", ~x.empty & (x.values == code), false)
        if name == "count-selected":
            x = self.ev(args[0])
            total = np.zeros(self.n, dtype=np.float64)
            for flags in (x.chosen or {}).values():
                total += flags
            return _Vec("number", total, false)
        if name == "answered":
            return _Vec("boolean", self.ev(args[0]).valid(), false)
        if name == "string-length":
            x = self.ev(args[0])
            lengths = _lengths(x.values)
            return _Vec("number", np.where(x.empty, 0.0, lengths), false)
        if name == "if":
            condition = self.ev(args[0])
            truth = condition.values & ~condition.empty
            a, b = self.plain(self.ev(args[1])), self.plain(self.ev(args[2]))
            return _Vec(a.kind, np.where(truth, a.values, b.values), _pick(truth, a.empty, b.empty))
        if name == "coalesce":
            parts = [self.plain(self.ev(arg)) for arg in args]
            result = parts[-1]
            values, empty = result.values, result.empty
            for part in reversed(parts[:-1]):
                take = ~part.empty
                values = np.where(take, part.values, values)
                empty = empty & part.empty
            return _Vec(result.kind, values, empty)
        xs = [self.ev(arg) for arg in args]
        empty = ~xs[0].valid()
        for x in xs[1:]:
            empty = _or(empty, ~x.valid())
        with np.errstate(all="ignore"):
            if name == "min":
                values = np.minimum.reduce([np.broadcast_to(x.values, (self.n,)) for x in xs])
            elif name == "max":
                values = np.maximum.reduce([np.broadcast_to(x.values, (self.n,)) for x in xs])
            elif name == "abs":
                values = np.abs(xs[0].values)
            elif name == "int":
                values = np.trunc(xs[0].values)
            else:
                digits = xs[1].values if len(xs) > 1 else np.float64(0.0)
                values = _round_kernel(
                    np.broadcast_to(xs[0].values, (self.n,)), np.broadcast_to(digits, (self.n,))
                )
                empty = _or(empty, ~np.isfinite(values))
        return _Vec("number", values, empty)


_COMPARE_FUNCTIONS: Final[Mapping[str, Callable[[Any, Any], Any]]] = {
    "=": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


def _vector_arith(op: str, a: Any, a_empty: Any, b: Any, b_empty: Any) -> tuple[Any, Any]:
    with np.errstate(all="ignore"):
        if op == "+":
            out = a + b
        elif op == "-":
            out = a - b
        elif op == "*":
            out = a * b
        elif op == "/":
            out = a / b
        else:
            out = np.fmod(a, b)
        empty = _or(_or(a_empty, b_empty), ~np.isfinite(out))
    return out, empty


def _lengths(values: Any) -> Any:
    if np.ndim(values) == 0:
        value = values.item() if isinstance(values, np.ndarray) else values
        return np.float64(len(value)) if isinstance(value, str) else np.float64(0.0)
    lengths = pd.Series(values, dtype="string").str.len()
    return lengths.to_numpy(dtype=np.float64, na_value=0.0)


# ---------------------------------------------------------------------------------------------
# Expression
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expression:
    """A parsed expression. Build it with :func:`parse`; it is immutable and picklable.

    Attributes
    ----------
    text
        The expression as written.
    references
        The names used as ``${name}``.
    uses_self
        Whether the expression contains ``.`` (the answer being validated).
    """

    text: str
    references: frozenset[str]
    uses_self: bool
    _root: _Node = field(repr=False, compare=False)

    def check(
        self,
        symbols: Mapping[str, Symbol],
        *,
        self_symbol: Symbol | None = None,
        context: Context = "relevant",
        all_names: Collection[str] = (),
    ) -> ExpressionType:
        """Type check the expression against the questions visible where it is used.

        Parameters
        ----------
        symbols
            The questions, matrix items and derived scores the expression may refer to (those
            defined earlier), by name.
        self_symbol
            The question the expression belongs to. Needed for ``.`` in a constraint; when
            given in any context, a reference to the question itself gets a precise message.
        context
            ``"relevant"`` and ``"constraint"`` must give a condition; ``"derived"`` a number
            or a condition. ``.`` is allowed only in ``"constraint"``.
        all_names
            Every name in the questionnaire, so that a reference to a later question is
            reported as a forward reference rather than as unknown.

        Returns
        -------
        ExpressionType
            What the expression gives: ``"boolean"`` for a condition, ``"number"``, ...

        Raises
        ------
        ExpressionError
            Naming the problem, its position and the fix: unknown or forward references
            (with close-match suggestions), type errors, ``.`` outside a constraint, or a
            result of the wrong kind for the context.

        Examples
        --------
        >>> age = Symbol("age", "number")
        >>> parse("${age} >= 18").check({"age": age})
        'boolean'
        """
        if context not in _CONTEXTS:
            raise ValueError(
                f"context must be one of {', '.join(sorted(_CONTEXTS))}, not {context!r}"
            )
        checker = _Checker(
            self.text,
            symbols,
            self_symbol=self_symbol,
            all_names=all_names,
            allow_self=context == "constraint",
        )
        t = checker.check(self._root)
        if context in ("relevant", "constraint") and t.kind != "boolean":
            raise _error(
                self.text,
                0,
                f"A {context} expression must be a condition (true or false), but this one "
                f"gives {_KIND_WORDS[t.kind]}; compare it, e.g. ${{age}} >= 18",
            )
        if context == "derived" and t.kind not in ("number", "boolean"):
            hint = (
                f"; score a choice with if({_source_ref(self._root)} = "
                f"'{_first_option(t.symbol)}', 1, 0)"
                if t.kind == "choice" else ""
            )
            raise _error(
                self.text,
                0,
                f"A derived expression must give a number or a condition (true or false), but "
                f"this one gives {_KIND_WORDS[t.kind]}{hint}",
            )
        return t.kind

    def evaluate(self, values: Mapping[str, object], *, self_value: object = None) -> object:
        """Evaluate for one respondent.

        Parameters
        ----------
        values
            Answers by name, as the app holds them: a number as ``int``/``float``; a choice,
            likert or matrix item as the option name; a multiple choice as a set of option
            names; a text as ``str``; a special answer as ``"dont_know"``/``"prefer_not"``; a
            derived score as its number or ``bool``. A missing key, ``None``, NaN, ``''`` or an
            empty set is empty.
        self_value
            The answer being validated (``.`` in a constraint).

        Returns
        -------
        object
            ``bool`` for a condition (never ``None`` except for a bare true/false derived
            score, ``if()`` or ``coalesce()`` that is empty), ``float`` for a number, ``str``
            for a text, ``frozenset`` for a bare multiple choice, or ``None`` when empty.

        Notes
        -----
        Never raises for any values: empty, special and mismatched values follow the rules in
        the module docstring (e.g. division by zero gives ``None``). For ``relevant`` and
        ``constraint`` use :meth:`evaluate_condition`, which gives a plain ``bool``.
        """
        value = _Scalar(values, self_value).ev(self._root)
        return None if _is_special(value) else value

    def evaluate_condition(
        self, values: Mapping[str, object], *, self_value: object = None
    ) -> bool:
        """Evaluate a condition for one respondent; an empty result counts as false.

        Parameters
        ----------
        values, self_value
            As for :meth:`evaluate`.

        Returns
        -------
        bool
            ``True`` only when the expression gives true.
        """
        return self.evaluate(values, self_value=self_value) is True

    def evaluate_frame(
        self,
        frame: pd.DataFrame,
        symbols: Mapping[str, Symbol],
        *,
        self_name: str | None = None,
    ) -> pd.Series:
        """Evaluate over stored responses, vectorised.

        Parameters
        ----------
        frame
            One row per response, columns as stored (see the module docstring, "Stored data").
        symbols
            The symbols of every name the expression refers to (and of ``self_name``).
        self_name
            For an expression with ``.``: the name of the question being validated.

        Returns
        -------
        pandas.Series
            Aligned to ``frame.index``: ``Float64`` for a number, ``boolean`` for a condition,
            ``string`` for a text or choice; ``<NA>`` where empty. Row by row equal to
            :meth:`evaluate` on the same answers.

        Raises
        ------
        ExpressionError
            When the expression does not type-check against ``symbols``, gives a multiple
            choice, or a column it needs is missing or of the wrong dtype.

        Notes
        -----
        Only numpy/pandas vector operations are used (no per-row Python), so the cost is a few
        passes over the referenced columns per operator.
        """
        self_symbol = None
        if self.uses_self:
            if self_name is None or self_name not in symbols:
                raise _error(
                    self.text,
                    0,
                    "The expression uses '.' (this answer): pass self_name, the name of the "
                    "question being validated, with its symbol in symbols",
                )
            self_symbol = symbols[self_name]
        checker = _Checker(
            self.text,
            symbols,
            self_symbol=self_symbol,
            all_names=(),
            allow_self=True,
            allow_self_reference=True,
        )
        t = checker.check(self._root)
        if t.kind == "multi":
            raise _error(
                self.text,
                0,
                "A multiple choice cannot be evaluated as one column: use selected() or "
                "count-selected()",
            )
        vector = _Vector(self.text, frame, symbols, checker.types, self_name)
        vec = vector.plain(vector.ev(self._root))
        n = len(frame)
        empty = np.array(np.broadcast_to(vec.empty, (n,)), dtype=bool)
        if vec.kind == "number":
            values = np.array(np.broadcast_to(vec.values, (n,)), dtype=np.float64)
            values[empty] = 0.0
            array: Any = pd.arrays.FloatingArray(values, empty)
        elif vec.kind == "boolean":
            flags = np.array(np.broadcast_to(vec.values, (n,)), dtype=bool) & ~empty
            array = pd.arrays.BooleanArray(flags, empty)
        else:
            objects = np.array(np.broadcast_to(vec.values, (n,)), dtype=object)
            objects[empty] = None
            array = pd.array(objects, dtype="string")
        return pd.Series(array, index=frame.index, name=None)
