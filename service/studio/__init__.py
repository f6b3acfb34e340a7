"""The web pages: the copy studio (/studio), the storefront demo (/demo) and the ops view (/ops).

Server-rendered Jinja shells with a little vanilla JavaScript; every asset ships in
this package (no CDN). The pages call the same JSON API as any client, with the
API key the user types (kept in ``sessionStorage``, sent as a bearer token: no
cookies, so no CSRF surface).
"""
