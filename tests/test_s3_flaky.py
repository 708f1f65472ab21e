"""S3 faults (issue 15): bodies that break off are read again; a bad output bucket fails up front.

A real HTTP proxy on 127.0.0.1 sits between boto3 and the moto S3 server and
cuts the body of chosen GETs in half (full Content-Length, then the connection
closes), which is what a flaky network or load balancer does.
"""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.exceptions import IncompleteReadError, ResponseStreamingError

from tests.fixtures_s3 import s3_server  # noqa: F401
from voxguard.storage import StorageOptions, read_bytes
from voxguard.storage.s3 import STREAM_ATTEMPTS


class _Proxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream_port: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream_port = upstream_port
        self.cut: dict[str, int] = {}  # object path -> how many more GETs to cut short
        self.gets: Counter = Counter()


class _Handler(BaseHTTPRequestHandler):
    server: _Proxy

    def log_message(self, *args: object) -> None:
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=30)
        upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
        response = upstream.getresponse()
        data = response.read()
        path = self.path.split("?")[0]
        cut = self.command == "GET" and self.server.cut.get(path, 0) > 0
        if self.command == "GET":
            self.server.gets[path] += 1
        if cut:
            self.server.cut[path] -= 1
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data[: len(data) // 2] if cut else data)
        self.wfile.flush()
        self.close_connection = True
        upstream.close()

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _forward


@pytest.fixture
def proxy(s3_server):  # noqa: F811
    server = _Proxy(s3_server.port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = boto3.client("s3", endpoint_url=s3_server.endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="flaky")
    client.put_object(Bucket="flaky", Key="clip.wav", Body=bytes(range(256)) * 400)
    try:
        yield server, StorageOptions(endpoint=f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()


def test_a_body_cut_short_is_read_again(proxy):
    server, options = proxy
    server.cut["/flaky/clip.wav"] = 2
    assert read_bytes("s3://flaky/clip.wav", options) == bytes(range(256)) * 400
    assert server.gets["/flaky/clip.wav"] == 3  # two broken bodies, then the whole one


def test_a_body_that_always_breaks_off_is_an_error_after_a_few_attempts(proxy):
    server, options = proxy
    server.cut["/flaky/clip.wav"] = 100
    with pytest.raises((IncompleteReadError, ResponseStreamingError)):
        read_bytes("s3://flaky/clip.wav", options)
    assert server.gets["/flaky/clip.wav"] == STREAM_ATTEMPTS


def test_a_missing_output_bucket_fails_in_one_line_before_scoring(s3_server, tmp_path, capsys):  # noqa: F811
    from voxguard.cli import main

    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "a.wav").write_bytes(b"RIFF")
    code = main(["score", str(clips), "--out", "s3://no-such-bucket/out", "--no-feedback",
                 "--s3-endpoint", s3_server.endpoint])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("voxguard: error: cannot write to s3://no-such-bucket/out") and "NoSuchBucket" in err
    assert len(err.splitlines()) == 1
    assert "[score] job" not in err  # nothing was listed or scored
