"""`firmproof serve`: a web interface and a JSON API over the results store.

    app.py        the application: routers, the style sheet, how refusals read
    api.py        /api: images, scans, findings, reports (OpenAPI at /api/openapi.json)
    pages.py      the pages: scans list, one scan, one finding, the triage form (static/)
    rendering.py  the pages' Jinja2 templates (templates/) and how a page is rendered
    access.py     who is asking: tokens for the API, sessions and CSRF tokens for the pages; login
    auth.py       the users and tokens file: scrypt password hashes, token hashes, signed sessions
    accounts.py   `firmproof user` and `firmproof token`
    queries.py    what they read from the store (read only)
    vendors.py    the vendor view for procurement: /api/vendors, /vendors, its CSV and print form
    hexview.py    evidence bytes as a hex editor shows them
    serve.py      the server on one address, refusing a public one without authentication
"""
