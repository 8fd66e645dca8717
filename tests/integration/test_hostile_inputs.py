"""Hostile requests against a protected location: malformed, oversized and
duplicated signature fields, bad encodings, hostile key ids, paths, users,
forwarded-for chains, Seraph headers, bodies and digests. Every one must be
refused cleanly (a complete response, 400/401/403 or the documented core
refusal, never 200 and never 5xx), carry the TrustedApp-Error token when the
module answered, and never crash a worker. At the end the error log must hold
no signature bytes and no key material.

Requests are built as bytes and sent over raw sockets so that inputs an HTTP
library would refuse (NUL, bare CR, non-ASCII, repeated lines) reach httpd."""

import base64
import os
import re
import time

import pytest

import tasig
from conftest import App
from hardening_helpers import (add_header, build, drop_header, exchange, leaks, replace_header,
                               sign, signed_bytes)
from test_seraph import seraph_headers

CONF = """
TrustedAppRegistry "@REGISTRY@"
AllowEncodedSlashes NoDecode
<Location "/">
  AuthType TrustedApp
  AuthName "trusted applications"
  TrustedAppProtocols native seraph
  TrustedAppTrustedProxy 127.0.0.1
  TrustedAppMaxBodySize 4096
  TrustedAppErrorDetail on
  Require valid-user
</Location>
<Location "/other">
  TrustedAppProxyHeader Forwarded
</Location>
<Location "/public">
  Require all granted
</Location>
"""

# Core refusals happen before the module runs and carry no token.
CORE = "core"
# The module answered: the TrustedApp-Error header is required (any token).
ANY = "any"


class Apps:
    def __init__(self):
        self.native = App("app1", paths=("/rest", "/echo", "/other"))
        self.seraph = App("confluence:1", alg="rsa-v1_5-sha256", protocols="seraph",
                          paths=("/rest",), timeout_ms=10000)
        self.signatures = []     # every signature sent, for the leak check

    def all(self):
        return [self.native, self.seraph]


@pytest.fixture(scope="module")
def apps():
    return Apps()


@pytest.fixture(scope="module")
def srv(shared_httpd, apps):
    s = shared_httpd(conf=CONF, apps=apps.all())
    # httpd core's own refusals of some hostile paths are logged at error level.
    s.expect_log(r"\[core:error\].*AH10244: invalid URI path")
    s.expect_log(r"\[core:error\].*File name too long.*AH00127: Cannot map GET /secure/a+ HTTP/1\.1")
    return s


def sb(srv, A, method="GET", target="/rest/", user="alice", **kw):
    """Signed bytes by the native app; the signature is remembered for the leak check."""
    data, s = signed_bytes(srv, method, target, A.native, user=user, **kw)
    A.signatures.append(s.signature)
    return data


def si_sig(srv, A, target="/rest/", **kw):
    """Signature-Input and Signature values of a good signature."""
    s = sign(srv, "GET", target, A.native, **kw)
    A.signatures.append(s.signature)
    d = dict(s.headers)
    return d["Signature-Input"], d["Signature"]


def raw_with(srv, A, si=None, sig=None, extra=(), user="alice", target="/rest/"):
    """A request carrying the given Signature-Input / Signature values verbatim
    (None: those of a good signature)."""
    good_si, good_sig = si_sig(srv, A, target=target, user=user)
    hdrs = [("TrustedApp-User", user)]
    hdrs.append(("Signature-Input", good_si if si is None else si))
    hdrs.append(("Signature", good_sig if sig is None else sig))
    return build(srv, "GET", target, hdrs + list(extra))


def now():
    return int(time.time())


def params(created=None, nonce="n" * 22, keyid='"app1"', extra=""):
    c = now() if created is None else created
    return ';created=%s;expires=%d;nonce="%s";keyid=%s%s' % (c, now() + 60, nonce, keyid, extra)


COVER = '("@method" "@target-uri" "trustedapp-user")'
RANDSIG = "ta=:%s:" % base64.b64encode(os.urandom(64)).decode()


def seraph(srv, A, mutate=None, target="/rest/", user="fred"):
    hdrs = seraph_headers(A.seraph.key, A.seraph.id, user, srv.url(target))
    d = dict(hdrs)
    A.signatures.append(base64.b64decode(d["X-Seraph-Trusted-App-Signature"]))
    if mutate:
        hdrs = mutate(hdrs)
    return build(srv, "GET", target, hdrs)


def chunked(srv, A, chunks, digest_body):
    """POST /echo/ signed over digest_body, sent with the given raw chunked encoding."""
    s = sign(srv, "POST", "/echo/", A.native, body=digest_body)
    A.signatures.append(s.signature)
    hdrs = list(s.headers) + [("Transfer-Encoding", "chunked")]
    return build(srv, "POST", "/echo/", hdrs, body=chunks, content_length=False)


def many_members(n):
    return ", ".join('l%d=("@method");created=%d;keyid="app1";nonce="%s"' % (i, now(), "n" * 20)
                     for i in range(n))


# (id, builder(srv, A) -> bytes, allowed statuses, token: CORE / ANY / exact token)
ROWS = [
    # ---- Signature-Input syntax
    ("si-empty-member", lambda s, A: raw_with(s, A, si="ta="), {401}, "malformed-field"),
    ("si-unterminated-inner-list", lambda s, A: raw_with(s, A, si='ta=("@method" "@target-uri"'),
     {401}, "malformed-field"),
    ("si-item-not-inner-list", lambda s, A: raw_with(s, A, si='ta="@method"' + params()),
     {401}, ANY),
    ("si-token-garbage", lambda s, A: raw_with(s, A, si="ta=(@method)"), {401}, "malformed-field"),
    ("si-trailing-comma", lambda s, A: raw_with(s, A, si=COVER.join(["ta=", params()]) + ","),
     {401}, "malformed-field"),
    ("si-bad-label", lambda s, A: raw_with(s, A, si="TA=" + COVER + params()), {401}, "malformed-field"),
    ("si-only", lambda s, A: build(s, "GET", "/rest/", [("TrustedApp-User", "alice"),
                                                       ("Signature-Input", "ta=" + COVER + params())]),
     {401}, "signature-missing"),
    ("sig-only", lambda s, A: build(s, "GET", "/rest/", [("TrustedApp-User", "alice"),
                                                        ("Signature", RANDSIG)]),
     {401}, "signature-input-missing"),
    ("labels-differ", lambda s, A: raw_with(s, A, sig="other" + RANDSIG[2:]), {401}, ANY),
    ("si-7k-field", lambda s, A: raw_with(s, A, si="ta=" + COVER + params(extra=';tag="%s"' % ("t" * 7000))),
     {401}, ANY),
    ("si-9k-field", lambda s, A: raw_with(s, A, si="ta=" + COVER + params(extra=';tag="%s"' % ("t" * 9216))),
     {400}, CORE),
    ("si-100-components", lambda s, A: raw_with(s, A, si="ta=(%s)" % " ".join('"x-h%d"' % i for i in range(100)) + params()),
     {401}, ANY),
    ("si-100-duplicate-components", lambda s, A: raw_with(s, A, si="ta=(%s)" % " ".join(['"@method"'] * 100) + params()),
     {401}, ANY),
    ("si-300-components-over-limit", lambda s, A: raw_with(s, A, si="ta=(%s)" % " ".join('"h%d"' % i for i in range(300)) + params()),
     {401}, ANY),
    ("si-1000-members", lambda s, A: raw_with(s, A, si=many_members(60)), {401}, ANY),
    ("si-unknown-derived-component", lambda s, A: raw_with(s, A, si='ta=("@method" "@target-uri" "@nope" "trustedapp-user")' + params()),
     {401}, ANY),
    ("si-component-uppercase", lambda s, A: raw_with(s, A, si='ta=("@method" "@target-uri" "TrustedApp-User")' + params()),
     {401}, ANY),
    ("si-query-param-without-name", lambda s, A: raw_with(s, A, si='ta=("@method" "@target-uri" "@query-param" "trustedapp-user")' + params()),
     {401}, ANY),
    ("si-component-bad-param", lambda s, A: raw_with(s, A, si='ta=("@method";req "@target-uri" "trustedapp-user")' + params()),
     {401}, ANY),
    ("si-coverage-method-only", lambda s, A: sb(s, A, covered=["@method"]), {401}, "coverage-insufficient"),
    # ---- parameter types and values
    ("created-string", lambda s, A: raw_with(s, A, si="ta=" + COVER + params(created='"%d"' % now())),
     {401}, "parameter-invalid"),
    ("created-huge-integer", lambda s, A: raw_with(s, A, si="ta=" + COVER + params(created=999999999999999)),
     {401}, ANY),
    ("created-16-digits", lambda s, A: raw_with(s, A, si="ta=" + COVER + params(created=1234567890123456)),
     {401}, "malformed-field"),
    ("created-negative", lambda s, A: raw_with(s, A, si="ta=" + COVER + params(created=-5)),
     {401}, ANY),
    ("created-decimal", lambda s, A: raw_with(s, A, si="ta=" + COVER + params(created="%d.5" % now())),
     {401}, "parameter-invalid"),
    ("created-missing", lambda s, A: raw_with(s, A, si='ta=%s;nonce="%s";keyid="app1"' % (COVER, "n" * 22)),
     {401}, "parameter-missing"),
    ("expires-before-created", lambda s, A: sb(s, A, created=now(), expires=now() - 100), {401}, ANY),
    ("nonce-missing", lambda s, A: sb(s, A, nonce=False), {401}, "parameter-missing"),
    ("nonce-300-chars", lambda s, A: sb(s, A, nonce="n" * 300), {401}, "parameter-invalid"),
    ("nonce-integer", lambda s, A: raw_with(s, A, si="ta=" + COVER + params(nonce="x").replace('nonce="x"', "nonce=123456789012345")),
     {401}, "parameter-invalid"),
    ("keyid-token", lambda s, A: raw_with(s, A, si="ta=" + COVER + params(keyid="app1")),
     {401}, "parameter-invalid"),
    ("keyid-control-char", lambda s, A: raw_with(s, A, si="ta=" + COVER + params(keyid=b'"ap\x01p1"'.decode("latin-1"))),
     {400, 401}, ANY),
    ("keyid-escaped-quote", lambda s, A: sb(s, A).replace(b'keyid="app1"', b'keyid="app1\\"x"'),
     {401}, ANY),
    ("keyid-7k", lambda s, A: raw_with(s, A, si="ta=" + COVER + params(keyid='"%s"' % ("k" * 7000))),
     {401}, ANY),
    ("keyid-10k", lambda s, A: raw_with(s, A, si="ta=" + COVER + params(keyid='"%s"' % ("k" * 10240))),
     {400}, CORE),
    ("keyid-non-ascii", lambda s, A: raw_with(s, A, si="ta=" + COVER + params(keyid='"app\xe91"')),
     {401}, "malformed-field"),
    ("keyid-unknown", lambda s, A: raw_with(s, A, si="ta=" + COVER + params(keyid='"nobody"')),
     {401}, "unknown-app"),
    ("alg-mismatch", lambda s, A: sb(s, A, alg="ed25519", include_alg=True).replace(b'alg="ed25519"', b'alg="rsa-pss-sha512"'),
     {401}, ANY),
    ("alg-unknown", lambda s, A: sb(s, A, alg="ed25519", include_alg=True).replace(b'alg="ed25519"', b'alg="hmac-sha256"'),
     {401}, ANY),
    # ---- Signature values
    ("sig-not-byte-sequence", lambda s, A: raw_with(s, A, sig='ta="abc"'), {401}, ANY),
    ("sig-bad-base64", lambda s, A: raw_with(s, A, sig="ta=:!!!!:"), {401}, "malformed-field"),
    ("sig-base64-no-padding", lambda s, A: raw_with(s, A, sig="ta=:AAA:"), {401}, ANY),
    ("sig-wrong-length", lambda s, A: raw_with(s, A, sig="ta=:AAAA:"), {401}, ANY),
    ("sig-random-bytes", lambda s, A: raw_with(s, A, sig=RANDSIG), {401}, "bad-signature"),
    ("sig-empty-bytes", lambda s, A: raw_with(s, A, sig="ta=::"), {401}, ANY),
    ("sig-inner-list", lambda s, A: raw_with(s, A, sig="ta=(:AAAA:)"), {401}, ANY),
    ("sig-9k", lambda s, A: raw_with(s, A, sig="ta=:%s:" % base64.b64encode(b"x" * 6900).decode()),
     {400}, CORE),
    ("sig-5k-bytes", lambda s, A: raw_with(s, A, sig="ta=:%s:" % base64.b64encode(b"x" * 5000).decode()),
     {401}, ANY),
    ("sig-nul-byte", lambda s, A: raw_with(s, A, sig="ta=:AAAA\x00AAAA:"), {400}, CORE),
    ("sig-bare-cr", lambda s, A: raw_with(s, A, sig="ta=:AAAA\rAAAA:"), {400}, CORE),
    ("sig-obs-fold", lambda s, A: sb(s, A).replace(b"Signature: ta=:", b"Signature: ta=:\r\n AAAA"),
     {400, 401}, ANY),
    ("si-non-ascii-utf8", lambda s, A: raw_with(s, A, si="ta=" + COVER + params(extra=';tag="\u00e9"').encode("utf-8").decode("latin-1")),
     {401}, "malformed-field"),
    ("si-repeated-lines-second-weak", lambda s, A: sb(s, A, mutate=add_header("Signature-Input", 'ta=("@method")' + params())),
     {401}, ANY),
    ("sig-repeated-lines-second-random", lambda s, A: sb(s, A, mutate=add_header("Signature", RANDSIG)),
     {401}, ANY),
    ("two-labels-no-ta", lambda s, A: raw_with(s, A, si='a=("@method")%s, b=("@method")%s' % (params(), params()),
                                               sig="a=:AAAA:, b=:AAAA:"), {401}, ANY),
    # ---- the acting user (signed correctly, value hostile)
    ("user-root", lambda s, A: sb(s, A, user="root"), {403}, "user-denied"),
    ("user-admin", lambda s, A: sb(s, A, user="Administrator"), {403}, "user-denied"),
    ("user-empty", lambda s, A: sb(s, A, user=""), {401}, ANY),
    ("user-300-bytes", lambda s, A: sb(s, A, user="u" * 300), {401}, "user-invalid"),
    ("user-invalid-utf8", lambda s, A: sb(s, A, user="al\xffice"), {401}, "user-invalid"),
    ("user-overlong-utf8-slash", lambda s, A: sb(s, A, user="a\xc0\xafb"), {401}, "user-invalid"),
    ("user-control-char", lambda s, A: sb(s, A, user="al\x01ice"), {400, 401}, ANY),
    ("user-del-char", lambda s, A: sb(s, A, user="al\x7fice"), {400, 401}, ANY),
    ("user-nul", lambda s, A: sb(s, A, user="al\x00ice"), {400}, CORE),
    ("user-not-covered", lambda s, A: sb(s, A, covered=["@method", "@target-uri"]), {401}, "coverage-insufficient"),
    ("user-second-line-root", lambda s, A: sb(s, A, mutate=add_header("TrustedApp-User", "root")), {401}, "bad-signature"),
    ("user-replaced", lambda s, A: sb(s, A, mutate=replace_header("TrustedApp-User", "mallory")), {401}, "bad-signature"),
    ("user-missing", lambda s, A: sb(s, A, user=None), {401}, ANY),
    # ---- paths (signed for exactly the hostile target)
    # httpd refuses an encoded NUL in the path itself (404, before authentication).
    ("path-nul", lambda s, A: sb(s, A, target="/rest/%00/x"), {404}, CORE),
    ("path-encoded-slash-dotdot", lambda s, A: sb(s, A, target="/rest/..%2f..%2fsecure/"), {403}, "path-not-allowed"),
    ("path-encoded-dots", lambda s, A: sb(s, A, target="/rest/%2e%2e/secure/"), {403}, "path-not-allowed"),
    ("path-encoded-backslash", lambda s, A: sb(s, A, target="/rest/..%5csecure/"), {403}, "path-not-allowed"),
    ("path-overlong-utf8-dots", lambda s, A: sb(s, A, target="/%c0%ae%c0%ae/secure/"), {403}, "path-not-allowed"),
    ("path-semicolon-dotdot", lambda s, A: sb(s, A, target="/rest;x/..;y/secure/"), {403}, "path-not-allowed"),
    ("path-double-slash-prefix", lambda s, A: sb(s, A, target="//secure/"), {403}, "path-not-allowed"),
    ("path-restricted-lookalike", lambda s, A: sb(s, A, target="/restricted/"), {403}, "path-not-allowed"),
    ("path-above-root", lambda s, A: sb(s, A, target="/rest/../../secure/"), {400}, CORE),
    ("path-invalid-escape", lambda s, A: sb(s, A, target="/rest/%zz/"), {400}, CORE),
    # One 7,000-byte segment: httpd cannot map it to a file name (403 before authentication).
    ("path-7k-one-segment", lambda s, A: sb(s, A, target="/secure/" + "a" * 7000), {403}, CORE),
    ("path-4k-segments", lambda s, A: sb(s, A, target="/secure/" + "/".join(["b" * 99] * 39)), {403}, "path-not-allowed"),
    ("path-3k-dotdot-segments", lambda s, A: sb(s, A, target="/rest/" + "x/" * 600 + "../" * 601 + "secure/"), {403}, "path-not-allowed"),
    ("path-10k", lambda s, A: build(s, "GET", "/rest/" + "a" * 10240, [("Signature", RANDSIG)]), {414}, CORE),
    ("path-raw-non-ascii", lambda s, A: sb(s, A, target=b"/rest/\xc3\xa9/../../secure/"), {400, 403}, ANY),
    # ---- authority: what httpd routes by must be what was signed
    ("absolute-form-other-authority", lambda s, A: sb(s, A).replace(b"GET /rest/ ", b"GET http://evil.example/rest/ ", 1),
     {401}, "bad-signature"),
    ("host-header-other-authority", lambda s, A: sb(s, A, mutate=add_header("Host", "evil.example")).replace(
        b"Host: 127.0.0.1:%d\r\n" % s.port, b"", 1), {401}, "bad-signature"),
    ("host-header-twice", lambda s, A: sb(s, A, mutate=add_header("Host", "evil.example")), {401}, "bad-signature"),
    # ---- forwarded-for chains (the peer 127.0.0.1 is a trusted proxy)
    ("xff-garbage", lambda s, A: sb(s, A, headers=[("X-Forwarded-For", "not-an-ip")]), {403}, "proxy-chain-invalid"),
    ("xff-empty-hops", lambda s, A: sb(s, A, headers=[("X-Forwarded-For", "1.2.3.4, , 127.0.0.1")]), {403}, "proxy-chain-invalid"),
    ("xff-40-hops", lambda s, A: sb(s, A, headers=[("X-Forwarded-For", ", ".join(["127.0.0.1"] * 40))]), {403}, "proxy-chain-invalid"),
    ("xff-5k", lambda s, A: sb(s, A, headers=[("X-Forwarded-For", "1" * 5000)]), {403}, "proxy-chain-invalid"),
    ("xff-spoofed-client", lambda s, A: sb(s, A, headers=[("X-Forwarded-For", "10.9.9.9")]), {403}, "ip-not-allowed"),
    ("xff-ipv6-garbage", lambda s, A: sb(s, A, headers=[("X-Forwarded-For", "[::1")]), {403}, "proxy-chain-invalid"),
    ("xff-port-and-zone", lambda s, A: sb(s, A, headers=[("X-Forwarded-For", "fe80::1%eth0")]), {403}, ANY),
    ("xff-repeated-lines", lambda s, A: sb(s, A, headers=[("X-Forwarded-For", "10.9.9.9"), ("X-Forwarded-For", "127.0.0.1")]),
     {403}, ANY),
    ("forwarded-garbage", lambda s, A: sb(s, A, target="/other/", headers=[("Forwarded", "for=;;;")]), {403}, "proxy-chain-invalid"),
    ("forwarded-unterminated-quote", lambda s, A: sb(s, A, target="/other/", headers=[("Forwarded", 'for="[::1')]), {403}, "proxy-chain-invalid"),
    ("forwarded-obfuscated", lambda s, A: sb(s, A, target="/other/", headers=[("Forwarded", "for=_hidden")]), {403}, ANY),
    ("forwarded-spoofed", lambda s, A: sb(s, A, target="/other/", headers=[("Forwarded", "for=10.9.9.9")]), {403}, "ip-not-allowed"),
    # ---- Seraph headers (the location accepts seraph)
    ("seraph-id-only", lambda s, A: build(s, "GET", "/rest/", [("X-Seraph-Trusted-App-ID", "confluence:1")]), {401}, ANY),
    ("seraph-cert-not-base64", lambda s, A: seraph(s, A, replace_header("X-Seraph-Trusted-App-Cert", "%%%not base64%%%")),
     {401}, "seraph-header-invalid"),
    ("seraph-cert-7k", lambda s, A: seraph(s, A, replace_header("X-Seraph-Trusted-App-Cert", "QUFB" * 1750)), {401}, ANY),
    ("seraph-key-random", lambda s, A: seraph(s, A, replace_header("X-Seraph-Trusted-App-Key", base64.b64encode(os.urandom(256)).decode())),
     {401}, ANY),
    ("seraph-key-short", lambda s, A: seraph(s, A, replace_header("X-Seraph-Trusted-App-Key", "AAAA")), {401}, ANY),
    ("seraph-version-99", lambda s, A: seraph(s, A, replace_header("X-Seraph-Trusted-App-Version", "99")), {401}, ANY),
    ("seraph-version-negative", lambda s, A: seraph(s, A, replace_header("X-Seraph-Trusted-App-Version", "-1")), {401}, ANY),
    ("seraph-version-garbage", lambda s, A: seraph(s, A, replace_header("X-Seraph-Trusted-App-Version", "2x")), {401}, ANY),
    ("seraph-repeated-cert", lambda s, A: seraph(s, A, lambda h: h + [h[1]]), {401}, ANY),
    ("seraph-app-id-control", lambda s, A: seraph(s, A, replace_header("X-Seraph-Trusted-App-ID", "conf\x01luence:1")), {400, 401}, ANY),
    ("seraph-app-id-7k", lambda s, A: seraph(s, A, replace_header("X-Seraph-Trusted-App-ID", "c" * 7000)), {401}, ANY),
    ("seraph-signature-random", lambda s, A: seraph(s, A, replace_header("X-Seraph-Trusted-App-Signature", base64.b64encode(os.urandom(256)).decode())),
     {401}, ANY),
    ("seraph-magic-garbage", lambda s, A: seraph(s, A, replace_header("X-Seraph-Trusted-App-Magic", "AAAA")), {401}, ANY),
    ("seraph-other-path", lambda s, A: seraph(s, A, target="/secure/"), {401, 403}, ANY),
    ("seraph-and-native-garbage", lambda s, A: seraph(s, A, add_header("Signature", RANDSIG)), {401}, ANY),
    # ---- bodies and Content-Digest
    ("digest-garbage", lambda s, A: sb(s, A, "POST", "/echo/", body=b"hello",
                                       mutate=None, headers=[]).replace(b"Content-Digest: sha-256=:", b"Content-Digest: sha-256=:!!"),
     {400, 401}, ANY),
    ("digest-of-other-body", lambda s, A: sb(s, A, "POST", "/echo/", body=b"hello").replace(b"\r\n\r\nhello", b"\r\n\r\nHELLO"),
     {400}, "digest-mismatch"),
    ("digest-md5", lambda s, A: raw_digest(s, A, "md5=:XUFAKrxLKna5cZ2REBfFkg==:"), {401}, ANY),
    ("digest-not-dictionary", lambda s, A: raw_digest(s, A, "sha-256"), {401}, ANY),
    ("digest-7k", lambda s, A: raw_digest(s, A, "sha-256=:%s:" % ("A" * 7000)), {401}, ANY),
    ("digest-uncovered-with-body", lambda s, A: sb(s, A, "POST", "/echo/", body=b"hello", covered=["@method", "@target-uri", "trustedapp-user"]),
     {401}, "coverage-insufficient"),
    ("digest-missing-with-body", lambda s, A: sb(s, A, "POST", "/echo/", body=b"hello", covered=["@method", "@target-uri", "trustedapp-user"],
                                                 mutate=drop_header("Content-Digest")), {401}, "digest-missing"),
    ("body-over-max", lambda s, A: sb(s, A, "POST", "/echo/", body=b"x" * 10000), {413}, "body-too-large"),
    ("chunked-digest-mismatch", lambda s, A: chunked(s, A, b"5\r\nHELLO\r\n0\r\n\r\n", b"hello"), {400}, "digest-mismatch"),
    # httpd's chunk parser refuses the body and answers itself; the module adds
    # the matching token to that answer (test_body_read_failure_answer_matches_the_log).
    ("chunked-bad-size", lambda s, A: chunked(s, A, b"zz\r\nhello\r\n0\r\n\r\n", b"hello"), {400}, CORE),
    ("chunked-size-overflow", lambda s, A: chunked(s, A, b"ffffffffffffffffff\r\nhello\r\n0\r\n\r\n", b"hello"), {400, 413}, CORE),
    ("chunked-over-max", lambda s, A: chunked(s, A, b"".join(b"400\r\n" + b"y" * 1024 + b"\r\n" for _ in range(6)) + b"0\r\n\r\n",
                                              b"y" * 6144), {413}, "body-too-large"),
    # The client sends half the body it announced and closes its side.
    ("body-shorter-than-length", lambda s, A: sb(s, A, "POST", "/echo/", body=b"hello world",
                                                 mutate=replace_header("Content-Length", "11"))[:-6],
     {400}, "digest-mismatch"),
    ("chunked-truncated", lambda s, A: chunked(s, A, b"b\r\nhello", b"hello world"), {400}, "digest-mismatch"),
    # httpd drops Content-Length and de-chunks; the digest covered the raw chunked bytes.
    ("cl-and-te", lambda s, A: sb(s, A, "POST", "/echo/", body=b"5\r\nhello\r\n0\r\n\r\n", headers=[("Transfer-Encoding", "chunked")],
                                  mutate=add_header("Content-Length", "21")), {400}, "digest-mismatch"),
    ("cl-negative", lambda s, A: sb(s, A, "POST", "/echo/", body=b"hello", mutate=add_header("Content-Length", "-5")), {400}, CORE),
]


def raw_digest(srv, A, value):
    """POST with a body whose Content-Digest field (covered, signed) is this value."""
    body = b"hello"
    s = sign(srv, "POST", "/echo/", A.native, headers=[("Content-Digest", value)],
             covered=["@method", "@target-uri", "trustedapp-user", "content-digest"])
    A.signatures.append(s.signature)
    return build(srv, "POST", "/echo/", [("Content-Digest", value)] + list(s.headers), body)


def test_controls_are_accepted(srv, apps):
    """The same server accepts well-formed requests, so refusals below mean something."""
    assert exchange(srv, sb(srv, apps, target="/rest/")).status == 200
    assert exchange(srv, sb(srv, apps, "POST", "/echo/", body=b"hello")).status == 200
    # (mod_lua's r:requestbody() reads no chunked body, with or without the
    # module: body_len is not checked here; the digest rows below show the
    # module hashed the chunked body.)
    assert exchange(srv, chunked(srv, apps, b"5\r\nhello\r\n0\r\n\r\n", b"hello")).status == 200
    assert exchange(srv, sb(srv, apps, headers=[("X-Forwarded-For", "127.0.0.1")])).status == 200
    assert exchange(srv, seraph(srv, apps)).status == 200


def test_table_has_at_least_60_rows():
    assert len(ROWS) >= 60
    assert len({r[0] for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize("name,make,statuses,token", ROWS, ids=[r[0] for r in ROWS])
def test_hostile_request_is_refused_cleanly(srv, apps, name, make, statuses, token):
    first = len(apps.signatures)
    data = make(srv, apps)
    mine = apps.signatures[first:]
    r = exchange(srv, data)
    assert r.status is not None, "no HTTP response (connection dropped): %r" % r.data[:200]
    assert r.status in statuses, (r, r.body[:300])
    # What goes back to the client is bounded, printable, and holds no signature bytes.
    for header, limit in (("trustedapp-error-detail", 303), ("x-seraph-trusted-app-error", 600)):
        value = r.headers.get(header)
        if value is not None:
            assert len(value) <= limit, (header, len(value))
            assert all(c == "\t" or 0x20 <= ord(c) < 0x7f for c in value), (header, value)
            assert leaks(value, mine) == [], (header, value)
    assert leaks(r.data.decode("latin-1"), mine) == []
    if token == CORE:
        return
    if r.status in (401, 403, 413) or token != ANY:
        assert r.error, "no TrustedApp-Error header: %r" % r
    if token not in (ANY, CORE):
        assert r.error == token, r
    if r.error:
        # A token from the stable table, never free text.
        assert r.error.replace("-", "").isalnum() and len(r.error) < 40


def test_body_read_failure_answer_matches_the_log(srv, apps):
    """When httpd's chunk parser refuses the body while the module reads it,
    httpd answers itself (413 for a chunk size overflow, 400 for a malformed
    chunk line): that answer carries the module's token, and the module logs
    the same code for it."""
    for chunks, status, token in ((b"ffffffffffffffffff\r\nhello\r\n0\r\n\r\n", 413, "body-too-large"),
                                  (b"zz\r\nhello\r\n0\r\n\r\n", 400, "body-malformed")):
        r = exchange(srv, chunked(srv, apps, chunks, b"hello"))
        assert r.status in (400, 413)
        assert r.error is not None, r
        assert r.status == {"body-malformed": 400, "body-too-large": 413}.get(r.error), r
        assert (r.status, r.error) == (status, token), r
        assert r.data.count(b"HTTP/1.1 ") == 1, r.data     # one answer, not httpd's and the module's
    # httpd answered from inside the module's read: the module logs just after.
    expected = (r"TA5008 body-too-large: app=app1 client=127\.0\.0\.1 id=\S+ reading the request "
                r"body failed: httpd's input filter refused it \(too large[^)]*\) and answered 413",
                r"TA5009 body-malformed: app=app1 client=127\.0\.0\.1 id=\S+ reading the request "
                r"body failed: httpd's input filter refused it \(malformed framing\) and answered 400")
    for _ in range(50):
        log = srv.error_log()
        if all(re.search(e, log) for e in expected):
            break
        time.sleep(0.1)
    assert [e for e in expected if not re.search(e, log)] == [], log[-3000:]


def test_native_signature_decides_when_seraph_headers_are_also_sent(srv, apps):
    """ta_verify.h: a native signature is the credential when the location accepts
    native; Seraph headers next to it are not looked at (garbage or not), and a
    failing native signature never falls back to valid Seraph headers."""
    r = exchange(srv, sb(srv, apps, mutate=add_header("X-Seraph-Trusted-App-Cert", "%%%")))
    assert r.status == 200
    r = exchange(srv, seraph(srv, apps, add_header("Signature-Input", "ta=" + COVER + params())))
    assert r.status == 401 and r.error == "signature-missing"


def test_server_survived_and_log_is_clean(srv, apps):
    """Runs after the table: the server still answers, no worker crashed, and the
    log holds neither the signature bytes nor any key material."""
    if len(apps.signatures) < 60:      # run alone (-k): send the table first
        for _, make, _, _ in ROWS:
            exchange(srv, make(srv, apps))
    assert exchange(srv, sb(srv, apps, target="/rest/")).status == 200
    log = srv.error_log()
    # The checker itself finds a signature and a key line that are there.
    sig = apps.signatures[0]
    assert leaks("x" + base64.b64encode(sig).decode()[20:40] + "x", [sig])
    assert leaks(tasig.private_pem(apps.native.key), apps=[apps.native])
    assert "exit signal" not in log and "AddressSanitizer" not in log
    assert "runtime error:" not in log
    assert len(apps.signatures) >= 60
    assert leaks(log, apps.signatures, apps.all()) == []
    # The module logged the refusals (one line per refusal with a stable tag).
    assert log.count("[trustedapp:warn]") >= 60
    # Body read failures are logged by the module although httpd answered.
    assert (log.count("TA5002 digest-mismatch: app=app1 client=127.0.0.1 id=")
            + log.count("TA5009 body-malformed: app=app1 client=127.0.0.1 id=")) >= 3
    assert "reading the request body failed" in log
