"""A real RFC 3161 time-stamping authority for the tests: OpenSSL's ``openssl ts -reply``
behind a tiny HTTP handler, with a test CA and TSA certificate made by openssl."""

from __future__ import annotations

import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CONFIG = """
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _openssl(*args: str, cwd: Path, data: bytes | None = None) -> bytes:
    run = subprocess.run(["openssl", *args], cwd=cwd, input=data, capture_output=True, timeout=30)
    if run.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {run.stderr.decode()}")
    return run.stdout


def make_authority(folder: Path) -> None:
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", "/CN=Clearance test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    _openssl(
        "req", *ec, "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", "/CN=test TSA", cwd=folder
    )
    (folder / "ext.cnf").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=critical,timeStamping\n"
    )
    _openssl(
        "x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "tsa.crt", "-days", "2", "-extfile", "ext.cnf",
        cwd=folder,
    )  # fmt: skip
    (folder / "serial").write_text("01\n")
    (folder / "tsa.cnf").write_text(CONFIG.format(dir=folder))


class Authority:
    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="clearance-tsa-"))
        make_authority(self.folder)
        self.lock = threading.Lock()
        self.requests = 0
        authority = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802  (http.server's name)
                query = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with authority.lock:
                    authority.requests += 1
                    (authority.folder / "q.tsq").write_bytes(query)
                    _openssl(
                        "ts", "-reply", "-config", "tsa.cnf", "-queryfile", "q.tsq",
                        "-out", "r.tsr", cwd=authority.folder,
                    )  # fmt: skip
                    reply = (authority.folder / "r.tsr").read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsr"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def verify(self, data: bytes, token: bytes) -> str:
        """``openssl ts -verify`` of a TimeStampToken over ``data``: its output, or raises."""
        (self.folder / "data.bin").write_bytes(data)
        (self.folder / "token.der").write_bytes(token)
        return _openssl(
            "ts", "-verify", "-data", "data.bin", "-in", "token.der", "-token_in",
            "-CAfile", "ca.crt", "-untrusted", "tsa.crt", cwd=self.folder,
        ).decode()  # fmt: skip

    def close(self):
        self.server.shutdown()
        self.server.server_close()
