"""FP-HCRED: secrets compiled into programs that compare input against them.

A literal is a finding when the disassembly shows it passed to a comparison
(strcmp/strncmp/strcasecmp/strncasecmp/memcmp/strstr and the like) inside a function that
handles authentication or requests: the function loads a string about login, passwords,
User-Agent, cookies or authorisation, or calls crypt/getspnam/getpass/pam. A literal that
nothing compares is never a finding.

First pass (no disassembly): the program imports a comparison function and either an
authentication function or has such words among its strings, and it has a string that
looks like a secret; on x86-64, where a byte-pattern scan finds the strings that code
loads RIP-relative, the secret and the context must be among those. Literals that read
as protocol keywords, not secrets, are dropped: option names (`--help`), paths, header
names (`User-Agent`), text with spaces or a trailing `:`/`=`, and short words of one
character class (`localhost`, `admin`); a secret mixes letters with digits, case or
punctuation, or is long (12+).

A static program imports nothing and its libc is not named when stripped: its compares are
known by what they do (`Executable.compares_with_string`: a call passing the input and a literal
to a function of the program that reaches no system call), named in `details.compare` by
address as a disassembler names an unnamed function (`fcn.0041b840`); the first pass asks for
the authentication words and a secret-looking string only (not BusyBox, not past STATIC_MAX),
and a function that such a function calls handles authentication too (a `check(user,
password)` called from the code that prompts, where getspnam, which would have said so, has no
name either).

Second pass: a function that compares input with 8 or more distinct literals is a keyword
table (a configuration reader, a command or SOAP-action dispatcher: `Error401File`,
`v6only`), not a secret check, and URLs are never secrets; login code compares with one to a
few literals.

Evidence: the literal's bytes in the file; `details` name the compare function, every call
site (virtual addresses, as a disassembler shows them) and the enclosing function.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from firmproof.analyzers.base import ElfAnalyzer, rule
from firmproof.analyzers.common import COMPARE
from firmproof.device import binary
from firmproof.fs.rootfs import RootFS
from firmproof.model import Category, Finding, Severity

AUTH_IMPORTS = frozenset({"crypt", "crypt_r", "getspnam", "getspnam_r", "getpass", "pam_authenticate",
                          "pam_start", "getpwnam", "checkpass"})
# a prompt, header or variable that asks for a credential: the string ends with the word
_CONTEXT = (r"pass(?:word|wd|phrase)?|log ?in|user(?:name)?|user-agent|authori[sz]ation(?: ?: ?basic)?"
            r"|cookie|auth(?:entication)?|http_user_agent|http_cookie|http_authorization|secret|token")
AUTH_WORDS = re.compile(rb"(?:^|\x00)[^\x00]{0,32}?\b(?:" + _CONTEXT.encode() + rb")[ \t:=]*\x00",
                        re.I)
# every match of AUTH_WORDS holds one of these (lower case): the literals found first
AUTH_LITERALS = (b"pass", b"log", b"user", b"auth", b"cookie", b"secret", b"token")
_AUTH_TEXT = re.compile(r"^.{0,32}?\b(?:" + _CONTEXT + r")[ \t:=]*$", re.I | re.S)
_KEYWORD = re.compile(r"^(?:" + _CONTEXT + r")$", re.I)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z_.:-]*$")          # a key or option name, no digits
_NUMERIC = re.compile(r"^[\d.:_-]+$")                          # versions, OIDs, addresses
_SPECIAL = re.compile(r"[^A-Za-z0-9_.:/-]")
_SPACE_OR_FORMAT = re.compile(r"[\s%]")
_KINDS = {c: ("d" if chr(c).isdigit() else "a") if chr(c).isalnum() else None for c in range(128)}
_RUNS = re.compile(r"a+|d+")
MIN_SECRET = 4
KEYWORD_TABLE = 8       # distinct literals one function compares with: past this, a keyword table
MAX_SECRET = 128
STATIC_MAX = 4 << 20    # a static program larger than this is not read (a BusyBox-sized suite)

HARDCODED_SECRET = rule(
    "FP-HCRED-001", Category.HARDCODED, Severity.HIGH,
    title="hard-coded secret compared in authentication code",
    why="""A program compares what a client sends (a password, a User-Agent, a cookie, a header)
        with a literal compiled into it, in code that decides about access: whoever reads the
        literal out of the public firmware passes that check on every device. This is the
        shape of the D-Link `xmlset_roodkcableoj28840ybtide` User-Agent and of master passwords
        in vendor login programs.""",
    confirm="""Open the program in a disassembler (Ghidra, radare2: `r2 -A <file>; s <address>;
        pdf`) at each address of `details.sites`: the call to `details.compare` takes the
        literal (`details.literal`, at the evidence offset) as an argument, and the branch
        on its result grants access. `strings -t d <file> | grep <literal>` shows the offset.""",
    references=["https://cwe.mitre.org/data/definitions/798.html",
                "https://cwe.mitre.org/data/definitions/259.html",
                "https://nvd.nist.gov/vuln/detail/CVE-2013-6026"],
)


def looks_secret(literal: str) -> bool:
    """A literal that reads as a secret rather than a keyword, option, key name or number.

    Secrets mix letters with digits (interleaved: `roodkcableoj28840ybtide`, not `sha256`),
    or are 8+ characters with digits or mixed case and punctuation beyond `_.:/-`.
    Identifiers without digits (`CHSH_AUTH`, `keep_caps`, `HttpError`), header names,
    paths, options and numbers are not secrets.
    """
    text = literal
    if not MIN_SECRET <= len(text) <= MAX_SECRET:
        return False
    if not text[0].isalnum() or text[-1] in ":=" or _SPACE_OR_FORMAT.search(text):
        return False
    if _IDENTIFIER.match(text) or _NUMERIC.match(text) or _KEYWORD.match(text) or "::" in text \
            or "://" in text:
        return False
    # letters and digits as a string of kinds: 'a' per letter, 'd' per digit, the rest dropped
    kinds = text.translate(_KINDS) if text.isascii() else \
        "".join("d" if c.isdigit() else "a" for c in text if c.isalnum())
    if not ("a" in kinds if text.isascii() else any(c.isalpha() for c in text)):
        return False
    if _SPECIAL.search(text) and len(text) >= 8 and ("d" in kinds
                                                     or (text.lower() != text and text.upper() != text)):
        return True
    switches = len(_RUNS.findall(kinds)) - 1
    return switches >= 2 and len(text) >= 6


def handles_auth(exe: binary.Executable) -> bool:
    """First pass, no disassembly: compare imports, authentication context, a secret-looking string
    (a static program: the context and the string)."""
    if exe.static:
        return (exe.size <= STATIC_MAX and b"BusyBox v" not in exe.data
                and exe.mentions(AUTH_WORDS, AUTH_LITERALS)
                and any(looks_secret(s.text) for s in exe.strings))
    if not (exe.imports_any(*COMPARE)
            and (exe.imports_any(*AUTH_IMPORTS) or exe.mentions(AUTH_WORDS, AUTH_LITERALS))):
        return False
    loaded = exe.quick_refs()
    if loaded is None:
        return any(looks_secret(s.text) for s in exe.strings)
    # x86-64: the secret and the context must both be loaded by code, not sit in a table
    refs = [ref for ref, _ in loaded.values()]
    return (any(looks_secret(ref.text) for ref in refs)
            and (exe.imports_any(*AUTH_IMPORTS) or any(_AUTH_TEXT.match(ref.text) for ref in refs)))


def _auth_functions(exe: binary.Executable) -> set[int | None]:
    """Functions that load an authentication-related string or call an authentication import."""
    functions: set[int | None] = set()
    code = exe.code
    if code is None:
        return functions
    for site, value in code.xrefs:
        ref = exe.string_at(value)
        if ref is not None and _AUTH_TEXT.match(ref.text):
            functions.add(exe.function_of(site))
    for call in exe.calls(*AUTH_IMPORTS):
        functions.add(exe.function_of(call.site))
    if exe.static:      # and what those call: no name tells the check of the password apart
        functions |= {target for function in functions for target in exe.callees(function)}
    return functions


class Hardcoded(ElfAnalyzer):
    family = "HCRED"
    name = "hardcoded"
    rules = (HARDCODED_SECRET,)

    def program(self, fs: RootFS, path: str, exe: binary.Executable) -> Iterator[Finding]:
        if handles_auth(exe):
            yield from self._check(fs, path, exe)

    def _check(self, fs: RootFS, path: str, exe: binary.Executable) -> Iterator[Finding]:
        loaded = None if exe.static else exe.quick_refs()
        compare_sites = exe.quick_calls(COMPARE) if loaded is not None and exe.bounded() else None
        if loaded is not None and compare_sites is not None:
            # disassemble only the functions that load a secret-looking string, call a compare
            # and handle authentication (load such a word or call such an import): the only
            # functions a finding can come from
            comparing = {exe.bounds_of(site) for site in compare_sites}
            context = {exe.bounds_of(site) for ref, sites in loaded.values() if _AUTH_TEXT.match(ref.text)
                       for site in sites}
            context |= {exe.bounds_of(site) for site in exe.quick_calls(AUTH_IMPORTS) or ()}
            wanted = comparing & context
            exe = exe.focused(site for ref, sites in loaded.values() if looks_secret(ref.text)
                              for site in sites if exe.bounds_of(site) in wanted)
        literals: dict[int | None, set[str]] = {}
        compares = []
        for call, _, ref in exe.calls_with_string(COMPARE) + exe.compares_with_string():
            literals.setdefault(exe.function_of(call.site), set()).add(ref.text)
            if looks_secret(ref.text):
                compares.append((call, ref))
        if not compares:
            return
        # a function comparing input with many literals is a keyword table (a configuration
        # reader, a command or SOAP-action dispatcher), not a check of a secret
        tables = {function for function, seen in literals.items() if len(seen) >= KEYWORD_TABLE}
        auth = _auth_functions(exe) - tables
        found: dict[int, dict[str, Any]] = {}
        for call, ref in compares:
            function = exe.function_of(call.site)
            if function not in auth:
                continue
            compare = call.callee or f"fcn.{call.target or 0:08x}"
            hit = found.setdefault(ref.offset, {"literal": ref.text, "length": ref.length,
                                                "compare": compare, "sites": [], "functions": []})
            if f"0x{call.site:x}" not in hit["sites"]:
                hit["sites"].append(f"0x{call.site:x}")
            if function is not None and f"0x{function:x}" not in hit["functions"]:
                hit["functions"].append(f"0x{function:x}")
        for offset, hit in sorted(found.items()):
            yield HARDCODED_SECRET.at(
                fs, path, offset, hit["length"],
                title=f"hard-coded secret {hit['literal']!r} compared with {hit['compare']}()",
                literal=hit["literal"], compare=hit["compare"], sites=hit["sites"],
                functions=hit["functions"], arch=exe.arch, endian=exe.endian)
