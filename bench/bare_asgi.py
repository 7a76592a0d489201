"""The smallest ASGI app daphne can serve: the baseline for request latency.

It reads the whole body, as the ingestion API does, and answers
200 {"success": true}, so what a Regal request costs on top of it is
Django, DRF and the ingestion itself.
"""

BODY = b'{"success": true}'
HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
]


async def application(scope, receive, send):
    more_body = True
    while more_body:
        message = await receive()
        more_body = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
