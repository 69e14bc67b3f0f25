"""URL policy with an injected resolver (no DNS)."""

from __future__ import annotations

import pytest

from shared.config import Settings
from shared.webhooks.ssrf import UrlNotAllowed, UrlPolicy, address_problem, check_url

PROD = UrlPolicy.from_settings(Settings(OPENHELM_STAGE="prod"))
DEV = UrlPolicy.from_settings(Settings(OPENHELM_STAGE="dev"))
LOCAL_LOOPBACK = UrlPolicy.from_settings(Settings(OPENHELM_STAGE="local", OPENHELM_WEBHOOK_ALLOW_LOOPBACK=True))


def resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    calls = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return table.get(host, [])

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.1.1",
        "fd00:ec2::254",
        "fe80::1",
        "fc00::1",
        "100.64.0.1",
        "100.127.255.254",
        "0.0.0.0",
        "::",
        "224.0.0.251",
        "ff02::1",
        "240.0.0.1",
        "255.255.255.255",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:127.0.0.1",
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "168.63.129.16",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert address_problem(address) is not None
    with pytest.raises(UrlNotAllowed) as exc:
        check_url("https://hooks.example.com/in", PROD, resolver=resolver({"hooks.example.com": [address]}))
    assert exc.value.code == "webhook_url_not_allowed" and exc.value.status == 422
    assert address in exc.value.message


def test_metadata_and_cgnat_reasons_are_named() -> None:
    assert address_problem("169.254.169.254") == "a cloud metadata address"
    assert address_problem("fd00:ec2::254") == "a cloud metadata address"
    assert address_problem("100.64.1.1") == "a shared (CGNAT) address"
    assert "embedded" in (address_problem("::ffff:192.168.0.1") or "")


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    checked = check_url("https://hooks.example.com/in?x=1", PROD, resolver=resolver({"hooks.example.com": [address]}))
    assert checked.addresses == (address,) and checked.host == "hooks.example.com"
    assert checked.port == 443 and checked.target == "/in?x=1" and checked.scheme == "https"


def test_every_resolved_address_must_be_public() -> None:
    r = resolver({"mixed.example.com": ["93.184.215.14", "10.0.0.5"]})
    with pytest.raises(UrlNotAllowed, match=r"10\.0\.0\.5"):
        check_url("https://mixed.example.com/", PROD, resolver=r)


def test_host_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(UrlNotAllowed, match="does not resolve"):
        check_url("https://nowhere.example.com/", PROD, resolver=resolver({}))


def test_http_is_refused_in_production_and_allowed_in_dev() -> None:
    r = resolver({"hooks.example.com": ["93.184.215.14"]})
    with pytest.raises(UrlNotAllowed, match="https"):
        check_url("http://hooks.example.com/", PROD, resolver=r)
    assert check_url("http://hooks.example.com/", DEV, resolver=r).port == 80
    with pytest.raises(UrlNotAllowed):
        check_url("ftp://hooks.example.com/", DEV, resolver=r)


def test_loopback_needs_the_flag_and_the_flag_allows_nothing_else() -> None:
    r = resolver({"localhost": ["127.0.0.1", "::1"], "intranet": ["10.0.0.2"]})
    with pytest.raises(UrlNotAllowed):
        check_url("http://127.0.0.1:8080/hook", DEV, resolver=r)
    with pytest.raises(UrlNotAllowed, match="localhost"):
        check_url("http://localhost:8080/hook", DEV, resolver=r)
    checked = check_url("http://localhost:8080/hook", LOCAL_LOOPBACK, resolver=r)
    assert checked.addresses == ("127.0.0.1", "::1") and checked.scheme == "http"
    assert check_url("http://[::1]:9/x", LOCAL_LOOPBACK, resolver=r).addresses == ("::1",)
    for url in ("http://intranet/", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/"):
        with pytest.raises(UrlNotAllowed):
            check_url(url, LOCAL_LOOPBACK, resolver=r)


def test_credentials_ports_and_literals() -> None:
    r = resolver({"hooks.example.com": ["93.184.215.14"]})
    with pytest.raises(UrlNotAllowed, match="credentials"):
        check_url("https://user:pw@hooks.example.com/", PROD, resolver=r)
    with pytest.raises(UrlNotAllowed, match="port 22"):
        check_url("https://hooks.example.com:22/", PROD, resolver=r)
    assert check_url("https://hooks.example.com:8443/", PROD, resolver=r).port == 8443
    with pytest.raises(UrlNotAllowed):
        check_url("https://hooks.example.com:99999/", PROD, resolver=r)
    with pytest.raises(UrlNotAllowed, match="is a private address"):
        check_url("https://10.0.0.1/", PROD, resolver=r)
    # refused before any DNS lookup; IP literals are never resolved
    assert r.calls == [("hooks.example.com", 8443)]  # type: ignore[attr-defined]


def test_without_resolving_only_the_url_itself_is_checked() -> None:
    checked = check_url("https://hooks.example.com/x", PROD, resolve=False, resolver=resolver({}))
    assert checked.addresses == ()
    with pytest.raises(UrlNotAllowed):
        check_url("https://169.254.169.254/", PROD, resolve=False)
    with pytest.raises(UrlNotAllowed):
        check_url("http://hooks.example.com/", PROD, resolve=False)


# Every spelling a resolver (inet_aton, getaddrinfo) or the WHATWG URL parser reads as an internal
# address, checked without DNS as a run's webhook_url is at creation.
NON_CANONICAL = [
    ("http://2130706433/", "127.0.0.1 is a loopback"),
    ("http://0x7f000001/", "127.0.0.1 is a loopback"),
    ("http://0177.0.0.1/", "127.0.0.1 is a loopback"),
    ("http://0x7f.1/", "127.0.0.1 is a loopback"),
    ("http://127.1/", "127.0.0.1 is a loopback"),
    ("http://127.0.0.1./", "127.0.0.1 is a loopback"),
    ("http://0/", "0.0.0.0 is an unspecified"),
    ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", "127.0.0.1 is a loopback"),  # full-width digits
    ("http://127\u30020\u30020\u30021/", "127.0.0.1 is a loopback"),  # ideographic full stops
    ("http://012.0.0.1/", "10.0.0.1 is a private"),
    ("http://2852039166/", "169.254.169.254 is a cloud metadata"),
    ("http://[::127.0.0.1]/", "IPv4-compatible"),
    ("http://[::8.8.8.8]/", "IPv4-compatible"),
    ("http://[::ffff:0:127.0.0.1]/", "IPv4-translated"),
    ("http://[64:ff9b:1::10.0.0.1]/", "local-use NAT64"),
    ("http://1.2.3.4.5/", "numeric but no valid IP address"),
    ("http://08.0.0.1/", "numeric but no valid IP address"),
    ("http://256.1/", "numeric but no valid IP address"),
]


@pytest.mark.parametrize(("url", "why"), NON_CANONICAL)
def test_non_canonical_literal_hosts_are_read_as_a_resolver_would(url: str, why: str) -> None:
    with pytest.raises(UrlNotAllowed, match=why):
        check_url(url, DEV, resolve=False)


def test_loopback_flag_allows_shortened_loopback_but_not_ipv4_compatible() -> None:
    assert check_url("http://127.1:8080/", LOCAL_LOOPBACK, resolve=False).addresses == ("127.0.0.1",)
    with pytest.raises(UrlNotAllowed, match="IPv4-compatible"):
        check_url("http://[::127.0.0.1]/", LOCAL_LOOPBACK, resolve=False)


def test_public_numeric_forms_pass_as_their_canonical_address() -> None:
    checked = check_url("http://1572394786/hook", DEV, resolve=False)  # 93.184.215.34
    assert checked.host == "93.184.215.34" and checked.addresses == ("93.184.215.34",)


@pytest.mark.parametrize("char", ["\x00", "\x1f", "\x7f", "\x85", " "])
def test_control_characters_in_a_url_are_refused(char: str) -> None:
    with pytest.raises(UrlNotAllowed, match="control or space"):
        check_url(f"https://hooks.example.com/a{char}b", PROD, resolve=False)
