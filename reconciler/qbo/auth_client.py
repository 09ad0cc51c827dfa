"""intuit-oauth's `AuthClient` with a timeout on every request.

intuit-oauth sends its requests (the discovery GET in the constructor, the token endpoint)
without one, so a token endpoint that never answers would hold a refresh, and the
cross-process lock around it (`qbo.token_store`), for ever.
"""

from __future__ import annotations

from typing import Any

from intuitlib.client import AuthClient


class BoundedAuthClient(AuthClient):
    def __init__(self, *args: Any, timeout: float, **kwargs: Any) -> None:
        self.request_timeout = timeout  # read by the constructor's discovery GET
        super().__init__(*args, **kwargs)

    def request(self, method: Any, url: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.request_timeout)
        return super().request(method, url, **kwargs)
