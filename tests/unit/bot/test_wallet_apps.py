"""The links that reopen a page in a wallet app: each encodes the page URL the way that
wallet's documentation says (bot/web/wallet_apps.py cites each)."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.web.wallet_apps import wallet_app_links

PAGE = "https://bot.example/pay/0A1b2C3d?x=1&y=%2F#frag"


def links(url: str = PAGE) -> dict[str, str]:
    return {app.name: app.url for app in wallet_app_links(url)}


def test_metamask_takes_the_url_without_its_scheme_unencoded() -> None:
    assert (
        links()["MetaMask"]
        == "https://link.metamask.io/dapp/bot.example/pay/0A1b2C3d?x=1&y=%2F#frag"
    )


def test_coinbase_takes_the_whole_url_percent_encoded() -> None:
    url = links()["Coinbase Wallet"]
    assert url == (
        "https://go.cb-w.com/dapp?cb_url=https%3A%2F%2Fbot.example%2Fpay%2F0A1b2C3d"
        "%3Fx%3D1%26y%3D%252F%23frag"
    )
    assert parse_qs(urlsplit(url).query)["cb_url"] == [PAGE]


def test_trust_wallet_opens_the_url_on_the_ethereum_coin() -> None:
    query = parse_qs(urlsplit(links()["Trust Wallet"]).query)
    assert urlsplit(links()["Trust Wallet"]).netloc == "link.trustwallet.com"
    assert query == {"coin_id": ["60"], "url": [PAGE]}


def test_okx_wraps_its_deep_link_in_its_download_link() -> None:
    outer = urlsplit(links()["OKX Wallet"])
    assert (outer.netloc, outer.path) == ("web3.okx.com", "/download")
    (deep,) = parse_qs(outer.query)["deeplink"]
    assert deep.startswith("okx://wallet/dapp/url?dappUrl=")
    assert parse_qs(urlsplit(deep).query)["dappUrl"] == [PAGE]


def test_phantom_browses_to_the_encoded_url_with_the_site_as_ref() -> None:
    url = urlsplit(links()["Phantom"])
    assert url.netloc == "phantom.app" and url.path.startswith("/ul/browse/")
    assert unquote(url.path.removeprefix("/ul/browse/")) == PAGE
    assert parse_qs(url.query)["ref"] == ["https://bot.example"]


def test_every_link_is_https_and_metamask_comes_first() -> None:
    apps = wallet_app_links("http://127.0.0.1:8080/link/abc")
    assert [a.name for a in apps][:2] == ["MetaMask", "Coinbase Wallet"]
    assert all(a.url.startswith("https://") for a in apps)


@pytest.mark.parametrize("bad", ["ethereum:0xabc", "javascript:alert(1)", "/link/x", "https://"])
def test_only_web_pages_are_linked(bad: str) -> None:
    with pytest.raises(ValueError, match="not a web page URL"):
        wallet_app_links(bad)


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40))
def test_any_path_survives_the_encoding(tail: str) -> None:
    page = "https://bot.example/link/" + tail
    for name, url in links(page).items():
        if name == "Coinbase Wallet":
            assert parse_qs(urlsplit(url).query, keep_blank_values=True)["cb_url"] == [page]
        if name == "Trust Wallet":
            assert parse_qs(urlsplit(url).query, keep_blank_values=True)["url"] == [page]
