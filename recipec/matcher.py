"""llama-quantize's rule matcher: `--tensor-type PATTERN=TYPE`, in its own regex dialect.

llama-quantize lower-cases PATTERN (ASCII `tolower`, tools/quantize/quantize.cpp), compiles it
once with `std::regex` (ECMAScript grammar, "C" locale) and tests every tensor name with
`std::regex_search` (unanchored); the first matching rule wins (src/llama-quant.cpp).
This module reads a pattern the way the pinned build's standard library does (libstdc++:
bits/regex_scanner.tcc and bits/regex_compiler.tcc) and translates it into an equivalent
Python `re` pattern over the name's bytes, so that a search here answers what the C++
search answers. Where the two readings differ, the translation follows the C++ one:

* POSIX bracket classes `[[:digit:]]`, `[[:alpha:]]`, `[[:space:]]` …, collating symbols
  `[[.hyphen.]]` and equivalence classes `[[=a=]]` are sets of bytes in the "C" locale;
* `\\d \\w \\s \\b` are ASCII; `.` is any byte but `\\n` and `\\r`; `$` is the very end;
* `[]` matches nothing and `[^]` any byte; `[` inside a bracket is a plain character;
* `\\cX` is the letter X (a libstdc++ quirk), `\\0` is NUL (never octal), `\\uXXXX` keeps the
  low byte, a backslash before any other letter is that letter;
* quantifiers may follow each other (`a**`); a repeat count is a C `int`;
* what ECMAScript lacks (lookbehind, named groups, inline flags, `{` as a literal) is invalid,
  as are patterns of more NFA states than libstdc++ allows.

Readings that are exact but surprising are reported as `dialect` findings; anything this
module cannot reproduce exactly is an `unmodelled` finding (the answer is then a best effort).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Iterator, Sequence

STATE_LIMIT = 100_000  # _GLIBCXX_REGEX_STATE_LIMIT: more NFA states and the regex does not compile
_SPECIAL = "^$\\.*+?()[]{}|"
_SINGLE = {"^": "LINE_BEGIN", "$": "LINE_END", ".": "ANY", "*": "STAR", "+": "PLUS", "?": "OPT",
           "|": "OR", ")": "END"}
_ESCAPES = {"0": 0, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}
_HEX = frozenset("0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")


def _span(lo: int, hi: int) -> frozenset[int]:
    return frozenset(range(lo, hi + 1))


_UPPER, _LOWER, _DIGIT = _span(65, 90), _span(97, 122), _span(48, 57)
_ALNUM = _UPPER | _LOWER | _DIGIT
_GRAPH = _span(33, 126)
# regex_traits<char>::lookup_classname, over ctype<char> of the "C" locale (bytes >= 0x80: none).
CLASSES: dict[str, frozenset[int]] = {
    "d": _DIGIT, "w": _ALNUM | {95}, "s": _span(9, 13) | {32}, "alnum": _ALNUM,
    "alpha": _UPPER | _LOWER, "blank": frozenset({9, 32}), "cntrl": _span(0, 31) | {127},
    "digit": _DIGIT, "graph": _GRAPH, "lower": _LOWER, "print": _span(32, 126),
    "punct": _GRAPH - _ALNUM, "space": _span(9, 13) | {32}, "upper": _UPPER,
    "xdigit": _DIGIT | _span(65, 70) | _span(97, 102),
}
# regex_traits<char>::lookup_collatename: the name of each code 0..127, in order.
_COLLATE_NAMES = (
    "NUL SOH STX ETX EOT ENQ ACK alert backspace tab newline vertical-tab form-feed carriage-return "
    "SO SI DLE DC1 DC2 DC3 DC4 NAK SYN ETB CAN EM SUB ESC IS4 IS3 IS2 IS1 space exclamation-mark "
    "quotation-mark number-sign dollar-sign percent-sign ampersand apostrophe left-parenthesis "
    "right-parenthesis asterisk plus-sign comma hyphen period slash zero one two three four five "
    "six seven eight nine colon semicolon less-than-sign equals-sign greater-than-sign "
    "question-mark commercial-at A B C D E F G H I J K L M N O P Q R S T U V W X Y Z "
    "left-square-bracket backslash right-square-bracket circumflex underscore grave-accent "
    "a b c d e f g h i j k l m n o p q r s t u v w x y z left-curly-bracket vertical-line "
    "right-curly-bracket tilde DEL").split()
COLLATE: dict[str, int] = {name: code for code, name in enumerate(_COLLATE_NAMES)}
assert len(COLLATE) == 128


def lower_pattern(pattern: str) -> str:
    """The pattern as llama-quantize compiles it: lower-cased byte by byte (ASCII tolower)."""
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in pattern)


def as_bytes_text(text: str) -> str:
    """TEXT's UTF-8 bytes, one character per byte: what std::regex on `char` sees."""
    return text if text.isascii() else text.encode("utf-8", "surrogateescape").decode("latin-1")


class PatternError(re.error):
    """The pattern does not compile under llama-quantize's std::regex (the run fails early)."""


@dataclass(frozen=True)
class Finding:
    """Something to tell about a pattern: `dialect` (exact, but not what Python or PCRE read)
    or `unmodelled` (recipec cannot reproduce the C++ answer exactly). OFFSET: a character of
    the pattern as written (0-based)."""

    kind: str
    offset: int
    message: str


@dataclass(frozen=True)
class _Token:
    kind: str
    value: object = None
    pos: int = 0


@dataclass(frozen=True)
class _Node:
    """A translated piece: Python source, NFA states reachable from its start, states inserted."""

    py: str
    reach: int
    total: int


def _fail(message: str, pos: int) -> PatternError:
    return PatternError(message, None, pos)


class _Scanner:
    """libstdc++'s _Scanner for ECMAScript: the whole pattern as tokens, with its notes."""

    def __init__(self, text: str):
        self.text, self.i, self.state = text, 0, "normal"
        self.tokens: list[_Token] = []
        self.notes: list[tuple[str, int, str]] = []

    def run(self) -> list[_Token]:
        scan = {"normal": self._normal, "bracket": self._bracket, "brace": self._brace}
        while self.i < len(self.text):
            start = self.i
            self.i += 1
            self.tokens.append(scan[self.state](self.text[start], start))
        self.tokens.append(_Token("EOF", None, len(self.text)))
        return self.tokens

    def _peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def _normal(self, c: str, pos: int) -> _Token:
        if c not in _SPECIAL or c in "]}":
            return _Token("CHAR", ord(c), pos)
        if c == "\\":
            return self._escape(pos, in_bracket=False)
        if c == "(":
            return self._paren(pos)
        if c == "[":
            self.state = "bracket"
            if self._peek() == "^":
                self.i += 1
                return _Token("BRACKET", True, pos)
            return _Token("BRACKET", False, pos)
        if c == "{":
            self.state = "brace"
            return _Token("INTERVAL", None, pos)
        return _Token(_SINGLE[c], None, pos)

    def _paren(self, pos: int) -> _Token:
        if self._peek() != "?":
            return _Token("GROUP", None, pos)
        self.i += 1
        kind = {":": ("NOGROUP", None), "=": ("LOOKAHEAD", False), "!": ("LOOKAHEAD", True)}.get(self._peek())
        if kind is None:
            what = {"<": "lookbehind and named groups", "p": "named groups", "#": "comments",
                    ">": "atomic groups"}.get(self._peek(), "inline flags")
            raise _fail(f"`(?{self._peek()}` is not ECMAScript: std::regex has no {what} "
                        "(only `(?:`, `(?=` and `(?!`)", pos)
        self.i += 1
        return _Token(kind[0], kind[1], pos)

    def _bracket(self, c: str, pos: int) -> _Token:
        if c == "-":
            return _Token("DASH", None, pos)
        if c == "[" and self._peek() in (".", ":", "="):
            return self._class_name(pos)
        if c == "]":
            self.state = "normal"
            return _Token("BRACKET_END", None, pos)
        if c == "\\":
            return self._escape(pos, in_bracket=True)
        return _Token("CHAR", ord(c), pos)

    def _class_name(self, pos: int) -> _Token:
        """`[:name:]`, `[.name.]` or `[=name=]` inside a bracket (_M_eat_class)."""
        mark = self.text[self.i]
        end = self.text.find(mark, self.i + 1)
        if end < 0 or self.text[end + 1:end + 2] != "]":
            raise _fail(f"`[{mark}` opens a class name that is not closed by `{mark}]`", pos)
        name = self.text[self.i + 1:end]
        self.i = end + 2
        return _Token({":": "CLASS_NAME", ".": "COLLATE", "=": "EQUIV"}[mark], name, pos)

    def _brace(self, c: str, pos: int) -> _Token:
        if c in _DIGITS:
            while self._peek() and self._peek() in _DIGITS:
                c += self.text[self.i]
                self.i += 1
            return _Token("COUNT", c, pos)
        if c == ",":
            return _Token("COMMA", None, pos)
        if c == "}":
            self.state = "normal"
            return _Token("INTERVAL_END", None, pos)
        raise _fail("`{` must start a repetition `{n}`, `{n,}` or `{n,m}` in std::regex; "
                    "write `\\{` for a literal brace", pos)

    def _escape(self, pos: int, in_bracket: bool) -> _Token:
        """_M_eat_escape_ecma."""
        c = self._peek()
        if not c:
            raise _fail("the pattern ends with a lone backslash", pos)
        self.i += 1
        if c in _ESCAPES and (c != "b" or in_bracket):
            if c == "0" and self._peek() and self._peek() in _DIGITS:
                self.notes.append(("dialect", pos, f"`\\0{self._peek()}` is NUL followed by "
                                   f"`{self._peek()}` in std::regex, not an octal escape"))
            return _Token("CHAR", _ESCAPES[c], pos)
        if c in "bB":
            return _Token("WORD_BOUNDARY", c == "B", pos)
        if c in "dDsSwW":
            return _Token("QCLASS", c, pos)
        if c == "c":
            return self._control(pos)
        if c in "xu":
            return self._hex(c, pos)
        if c in _DIGITS:
            digits = c
            while self._peek() and self._peek() in _DIGITS:
                digits += self.text[self.i]
                self.i += 1
            return _Token("BACKREF", int(digits), pos)
        if c.isascii() and c.isalpha():
            self.notes.append(("dialect", pos, f"`\\{c}` is the letter `{c}` in std::regex "
                               "(no such escape in ECMAScript)"))
        return _Token("CHAR", ord(c), pos)

    def _control(self, pos: int) -> _Token:
        x = self._peek()
        if not x:
            raise _fail("`\\c` needs a letter after it", pos)
        self.i += 1
        self.notes.append(("dialect", pos, f"`\\c{x}` is the character `{x}` in llama-quantize's "
                           "std::regex (libstdc++), not a control character"))
        return _Token("CHAR", ord(x), pos)

    def _hex(self, c: str, pos: int) -> _Token:
        n = 2 if c == "x" else 4
        digits = self.text[self.i:self.i + n]
        if len(digits) < n or not set(digits) <= _HEX:
            raise _fail(f"`\\{c}` needs {n} hexadecimal digits", pos)
        self.i += n
        value = int(digits, 16)
        if value > 0xFF:
            self.notes.append(("dialect", pos, f"`\\{c}{digits}` keeps only its low byte in std::regex "
                               f"on char: it is `\\x{value & 0xFF:02x}`"))
        return _Token("CHAR", value & 0xFF, pos)


def _signed(b: int) -> int:
    return b - 256 if b >= 128 else b  # `char` is signed: ranges compare as signed values


def _byte_class(members: frozenset[int] | set[int]) -> str:
    """A Python class matching exactly MEMBERS (bytes 0..255 as code points)."""
    if not members:
        return "(?!)"
    if len(members) == 1:
        (b,) = members
        return chr(b) if chr(b).isascii() and (chr(b).isalnum() or b == 95) else f"\\x{b:02x}"
    if len(members) == 256:
        return "[\\x00-\\xff]"
    parts, run = [], []
    for b in sorted(members):
        if run and b == run[-1] + 1:
            run.append(b)
            continue
        if run:
            parts.append(_run_text(run))
        run = [b]
    parts.append(_run_text(run))
    return "[" + "".join(parts) + "]"


def _run_text(run: list[int]) -> str:
    lo, hi = run[0], run[-1]
    return f"\\x{lo:02x}" if lo == hi else f"\\x{lo:02x}-\\x{hi:02x}"


def _int32(text: str) -> int:
    v = int(text) & 0xFFFFFFFF  # _M_cur_int_value returns a C int
    return v - (1 << 32) if v >= 1 << 31 else v


class _Compiler:
    """libstdc++'s _Compiler: tokens -> (Python source, NFA state counts), same errors."""

    def __init__(self, tokens: list[_Token], notes: list[tuple[str, int, str]]):
        self.tokens, self.k, self.notes = tokens, 0, notes
        self.groups, self.open = 1, [0]  # _M_subexpr_count and _M_paren_stack (group 0: the match)

    def _tok(self) -> _Token:
        return self.tokens[self.k]

    def _take(self, kind: str) -> _Token | None:
        t = self.tokens[self.k]
        if t.kind == kind:
            self.k += 1
            return t
        return None

    def compile(self) -> _Node:
        d = self._disjunction()
        if not self._take("EOF"):
            t = self._tok()
            what = "an unmatched `)`" if t.kind == "END" else "a quantifier with nothing to repeat"
            raise _fail(f"{what} (std::regex rejects the pattern)", t.pos)
        total = d.total + 3  # group 0's begin and end, accept
        if total > STATE_LIMIT:
            raise _fail(f"the pattern needs {total} NFA states; libstdc++'s std::regex refuses more "
                        f"than {STATE_LIMIT}", 0)
        return _Node(d.py, d.reach + 3, total)

    def _disjunction(self) -> _Node:
        alts = [self._alternative()]
        while self._take("OR"):
            alts.append(self._alternative())
        extra = 2 * (len(alts) - 1)  # per `|`: an alternative state and a join
        return _Node("|".join(a.py for a in alts), sum(a.reach for a in alts) + extra,
                     sum(a.total for a in alts) + extra)

    def _alternative(self) -> _Node:
        terms = []
        while (t := self._term()) is not None:
            terms.append(t)
        return _Node("".join(t.py for t in terms), sum(t.reach for t in terms) + 1,
                     sum(t.total for t in terms) + 1)

    def _term(self) -> _Node | None:
        node = self._assertion()
        if node is not None:
            return node
        node = self._atom()
        if node is None:
            return None
        while (q := self._quantifier(node)) is not None:
            node = q
        return node

    def _assertion(self) -> _Node | None:
        t = self._tok()
        simple = {"LINE_BEGIN": "\\A", "LINE_END": "\\Z"}
        if t.kind in simple or t.kind == "WORD_BOUNDARY":
            self.k += 1
            py = simple.get(t.kind) or ("\\B" if t.value else "\\b")
            return _Node(py, 1, 1)
        if t.kind != "LOOKAHEAD":
            return None
        self.k += 1
        d = self._disjunction()
        self._close(t)
        return _Node(f"(?{'!' if t.value else '='}{d.py})", d.reach + 2, d.total + 2)

    def _close(self, opener: _Token) -> None:
        if not self._take("END"):
            t = self._tok()
            if t.kind in ("STAR", "PLUS", "OPT", "INTERVAL"):
                raise _fail("a quantifier with nothing to repeat (std::regex rejects the pattern)", t.pos)
            raise _fail("a group is not closed by `)`", opener.pos)

    def _atom(self) -> _Node | None:
        t = self._tok()
        if t.kind in ("ANY", "CHAR", "QCLASS", "BACKREF"):
            self.k += 1
            return _Node(self._simple(t), 1, 1)
        if t.kind == "NOGROUP":
            self.k += 1
            d = self._disjunction()
            self._close(t)
            return _Node(f"(?:{d.py})", d.reach + 1, d.total + 1)
        if t.kind == "GROUP":
            self.k += 1
            n = self.groups
            self.groups += 1
            self.open.append(n)
            d = self._disjunction()
            self._close(t)
            self.open.pop()
            return _Node(f"(?P<g{n}>{d.py})", d.reach + 2, d.total + 2)
        if t.kind == "BRACKET":
            self.k += 1
            return _Node(self._bracket(t), 1, 1)
        return None

    def _simple(self, t: _Token) -> str:
        if t.kind == "ANY":
            return _byte_class(_span(0, 255) - {10, 13})
        if t.kind == "CHAR":
            return _byte_class({t.value})
        if t.kind == "QCLASS":
            members = CLASSES[t.value.lower()]
            return _byte_class(_span(0, 255) - members if t.value.isupper() else members)
        n = t.value  # BACKREF: _M_insert_backref's checks
        if n >= self.groups:
            raise _fail(f"`\\{n}` refers to group {n}, and only {self.groups - 1} group(s) are "
                        "open or closed before it", t.pos)
        if n in self.open:
            raise _fail(f"`\\{n}` refers to group {n} from inside it", t.pos)
        return f"(?P=g{n})"

    def _quantifier(self, node: _Node) -> _Node | None:
        t = self._tok()
        if t.kind in ("STAR", "PLUS", "OPT"):
            self.k += 1
            lazy = "?" if self._take("OPT") else ""
            sym, extra = {"STAR": ("*", 1), "PLUS": ("+", 1), "OPT": ("?", 2)}[t.kind]
            return _Node(f"(?:{node.py}){sym}{lazy}", node.reach + extra, node.total + extra)
        if t.kind != "INTERVAL":
            return None
        self.k += 1
        low, n = self._counts(t)
        lazy = "?" if self._take("OPT") else ""
        lo = max(low, 0)  # a negative C int repeats nothing
        if n is None:
            added = 1 + lo * node.reach + node.reach + 1
            return _Node(f"(?:{node.py}){{{lo},}}{lazy}", added, node.total + added)
        added = 1 + lo * node.reach + 1 + n * (node.reach + 1)
        if node.total + added > STATE_LIMIT:  # fails in compile(); skip building a huge repeat
            return _Node("", added, node.total + added)
        return _Node(f"(?:{node.py}){{{lo},{lo + n}}}{lazy}", added, node.total + added)

    def _counts(self, t: _Token) -> tuple[int, int | None]:
        """(minimum as a C int, optional extra repeats or None for unbounded) of `{…}`."""
        first = self._take("COUNT")
        if first is None:
            raise _fail("`{` must start a repetition `{n}`, `{n,}` or `{n,m}` in std::regex; "
                        "write `\\{` for a literal brace", t.pos)
        low, n = self._count(first), 0
        if self._take("COMMA"):
            second = self._take("COUNT")
            n = None if second is None else self._count(second) - low
        if not self._take("INTERVAL_END"):
            raise _fail("a repetition `{…}` is not closed by `}`", t.pos)
        if n is not None and n < 0:
            raise _fail("a repetition `{n,m}` has m < n", t.pos)
        return low, n

    def _count(self, tok: _Token) -> int:
        """A repeat count as libstdc++ computes it: a long, returned as a C int."""
        if len(tok.value) > 18:  # the long overflows: undefined in C++; read as 0 here
            self.notes.append(("unmodelled", tok.pos, f"the repeat count {tok.value} overflows "
                               "libstdc++'s arithmetic (read as 0 here)"))
            return 0
        value = _int32(tok.value)
        if value != int(tok.value):
            self.notes.append(("dialect", tok.pos, f"the repeat count {tok.value} wraps to the "
                               f"C int {value} in std::regex"))
        return value

    def _bracket(self, opener: _Token) -> str:
        """_M_insert_bracket_matcher and _M_expression_term: the set of bytes the class matches."""
        members: set[int] = set()
        last: list = [None]  # the cached char (an int), "class", or None

        def push_char(b: int) -> None:
            if isinstance(last[0], int):
                members.add(last[0])
            last[0] = b

        def push_class() -> None:
            if isinstance(last[0], int):
                members.add(last[0])
            last[0] = "class"

        if (t := self._take("CHAR")) is not None:
            last[0] = t.value
        elif self._take("DASH"):
            last[0] = ord("-")
        first_end = self._tok()
        while self._bracket_term(members, last, push_char, push_class):
            pass
        if isinstance(last[0], int):
            members.add(last[0])
        if not members and first_end.kind == "BRACKET_END" and first_end.pos == opener.pos + 1 + opener.value:
            self.notes.append(("dialect", opener.pos, "`[^]` matches any character in std::regex"
                               if opener.value else "`[]` matches nothing in std::regex (Python and "
                               "PCRE read `[]…]` as a class holding `]`)"))
        return _byte_class(_span(0, 255) - members if opener.value else members)

    def _bracket_term(self, members, last, push_char, push_class) -> bool:
        t = self._tok()
        self.k += 1
        if t.kind == "BRACKET_END":
            return False
        if t.kind == "COLLATE":
            push_char(self._collate(t))
        elif t.kind == "EQUIV":
            push_class()
            low = _lower(self._collate(t))
            members.update(b for b in range(256) if _lower(b) == low)
        elif t.kind in ("CLASS_NAME", "QCLASS"):
            push_class()
            name = t.value.lower()
            if name not in CLASSES:
                raise _fail(f"`[[:{t.value}:]]` is not a character class (known: "
                            f"{', '.join(sorted(CLASSES))})", t.pos)
            upper = t.kind == "QCLASS" and t.value.isupper()
            members.update(_span(0, 255) - CLASSES[name] if upper else CLASSES[name])
        elif t.kind == "CHAR":
            push_char(t.value)
        elif t.kind == "DASH":
            return self._dash(t, members, last, push_char)
        elif t.kind == "EOF":
            raise _fail("a `[` is not closed by `]`", t.pos)
        else:
            raise _fail("this cannot stand inside `[...]` in std::regex", t.pos)
        return True

    def _dash(self, t: _Token, members, last, push_char) -> bool:
        if self._take("BRACKET_END"):
            push_char(ord("-"))
            return False
        if last[0] == "class":
            raise _fail("a range cannot start at a class (`\\w-`, `[:alpha:]-`)", t.pos)
        if last[0] is None:
            push_char(ord("-"))
            return True
        end = self._take("CHAR")
        if end is None and self._take("DASH"):
            end = _Token("CHAR", ord("-"), t.pos)
        if end is None:
            raise _fail("a range `x-y` has no valid end", t.pos)
        lo, hi = _signed(last[0]), _signed(end.value)
        if lo > hi:
            raise _fail("a range `x-y` has y before x", t.pos)
        members.update(b for b in range(256) if lo <= _signed(b) <= hi)
        last[0] = None
        return True

    @staticmethod
    def _collate(t: _Token) -> int:
        code = COLLATE.get(t.value)
        if code is None:
            raise _fail(f"`{t.value}` is not a collating element name of std::regex (names such "
                        "as `hyphen`, `period`, `space`, or one letter)", t.pos)
        return code


def _lower(b: int) -> int:
    return b + 32 if 65 <= b <= 90 else b


def _char_offsets(pattern: str) -> list[int]:
    """For each byte of PATTERN's UTF-8, the index of the character it belongs to (and the end)."""
    out: list[int] = []
    for i, c in enumerate(pattern):
        out.extend([i] * len(c.encode("utf-8", "surrogateescape")))
    out.append(len(pattern))
    return out


def translate(pattern: str) -> tuple[str, tuple[Finding, ...]]:
    """PATTERN (as written) read as llama-quantize reads it, as a Python `re` source over
    `as_bytes_text(name)`, with its findings. Raises PatternError when std::regex rejects it."""
    text = as_bytes_text(lower_pattern(pattern))
    offsets = _char_offsets(pattern)
    try:
        scanner = _Scanner(text)
        node = _Compiler(scanner.run(), scanner.notes).compile()
    except PatternError as exc:
        raise PatternError(exc.msg, pattern, offsets[min(exc.pos or 0, len(offsets) - 1)]) from None
    seen: dict[tuple, None] = {}
    for kind, pos, message in scanner.notes:
        seen.setdefault((kind, offsets[min(pos, len(offsets) - 1)], message), None)
    return node.py, tuple(Finding(k, o, m) for k, o, m in seen)


class Pattern:
    """A rule's pattern compiled the way llama-quantize compiles it."""

    __slots__ = ("pattern", "python", "findings", "_rx")

    def __init__(self, pattern: str):
        self.pattern = pattern
        self.python, findings = translate(pattern)
        try:
            self._rx = re.compile(self.python, re.ASCII | re.DOTALL)
        except (re.error, RecursionError, OverflowError) as exc:  # valid C++, beyond Python's re
            findings += (Finding("unmodelled", 0, f"Python cannot evaluate this pattern ({exc}); "
                                 "treated as matching nothing"),)
            self._rx = re.compile("(?!)")
        self.findings: tuple[Finding, ...] = findings

    @property
    def exact(self) -> bool:
        """Whether every answer of search() is the C++ answer."""
        return not any(f.kind == "unmodelled" for f in self.findings)

    def search(self, name: str) -> re.Match | None:
        """std::regex_search(name, pattern): a match anywhere in NAME (positions in its UTF-8 bytes)."""
        return self._rx.search(as_bytes_text(name))

    def finditer(self, name: str) -> Iterator[re.Match]:
        """Non-overlapping matches in NAME (positions in its UTF-8 bytes)."""
        return self._rx.finditer(as_bytes_text(name))

    def __repr__(self) -> str:
        return f"Pattern({self.pattern!r})"


def _ggml_name(type_name: str) -> str:
    """The spelling ggml prints for a type (`q4_K`, `iq4_xs`, `f16`)."""
    low = type_name.lower()
    return low[:-2] + "_K" if low.endswith("_k") else low


@dataclass(frozen=True)
class Rule:
    """One `--tensor-type PATTERN=TYPE` option, as written (pattern not yet lower-cased)."""

    pattern: str
    type: str  # canonical ggml type name

    def __str__(self) -> str:
        return f"{self.pattern}={_ggml_name(self.type)}"

    @property
    def regex(self) -> Pattern:
        return compile_pattern(self.pattern)


@functools.lru_cache(maxsize=8192)
def compile_pattern(pattern: str) -> Pattern:
    """PATTERN compiled as llama-quantize compiles it (cached); raises PatternError (an re.error)
    when std::regex rejects it."""
    return Pattern(pattern)


def first_matching(rules: Sequence[Rule], name: str, *, first_match: bool = True) -> int | None:
    """Index of the rule that decides NAME (first match, or last match for old builds)."""
    order = range(len(rules)) if first_match else range(len(rules) - 1, -1, -1)
    for i in order:
        if compile_pattern(rules[i].pattern).search(name):
            return i
    return None
