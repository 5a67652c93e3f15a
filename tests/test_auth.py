from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import sys
import types
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hub.auth.factory import authenticator_from_config, load_callable
from hub.auth.identity import Identity
from hub.auth.jwt import JwtAuthenticator
from hub.auth.schemes import AnonymousAuthenticator, DevAuthenticator, HookAuthenticator
from hub.core.errors import CloseCode, HubError, HubUsageError, TokenExpired, Unauthorized, is_retryable

NOW = 1_700_000_000.0
SECRET = "s" * 32
OTHER_SECRET = "x" * 32


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "alice", "exp": NOW + 300, "iat": NOW - 10, **extra}


def hs(payload: dict[str, Any], secret: str = SECRET, **headers: Any) -> str:
    return jwt.encode(payload, secret, algorithm="HS256", headers=headers or None)


def pem(public: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@pytest.fixture(scope="module")
def rsa_keys() -> list[rsa.RSAPrivateKey]:
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)]


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


async def reason_of(auth: Any, token: str | None, now_s: float = NOW) -> str:
    with pytest.raises(Unauthorized) as info:
        await auth.authenticate(token, now_s=now_s)
    return info.value.reason


# ---------------------------------------------------------------------------------------- HS256


async def test_hs256_valid_token_gives_identity() -> None:
    auth = JwtAuthenticator(algorithms=["HS256"], secret=SECRET)
    identity = await auth.authenticate(hs(claims(roles=["reader"])), now_s=NOW)
    assert identity.subject == "alice"
    assert identity.expires_at == NOW + 300
    assert identity.claims["roles"] == ["reader"]
    assert not identity.anonymous
    with pytest.raises(TypeError):
        identity.claims["roles"] = []  # type: ignore[index]


async def test_forged_signature_rejected() -> None:
    auth = JwtAuthenticator(algorithms=["HS256"], secret=SECRET)
    assert await reason_of(auth, hs(claims(), OTHER_SECRET)) == "bad_signature"


async def test_tampered_payload_rejected() -> None:
    auth = JwtAuthenticator(algorithms=["HS256"], secret=SECRET)
    header, _, signature = hs(claims()).split(".")
    forged = base64.urlsafe_b64encode(json.dumps(claims(sub="mallory")).encode()).rstrip(b"=").decode()
    assert await reason_of(auth, f"{header}.{forged}.{signature}") == "bad_signature"


async def test_expired_token_is_retryable_after_refresh() -> None:
    auth = JwtAuthenticator(algorithms=["HS256"], secret=SECRET)
    with pytest.raises(TokenExpired) as info:
        await auth.authenticate(hs(claims(exp=NOW - 1)), now_s=NOW)
    assert info.value.reason == "expired"
    assert info.value.close_code == CloseCode.TOKEN_EXPIRED
    assert int(CloseCode.TOKEN_EXPIRED) == 4511
    assert is_retryable(info.value.close_code)
    # exactly at exp counts as expired
    assert await reason_of(auth, hs(claims(exp=NOW)), NOW) == "expired"


async def test_leeway_applies_to_exp_and_nbf() -> None:
    auth = JwtAuthenticator(algorithms=["HS256"], secret=SECRET, leeway_s=30)
    assert (await auth.authenticate(hs(claims(exp=NOW - 10)), now_s=NOW)).subject == "alice"
    assert (await auth.authenticate(hs(claims(nbf=NOW + 10)), now_s=NOW)).subject == "alice"
    assert await reason_of(auth, hs(claims(exp=NOW - 31))) == "expired"


async def test_not_yet_valid() -> None:
    auth = JwtAuthenticator(algorithms=["HS256"], secret=SECRET)
    assert await reason_of(auth, hs(claims(nbf=NOW + 60))) == "not_yet_valid"
    # iat in the future is not checked (clock skew between issuers is common)
    assert (await auth.authenticate(hs(claims(iat=NOW + 60)), now_s=NOW)).subject == "alice"


async def test_audience() -> None:
    auth = JwtAuthenticator(algorithms=["HS256"], secret=SECRET, audience="synchub")
    assert (await auth.authenticate(hs(claims(aud="synchub")), now_s=NOW)).subject == "alice"
    assert (await auth.authenticate(hs(claims(aud=["x", "synchub"])), now_s=NOW)).subject == "alice"
    assert await reason_of(auth, hs(claims(aud="billing"))) == "wrong_audience"
    assert await reason_of(auth, hs(claims())) == "wrong_audience"
    # a token meant for some audience is refused by a hub that names none
    plain = JwtAuthenticator(algorithms=["HS256"], secret=SECRET)
    assert await reason_of(plain, hs(claims(aud="billing"))) == "wrong_audience"


async def test_issuer() -> None:
    auth = JwtAuthenticator(algorithms=["HS256"], secret=SECRET, issuer="https://idp.example")
    assert (await auth.authenticate(hs(claims(iss="https://idp.example")), now_s=NOW)).subject
    assert await reason_of(auth, hs(claims(iss="https://evil.example"))) == "wrong_issuer"
    assert await reason_of(auth, hs(claims())) == "wrong_issuer"


async def test_signature_checked_before_claims() -> None:
    auth = JwtAuthenticator(algorithms=["HS256"], secret=SECRET, audience="synchub")
    assert await reason_of(auth, hs(claims(aud="billing"), OTHER_SECRET)) == "bad_signature"


def _unsigned(payload: dict[str, Any], alg: str = "none") -> str:
    def b64(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(payload)}."


@pytest.mark.parametrize("alg", ["none", "None", "NONE", ""])
async def test_alg_none_rejected(alg: str) -> None:
    auth = JwtAuthenticator(algorithms=["HS256"], secret=SECRET)
    assert await reason_of(auth, _unsigned(claims(), alg)) == "malformed"


def test_alg_none_cannot_be_configured() -> None:
    with pytest.raises(HubUsageError, match="not allowed"):
        JwtAuthenticator(algorithms=["none"], secret=SECRET)
    with pytest.raises(HubUsageError):
        JwtAuthenticator(algorithms=["HS256", "none"], secret=SECRET)


@pytest.mark.parametrize(
    "token",
    ["", None, "abc", "a.b.c", "x" * 9000, jwt.api_jws.encode(b"not json", SECRET, algorithm="HS256")],
)
async def test_missing_or_malformed(token: str | None) -> None:
    auth = JwtAuthenticator(algorithms=["HS256"], secret=SECRET)
    reason = await reason_of(auth, token)
    assert reason == ("missing" if not token else "malformed")


async def test_unsigned_garbage_is_a_bad_signature() -> None:
    # The payload is never parsed before the signature verifies.
    auth = JwtAuthenticator(algorithms=["HS256"], secret=SECRET)
    assert await reason_of(auth, "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln") == "bad_signature"


async def test_exp_required_by_default() -> None:
    auth = JwtAuthenticator(algorithms=["HS256"], secret=SECRET)
    assert await reason_of(auth, hs({"sub": "alice"})) == "malformed"
    assert await reason_of(auth, hs(claims(exp="tomorrow"))) == "malformed"
    lax = JwtAuthenticator(algorithms=["HS256"], secret=SECRET, require_exp=False)
    assert (await lax.authenticate(hs({"sub": "alice"}), now_s=NOW)).expires_at is None


async def test_subject_required() -> None:
    auth = JwtAuthenticator(algorithms=["HS256"], secret=SECRET)
    assert await reason_of(auth, hs({"exp": NOW + 60})) == "malformed"
    by_email = JwtAuthenticator(algorithms=["HS256"], secret=SECRET, subject_claim="email")
    identity = await by_email.authenticate(hs(claims(email="a@example.com")), now_s=NOW)
    assert identity.subject == "a@example.com"


def test_short_hmac_secret_refused() -> None:
    with pytest.raises(HubUsageError, match="at least 32"):
        JwtAuthenticator(algorithms=["HS256"], secret="short")
    with pytest.raises(HubUsageError, match="at least 64"):
        JwtAuthenticator(algorithms=["HS512"], secret=SECRET)


# ---------------------------------------------------------------------------------- RS256/ES256


async def test_rs256_with_pem(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    auth = JwtAuthenticator(algorithms=["RS256"], public_keys=[pem(rsa_keys[0].public_key())])
    token = jwt.encode(claims(), rsa_keys[0], algorithm="RS256")
    assert (await auth.authenticate(token, now_s=NOW)).subject == "alice"
    other = jwt.encode(claims(), rsa_keys[1], algorithm="RS256")
    assert await reason_of(auth, other) == "bad_signature"


async def test_es256_with_pem(ec_key: ec.EllipticCurvePrivateKey) -> None:
    auth = JwtAuthenticator(algorithms=["ES256"], public_keys=[pem(ec_key.public_key())])
    token = jwt.encode(claims(), ec_key, algorithm="ES256")
    assert (await auth.authenticate(token, now_s=NOW)).subject == "alice"
    forged = jwt.encode(claims(), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")
    assert await reason_of(auth, forged) == "bad_signature"


async def test_algorithm_not_in_allowlist(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    auth = JwtAuthenticator(algorithms=["RS256"], public_keys=[pem(rsa_keys[0].public_key())])
    assert await reason_of(auth, jwt.encode(claims(), rsa_keys[0], algorithm="RS512")) == "malformed"
    assert await reason_of(auth, hs(claims())) == "malformed"


async def test_algorithm_confusion_public_key_as_hmac_secret(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    public_pem = pem(rsa_keys[0].public_key())
    auth = JwtAuthenticator(algorithms=["HS256", "RS256"], secret=SECRET, public_keys=[public_pem])
    # HMAC "signed" with the public key text: only the configured secret may verify HS256
    header = {"alg": "HS256", "typ": "JWT"}
    payload = claims(sub="mallory")

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    sig = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    assert await reason_of(auth, f"{signing_input}.{b64(sig)}") == "bad_signature"


def test_key_must_match_algorithm(ec_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(HubUsageError, match="no configured key can verify RS256"):
        JwtAuthenticator(algorithms=["RS256"], public_keys=[pem(ec_key.public_key())])
    with pytest.raises(HubUsageError, match="not a PEM public key"):
        JwtAuthenticator(algorithms=["RS256"], public_keys=["-----BEGIN NONSENSE-----"])
    with pytest.raises(HubUsageError, match="needs"):
        JwtAuthenticator(algorithms=["RS256"])


async def test_pem_keys_by_kid(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    auth = JwtAuthenticator(
        algorithms=["RS256"],
        public_keys={"k1": pem(rsa_keys[0].public_key()), "k2": pem(rsa_keys[1].public_key())},
    )
    token = jwt.encode(claims(), rsa_keys[1], algorithm="RS256", headers={"kid": "k2"})
    assert (await auth.authenticate(token, now_s=NOW)).subject == "alice"
    wrong = jwt.encode(claims(), rsa_keys[1], algorithm="RS256", headers={"kid": "k1"})
    assert await reason_of(auth, wrong) == "bad_signature"
    no_kid = jwt.encode(claims(), rsa_keys[1], algorithm="RS256")
    assert await reason_of(auth, no_kid) == "unknown_kid"


# ---------------------------------------------------------------------------------------- JWKS


def write_jwks(path: Path, keys: dict[str, Any]) -> None:
    entries = []
    for kid, private in keys.items():
        public = private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            jwk = jwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True)
            jwk["alg"] = "RS256"
        else:
            jwk = jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True)
        entries.append({**jwk, "kid": kid, "use": "sig"})
    entries.append({"kty": "RSA", "kid": "enc-key", "use": "enc", "n": "AQAB", "e": "AQAB"})
    path.write_text(json.dumps({"keys": entries}))


async def test_jwks_file_kid_selection(
    tmp_path: Path, rsa_keys: list[rsa.RSAPrivateKey], ec_key: ec.EllipticCurvePrivateKey
) -> None:
    jwks = tmp_path / "jwks.json"
    write_jwks(jwks, {"r1": rsa_keys[0], "e1": ec_key})
    auth = JwtAuthenticator(algorithms=["RS256", "ES256"], jwks_file=jwks)
    rs = jwt.encode(claims(), rsa_keys[0], algorithm="RS256", headers={"kid": "r1"})
    es = jwt.encode(claims(sub="bob"), ec_key, algorithm="ES256", headers={"kid": "e1"})
    assert (await auth.authenticate(rs, now_s=NOW)).subject == "alice"
    assert (await auth.authenticate(es, now_s=NOW)).subject == "bob"
    # kid names an EC key but the header says RS256: no usable key
    mixed = jwt.encode(claims(), rsa_keys[0], algorithm="RS256", headers={"kid": "e1"})
    assert await reason_of(auth, mixed) == "unknown_kid"
    unknown = jwt.encode(claims(), rsa_keys[1], algorithm="RS256", headers={"kid": "r2"})
    assert await reason_of(auth, unknown) == "unknown_kid"
    # an encryption key is never used to verify
    enc = jwt.encode(claims(), rsa_keys[0], algorithm="RS256", headers={"kid": "enc-key"})
    assert await reason_of(auth, enc) == "unknown_kid"


async def test_jwks_reloaded_on_unknown_kid_after_rotation(
    tmp_path: Path, rsa_keys: list[rsa.RSAPrivateKey]
) -> None:
    jwks = tmp_path / "jwks.json"
    write_jwks(jwks, {"r1": rsa_keys[0]})
    auth = JwtAuthenticator(algorithms=["RS256"], jwks_file=jwks)
    rotated = jwt.encode(claims(), rsa_keys[1], algorithm="RS256", headers={"kid": "r2"})
    assert await reason_of(auth, rotated) == "unknown_kid"
    write_jwks(jwks, {"r1": rsa_keys[0], "r2": rsa_keys[1]})
    stat = jwks.stat()
    os.utime(jwks, (stat.st_atime, stat.st_mtime + 5))
    assert (await auth.authenticate(rotated, now_s=NOW)).subject == "alice"
    # a broken file keeps the previous keys
    jwks.write_text("{broken")
    os.utime(jwks, (stat.st_atime, stat.st_mtime + 10))
    r9 = jwt.encode(claims(), rsa_keys[1], algorithm="RS256", headers={"kid": "r9"})
    assert await reason_of(auth, r9) == "unknown_kid"
    assert (await auth.authenticate(rotated, now_s=NOW)).subject == "alice"


def test_jwks_file_errors(tmp_path: Path) -> None:
    with pytest.raises(HubUsageError, match="cannot read"):
        JwtAuthenticator(algorithms=["RS256"], jwks_file=tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"nokeys": []}))
    with pytest.raises(HubUsageError, match="no 'keys'"):
        JwtAuthenticator(algorithms=["RS256"], jwks_file=bad)
    bad.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}))
    with pytest.raises(HubUsageError, match="symmetric"):
        JwtAuthenticator(algorithms=["RS256"], jwks_file=bad)
    bad.write_text(json.dumps({"keys": [{"kty": "RSA", "kid": "x"}]}))
    with pytest.raises(HubUsageError, match="bad key"):
        JwtAuthenticator(algorithms=["RS256"], jwks_file=bad)
    bad.write_text(json.dumps({"keys": []}))
    with pytest.raises(HubUsageError, match="no signature keys"):
        JwtAuthenticator(algorithms=["RS256"], jwks_file=bad)


# ------------------------------------------------------------------------------- other schemes


async def test_dev_authenticator() -> None:
    auth = DevAuthenticator()
    identity = await auth.authenticate("bob", now_s=NOW)
    assert (identity.subject, identity.expires_at) == ("bob", None)
    assert await reason_of(auth, None) == "missing"


async def test_anonymous_only_when_configured() -> None:
    jwt_only = authenticator_from_config({"mode": "jwt", "algorithms": ["HS256"], "secret": SECRET})
    assert await reason_of(jwt_only, None) == "missing"

    optional = authenticator_from_config(
        {"mode": "jwt", "algorithms": ["HS256"], "secret": SECRET, "allow_anonymous": True}
    )
    anon = await optional.authenticate(None, now_s=NOW)
    assert anon.anonymous and anon.subject == "anonymous"
    assert (await optional.authenticate(hs(claims()), now_s=NOW)).subject == "alice"
    assert await reason_of(optional, hs(claims(), OTHER_SECRET)) == "bad_signature"

    everyone = authenticator_from_config({"mode": "anonymous"})
    assert isinstance(everyone, AnonymousAuthenticator)
    assert (await everyone.authenticate("whatever", now_s=NOW)).anonymous


async def test_hook_sync_and_async() -> None:
    def sync_hook(token: str | None) -> dict[str, Any] | None:
        return {"sub": "carol", "roles": ["admin"], "exp": NOW + 5} if token == "good" else None

    async def async_hook(token: str | None) -> Identity | None:
        await asyncio.sleep(0)
        return Identity("dave", {"sub": "dave"}) if token == "good" else None

    for hook, subject in ((sync_hook, "carol"), (async_hook, "dave")):
        auth = HookAuthenticator(hook)
        assert (await auth.authenticate("good", now_s=NOW)).subject == subject
        assert await reason_of(auth, "bad") == "rejected"
        assert await reason_of(auth, None) == "missing"
    with pytest.raises(TokenExpired):
        await HookAuthenticator(sync_hook).authenticate("good", now_s=NOW + 10)


async def test_hook_failures_are_retryable_not_unauthorized() -> None:
    def broken(token: str | None) -> None:
        raise RuntimeError("backend down")

    async def slow(token: str | None) -> None:
        await asyncio.sleep(10)

    def unauthorized(token: str | None) -> None:
        raise Unauthorized("rejected", "session revoked")

    with pytest.raises(HubError) as info:
        await HookAuthenticator(broken).authenticate("t", now_s=NOW)
    assert not isinstance(info.value, Unauthorized) and is_retryable(info.value.close_code)
    with pytest.raises(HubError, match="timed out"):
        await HookAuthenticator(slow, timeout_s=0.01).authenticate("t", now_s=NOW)
    assert await reason_of(HookAuthenticator(unauthorized), "t") == "rejected"
    bad_results: list[object] = ["alice", {"roles": []}, {"sub": "a", "exp": "soon"}]
    for bad_result in bad_results:

        def returns(token: str | None, result: object = bad_result) -> object:
            return result

        with pytest.raises(HubError):
            await HookAuthenticator(returns).authenticate("t", now_s=NOW)


async def test_hook_from_config(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("fake_session_hooks")

    async def check(token: str | None) -> dict[str, Any] | None:
        return {"sub": "erin"} if token == "cookie-value" else None

    module.check = check  # type: ignore[attr-defined]
    module.not_callable = 42  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_session_hooks", module)
    auth = authenticator_from_config({"mode": "hook", "hook": "fake_session_hooks:check", "timeout_s": 1})
    assert (await auth.authenticate("cookie-value", now_s=NOW)).subject == "erin"
    with pytest.raises(HubUsageError, match="not callable"):
        authenticator_from_config({"mode": "hook", "hook": "fake_session_hooks:not_callable"})
    with pytest.raises(HubUsageError, match="no attribute"):
        authenticator_from_config({"mode": "hook", "hook": "fake_session_hooks:nope"})
    with pytest.raises(HubUsageError, match="cannot import"):
        authenticator_from_config({"mode": "hook", "hook": "no_such_module_xyz:f"})
    with pytest.raises(HubUsageError, match="module:function"):
        load_callable("json.loads")
    with pytest.raises(HubUsageError, match="required"):
        authenticator_from_config({"mode": "hook"})


# -------------------------------------------------------------------------------------- config


def test_config_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "auth.mode"),
        ({"mode": "oauth"}, "auth.mode"),
        ({"mode": "dev", "secret": SECRET}, "unknown key"),
        ({"mode": "jwt", "algorithms": "HS256", "secret": SECRET}, "wrong type"),
        ({"mode": "jwt", "algorithms": [], "secret": SECRET}, "non-empty"),
        ({"mode": "jwt", "algorithms": ["none"], "secret": SECRET}, "not allowed"),
        ({"mode": "jwt", "algorithms": ["HS256"], "secret": "short"}, "at least"),
        ({"mode": "jwt", "algorithms": ["HS256"], "secret": SECRET, "secret_env": "X"}, "not both"),
        ({"mode": "jwt", "algorithms": ["HS256"], "secret_env": "SYNCHUB_TEST_UNSET"}, "not set"),
        ({"mode": "jwt", "algorithms": ["RS256"], "public_key_files": ["/nonexistent.pem"]}, "public_key"),
        ({"mode": "jwt", "algorithms": ["RS256"], "public_keys": [1]}, "must be strings"),
        ({"mode": "jwt", "algorithms": ["HS256"], "secret": SECRET, "leeway_s": -1}, "leeway"),
        (
            {"mode": "jwt", "algorithms": ["RS256"], "public_keys": {"a": "x"}, "public_key_files": ["f"]},
            "both",
        ),
    ]
    for section, match in cases:
        monkeypatch.delenv("SYNCHUB_TEST_UNSET", raising=False)
        with pytest.raises(HubUsageError, match=match):
            authenticator_from_config(section)


async def test_config_full_jwt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsa_keys: list[rsa.RSAPrivateKey]
) -> None:
    key_file = tmp_path / "k2.pem"
    key_file.write_text(pem(rsa_keys[1].public_key()))
    monkeypatch.setenv("SYNCHUB_TEST_SECRET", SECRET)
    auth = authenticator_from_config(
        {
            "mode": "jwt",
            "algorithms": ["RS256", "HS256"],
            "secret_env": "SYNCHUB_TEST_SECRET",
            "public_keys": {"k1": pem(rsa_keys[0].public_key())},
            "public_key_files": {"k2": str(key_file)},
            "audience": "synchub",
            "issuer": "idp",
            "leeway_s": 5,
        }
    )
    for key, kid in ((rsa_keys[0], "k1"), (rsa_keys[1], "k2")):
        token = jwt.encode(claims(aud="synchub", iss="idp"), key, algorithm="RS256", headers={"kid": kid})
        assert (await auth.authenticate(token, now_s=NOW)).subject == "alice"
    assert (await auth.authenticate(hs(claims(aud="synchub", iss="idp")), now_s=NOW)).subject == "alice"
    assert isinstance(authenticator_from_config({"mode": "dev"}), DevAuthenticator)


def test_identity_key_ignores_volatile_claims() -> None:
    a = Identity("alice", {"sub": "alice", "roles": ["r"], "exp": 1, "iat": 0, "jti": "a"}, 1.0)
    b = Identity("alice", {"sub": "alice", "roles": ["r"], "exp": 2, "iat": 1, "jti": "b"}, 2.0)
    c = Identity("alice", {"sub": "alice", "roles": ["r", "admin"], "exp": 2}, 2.0)
    assert a.key == b.key != c.key
    assert Identity("anonymous", anonymous=True).key != Identity("anonymous").key


# ------------------------------------------------------------------------------- edge cases


async def test_eddsa_and_key_type_errors(tmp_path: Path, rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    from cryptography.hazmat.primitives.asymmetric import dsa, ed25519

    ed = ed25519.Ed25519PrivateKey.generate()
    ed_pem = ed.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    auth = JwtAuthenticator(algorithms=["EdDSA"], public_keys=[ed_pem])
    assert (await auth.authenticate(jwt.encode(claims(), ed, algorithm="EdDSA"), now_s=NOW)).subject
    dsa_pem = (
        dsa.generate_private_key(2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(HubUsageError, match="unsupported public key type"):
        JwtAuthenticator(algorithms=["RS256"], public_keys=[dsa_pem])
    with pytest.raises(HubUsageError, match="non-empty list"):
        JwtAuthenticator(algorithms="RS256", public_keys=[pem(rsa_keys[0].public_key())])
    private_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(rsa_keys[0], as_dict=True)
    leaked = tmp_path / "private.json"
    leaked.write_text(json.dumps({"keys": [private_jwk]}))
    with pytest.raises(HubUsageError, match="not a public key"):
        JwtAuthenticator(algorithms=["RS256"], jwks_file=leaked)


async def test_single_jwks_key_accepts_tokens_without_kid(
    tmp_path: Path, rsa_keys: list[rsa.RSAPrivateKey]
) -> None:
    jwks = tmp_path / "jwks.json"
    write_jwks(jwks, {"only": rsa_keys[0]})
    auth = JwtAuthenticator(algorithms=["RS256"], jwks_file=jwks)
    assert (await auth.authenticate(jwt.encode(claims(), rsa_keys[0], algorithm="RS256"), now_s=NOW)).subject
    head = base64.urlsafe_b64encode(b'{"alg":"RS256","kid":7}').rstrip(b"=").decode()
    odd_kid = head + "." + jwt.encode(claims(), rsa_keys[0], algorithm="RS256").split(".", 1)[1]
    assert await reason_of(auth, odd_kid) == "malformed"
    jwks.unlink()  # a vanished file keeps the loaded keys
    other = jwt.encode(claims(), rsa_keys[1], algorithm="RS256", headers={"kid": "new"})
    assert await reason_of(auth, other) == "unknown_kid"


async def test_public_key_files_list(tmp_path: Path, rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    key_file = tmp_path / "k.pem"
    key_file.write_text(pem(rsa_keys[0].public_key()))
    auth = authenticator_from_config(
        {"mode": "jwt", "algorithms": ["RS256"], "public_key_files": [str(key_file)]}
    )
    token = jwt.encode(claims(), rsa_keys[0], algorithm="RS256", headers={"kid": "anything"})
    assert (await auth.authenticate(token, now_s=NOW)).subject == "alice"
