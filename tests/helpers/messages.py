"""A phone leaving 我要留言 on a listen page, as the page's script sends it."""
from __future__ import annotations

import io

from tests.helpers.web import Client


def phone(app, token: str) -> Client:
    """A phone that opened the listen page (and so holds its listen-session cookie)."""
    client = Client(app.test_client())
    assert client.get(f"/l/{token}").status_code == 200
    return client


def leave(client, token, client_id="msg-00000001", **fields):
    data = {"client_id": client_id, **fields}
    if "audio" in data:
        data["audio"] = (io.BytesIO(data["audio"]), data.pop("name", "留言.wav"))
    return client.http.post(f"/l/{token}/message", data=data, headers={"Accept": "application/json"},
                            content_type="multipart/form-data")
