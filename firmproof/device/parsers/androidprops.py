"""Android property files: build.prop, default.prop, prop.default, vendor/odm build.prop.

`key=value` per line, `#` comments, blanks around the key ignored (property_service.cpp
`load_properties`). `import FILE` lines and `key?=value` (set only if unset) are kept as
properties of their own kind. Offsets are those of the decoded text; decode latin-1 so
that they are byte offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmproof.device.parsers._lines import lines, strip_span

PROP_FILE_NAMES = frozenset({"build.prop", "default.prop", "prop.default", "local.prop"})


@dataclass(frozen=True)
class Prop:
    key: str
    value: str
    lineno: int
    start: int          # the whole `key=value`, blanks left out
    end: int
    optional: bool = False   # `key?=value`: a default that an earlier file may override


def parse_props(text: str) -> list[Prop]:
    """Every `key=value` line of a property file, in file order."""
    props: list[Prop] = []
    for lineno, start, end, _line in lines(text):
        s, e = strip_span(text, start, end)
        if s == e or text[s] == "#" or "=" not in text[s:e]:
            continue
        body = text[s:e]
        key, _, value = body.partition("=")
        optional = key.endswith("?")
        key = key.rstrip("?").strip()
        if not key or any(c in key for c in " \t"):
            continue
        props.append(Prop(key, value.strip(), lineno, s, e, optional))
    return props


def last_values(props: list[Prop]) -> dict[str, Prop]:
    """The property each key ends up with (a later line wins, `?=` never overrides)."""
    out: dict[str, Prop] = {}
    for prop in props:
        if prop.optional and prop.key in out:
            continue
        out[prop.key] = prop
    return out
