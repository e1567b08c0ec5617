"""A light reader of POSIX shell scripts: commands with byte spans, not an interpreter.

It knows what a boot-chain analysis needs and no more: words and their quoting,
comments, continuation lines, here-documents (skipped), the separators `;`, `&`,
`&&`, `||`, `|`, redirections, the compound commands (if/for/while/case, functions,
brace groups, subshells) as a stack of enclosing blocks, and simple variable
assignments (`PROG=/usr/sbin/telnetd`) tracked in script order.

Offsets are str offsets into the text given; a caller that decoded the file as latin-1
(`RootFS.text`) gets byte offsets. `parse(text, offset)` reads a slice of a larger file
(an inittab or crontab field) and shifts every span by `offset`.

Nothing here raises on odd input: unbalanced quotes or blocks end where the text ends.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\+?=)")
_REDIRECT = re.compile(r"(\d*)(&>>|&>|<<<|<<-|<<|<>|<&|>&|>>|>\||<|>)")
_SPECIAL_PARAMS = "@*#?$!-0123456789"
_BLANKS = " \t\r\f\v"
_OPERATOR_CHARS = ";&|()<>"
# a run of characters with no special meaning inside a word: read in one step, so that a
# hostile line of millions of words costs one regex match per word, not one loop per character
# Bounds that keep a hostile script linear in time and memory: the words of one command past
# MAX_COMMAND_WORDS are stepped over (its name and first arguments are what rules read), and
# the reading stops at MAX_TOKENS (the script says where: `Script.cut_at`).
MAX_COMMAND_WORDS = 4096
MAX_TOKENS = 500_000
_WORD_END = frozenset(_BLANKS + "\n" + _OPERATOR_CHARS)
_PLAIN_RUN = re.compile("[^" + re.escape(_BLANKS + "\n" + _OPERATOR_CHARS + "\\'\"$`") + "]+")
_DECLARE = {"export", "local", "readonly", "declare", "typeset"}


# -- data --------------------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    """One shell word. `parts` keeps quoting: (text, quote) with quote '' (unquoted),
    '"' (double quotes, expansions apply) or "'" (literal: single quotes, escapes)."""

    raw: str
    start: int
    end: int
    parts: tuple[tuple[str, str], ...]

    @cached_property
    def value(self) -> str:
        """The word with quotes removed and nothing expanded."""
        return "".join(text.replace("\\$", "$") if quote == '"' else text
                       for text, quote in self.parts)

    @property
    def is_literal(self) -> bool:
        """True when expansion cannot change the word (no `$` or backquote outside '…')."""
        return not any(q != "'" and ("$" in t or "`" in t) for t, q in self.parts)


@dataclass(frozen=True)
class Redirect:
    op: str             # '>', '>>', '<', '>&', '2>&1' is op '>&' with fd '2' and target '1'
    fd: str
    target: str         # the target word, unquoted ('' for here-documents)
    start: int
    end: int


@dataclass(frozen=True)
class Assignment:
    name: str
    word: Word          # the whole NAME=value word
    value: Word         # the value part (a word of its own, spans inside `word`)


@dataclass(frozen=True)
class Block:
    """A compound command that encloses other commands.

    kind: if | elif | else | while | until | for | case | item | function | group | subshell
    text: the condition (if/elif/else/while/until), the loop variable (for), the case
    word (case), the patterns joined by '|' (item) or the function name (function).
    words: the loop items (for), the case word (case) or the patterns (item).
    """

    kind: str
    text: str
    words: tuple[Word, ...] = ()
    ident: int = 0


@dataclass(frozen=True)
class Command:
    """A simple command: words after leading assignments, reserved words and
    redirections are taken out."""

    words: tuple[Word, ...]
    assignments: tuple[Assignment, ...]
    redirects: tuple[Redirect, ...]
    start: int                  # the command itself
    end: int
    line_start: int             # its logical line, indentation and trailing comment left out
    line_end: int
    lineno: int                 # 1-based physical line of its first word
    operator: str               # what follows it: ';' '&' '&&' '||' '|' ';;' '\n' or ''
    pipeline: int               # commands joined by '|' share this number
    background: bool            # its pipeline ends with '&'
    blocks: tuple[Block, ...]   # enclosing compound commands, outermost first
    env: Mapping[str, str]      # simple variables assigned before it, in script order

    @property
    def function(self) -> str | None:
        """Name of the innermost function whose body holds this command."""
        for block in reversed(self.blocks):
            if block.kind == "function":
                return block.text
        return None

    @property
    def argv0(self) -> str:
        return self.words[0].value if self.words else ""


@dataclass(frozen=True)
class Script:
    commands: tuple[Command, ...]
    functions: dict[str, int]           # function name -> ident of its block (last definition)
    variables: dict[str, str]           # every simple assignment, last one wins
    shebang: str | None                 # the '#!' line without '#!', or None
    cut_at: int | None = None           # MAX_TOKENS reached: nothing from this offset on was read

    def function_body(self, name: str) -> tuple[Command, ...]:
        ident = self.functions.get(name)
        if ident is None:
            return ()
        return tuple(c for c in self.commands if any(b.ident == ident for b in c.blocks))

    def top_level(self) -> tuple[Command, ...]:
        return tuple(c for c in self.commands if c.function is None)


# -- tokens ------------------------------------------------------------------------


@dataclass
class _Token:
    kind: str           # 'word', 'op', 'redir', 'nl'
    text: str
    start: int
    end: int
    word: Word | None = None
    fd: str = ""


class _Lexer:
    def __init__(self, text: str, offset: int) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        self.offset = offset
        self.heredocs: list[tuple[str, bool]] = []  # (delimiter, strip tabs)
        self.tokens: list[_Token] = []
        self.words_in_command = 0
        self.cut_at: int | None = None

    def run(self) -> list[_Token]:
        s, n = self.s, self.n
        while self.i < n:
            if len(self.tokens) >= MAX_TOKENS:
                self.cut_at = self.i + self.offset
                break
            c = s[self.i]
            if c in _BLANKS:
                self.i += 1
            elif c == "\\" and self.i + 1 < n and s[self.i + 1] == "\n":
                self.i += 2
            elif c == "\n":
                self._emit("nl", "\n", self.i, self.i + 1)
                self.i += 1
                if self.heredocs:
                    self._skip_heredocs()
            elif c == "#":
                while self.i < n and s[self.i] != "\n":
                    self.i += 1
            elif c in _OPERATOR_CHARS or (c.isdigit() and _REDIRECT.match(s, self.i)
                                          and self._digits_then_redirect()):
                self._operator()
            else:
                self._word()
        return self.tokens

    def _emit(self, kind: str, text: str, start: int, end: int, word: Word | None = None,
              fd: str = "") -> None:
        self.words_in_command = 0
        self.tokens.append(_Token(kind, text, start + self.offset, end + self.offset, word, fd))

    def _digits_then_redirect(self) -> bool:
        j = self.i
        while j < self.n and self.s[j].isdigit():
            j += 1
        return j < self.n and self.s[j] in "<>"

    def _operator(self) -> None:
        s, i = self.s, self.i
        m = _REDIRECT.match(s, i)
        if m:
            fd, op = m.group(1), m.group(2)
            end = m.end()
            target_end = end
            if op in (">&", "<&"):
                # '2>&1', '>&-': the target is glued to the operator
                j = end
                while j < self.n and (s[j].isdigit() or s[j] == "-"):
                    j += 1
                if j > end:
                    self._emit("redir", op, i, j, fd=fd)
                    self.tokens[-1].word = Word(s[end:j], end + self.offset, j + self.offset,
                                                ((s[end:j], ""),))
                    self.i = j
                    return
            self._emit("redir", op, i, target_end, fd=fd)
            self.i = end
            if op in ("<<", "<<-"):
                # the delimiter word follows; remember it to skip the body at the next newline
                while self.i < self.n and self.s[self.i] in _BLANKS:
                    self.i += 1
                start = self.i
                word = self._read_word()
                if word is not None:
                    self.tokens[-1].word = word
                    self.tokens[-1].end = word.end
                    self.heredocs.append((word.value, op == "<<-"))
                else:
                    self.i = start
            return
        for op in (";;&", ";;", ";&", "&&", "||", "|&", ";", "&", "|", "(", ")"):
            if s.startswith(op, i):
                self._emit("op", op, i, i + len(op))
                self.i = i + len(op)
                return
        self.i += 1  # pragma: no cover - every operator char is covered above

    def _word(self) -> None:
        start = self.i
        word = self._read_word()
        if word is None:
            if self.i == start:
                self.i += 1
            return
        self.words_in_command += 1
        if self.words_in_command <= MAX_COMMAND_WORDS:
            self.tokens.append(_Token("word", word.raw, word.start, word.end, word))

    def _read_word(self) -> Word | None:
        """Read one word at self.i; parts keep their quoting."""
        s, n = self.s, self.n
        start = self.i
        plain = _PLAIN_RUN.match(s, start)
        if plain and (plain.end() == n or s[plain.end()] in _WORD_END):
            # the common case: a word without quotes, escapes or expansions
            self.i = plain.end()
            text = plain.group()
            return Word(text, start + self.offset, self.i + self.offset, ((text, ""),))
        parts: list[tuple[str, str]] = []
        raw: list[str] = []
        buf: list[str] = []

        def flush(quote: str = "") -> None:
            if buf:
                parts.append(("".join(buf), quote))
                buf.clear()

        while self.i < n:
            c = s[self.i]
            if c in _BLANKS or c == "\n" or c in _OPERATOR_CHARS:
                break
            if c == "\\":
                if self.i + 1 < n and s[self.i + 1] == "\n":
                    self.i += 2
                    continue
                flush()
                if self.i + 1 < n:
                    parts.append((s[self.i + 1], "'"))
                    raw.append(s[self.i:self.i + 2])
                    self.i += 2
                else:
                    self.i += 1
                continue
            if c == "'":
                flush()
                j = s.find("'", self.i + 1)
                j = n if j < 0 else j
                parts.append((s[self.i + 1:j], "'"))
                raw.append(s[self.i:j + 1])
                self.i = min(j + 1, n)
                continue
            if c == '"':
                flush()
                text, end = self._double_quoted(self.i + 1)
                parts.append((text, '"'))
                raw.append(s[self.i:end])
                self.i = end
                continue
            if c == "$" and self.i + 1 < n and s[self.i + 1] in "({":
                end = self._matching(self.i + 1)
                buf.append(s[self.i:end].replace("\\\n", ""))
                raw.append(s[self.i:end].replace("\\\n", ""))
                self.i = end
                continue
            if c == "`":
                end = self._backquote_end(self.i)
                buf.append(s[self.i:end])
                raw.append(s[self.i:end])
                self.i = end
                continue
            m = _PLAIN_RUN.match(s, self.i)
            chunk = m.group() if m else c
            buf.append(chunk)
            raw.append(chunk)
            self.i += len(chunk)
        flush()
        if not raw:
            return None
        return Word("".join(raw), start + self.offset, self.i + self.offset, tuple(parts))

    def _double_quoted(self, i: int) -> tuple[str, int]:
        """Text inside "…" starting at i (after the quote) and the offset after the closing quote."""
        s, n = self.s, self.n
        out: list[str] = []
        while i < n:
            c = s[i]
            if c == '"':
                return "".join(out), i + 1
            if c == "\\" and i + 1 < n:
                nxt = s[i + 1]
                if nxt == "\n":
                    i += 2
                    continue
                if nxt in '"\\`':
                    out.append(nxt)
                    i += 2
                    continue
                if nxt == "$":
                    # an escaped dollar stays literal; mark it so expansion leaves it alone
                    out.append("\\$")
                    i += 2
                    continue
                out.append(c)
                i += 1
                continue
            if c == "$" and i + 1 < n and s[i + 1] in "({":
                end = self._matching(i + 1)
                out.append(s[i:end].replace("\\\n", ""))
                i = end
                continue
            if c == "`":
                end = self._backquote_end(i)
                out.append(s[i:end])
                i = end
                continue
            out.append(c)
            i += 1
        return "".join(out), n

    def _matching(self, i: int) -> int:
        """Offset after the bracket matching the one at i ('(' or '{'), quotes respected."""
        s, n = self.s, self.n
        open_c = s[i]
        close_c = ")" if open_c == "(" else "}"
        depth = 0
        while i < n:
            c = s[i]
            if c == "\\":
                i += 2
                continue
            if c == "'" and open_c == "(":
                j = s.find("'", i + 1)
                i = n if j < 0 else j + 1
                continue
            if c == '"':
                _, i = self._double_quoted(i + 1)
                continue
            if c == open_c:
                depth += 1
            elif c == close_c:
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        return n

    def _backquote_end(self, i: int) -> int:
        s, n = self.s, self.n
        i += 1
        while i < n:
            if s[i] == "\\":
                i += 2
                continue
            if s[i] == "`":
                return i + 1
            i += 1
        return n

    def _skip_heredocs(self) -> None:
        """Skip the bodies of pending here-documents, starting at the current line."""
        s, n = self.s, self.n
        for delimiter, strip in self.heredocs:
            while self.i < n:
                j = s.find("\n", self.i)
                end = n if j < 0 else j
                line = s[self.i:end]
                self.i = end + 1 if j >= 0 else n
                if (line.lstrip("\t") if strip else line).rstrip("\r") == delimiter:
                    break
        self.heredocs.clear()
        self.i = min(self.i, n)


# -- parser ------------------------------------------------------------------------


@dataclass
class _Pending:
    words: list[Word] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)
    start: int = -1
    end: int = -1
    lineno: int = 0


@dataclass
class _Built:
    pending: _Pending
    operator: str
    pipeline: int
    blocks: tuple[Block, ...]
    env: Mapping[str, str]
    line_index: int


class _Parser:
    def __init__(self, text: str, offset: int) -> None:
        self.text = text
        self.offset = offset
        lexer = _Lexer(text, offset)
        self.tokens = lexer.run()
        self.cut_at = lexer.cut_at
        self.pos = 0
        self.stack: list[Block] = []
        self.next_ident = 1
        self.built: list[_Built] = []
        self.env: dict[str, str] = {}
        self.env_view: Mapping[str, str] = {}
        self.variables: dict[str, str] = {}
        self.functions: dict[str, int] = {}
        self.pipeline = 0
        self.pending_function: str | None = None
        # compound-command state
        self.cond_kind: str | None = None       # 'if', 'elif', 'while', 'until' awaiting then/do
        self.cond_start = -1
        self.cond_end = -1
        self.for_pending: tuple[str, list[Word]] | None = None
        self.for_state = ""                     # '', 'name', 'in', 'items'
        self.case_state = ""                    # '', 'word', 'in', 'pattern'
        self.case_word: Word | None = None
        self.patterns: list[Word] = []
        self.line_index = 0
        self.line_spans: list[tuple[int, int]] = []
        self._line_first = -1
        self._line_last = -1
        self._newlines: list[int] | None = None

    # lines -------------------------------------------------------------------------

    def _touch_line(self, tok: _Token) -> None:
        if self._line_first < 0:
            self._line_first = tok.start
        self._line_last = tok.end

    def _end_line(self) -> None:
        self.line_spans.append((self._line_first, self._line_last))
        self.line_index += 1
        self._line_first = self._line_last = -1

    def _lineno(self, pos: int) -> int:
        if self._newlines is None:
            self._newlines = [m.start() for m in re.finditer("\n", self.text)]
        return bisect.bisect_left(self._newlines, pos - self.offset) + 1

    # blocks ------------------------------------------------------------------------

    def _push(self, kind: str, text: str, words: tuple[Word, ...] = ()) -> Block:
        block = Block(kind, text, words, self.next_ident)
        self.next_ident += 1
        self.stack.append(block)
        return block

    def _pop_to(self, kinds: tuple[str, ...]) -> None:
        for idx in range(len(self.stack) - 1, -1, -1):
            if self.stack[idx].kind in kinds:
                del self.stack[idx:]
                return

    def _source(self, start: int, end: int) -> str:
        return self.text[start - self.offset:end - self.offset]

    # main loop ---------------------------------------------------------------------

    def run(self) -> Script:
        cur = _Pending()
        tokens = self.tokens
        while self.pos < len(tokens):
            tok = tokens[self.pos]
            self.pos += 1
            if tok.kind == "nl":
                cur = self._finish(cur, "\n")
                self._newline()
                self._end_line()
                continue
            self._touch_line(tok)
            if self.cond_kind is not None:
                self._track_condition(tok)
            if self.case_state in ("in", "pattern") and not cur.words and not cur.assignments:
                if self._case_pattern(tok):
                    continue
            if tok.kind == "op":
                cur = self._operator(tok, cur)
                continue
            if tok.kind == "redir":
                target = tok.word.value if tok.word else ""
                cur.redirects.append(Redirect(tok.text, tok.fd, target, tok.start, tok.end))
                self._extend(cur, tok)
                if tok.word is None and tok.text not in ("<<", "<<-") and self.pos < len(tokens) \
                        and tokens[self.pos].kind == "word":
                    target_tok = tokens[self.pos]
                    self.pos += 1
                    self._touch_line(target_tok)
                    assert target_tok.word is not None
                    cur.redirects[-1] = Redirect(tok.text, tok.fd, target_tok.word.value,
                                                 tok.start, target_tok.end)
                    self._extend(cur, target_tok)
                continue
            assert tok.word is not None
            self._word(tok, cur)
        self._finish(cur, "")
        if self._line_first >= 0:
            self._end_line()
        return self._script()

    def _extend(self, cur: _Pending, tok: _Token) -> None:
        if cur.start < 0:
            cur.start = tok.start
            cur.lineno = self._lineno(tok.start)
        cur.end = tok.end

    def _word(self, tok: _Token, cur: _Pending) -> None:
        word = tok.word
        assert word is not None
        value = word.value
        at_start = not cur.words and not cur.assignments
        # for-loop header
        if self.for_state == "name":
            self.for_pending = (value, [])
            self.for_state = "in?"
            return
        if self.for_state == "in?":
            if value == "in":
                self.for_state = "items"
                return
            if value == "do":
                self._open_for()
                return
        if self.for_state == "items":
            assert self.for_pending is not None
            self.for_pending[1].append(word)
            return
        if self.case_state == "word":
            self.case_word = word
            self.case_state = "in?"
            return
        if self.case_state == "in?":
            if value == "in":
                self._push("case", self.case_word.value if self.case_word else "",
                           (self.case_word,) if self.case_word else ())
                self.case_state = "in"
            return
        if at_start and word.parts and not word.parts[0][1] and self._reserved(word, cur):
            return
        if at_start or (cur.assignments and not cur.words):
            m = _ASSIGNMENT.match(word.raw)
            if m and not word.raw.startswith(("'", '"')):
                cur.assignments.append(self._assignment(word, m))
                self._extend(cur, tok)
                return
        if cur.words and cur.words[0].value in _DECLARE:
            m = _ASSIGNMENT.match(word.raw)
            if m:
                cur.assignments.append(self._assignment(word, m))
        cur.words.append(word)
        self._extend(cur, tok)

    def _assignment(self, word: Word, m: re.Match[str]) -> Assignment:
        cut = m.end()
        value_parts = _slice_parts(word, cut)
        value = Word(word.raw[cut:], word.start + cut, word.end, value_parts)
        return Assignment(m.group(1), word, value)

    def _reserved(self, word: Word, cur: _Pending) -> bool:
        v = word.value
        if v in ("if", "elif", "while", "until"):
            if v == "elif":
                self._pop_to(("if", "elif"))
            self.cond_kind = v
            self.cond_start = -1
            self.cond_end = -1
            return True
        if v == "then" and self.cond_kind in ("if", "elif"):
            self._push(self.cond_kind, self._cond_text())
            self.cond_kind = None
            return True
        if v == "do" and self.cond_kind in ("while", "until"):
            self._push(self.cond_kind, self._cond_text())
            self.cond_kind = None
            return True
        if v == "do" and self.for_state == "wait-do":
            self._open_for()
            return True
        if v == "else":
            text = ""
            for block in reversed(self.stack):
                if block.kind in ("if", "elif"):
                    text = block.text
                    break
            self._pop_to(("if", "elif"))
            self._push("else", text)
            return True
        if v == "fi":
            self._pop_to(("if", "elif", "else"))
            return True
        if v == "done":
            self._pop_to(("for", "while", "until"))
            return True
        if v == "for":
            self.for_state = "name"
            return True
        if v == "case":
            self.case_state = "word"
            return True
        if v == "esac":
            self._close_case()
            return True
        if v == "function":
            self.pending_function = ""
            return True
        if self.pending_function == "" and _NAME.fullmatch(v):
            self.pending_function = v
            return True
        if v == "{":
            if self.pending_function:
                block = self._push("function", self.pending_function)
                self.functions[self.pending_function] = block.ident
                self.pending_function = None
            else:
                self._push("group", "")
            return True
        if v == "}":
            self._pop_to(("function", "group"))
            return True
        if v == "!":
            return True
        return False

    def _close_case(self) -> None:
        self._pop_to(("case",))
        self.case_state = "body" if any(b.kind == "item" for b in self.stack) else ""

    def _track_condition(self, tok: _Token) -> None:
        """Remember where the condition of a pending if/elif/while/until starts and ends."""
        if tok.kind == "word" and tok.word is not None and tok.word.value in (
                "if", "elif", "while", "until", "then", "do"):
            return
        if tok.kind == "op" and tok.text in (";", "&"):
            return
        if self.cond_start < 0:
            self.cond_start = tok.start
        self.cond_end = tok.end

    def _cond_text(self) -> str:
        if self.cond_start < 0:
            return ""
        return self._source(self.cond_start, self.cond_end)

    def _open_for(self) -> None:
        name, items = self.for_pending or ("", [])
        self._push("for", name, tuple(items))
        self.for_pending = None
        self.for_state = ""

    def _case_pattern(self, tok: _Token) -> bool:
        """Consume case patterns ('start|restart)'); True when the token was one."""
        if tok.kind == "word" and tok.word is not None and tok.word.value == "esac":
            self._close_case()
            return True
        if tok.kind == "op" and tok.text == "(" and not self.patterns:
            return True
        if tok.kind == "op" and tok.text == "|":
            return True
        if tok.kind == "op" and tok.text == ")":
            words = tuple(self.patterns)
            self._push("item", "|".join(w.value for w in words), words)
            self.patterns = []
            self.case_state = "body"
            return True
        if tok.kind == "word" and tok.word is not None:
            self.patterns.append(tok.word)
            self.case_state = "pattern"
            return True
        return False

    def _operator(self, tok: _Token, cur: _Pending) -> _Pending:
        op = tok.text
        if op == "(":
            if self.pos < len(self.tokens) and self.tokens[self.pos].text == ")":
                # name() — a function definition; its body follows
                if len(cur.words) == 1 and not cur.assignments:
                    self.pending_function = cur.words[0].value
                self.pos += 1
                return _Pending()
            if not cur.words and not cur.assignments:
                if self.pending_function:
                    block = self._push("function", self.pending_function)
                    self.functions[self.pending_function] = block.ident
                    self.pending_function = None
                else:
                    self._push("subshell", "")
                return cur
            return cur
        if op == ")":
            cur = self._finish(cur, ";")
            self._pop_to(("subshell", "function"))
            return cur
        if op in (";;", ";&", ";;&"):
            cur = self._finish(cur, op)
            self._pop_to(("item",))
            self.case_state = "in"
            return cur
        if op == "|&":
            op = "|"
        cur = self._finish(cur, op)
        if op in (";", "&") and self.for_state in ("in?", "items"):
            self.for_state = "wait-do"
        return cur

    def _newline(self) -> None:
        if self.for_state in ("in?", "items"):
            self.for_state = "wait-do"

    def _finish(self, cur: _Pending, operator: str) -> _Pending:
        if not cur.words and not cur.assignments and not cur.redirects:
            if operator not in ("|",):
                self._close_pipeline()
            return _Pending()
        if not cur.words:
            self._assign(cur)
        elif cur.words[0].value in _DECLARE:
            self._assign(cur)
        self.built.append(_Built(cur, operator, self.pipeline, tuple(self.stack), self.env_view,
                                 self.line_index))
        if operator != "|":
            self._close_pipeline()
        return _Pending()

    def _close_pipeline(self) -> None:
        self.pipeline += 1

    def _assign(self, cur: _Pending) -> None:
        changed = False
        for a in cur.assignments:
            value = _simple_value(a.value, self.env)
            if value is None:
                if a.name in self.env:
                    del self.env[a.name]
                    changed = True
                continue
            self.env[a.name] = value
            self.variables[a.name] = value
            changed = True
        if changed:
            self.env_view = dict(self.env)

    def _script(self) -> Script:
        commands: list[Command] = []
        background_pipelines = {b.pipeline for b in self.built if b.operator == "&"}
        for b in self.built:
            p = b.pending
            line_start, line_end = (self.line_spans[b.line_index] if b.line_index < len(self.line_spans)
                                    else (p.start, p.end))
            commands.append(Command(
                words=tuple(p.words), assignments=tuple(p.assignments), redirects=tuple(p.redirects),
                start=p.start, end=p.end, line_start=min(line_start, p.start),
                line_end=max(line_end, p.end), lineno=p.lineno, operator=b.operator,
                pipeline=b.pipeline, background=b.pipeline in background_pipelines,
                blocks=b.blocks, env=b.env))
        shebang = None
        if self.offset == 0 and self.text.startswith("#!"):
            shebang = self.text[2:].split("\n", 1)[0].strip()
        return Script(tuple(commands), dict(self.functions), dict(self.variables), shebang,
                      self.cut_at)


def _slice_parts(word: Word, cut: int) -> tuple[tuple[str, str], ...]:
    """The parts of `word` after the first `cut` characters of its raw text.

    Assignment names are unquoted, so the first `cut` raw characters are the first
    `cut` characters of the first unquoted part.
    """
    parts = list(word.parts)
    if parts and not parts[0][1] and len(parts[0][0]) >= cut:
        head = parts[0][0][cut:]
        rest = parts[1:]
        return tuple(([(head, "")] if head else []) + rest)
    return tuple(parts)


def _simple_value(word: Word, env: Mapping[str, str]) -> str | None:
    """Value of an assignment when every expansion in it is known, else None."""
    for text, quote in word.parts:
        if quote != "'" and "`" in text:
            return None
    value = expand_joined(word, env)
    return None if any(quote != "'" and "$" in text for text, quote in _expanded_parts(word, env)) \
        else value


def _expanded_parts(word: Word, env: Mapping[str, str]) -> list[tuple[str, str]]:
    """Parts of `word` with known parameters substituted (unknown ones left as written)."""
    out: list[tuple[str, str]] = []
    for text, quote in word.parts:
        if quote == "'":
            out.append((text, quote))
        else:
            out.extend((p, quote) for p, expanded in _expand_text(text, env, keep_escapes=True)
                       if not expanded)
    return out


# -- expansion ---------------------------------------------------------------------

_PARAM = re.compile(r"\$(?:\{(?P<braced>[^}]*)\}|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<special>[@*#?$!0-9-]))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])(?P<op>:?[-=+?])?(?P<arg>.*)", re.S)


def _lookup(match: re.Match[str], env: Mapping[str, str]) -> str | None:
    if match.group("name"):
        return env.get(match.group("name"))
    if match.group("special"):
        return env.get(match.group("special"))
    inner = match.group("braced") or ""
    m = _BRACED.fullmatch(inner)
    if not m:
        return None
    value = env.get(m.group("name"))
    op = m.group("op")
    if not op:
        return value if not m.group("arg") else None
    colon = op.startswith(":")
    kind = op[-1]
    unset = value is None or (colon and value == "")
    if kind in "-=":
        return m.group("arg") if unset else value
    if kind == "+":
        return "" if unset else m.group("arg")
    return value


def _expand_text(text: str, env: Mapping[str, str], *,
                 keep_escapes: bool = False) -> list[tuple[str, bool]]:
    """Split `text` into (piece, came_from_expansion) with known parameters substituted;
    unknown ones stay as written."""
    out: list[tuple[str, bool]] = []
    pos = 0
    for m in _PARAM.finditer(text):
        if m.start() > 0 and text[m.start() - 1] == "\\":
            continue
        value = _lookup(m, env)
        if value is None:
            continue
        if m.start() > pos:
            out.append((text[pos:m.start()], False))
        out.append((value, True))
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], False))
    if keep_escapes:
        return [(p.replace("\\$", ""), e) for p, e in out]
    return [(p.replace("\\$", "$"), e) for p, e in out]


def expand(word: Word, env: Mapping[str, str]) -> list[str]:
    """Fields of `word` after parameter expansion with `env` and field splitting.

    Unknown parameters and command substitutions stay as written ('$FOO', '$(cmd)');
    no globbing.
    """
    fields: list[str] = []
    cur: list[str] = []
    has = False
    for text, quote in word.parts:
        if quote == "'":
            cur.append(text)
            has = True
            continue
        if quote == '"':
            cur.append("".join(p for p, _ in _expand_text(text, env)))
            has = True
            continue
        for piece, expanded in _expand_text(text, env):
            if not expanded:
                cur.append(piece)
                has = True
                continue
            chunks = piece.split()
            if not chunks:
                if piece and has:
                    fields.append("".join(cur))
                    cur, has = [], False
                continue
            if piece[:1].isspace() and has:
                fields.append("".join(cur))
                cur, has = [], False
            for idx, chunk in enumerate(chunks):
                if idx > 0:
                    fields.append("".join(cur))
                    cur = []
                cur.append(chunk)
                has = True
            if piece[-1:].isspace():
                fields.append("".join(cur))
                cur, has = [], False
    if has:
        fields.append("".join(cur))
    return fields


def expand_joined(word: Word, env: Mapping[str, str]) -> str:
    """`word` expanded as in an assignment: no field splitting."""
    out: list[str] = []
    for text, quote in word.parts:
        if quote == "'":
            out.append(text)
        else:
            out.append("".join(p for p, _ in _expand_text(text, env)))
    return "".join(out)


def parse(text: str, offset: int = 0) -> Script:
    """Read a shell script (or a command line) into commands with spans shifted by `offset`."""
    return _Parser(text, offset).run()


def split_words(text: str) -> list[str]:
    """Shell-like splitting of a command line into unquoted words (no expansion)."""
    script = parse(text)
    out: list[str] = []
    for command in script.commands:
        out.extend(a.word.value for a in command.assignments)
        out.extend(w.value for w in command.words)
    return out
