"""A real local SMTP server (aiosmtpd) and a local HTTP receiver for webhooks: the alert
channels are tested against what they really speak, never only Django's locmem backend."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller


class Mailbox:
    def __init__(self):
        self.messages: list[dict] = []
        self.refuse = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.refuse:
            return "550 5.7.1 Relaying denied"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(
            {"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
             "data": envelope.content.decode("utf-8", "replace")}
        )  # fmt: skip
        return "250 Message accepted"


@pytest.fixture
def smtp_server(settings):
    mailbox = Mailbox()
    with socket.socket() as probe:  # a free port (the controller checks the one it is given)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    yield mailbox
    controller.stop()


class Receiver:
    """Answers each POST with the next status in `statuses` (200 when none left), or sleeps
    past the client's timeout when the status is "hang"."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list = []
        self.hang = threading.Event()


@pytest.fixture
def webhook_receiver():
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.requests.append({"path": self.path, "json": json.loads(body)})
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            if status == "hang":
                receiver.hang.wait(5)
                status = 200
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/services/T0/B0/secret-token"
    yield receiver
    receiver.hang.set()
    server.shutdown()
    server.server_close()
