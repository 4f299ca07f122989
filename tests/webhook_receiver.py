"""A webhook receiver for the integration tests: verifies every delivery with the official
Standard Webhooks library for Python (`standardwebhooks` from PyPI) and reports it.

It listens on 127.0.0.1 (a free port), prints {"port": N} as its first line, then one JSON line
per delivery, before answering it:

  {"path", "id", "timestamp", "signature", "verified": [bool per secret],
   "signedBy": [bool per secret], "body": the parsed body, "answer": status or "hold"}

`verified[i]` is `Webhook(secrets[i]).verify(body, headers)` succeeding (signature and the
library's 5-minute timestamp tolerance). `signedBy[i]` says whether one of the signatures in
`webhook-signature` is the library's own `Webhook(secrets[i]).sign(id, timestamp, body)`,
whatever the timestamp (tests that move the appliance's clock still learn who signed).

The test tells it what to do with `POST /_control` and a JSON object:
  {"secrets": ["whsec_...", ...], "answers": {"/path": [500, 500, 204], "*": [204]}}
Each path answers its list in order, then repeats the last entry; "*" is for other paths.
An answer of 302 carries `Location: /elsewhere`; "hold" never answers (a slow endpoint).
"""

import json
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

LOCK = threading.Lock()
STATE = {"secrets": [], "answers": {"*": [204]}, "served": {}}


def report(line):
    with LOCK:
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()


def next_answer(path):
    with LOCK:
        answers = STATE["answers"].get(path) or STATE["answers"].get("*") or [204]
        n = STATE["served"].get(path, 0)
        STATE["served"][path] = n + 1
        return answers[min(n, len(answers) - 1)], list(STATE["secrets"])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, extra=None):
        self.send_response(status)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path == "/_control":
            control = json.loads(body)
            with LOCK:
                if "secrets" in control:
                    STATE["secrets"] = control["secrets"]
                if "answers" in control:
                    STATE["answers"] = control["answers"]
                    STATE["served"] = {}
            self.reply(204)
            return
        answer, secrets = next_answer(self.path)
        headers = {name: value for name, value in self.headers.items()}
        msg_id = self.headers.get("webhook-id", "")
        timestamp = self.headers.get("webhook-timestamp", "0")
        signature = self.headers.get("webhook-signature", "")
        text = body.decode("utf-8")
        verified, signed_by = [], []
        for secret in secrets:
            hook = Webhook(secret)
            try:
                hook.verify(body, headers)
                verified.append(True)
            except WebhookVerificationError:
                verified.append(False)
            at = datetime.fromtimestamp(int(timestamp), tz=timezone.utc)
            own = hook.sign(msg_id, at, text)
            signed_by.append(own in signature.split(" "))
        report(
            {
                "path": self.path,
                "id": msg_id,
                "timestamp": timestamp,
                "signature": signature,
                "verified": verified,
                "signedBy": signed_by,
                "body": json.loads(text),
                "answer": answer,
            }
        )
        if answer == "hold":
            # A slow endpoint: the request stays unanswered until this process ends.
            while True:
                time.sleep(3600)
        extra = {"Location": "/elsewhere"} if answer == 302 else None
        self.reply(int(answer), extra)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    report({"port": server.server_address[1]})
    server.serve_forever()


if __name__ == "__main__":
    main()
