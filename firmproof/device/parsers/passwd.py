"""Account databases: passwd, shadow, group and gshadow lines with byte spans per field.

    passwd   name:password:uid:gid:gecos:home:shell
    shadow   name:password:lastchg:min:max:warn:inactive:expire:reserved
    group    name:password:gid:members
    gshadow  name:password:admins:members

Offsets are str offsets into the text given; a caller that decoded the file as latin-1
(`RootFS.text`) gets byte offsets. Files named `passwd` sometimes hold shadow-style
lines (one file for both, as in old embedded images): each line is read by its own
shape, so such a line (all nine fields) comes back with kind "shadow". Comments, blank lines, NIS
`+`/`-` entries and lines of no known shape are left out, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmproof.device.parsers._lines import lines

PASSWD, SHADOW, GROUP, GSHADOW = "passwd", "shadow", "group", "gshadow"
KINDS = (PASSWD, SHADOW, GROUP, GSHADOW)

# states of a password field
EMPTY = "empty"          # nothing: no password asked
SHADOWED = "shadowed"    # 'x' in passwd/group: the real field is in shadow/gshadow
LOCKED = "locked"        # no password can match ('*', '!', '!!', '*LK*', '!<hash>', ...)
VALUE = "value"          # a hash or a clear-text password: the caller tells which

_LOCKED_WORDS = frozenset({"x", "NP", "LK", "*LK*", "*NP*", "NOLOGIN", "LOCKED", "nologin"})


@dataclass(frozen=True)
class Field:
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class AccountLine:
    """One line of an account database."""

    kind: str                   # passwd | shadow | group | gshadow
    lineno: int
    start: int                  # the line, without its newline
    end: int
    fields: tuple[Field, ...]

    @property
    def name(self) -> str:
        return self.fields[0].value

    @property
    def password(self) -> Field:
        return self.fields[1]

    @property
    def text(self) -> str:
        return ":".join(f.value for f in self.fields)

    def _int(self, index: int) -> int | None:
        if len(self.fields) > index and self.fields[index].value.isdigit():
            return int(self.fields[index].value)
        return None

    @property
    def uid(self) -> int | None:
        return self._int(2) if self.kind == PASSWD else None

    @property
    def gid(self) -> int | None:
        if self.kind == PASSWD:
            return self._int(3)
        return self._int(2) if self.kind == GROUP else None

    @property
    def home(self) -> str | None:
        return self.fields[5].value if self.kind == PASSWD else None

    @property
    def shell(self) -> str | None:
        return self.fields[6].value if self.kind == PASSWD else None

    def password_state(self) -> str:
        return password_state(self.password.value, self.kind)


def password_state(value: str, kind: str) -> str:
    """What a password field says, before any hash is looked at."""
    if value == "":
        return EMPTY
    if value == "x" and kind in (PASSWD, GROUP):
        return SHADOWED
    if value in _LOCKED_WORDS or value[0] in "!*":
        return LOCKED
    return VALUE


def kind_of_name(name: str) -> str | None:
    """The kind of database a file name suggests: 'shadow-', 'passwd.bak', 'gshadow'…"""
    lower = name.lower()
    if "gshadow" in lower:
        return GSHADOW
    if "shadow" in lower:
        return SHADOW
    if "passwd" in lower or lower == "master.passwd":
        return PASSWD
    if lower.startswith("group"):
        return GROUP
    return None


def _split(text: str, start: int, end: int) -> tuple[Field, ...]:
    fields: list[Field] = []
    pos = start
    while True:
        j = text.find(":", pos, end)
        stop = end if j < 0 else j
        fields.append(Field(text[pos:stop], pos, stop))
        if j < 0:
            return tuple(fields)
        pos = j + 1


def _numeric_or_empty(fields: tuple[Field, ...]) -> bool:
    return all(f.value == "" or f.value.lstrip("-").isdigit() for f in fields)


def _is_name(value: str) -> bool:
    return bool(value) and not any(c.isspace() for c in value) and not value.startswith(("#", "+", "-"))


def _passwd_shape(fields: tuple[Field, ...]) -> bool:
    if len(fields) != 7 or not (fields[2].value.isdigit() and fields[3].value.isdigit()):
        return False
    home, shell = fields[5].value, fields[6].value
    return not home.isdigit() and not shell.isdigit()


def _shadow_shape(fields: tuple[Field, ...]) -> bool:
    return 2 <= len(fields) <= 9 and _numeric_or_empty(fields[2:])


def _line_kind(fields: tuple[Field, ...], kind: str) -> str | None:
    if not _is_name(fields[0].value):
        return None
    if kind in (PASSWD, SHADOW):
        if _passwd_shape(fields):
            return PASSWD
        # a shadow-style line: the full nine fields in a file named passwd, at least three
        # (name, password, last change) in a file named shadow
        wanted = 9 if kind == PASSWD else 3
        return SHADOW if len(fields) >= wanted and _shadow_shape(fields) else None
    if kind == GROUP:
        return GROUP if len(fields) == 4 and fields[2].value.isdigit() else None
    if kind == GSHADOW:
        return GSHADOW if len(fields) == 4 else None
    raise ValueError(f"unknown account database kind {kind!r}")


def parse_accounts(text: str, kind: str) -> list[AccountLine]:
    """Lines of an account database of `kind` (see KINDS), each with its own kind."""
    out: list[AccountLine] = []
    for lineno, start, end, line in lines(text):
        if ":" not in line or line.lstrip().startswith("#"):
            continue
        fields = _split(text, start, end)
        line_kind = _line_kind(fields, kind)
        if line_kind is not None:
            out.append(AccountLine(line_kind, lineno, start, end, fields))
    return out


def parse_passwd(text: str) -> list[AccountLine]:
    return parse_accounts(text, PASSWD)


def parse_shadow(text: str) -> list[AccountLine]:
    return parse_accounts(text, SHADOW)


def parse_group(text: str) -> list[AccountLine]:
    return parse_accounts(text, GROUP)


def parse_gshadow(text: str) -> list[AccountLine]:
    return parse_accounts(text, GSHADOW)
