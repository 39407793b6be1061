"""``python -m bench.tls``: what a TLS client identity costs a delivery (issue 17).

An https receiver runs in its own process (aiohttp, TLS 1.3, a certificate of a CA
made here), once accepting any client and once requiring a client certificate. Against
each, in this process, ``count`` 1 KiB POSTs are sent ``concurrency`` at a time by:

- ``bare``: a bare pyreqwest ``Client`` built with the same TLS settings (the ceiling
  of the same library: no hookline at all);
- ``transport``: hookline's ``PyreqwestTransport.send`` with the endpoint's
  ``ClientTls`` (the CA bundle, and the client certificate in the mTLS case): its
  destination checks, its client per host and identity, its bounded response read.

Connections are kept alive, so the figures are the steady cost per request (the
handshake is paid once per connection); each row is the best of ``rounds`` runs. The
run is bounded in count and time. See docs/performance.md ("TLS and client
certificates").
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import ipaddress
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyreqwest.client import ClientBuilder

from hookline.delivery.pyreqwest_transport import PyreqwestTransport
from hookline.domain.endpoint_auth import ClientTls
from hookline.domain.ssrf import DestinationPolicy

BODY = b'{"type": "bench", "pad": "' + b"x" * 1000 + b'"}'


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip


Issuer = tuple[x509.Name, ec.EllipticCurvePrivateKey]


Issuer = tuple[x509.Name, ec.EllipticCurvePrivateKey]


def _cert(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: Issuer | None, ca: bool = False,
    server: bool = False,
) -> x509.Certificate:  # fmt: skip
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, signer = issuer if issuer is not None else (name, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )  # fmt: skip
    if server:
        san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(signer, hashes.SHA256())


def make_certificates(folder: Path) -> dict[str, str]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("bench CA", ca_key, None, ca=True)
    issuer = (ca.subject, ca_key)
    made: dict[str, str] = {"ca": ca.public_bytes(serialization.Encoding.PEM).decode()}
    for role in ("server", "client"):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(role, key, issuer, server=role == "server")
        made[role] = cert.public_bytes(serialization.Encoding.PEM).decode()
        made[f"{role}_key"] = _key_pem(key)
    for name, text in made.items():
        (folder / f"{name}.pem").write_text(text)
    return made


def serve(folder: Path, require_client: bool) -> None:
    """The receiver process: answer every POST 200 over TLS; print the port."""
    from aiohttp import web

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "server.pem", folder / "server_key.pem")
    if require_client:
        context.load_verify_locations(folder / "ca.pem")
        context.verify_mode = ssl.CERT_REQUIRED

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


async def _lanes(count: int, concurrency: int, one: object) -> float:
    remaining = iter(range(count))

    async def lane() -> None:
        for _ in remaining:
            await one()  # type: ignore[operator]

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return time.perf_counter() - started


async def bare(url: str, tls: ClientTls, count: int, concurrency: int) -> float:
    """Seconds for ``count`` POSTs through a bare pyreqwest client with ``tls``."""
    builder = ClientBuilder().follow_redirects(False).no_proxy()
    if tls.has_identity:
        builder = builder.identity_pem(tls.identity_pem())
    assert tls.ca_bundle is not None
    builder = builder.add_root_certificate_pem(tls.ca_bundle.encode())
    client = builder.build()

    async def one() -> None:
        response = await client.post(url).body_bytes(BODY).build().send()
        await response.bytes()
        if response.status != 200:
            raise RuntimeError(f"bare: {response.status}")

    try:
        await one()  # the connection and its handshake, before the clock
        return await _lanes(count, concurrency, one)
    finally:
        await client.close()


async def transport(url: str, tls: ClientTls, count: int, concurrency: int) -> float:
    """Seconds for ``count`` POSTs through hookline's transport with the endpoint's ``tls``."""
    sender = PyreqwestTransport(policy=DestinationPolicy.from_strings(["127.0.0.0/8"]))

    async def one() -> None:
        result = await sender.send(url, BODY, {"content-type": "application/json"}, tls)
        if result.status_code != 200:
            raise RuntimeError(f"transport: {result.status_code} {result.response_body}")

    try:
        await one()
        return await _lanes(count, concurrency, one)
    finally:
        await sender.close()


def main(argv: list[str] | None = None) -> None:
    """Run the four rows and print them."""
    parser = argparse.ArgumentParser(prog="python -m bench.tls", description=__doc__)
    parser.add_argument("-n", "--count", type=int, default=3000)
    parser.add_argument("-c", "--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", nargs=2, metavar=("FOLDER", "REQUIRE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(Path(args.serve[0]), args.serve[1] == "1")
        return
    with tempfile.TemporaryDirectory() as workdir:
        folder = Path(workdir)
        pem = make_certificates(folder)
        plain = ClientTls(ca_bundle=pem["ca"])
        mutual = ClientTls(pem["client"], pem["client_key"], pem["ca"])
        print(f"{args.count} POSTs of 1 KiB, {args.concurrency} in flight, best of {args.rounds}")
        for label, tls, require in (("TLS", plain, "0"), ("mutual TLS", mutual, "1")):
            server = subprocess.Popen(
                [sys.executable, "-m", "bench.tls", "--serve", str(folder), require],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            try:
                assert server.stdout is not None
                url = f"https://127.0.0.1:{server.stdout.readline().strip()}/hook"
                runs: dict[str, list[float]] = {"bare pyreqwest": [], "hookline transport": []}
                for _ in range(args.rounds):  # interleaved: the machine's noise hits both
                    runs["bare pyreqwest"].append(
                        asyncio.run(bare(url, tls, args.count, args.concurrency))
                    )
                    runs["hookline transport"].append(
                        asyncio.run(transport(url, tls, args.count, args.concurrency))
                    )
                for name, seconds in runs.items():
                    rate = args.count / min(seconds)
                    print(f"{label:>10}  {name:<18}  {rate:8.0f} requests/s")
            finally:
                server.terminate()
                server.wait(10)


if __name__ == "__main__":
    main()
