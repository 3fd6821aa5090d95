"""A local HTTP server that answers Anthropic and OpenAI API requests with recorded replies, in order.

It is the HTTP edge the tests drive the real SDK clients against, and it lets anyone run the LLM
pipeline offline (point a provider's base URL at it). A recorded reply is a JSON file:

    {"status": 200, "headers": {}, "delay_s": 0, "expect": ["text the request must contain"],
     "body": <the provider's response JSON, or a string sent as is>}

Only `body` is required. Files of a folder are served in name order. A request that arrives when the
script is used up, on the wrong API, or without the expected text is answered 400 and noted in
`errors`, so a test fails with a message that says which step went astray.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import DesignerConfig

ANTHROPIC_PATH = "/v1/messages"
OPENAI_PATH = "/chat/completions"


@dataclass
class RecordedReply:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    expect: list[str] = field(default_factory=list)
    source: str = ""

    @property
    def api(self) -> str:
        """Which wire format the reply is in, read from the body."""
        body = self.body if isinstance(self.body, dict) else {}
        if body.get("type") in ("message", "error") or "content" in body:
            return "anthropic"
        if "choices" in body or "error" in body or str(body.get("object", "")).startswith("chat"):
            return "openai"
        return "any"

    @classmethod
    def from_file(cls, path: Path) -> RecordedReply:
        data = json.loads(path.read_text())
        return cls(
            body=data["body"],
            status=int(data.get("status", 200)),
            headers={k.lower(): str(v) for k, v in data.get("headers", {}).items()},
            delay_s=float(data.get("delay_s", 0.0)),
            expect=list(data.get("expect", [])),
            source=path.name,
        )


def load_replies(folder: str | Path) -> list[RecordedReply]:
    return [RecordedReply.from_file(p) for p in sorted(Path(folder).glob("*.json"))]


@dataclass
class ReceivedRequest:
    path: str
    body: dict[str, Any]
    served: str  # the recorded reply's file name, or "" when none was served

    @property
    def text(self) -> str:
        """System prompt and every message, as the model would read them."""
        parts: list[str] = []
        system = self.body.get("system")
        if isinstance(system, str):
            parts.append(system)
        elif isinstance(system, list):
            parts += [b.get("text", "") for b in system if isinstance(b, dict)]
        for message in self.body.get("messages", []):
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts += [b.get("text", "") for b in content if isinstance(b, dict)]
        return "\n".join(parts)


class ReplayServer:
    """Serve `replies` in order on 127.0.0.1; use as a context manager."""

    def __init__(self, replies: list[RecordedReply]):
        self.replies = list(replies)
        self.requests: list[ReceivedRequest] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._next = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_folder(cls, folder: str | Path) -> ReplayServer:
        return cls(load_replies(folder))

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> str:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                status, headers, payload = server._answer(self.path, raw)
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True  # a reply still sleeping (a timeout test) must not hold up stop()
        self._httpd.block_on_close = False
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ReplayServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the replay server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_base_url(self) -> str:
        return self.base_url + "/v1"

    @property
    def remaining(self) -> int:
        return len(self.replies) - self._next

    # ---- answering ---------------------------------------------------------------------------------
    def _answer(self, path: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = {}
        with self._lock:
            request = ReceivedRequest(path=path, body=body, served="")
            self.requests.append(request)
            if self._next >= len(self.replies):
                return self._refuse(f"request {len(self.requests)} to {path}: no recorded replies left")
            reply = self.replies[self._next]
            api = "anthropic" if path.endswith(ANTHROPIC_PATH) else "openai" if path.endswith(OPENAI_PATH) else "?"
            if reply.api not in ("any", api):
                return self._refuse(f"{reply.source}: recorded for the {reply.api} API, requested {path}")
            missing = [e for e in reply.expect if e not in request.text]
            if missing:
                return self._refuse(f"{reply.source}: request lacks expected text {missing[0]!r}")
            self._next += 1
            request.served = reply.source
        if reply.delay_s:
            time.sleep(reply.delay_s)
        headers = {"content-type": "application/json", **reply.headers}
        payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
        return reply.status, headers, payload.encode()

    def _refuse(self, message: str) -> tuple[int, dict[str, str], bytes]:
        self.errors.append(message)
        body = {"type": "error", "error": {"type": "invalid_request_error", "message": f"replay: {message}"}}
        return 400, {"content-type": "application/json"}, json.dumps(body).encode()


def point_config_at(server: ReplayServer, config: DesignerConfig, kind: str | None = None,
                    key_env: str = "GENESYS_REPLAY_API_KEY", max_retries: int = 2) -> DesignerConfig:
    """Send every role of `config` to the running `server`, in the wire format of its replies
    (Anthropic, else OpenAI-compatible). The key variable must be set for the Anthropic and OpenAI
    SDKs, which refuse to start without a key; the replay never looks at it."""
    from .config import ProviderSettings

    if kind is None:
        api = next((r.api for r in server.replies if r.api != "any"), "anthropic")
        kind = "anthropic" if api == "anthropic" else "compatible"
    base_url = server.base_url if kind == "anthropic" else server.openai_base_url
    config.providers[kind] = ProviderSettings(kind=kind, base_url=base_url, api_key_env=key_env, timeout_s=60.0,
                                              max_retries=max_retries, backoff_base_s=0.01, backoff_max_s=0.1)
    for spec in config.roles.values():
        spec.provider = kind
    config.use_gp = False
    return config
