"""Search across the corpus (/search and /api/search): a key, an executable, a component, a
string in the kept images. The store is the inventory tests' portfolio (tests/store: a key
planted in Acme's and Globex's images, a decoy key in Initech's, /bin/false in Initech's only)
plus Hooli's ext4 image holding a banner of quotes, backslashes and braces, a secret kept in
UTF-16LE and in UTF-16BE (a file each) and a decoy of the secret's characters out of order, all
built with the real tools and scanned by a real batch; `firmproof serve --data-dir` keeps copies of Acme's,
Globex's and Hooli's images (not Initech's) under images/<sha256>."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from firmproof.store import open_store
from firmproof.store.query import images as images_of
from firmproof.web.search import Limits, search, string_forms, string_pattern
from tests.browser import chromium_page, follow
from tests.store.test_inventory_rows import FALSE, TRUE, Portfolio, portfolio  # noqa: F401 (a fixture)
from tests.web.conftest import Accounts, Server, running

BANNER = 'say "hi" \\ {not hex} } condition: true } rule x { strings: $a = "'
WIDE = "Wide-Secret-7Q"         # in Hooli's image in UTF-16 only, each byte order in a file
DECOY = "".join(sorted(WIDE)) + "-".join(WIDE)      # its characters, never in sequence


@dataclass(frozen=True)
class Corpus:
    url: str
    data_dir: Path
    images: dict[str, Path]         # vendor -> image file
    sha256: dict[str, str]          # vendor -> image sha256


@pytest.fixture(scope="module")
def corpus(portfolio: Portfolio, tmp_path_factory: pytest.TempPathFactory) -> Corpus:  # noqa: F811
    from firmproof.testing.demo import build_rootfs
    from firmproof.testing.fixtures import pack

    root = tmp_path_factory.mktemp("search")
    tree = build_rootfs(root / "hooli", plants=(), decoys=())
    (tree / "etc/banner").write_text(BANNER + "\n")
    for name, text, encoding in (("wide-le", WIDE, "utf-16-le"), ("wide-be", WIDE, "utf-16-be"),
                                 ("decoy-le", DECOY, "utf-16-le"), ("decoy-be", DECOY, "utf-16-be")):
        (tree / "etc" / name).write_bytes(text.encode(encoding) + "\0\n".encode(encoding))
    hooli = pack(tree, "ext4", root / "hooli-h4.bin")
    folder = portfolio.manifest.parent
    images = {"Acme": folder / "acme-r1.bin", "Globex": folder / "globex-g2.bin",
              "Initech": folder / "initech-i3.bin", "Hooli": hooli}
    manifest = root / "manifest.json"
    manifest.write_text(json.dumps([*json.loads(portfolio.manifest.read_text()),
                                    {"path": "hooli-h4.bin", "vendor": "Hooli", "product": "H4",
                                     "version": "4.0"}]))
    for name in ("acme-r1.bin", "globex-g2.bin", "initech-i3.bin"):
        (root / name).symlink_to(folder / name)
    url = f"sqlite:///{root / 'store.sqlite'}"
    # the real CLI in its own process (a batch's spawned workers would fix this process's
    # multiprocessing start method, which unblob sets when the web fixtures scan in process)
    done = subprocess.run([sys.executable, "-m", "firmproof.cli", "batch", str(manifest), "--db", url,
                           "-j", "2", "-q"], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    store = open_store(url)
    try:
        assert len(images_of(store)) == 4
    finally:
        store.close()
    sha256 = {v: hashlib.sha256(p.read_bytes()).hexdigest() for v, p in images.items()}
    data_dir = root / "data"
    (data_dir / "images").mkdir(parents=True)
    for vendor in ("Acme", "Globex", "Hooli"):                  # Initech's image is not kept
        shutil.copyfile(images[vendor], data_dir / "images" / sha256[vendor])
    return Corpus(url, data_dir, images, sha256)


@pytest.fixture(scope="module")
def searching(corpus: Corpus) -> Iterator[Server]:
    """`firmproof serve --data-dir` over the corpus, on 127.0.0.1 without authentication."""
    with running("--db", corpus.url, "--data-dir", str(corpus.data_dir)) as server:
        yield server


def _search(server: Server, kind: str, q: str, status: int = 200) -> Any:
    response = server.check(httpx.get(f"{server.base}/api/search", params={"kind": kind, "q": q}, timeout=60))
    assert response.status_code == status, response.text
    return response.json()


def _vendors(found: dict[str, Any]) -> list[str]:
    return [i["vendor"] for i in found["images"]]


def test_a_key_planted_in_two_images_is_found_in_both_in_every_form_users_paste(
        searching: Server, portfolio: Portfolio) -> None:  # noqa: F811
    found = _search(searching, "key", portfolio.shared)
    assert _vendors(found) == ["Acme", "Globex"] and found["complete"]
    acme, globex = found["images"]
    assert [(p["path"], p["inside"]) for p in acme["places"]] == [("/root/.ssh/authorized_keys",
                                                                   "squashfs@0x0")]
    assert [p["path"] for p in globex["places"]] == ["/etc/ssh/keys/root.authorized_keys",
                                                    "/etc/ssh/ssh_host_ed25519_key"]
    assert all(p["offset"] is not None for i in found["images"] for p in i["places"])
    assert "FP-KEY-004" in acme["places"][0]["what"] and "shared@factory" in acme["places"][0]["what"]
    # the newest scan of each image is the scan linked
    scan = httpx.get(f"{searching.base}/api/scans/{acme['scan']}").json()
    assert scan["sha256"] == acme["sha256"]
    digest = base64.b64decode(portfolio.shared.removeprefix("SHA256:") + "=")
    for form in (portfolio.shared.removeprefix("SHA256:"), digest.hex(), digest.hex(":").upper(),
                 f"256 {portfolio.shared} shared@factory (ED25519)", f"  {portfolio.shared}  "):
        again = _search(searching, "key", form)
        assert again["query"] == portfolio.shared and again["images"] == found["images"], form
    decoy = _search(searching, "key", portfolio.decoy)
    assert _vendors(decoy) == ["Initech"]
    assert _search(searching, "key", "SHA256:" + "A" * 43)["images"] == []


def test_an_executable_by_its_hash(searching: Server) -> None:
    false = hashlib.sha256(FALSE.read_bytes()).hexdigest()
    found = _search(searching, "executable", false)
    assert _vendors(found) == ["Initech"]
    assert [p["path"] for p in found["images"][0]["places"]] == ["/usr/bin/false"]
    for form in (f"{false.upper()}  /usr/bin/false", f"SHA256 (/usr/bin/false) = {false}"):
        assert _search(searching, "executable", form)["images"] == found["images"]
    true = _search(searching, "executable", hashlib.sha256(TRUE.read_bytes()).hexdigest())
    assert _vendors(true) == ["Acme", "Globex"]
    assert _search(searching, "executable", "0" * 64)["images"] == []


def test_a_component_with_and_without_its_version(searching: Server) -> None:
    every = _search(searching, "component", "BusyBox")
    assert _vendors(every) == ["Acme", "Globex", "Hooli", "Initech"]
    version = every["images"][0]["places"][0]["what"].split()[1]
    assert _vendors(_search(searching, "component", f"busybox {version}")) == _vendors(every)
    assert _vendors(_search(searching, "component", f"busybox@{version}")) == _vendors(every)
    wrong = _search(searching, "component", "busybox 0.0.1")
    assert wrong["images"] == [] and wrong["query"] == "busybox 0.0.1"


def test_a_string_in_the_kept_images_with_its_offset(searching: Server, corpus: Corpus) -> None:
    found = _search(searching, "string", "shared@factory")
    # in Globex's ext4 image as written; in Acme's SquashFS only xz-compressed; Initech's not kept
    assert _vendors(found) == ["Globex"]
    assert (found["searched"], found["not_kept"], found["complete"]) == (3, 1, True)
    image = corpus.images["Globex"].read_bytes()
    offsets = [p["offset"] for p in found["images"][0]["places"]]
    assert offsets and all(image[o:o + 14] == b"shared@factory" for o in offsets)
    assert offsets == [i for i in range(len(image)) if image.startswith(b"shared@factory", i)]
    assert found["images"][0]["places"][0]["what"] == "shared@factory"
    # hex bytes in braces, ?? any byte
    assert _search(searching, "string", "{73 68 61 72 65 64}@fact??y")["images"] == []
    assert [p["offset"] for p in _search(searching, "string", "{73 68 61 72 65 64}@fact{??}ry")
            ["images"][0]["places"]] == offsets
    missing = _search(searching, "string", "no such text in any image 7c1d")
    assert missing["images"] == [] and (missing["searched"], missing["not_kept"]) == (3, 1)


def test_quotes_backslashes_and_braces_are_searched_as_bytes_not_rule_text(
        searching: Server, corpus: Corpus) -> None:
    found = _search(searching, "string", BANNER)
    assert _vendors(found) == ["Hooli"]
    image = corpus.images["Hooli"].read_bytes()
    assert [p["offset"] for p in found["images"][0]["places"]] == [image.index(BANNER.encode())]
    # a rule's text ending the pattern and matching everything would list every kept image
    injected = _search(searching, "string", '" condition: true } rule all { condition: true } //')
    assert injected["images"] == [] and injected["complete"]
    assert string_pattern('a"\\}') == ["61", "22", "5c", "7d"]


def _aligned(image: bytes, text: bytes) -> list[int]:
    """The even offsets `text` is at in `image`."""
    return [m.start() for m in re.finditer(re.escape(text), image) if m.start() % 2 == 0]


def test_text_is_found_in_utf16_of_either_byte_order_and_each_match_says_which(
        searching: Server, corpus: Corpus) -> None:
    found = _search(searching, "string", WIDE)
    assert _vendors(found) == ["Hooli"] and found["complete"], found
    image = corpus.images["Hooli"].read_bytes()
    places = [(p["offset"], p["length"], p["encoding"], p["what"]) for p in found["images"][0]["places"]]
    # one match per file, at its first byte (ext4 keeps a file's data in 4 KiB blocks); the other
    # byte order one byte off each (where a NUL is next to it) is the same bytes, not listed
    (le,), (be,) = (_aligned(image, WIDE.encode(encoding)) for encoding in ("utf-16-le", "utf-16-be"))
    assert places == sorted([(le, 28, "utf-16le", WIDE), (be, 28, "utf-16be", WIDE)])
    assert le % 4096 == 0 and be % 4096 == 0
    assert DECOY.encode("utf-16-le") in image and DECOY.encode("utf-16-be") in image
    assert WIDE.encode() not in image
    page = httpx.get(f"{searching.base}/search", params={"kind": "string", "q": WIDE})
    assert page.status_code == 200
    assert re.findall(r"at <code>0x([0-9a-f]+)</code> <small class=\"encoding\">in (UTF-16[LB]E)</small>: "
                      + WIDE, page.text) == sorted([(f"{le:x}", "UTF-16LE"), (f"{be:x}", "UTF-16BE")])
    # text in UTF-8 says so; hex bytes in braces are searched as given, in no other form
    assert {p["encoding"] for p in _search(searching, "string", "shared@factory")["images"][0]["places"]} \
        == {"utf-8"}
    given = _search(searching, "string", "W{00}i{00}d{00}e{00}")
    # (the bytes as given are in the BE file too, one byte on)
    assert [(p["offset"], p["encoding"]) for p in given["images"][0]["places"]] == \
        sorted([(le, "utf-8"), (be + 1, "utf-8")])
    assert string_forms("W{00}ide").keys() == {"utf-8"}
    assert string_forms("Wi\u00df")["utf-16be"] == ["00", "57", "00", "69", "00", "df"]


def test_a_page_says_what_was_not_searched(searching: Server, server: Server) -> None:
    page = httpx.get(f"{searching.base}/search", params={"kind": "string", "q": "shared@factory"})
    assert page.status_code == 200
    assert "1 image of the store has no kept copy and was not searched" in page.text
    assert "globex-g2.bin" in page.text and "Cut short" not in page.text
    # a server that keeps no image: every image counted as not searched, nothing claimed absent
    none = _search(server, "string", "telnetd")
    assert (none["images"], none["searched"], none["not_kept"]) == ([], 0, 3)
    page = httpx.get(f"{server.base}/search", params={"kind": "string", "q": "telnetd"})
    assert "3 images of the store have no kept copy and were not searched" in page.text
    assert "Found nowhere in what was searched" in page.text


def test_a_key_in_more_places_than_listed_says_how_many_there_are(corpus: Corpus,
                                                                    portfolio: Portfolio) -> None:  # noqa: F811
    """The store is asked for one place more than a page lists, and counts them all only then:
    the first places are the ones the whole answer starts with."""
    store = open_store(corpus.url)
    try:
        whole = search(store, "key", portfolio.shared, lambda _: None)
        assert (whole.places, whole.cut) == (3, None)
        two = search(store, "key", portfolio.shared, lambda _: None, Limits(places=2))
        assert two.cut == "only the first 2 of 3 places are listed"
        first = [(i["image"], p["path"]) for i in two.images for p in i["places"]]
        assert first == [(i["image"], p["path"]) for i in whole.images for p in i["places"]][:2]
        every = search(store, "component", "busybox", lambda _: None)
        busybox = search(store, "component", "busybox", lambda _: None, Limits(places=1))
        assert every.places > 1 and every.cut is None
        assert busybox.places == 1 and busybox.cut == f"only the first 1 of {every.places} places are listed"
    finally:
        store.close()


def test_the_bounds_cut_a_string_search_short_and_say_so(corpus: Corpus) -> None:
    from firmproof.web.app import create_app, kept_image

    store = open_store(corpus.url)
    try:
        app = create_app(store, data_dir=corpus.data_dir)

        def kept(sha256: str) -> Path | None:
            return kept_image(app, sha256)

        one = search(store, "string", "busybox", kept, Limits(images=1))
        assert (one.searched, one.not_kept) == (1, 1)
        assert one.cut == "at most 1 image is searched: 2 of 3 kept images not searched"
        out_of_time = search(store, "string", "busybox", kept, Limits(seconds=0))
        assert out_of_time.searched == 0 and out_of_time.out()["complete"] is False
        assert out_of_time.cut is not None and out_of_time.cut.startswith("the time budget of 0 s ran out")
        few = search(store, "string", "busybox", kept, Limits(matches_per_image=2, matches=3))
        assert few.places == 3 and few.cut is not None
        assert all(len(i["places"]) <= 2 for i in few.images)
        capped = search(store, "string", "busybox", kept)        # in every BusyBox, many times
        assert capped.cut is not None and capped.cut.startswith("at most 20 matches are listed per image")
        whole = search(store, "string", "shared@factory", kept)
        assert whole.cut is None and whole.places >= 1
    finally:
        store.close()


@pytest.mark.parametrize(("kind", "q", "says"), [
    ("key", "   ", "the query is empty"),
    ("key", "MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48", "MD5 fingerprint"),
    ("key", "not a fingerprint", "is not a key fingerprint"),
    ("executable", "12ab", "is not a SHA-256"),
    ("executable", "z" * 64, "is not a SHA-256"),
    ("executable", "a" * 65, "is not a SHA-256"),
    ("component", "busybox 1.36.1 extra", "its version"),
    ("string", "ab", "at least 3 known bytes"),
    ("string", "{?? ?? ??}", "at least 3 known bytes"),
])
def test_bad_input_is_a_clear_400(searching: Server, kind: str, q: str, says: str) -> None:
    problem = _search(searching, kind, q, status=400)
    assert says in problem["detail"]
    page = httpx.get(f"{searching.base}/search", params={"kind": kind, "q": q})
    if q.strip():
        assert page.status_code == 400 and says in page.text and "Traceback" not in page.text
    else:
        assert page.status_code == 200 and 'id="problem"' not in page.text      # just the form


def test_a_query_too_long_or_of_no_kind_is_refused(searching: Server) -> None:
    assert _search(searching, "string", "x" * 257, status=422)["detail"][0]["loc"] == ["query", "q"]
    assert _search(searching, "everything", "busybox", status=422)["detail"][0]["loc"] == ["query", "kind"]
    page = httpx.get(f"{searching.base}/search", params={"kind": "string", "q": "x" * 257})
    assert page.status_code == 400 and "at most 256" in page.text
    page = httpx.get(f"{searching.base}/search", params={"kind": "everything", "q": "busybox"})
    assert page.status_code == 400 and "search for one of" in page.text


def test_the_read_role_may_search_and_nobody_else(guarded: Server, accounts: Accounts) -> None:
    for token, status in ((accounts.tokens["read"], 200), (None, 401), ("wrong", 401)):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = guarded.check(httpx.get(f"{guarded.base}/api/search", headers=headers,
                                           params={"kind": "component", "q": "busybox"}))
        assert response.status_code == status
        if status == 200:
            assert len(response.json()["images"]) == 3


def test_a_person_searches_a_key_from_the_nav(searching: Server, portfolio: Portfolio,  # noqa: F811
                                              tmp_path: Path, shots: Path) -> None:
    requests: list[str] = []
    with chromium_page(tmp_path / "profile") as page:
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{searching.base}/scans")
        follow(page.locator("header nav a:text('Search')"))
        assert page.url == f"{searching.base}/search"
        page.select_option("select[name=kind]", "key")
        page.fill("input[name=q]", portfolio.shared)
        follow(page.locator("form.filters button[type=submit]"))
        assert "kind=key" in page.url
        rows = page.locator("#hits tr.hit")
        assert rows.count() == 2
        assert "acme-r1.bin" in rows.nth(0).inner_text() and "globex-g2.bin" in rows.nth(1).inner_text()
        assert page.locator("#summary").inner_text().startswith("2 images, 3 places")
        page.screenshot(path=str(shots / "1-key.png"), full_page=True)
        follow(rows.nth(1).locator("a").first)
        assert "/scans/" in page.url and page.locator("h1").inner_text().startswith("globex-g2.bin")
        page.screenshot(path=str(shots / "2-scan.png"), full_page=True)
    assert requests and all(url.startswith(searching.base + "/") for url in requests)
    assert sorted(p.name for p in shots.iterdir()) == ["1-key.png", "2-scan.png"]
