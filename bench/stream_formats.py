"""1e6 float64 numpy-legacy uniforms over loopback, in each format, against local generation.

Prints medians and ratios measured side by side in one run. Targets (issue 10): raw read
into a preallocated buffer (``recv_into`` on a kept-alive socket: what the service costs, not
an HTTP client's parser) <= 1.5x local ``RandomState.uniform``; JSON + ``orjson.loads``
<= 1.2x its floor (local generation + ``orjson.dumps`` + ``orjson.loads``, no HTTP).
Usage::

    python -m bench.stream_formats [--url http://127.0.0.1:8000] [--repeats 15]
        [--count 1000000] [--chunk-bytes N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import socket
import statistics
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import orjson

from bench._server import running_server
from bench._timing import timed
from seed_authority_client import Authority

PATH = "/v1/streams/numpy-legacy/uniform"


class SocketReader:
    """The leanest HTTP/1.1 client: a kept-alive socket, the request written by hand, the
    headers parsed, then ``recv_into`` straight into the caller's buffer (no copy)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.sock = self._connect()

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def get_into(self, target: str, view: memoryview) -> int:
        request = f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode()
        head = b""
        for attempt in range(2):  # the server closes a connection idle for 5 s: reconnect
            try:
                self.sock.sendall(request)
                head = self.sock.recv(65536)
            except ConnectionError:
                head = b""
            if head:
                break
            self.sock.close()
            self.sock = self._connect()
            if attempt:
                raise ConnectionError("closed")
        while b"\r\n\r\n" not in head:
            piece = self.sock.recv(65536)
            if not piece:
                raise ConnectionError("closed")
            head += piece
        head, _, rest = head.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                      if line.lower().startswith(b"content-length:"))
        if status != 200 or length != len(view):
            raise RuntimeError(f"{status}, {length} bytes")
        view[:len(rest)] = rest
        filled = len(rest)
        while filled < length:
            got = self.sock.recv_into(view[filled:])
            if not got:
                raise ConnectionError("closed")
            filled += got
        return filled

    def close(self) -> None:
        self.sock.close()


def main() -> None:  # noqa: PLR0915 (one benchmark, its cases side by side)
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="a running server; default: start one on loopback")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--chunk-bytes", type=int, help="SEED_AUTHORITY_CHUNK_BYTES of the server")
    ap.add_argument("--binary-only", action="store_true",
                    help="local and the raw/npy cases only (no JSON): quicker A/B runs")
    args = ap.parse_args()
    n = args.count
    env = {"SEED_AUTHORITY_CHUNK_BYTES": str(args.chunk_bytes)} if args.chunk_bytes else {}

    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(running_server(env, quiet=True))
        client = stack.enter_context(httpx.Client(base_url=url, timeout=120))
        authority = stack.enter_context(Authority(url, chunk=max(n, 1)))
        buffer = np.empty(n, dtype="<f8")
        view = buffer.data.cast("B")

        def query(fmt: str, seed: int) -> dict[str, Any]:
            return {"seed": seed, "count": n, "format": fmt}

        def fetch(fmt: str, seed: int, as_array: bool = False) -> Any:
            r = client.get(PATH, params=query(fmt, seed))
            r.raise_for_status()
            if fmt == "raw":
                return np.frombuffer(r.content, dtype="<f8")
            if fmt == "npy":
                return np.asarray(np.load(io.BytesIO(r.content)))
            values = orjson.loads(r.content)["values"]  # what a JSON client holds: floats
            return np.array(values, dtype=np.float64) if as_array else values

        def into_buffer(seed: int) -> np.ndarray:
            """raw, each piece copied into a preallocated array as it arrives."""
            with client.stream("GET", PATH, params=query("raw", seed)) as r:
                r.raise_for_status()
                filled = 0
                for piece in r.iter_raw():
                    view[filled:filled + len(piece)] = piece
                    filled += len(piece)
            assert filled == 8 * n
            return buffer

        reader = SocketReader(url)
        stack.callback(reader.close)

        def socket_into_buffer(seed: int) -> np.ndarray:
            """raw, received straight into a preallocated array (recv_into)."""
            reader.get_into(f"{PATH}?seed={seed}&count={n}&format=raw", view)
            return buffer

        def through_client(seed: int) -> np.ndarray:
            out: np.ndarray = authority.stream("numpy-legacy", "uniform", seed=seed)[0:n]
            return out

        def local(seed: int) -> np.ndarray:
            out: np.ndarray = np.random.RandomState(seed).uniform(0.0, 1.0, n)
            return out

        def json_floor(seed: int) -> list[float]:
            """Local generation, orjson.dumps, orjson.loads: JSON without HTTP or metadata."""
            text = orjson.dumps({"values": local(seed)}, option=orjson.OPT_SERIALIZE_NUMPY)
            values: list[float] = orjson.loads(text)["values"]
            return values

        def naive_json(seed: int) -> np.ndarray:
            """What a plain FastAPI endpoint does: tolist + json.dumps, json.loads on the client."""
            text = json.dumps({"values": local(seed).tolist()})
            values: list[float] = json.loads(text)["values"]
            return np.array(values, dtype=np.float64)

        for fmt in ("raw", "npy", "json"):  # warm up, and check the bits once
            assert np.array_equal(fetch(fmt, 1, as_array=True), local(1)), fmt
        assert np.array_equal(into_buffer(2), local(2))
        assert np.array_equal(socket_into_buffer(4), local(4))
        assert np.array_equal(through_client(3), local(3))
        cases = {
            "local": local,
            "raw": lambda s: fetch("raw", s),
            "raw_buffer": into_buffer,
            "raw_socket": socket_into_buffer,
            "client": through_client,
            "npy": lambda s: fetch("npy", s),
            "json": lambda s: fetch("json", s),
            "json_floor": json_floor,
            "json_array": lambda s: fetch("json", s, as_array=True),
            "naive": naive_json,
        }
        if args.binary_only:
            cases = {k: v for k, v in cases.items() if not k.startswith(("json", "naive"))}
        times: dict[str, list[float]] = {k: [] for k in cases}
        for i in range(args.repeats):
            seed = 1000 + i
            for name, fn in cases.items():
                times[name].append(timed(fn, seed))

    report(times, n, args.repeats, args.chunk_bytes)


def report(times: dict[str, list[float]], n: int, repeats: int, chunk_bytes: int | None) -> None:
    med = {k: statistics.median(v) for k, v in times.items()}

    def ratio(a: str, b: str) -> float:
        """Median of the per-repeat ratios (each pair measured back to back)."""
        return statistics.median(x / y for x, y in zip(times[a], times[b], strict=True))

    def goal(value: float, target: float) -> str:
        return f"(target <= {target}x: {'met' if value <= target else 'MISSED'})"

    print(f"{n} float64 numpy-legacy uniform values, {repeats} repeats, medians "
          f"(ms are for orientation only: quote the ratios)"
          + (f", server chunk_bytes={chunk_bytes}" if chunk_bytes else ""))
    print(f"  local RandomState.uniform           : {med['local'] * 1e3:8.2f} ms   1.00x")
    rows = (("raw", "http raw + np.frombuffer", None),
            ("raw_buffer", "httpx raw into a preallocated array", None),
            ("raw_socket", "socket recv_into a preallocated array", 1.5),
            ("client", "Authority.stream(...)[0:n]", None),
            ("npy", "http npy + np.load", None),
            ("json", "http json + orjson.loads", None),
            ("json_array", "http json + orjson.loads + np.array", None))
    for key, label, target in rows:
        if key not in times:
            continue
        r = ratio(key, "local")
        print(f"  {label:<36}: {med[key] * 1e3:8.2f} ms {r:6.2f}x "
              f"{goal(r, target) if target else ''}")
    if "json" not in times:
        return
    floor = ratio("json", "json_floor")
    print(f"  json over HTTP / its floor (local + orjson.dumps + orjson.loads, no HTTP): "
          f"{floor:.2f}x {goal(floor, 1.2)}")
    print(f"  json over HTTP / naive json (tolist + json.dumps + json.loads, no HTTP): "
          f"{ratio('json', 'naive'):.2f}x")


if __name__ == "__main__":
    main()
