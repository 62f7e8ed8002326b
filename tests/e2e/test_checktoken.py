"""`notifyd checktoken TOKEN`: the verified claims, or the exact reason the server would
refuse the token -- expiry, signature, algorithm, issuer/audience -- with the key it used."""
import json
import os
import subprocess
import tempfile
import time

import pytest

import nd

ENV = {"NOTIFYD_JWT_SECRET": nd.SECRET}


def check(tok, *flags, env=ENV, stdin=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFYD_")}
    e.update(env)
    return subprocess.run([nd.BIN, "checktoken"] + ([tok] if tok is not None else []) + list(flags),
                          env=e, input=stdin, capture_output=True, text=True, timeout=30)


def refused(r):
    assert r.returncode == 1 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    line = r.stderr.strip()
    assert line.startswith("notifyd checktoken: refused: ") and "\n" not in line, line
    assert line.endswith("(checked with the HS256 secret in NOTIFYD_JWT_SECRET)"), line
    return line


def test_a_valid_token_prints_its_claims():
    tok = nd.token("42", "service", tenant="acme")
    r = check(tok)
    assert r.returncode == 0, r.stderr
    claims = json.loads(r.stdout)
    assert claims["user_id"] == "42" and claims["role"] == "service" and claims["tenant"] == "acme"
    assert "valid for user 42, role service (may call the API), expires 20" in r.stderr
    assert "checked with the HS256 secret in NOTIFYD_JWT_SECRET" in r.stderr
    # from stdin, and pasted with its scheme
    assert json.loads(check("-", stdin=tok + "\n").stdout) == claims
    assert json.loads(check("Bearer " + tok).stdout) == claims
    r = check(nd.token("u1", "user"))
    assert r.returncode == 0 and "role user (WebSocket only)" in r.stderr


def test_expired():
    now = int(time.time())
    line = refused(check(nd.token("42", exp=now - 3600, iat=now - 7200)))
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600))
    assert "token expired: exp %s, 1h00m0" % stamp in line and "ago (leeway 30s)" in line
    # the leeway is the server's setting
    assert check(nd.token("42", exp=now - 10)).returncode == 0
    line = refused(check(nd.token("42", exp=now - 10), "--jwt-leeway", "0"))
    assert "(leeway 0s)" in line
    line = refused(check(nd.token("42", nbf=now + 600)))
    assert "token not valid yet: nbf " in line and ", in 0h" in line


def test_signature():
    line = refused(check(nd.token("42", secret="some-other-secret-0123456789abcdef")))
    assert "bad token signature: the token says alg \"HS256\" but does not verify with this key" in line


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_algorithm(alg):
    line = refused(check(nd.token("42", alg=alg)))
    assert "token algorithm not accepted: the token says alg \"%s\"; these keys verify HS256" % alg in line


def test_alg_none():
    line = refused(check(nd.none_token()))
    assert "the token says alg \"none\"; these keys verify HS256" in line


def test_public_key_algorithms_are_named():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with tempfile.TemporaryDirectory() as d:
        pem = os.path.join(d, "pub.pem")
        with open(pem, "wb") as f:
            f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
        priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
        r = check(nd.token("42", secret=priv, alg="RS256"), "--jwt-public-key-file", pem, env={})
        assert r.returncode == 0 and "checked with the public key in %s" % pem in r.stderr, r.stderr
        r = check(nd.token("42"), "--jwt-public-key-file", pem, env={})
        assert r.returncode == 1
        assert "the token says alg \"HS256\"; these keys verify RS256, RS384, RS512" in r.stderr


def test_issuer_and_audience():
    line = refused(check(nd.token("42", iss="them"), "--jwt-issuer", "us"))
    assert 'token issuer not accepted: iss is "them", NOTIFYD_JWT_ISSUER is "us"' in line
    line = refused(check(nd.token("42"), "--jwt-issuer", "us"))
    assert "iss is (none)" in line
    line = refused(check(nd.token("42", aud=["a", "b"]), "--jwt-audience", "c"))
    assert 'token audience not accepted: aud is ["a","b"], NOTIFYD_JWT_AUDIENCE is "c"' in line
    r = check(nd.token("42", iss="us", aud=["x", "c"]), "--jwt-issuer", "us", "--jwt-audience", "c")
    assert r.returncode == 0, r.stderr


def test_malformed_and_usage():
    assert "malformed token" in refused(check("not-a-token"))
    assert "malformed token" in refused(check("abc.def.ghi"))
    line = refused(check(nd.token(None, role="admin", sub=None, user_id=None)))
    assert "token names no user (user_id or sub): user_id is (none), sub is (none)" in line
    r = check(None)
    assert r.returncode == 2 and "give the token" in r.stderr
    r = check(nd.token("42"), "--user", "x")
    assert r.returncode == 2 and "unknown flag" in r.stderr
    r = subprocess.run([nd.BIN, "checktoken", "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "NOTIFYD_JWT_ISSUER" in r.stdout and "NOTIFYD_JWT_LEEWAY" in r.stdout
    assert "NOTIFYD_GRPC_ADDR" not in r.stdout


def test_no_key_says_where_it_looked():
    with tempfile.TemporaryDirectory() as d:
        r = check(nd.token("42"), "--data-dir", os.path.join(d, "data"), env={})
        assert r.returncode == 1 and "no JWT key" in r.stderr and os.path.join(d, "data", "jwt_secret") in r.stderr
        assert not os.path.exists(os.path.join(d, "data"))
