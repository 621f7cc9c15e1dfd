"""Cold start of each Lambda binary: process start to first answer.

A minimal Lambda Runtime API (the part `lambda_runtime` uses) on loopback hands each fresh
`bootstrap` process one event from events/ and times, from spawning the process, until the
function posts its response. Initialisation (configuration, database connection and the
migration check, KMS/GitHub clients) and the first invocation are both inside the figure.

    python3 bench/coldstart.py [RUNS]      (after `cargo lambda build --release`)
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 20

FUNCTIONS = [
    ("ghsync-webhook", "webhook-ping.json"),
    ("ghsync-api", "api-list-tasks.json"),
    ("ghsync-reconcile", "reconcile-scheduled.json"),
]


class Runtime:
    """One invocation per process: the event, then the time its response arrived."""

    def __init__(self):
        self.event = b"{}"
        self.answered = threading.Event()
        self.answered_at = 0.0
        self.response = b""
        self.handed_out = False


def make_handler(rt):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def handle(self):
            try:
                super().handle()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the process was killed while a second `next` was waiting

        def do_GET(self):
            if not self.path.endswith("/invocation/next"):
                self.send_error(404)
                return
            if rt.handed_out:  # the process asks for a second event: keep it waiting
                rt.answered.wait(30)
                self.send_error(503)
                return
            rt.handed_out = True
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Lambda-Runtime-Aws-Request-Id", str(uuid.uuid4()))
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:bench")
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.send_header("Content-Length", str(len(rt.event)))
            self.end_headers()
            self.wfile.write(rt.event)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if "/response" in self.path or "/error" in self.path:
                rt.answered_at = time.perf_counter()
                rt.response = body
                rt.answered.set()
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def main():
    work = tempfile.mkdtemp(prefix="ghsync-coldstart.")
    db = f"sqlite://{work}/ghsync.db?mode=rwc"
    env = dict(os.environ)
    env.update({
        "GHSYNC_DATABASE_URL": db,
        "GHSYNC_WEBHOOK_SECRET": "ghsync-sample-events-secret",
        "GHSYNC_API_TOKEN": "ghsync-sample-api-token",
        "GHSYNC_LOCAL_KEY": "5e" * 32,
        "RUST_LOG": "warn",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
    })
    # Migrations are applied once, as a deployment's first cold start would; the runs below
    # measure the usual cold start, whose migration check finds nothing to do.
    subprocess.run([os.path.join(ROOT, "target/debug/ghsync"), "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    print(f"cold start (process start → first response), {RUNS} runs each, SQLite, {os.cpu_count()} cores")
    for name, event_file in FUNCTIONS:
        binary = os.path.join(ROOT, "target/lambda", name, "bootstrap")
        lambda_event = json.load(open(os.path.join(ROOT, "events", event_file)))
        samples = []
        for _ in range(RUNS):
            rt = Runtime()
            rt.event = json.dumps(lambda_event).encode()
            server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(rt))
            threading.Thread(target=server.serve_forever, daemon=True).start()
            env_run = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}",
                           AWS_LAMBDA_FUNCTION_NAME=name)
            started = time.perf_counter()
            proc = subprocess.Popen([binary], env=env_run, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ok = rt.answered.wait(10)
            proc.kill()
            proc.wait()
            server.shutdown()
            server.server_close()
            if not ok:
                sys.exit(f"{name}: no response within 10 s")
            samples.append((rt.answered_at - started) * 1000)
        samples.sort()
        size = os.path.getsize(binary) / 1048576
        status = json.loads(rt.response).get("statusCode", "-") if rt.response.startswith(b"{") else "-"
        print(f"{name:18} median={statistics.median(samples):6.1f} ms  p90={samples[int(len(samples) * 0.9) - 1]:6.1f} ms"
              f"  min={samples[0]:6.1f} ms  binary={size:5.2f} MiB  first answer status={status}")


if __name__ == "__main__":
    main()
