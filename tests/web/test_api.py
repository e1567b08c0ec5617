"""The JSON API, every response checked against the OpenAPI document the server publishes at
/api/openapi.json."""

from __future__ import annotations

import httpx

from tests.web.conftest import IMAGES, RULE_SETS, Server


def test_the_document_is_at_its_fixed_url_and_names_every_endpoint(server: Server) -> None:
    paths = set(server.openapi["paths"])
    assert server.openapi["openapi"].startswith("3.")
    assert {"/api/images", "/api/scans", "/api/scans/{scan_id}", "/api/scans/{scan_id}/report",
            "/api/findings/{finding_id}"} <= paths
    assert all(p.startswith("/api/") for p in paths)


def test_images_scans_one_scan_its_report_and_a_finding(server: Server) -> None:
    with httpx.Client(base_url=server.base) as api:
        images = server.check(api.get("/api/images")).json()
        assert sorted(i["name"] for i in images["items"]) == sorted(f"{n}.bin" for n in IMAGES)
        assert {i["scans"] for i in images["items"]} == {len(RULE_SETS)} and images["total"] == len(IMAGES)
        # by vendor, product, release: Acme's two releases of R1, then Globex
        names = [i["name"] for i in images["items"]]
        assert names == ["demo-router.bin", "clean-router.bin", "ext4-router.bin"]
        second = server.check(api.get("/api/images", params={"per_page": 2, "page": 2})).json()
        assert [i["name"] for i in second["items"]] == ["ext4-router.bin"] and second["pages"] == 2
        page = server.check(api.get("/api/scans", params={"per_page": 5})).json()
        assert (page["total"], page["pages"], len(page["items"])) == (len(IMAGES) * len(RULE_SETS), 3, 5)
        ids = [s["id"] for s in page["items"]]
        assert ids == sorted(ids, reverse=True)
        last = server.check(api.get("/api/scans", params={"per_page": 5, "page": 3})).json()
        assert len(last["items"]) == len(IMAGES) * len(RULE_SETS) - 10
        demo = server.check(api.get("/api/scans", params={"q": "demo-router", "per_page": 1})).json()
        scan = server.check(api.get(f"/api/scans/{demo['items'][0]['id']}")).json()
        assert scan["vendor"] == "Acme" and scan["findings"] == len(scan["findings_list"]) > 5
        assert scan["severities"]["critical"] >= 1 and any(c["name"] == "busybox" for c in scan["components"])
        report = server.check(api.get(f"/api/scans/{scan['id']}/report")).json()
        assert report["schema"] == "firmproof.report/1" and report["image"]["sha256"] == scan["sha256"]
        assert {f["id"] for f in report["findings"]} == {f["finding_id"] for f in scan["findings_list"]}
        one = scan["findings_list"][0]
        finding = server.check(api.get(f"/api/findings/{one['id']}")).json()
        assert finding["evidence"] == one["evidence"] and finding["marks"] == []


def test_filters(server: Server) -> None:
    with httpx.Client(base_url=server.base) as api:
        def total(**params: str) -> int:
            return int(server.check(api.get("/api/scans", params=params)).json()["total"])

        assert total(vendor="Globex") == total(product="G2") == total(version="7.0") == len(RULE_SETS)
        assert total(severity="critical") == 2 * len(RULE_SETS)
        assert total(rule="FP-SVC-001", vendor="Acme") == len(RULE_SETS)
        assert total(category="service.remote-shell") == 2 * len(RULE_SETS)
        assert total(triage="untriaged") == total(triage="open") == len(IMAGES) * len(RULE_SETS)
        assert total(triage="confirmed") == 0
        assert total(until="2024-01-01") == total(since="2024-01-04") == len(IMAGES)
        assert total(since="2024-01-02", until="2024-01-03") == 2 * len(IMAGES)


def test_refusals_are_documented_too(server: Server) -> None:
    with httpx.Client(base_url=server.base) as api:
        assert server.check(api.get("/api/scans/999999")).status_code == 404
        assert server.check(api.get("/api/findings/999999")).status_code == 404
        assert server.check(api.get("/api/scans", params={"severity": "dire"})).status_code == 422
        assert server.check(api.get("/api/scans", params={"per_page": 0})).status_code == 422
        assert server.check(api.get("/api/scans", params={"since": "yesterday"})).status_code == 422


def test_a_products_timeline(server: Server) -> None:
    with httpx.Client(base_url=server.base) as api:
        releases = server.check(api.get("/api/timeline", params={"vendor": "Acme", "product": "R1"})).json()
        assert [(r["version"], r["image"]) for r in releases] == [("1.0", "demo-router.bin"),
                                                                   ("1.1", "clean-router.bin")]
        first, second = releases
        assert first["new"] is None and first["findings"] == 8 and first["open_critical_high"] == 7
        assert second["findings"] == second["info"] == 1
        assert first["findings"] - second["gone"] + second["new"] == second["findings"]
        assert server.check(api.get("/api/timeline", params={"vendor": "Acme", "product": "Z9"})).json() == []
        assert server.check(api.get("/api/timeline", params={"vendor": "Acme"})).status_code == 422
