"""Links that reopen one of the bot's pages inside a mobile wallet's own browser.

A phone's ordinary browser (and Discord's in-app one) has no wallet; a wallet app's
browser injects one. Each wallet documents how to open a page in it, and each encodes
the page's URL its own way: the comment next to each scheme cites where it is written.
Wallets without a documented link for this are left out (Rainbow documents only
WalletConnect pairing links, `rainbow://wc?uri=…`, not a browser link).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit


@dataclass(frozen=True, slots=True)
class WalletApp:
    name: str
    url: str


def _encoded(url: str) -> str:
    # Percent-encode everything but unreserved characters (JS encodeURIComponent does
    # the same, plus ! ' ( ) *), so the page URL travels whole inside a query parameter.
    return quote(url, safe="")


def wallet_app_links(page_url: str) -> list[WalletApp]:
    """Deep links, best known first, that open `page_url` (http or https) in a wallet."""
    parts = urlsplit(page_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not a web page URL: {page_url!r}")
    without_scheme = page_url.split("://", 1)[1]
    okx_inner = "okx://wallet/dapp/url?dappUrl=" + _encoded(page_url)
    return [
        # https://docs.metamask.io/sdk/guides/use-deeplinks ("Open a dapp inside the
        # in-app browser"): https://link.metamask.io/dapp/{dappUrl}, the URL without its
        # scheme and not encoded (its example: .../dapp/app.uniswap.org).
        WalletApp("MetaMask", "https://link.metamask.io/dapp/" + without_scheme),
        # https://docs.cdp.coinbase.com/coinbase-wallet/developer-guidance/mobile-dapp-integration
        # ("Dapp browser"): https://go.cb-w.com/dapp?cb_url=[YOUR_URL], percent-encoded.
        WalletApp("Coinbase Wallet", "https://go.cb-w.com/dapp?cb_url=" + _encoded(page_url)),
        # https://developer.trustwallet.com/developer/develop-for-trust/deeplinking
        # ("DApp Browser"): open_url?coin_id=<slip44>&url=<website url>; 60 is Ethereum's
        # SLIP-44 index (the EVM side, where Base lives).
        WalletApp(
            "Trust Wallet",
            "https://link.trustwallet.com/open_url?coin_id=60&url=" + _encoded(page_url),
        ),
        # https://web3.okx.com/build/docs/waas/app-universal-link: the deep link
        # okx://wallet/dapp/url?dappUrl=<encoded url>, itself encoded into
        # https://web3.okx.com/download?deeplink=<encoded deep link>.
        WalletApp("OKX Wallet", "https://web3.okx.com/download?deeplink=" + _encoded(okx_inner)),
        # https://docs.phantom.com/phantom-deeplinks/other-methods/browse:
        # https://phantom.app/ul/browse/<url>?ref=<ref>, both URL-encoded. Phantom's
        # browser also injects an Ethereum provider (Base among its EVM networks).
        WalletApp(
            "Phantom",
            "https://phantom.app/ul/browse/"
            + _encoded(page_url)
            + "?ref="
            + _encoded(f"{parts.scheme}://{parts.netloc}"),
        ),
    ]


def as_json(apps: list[WalletApp]) -> list[dict[str, str]]:
    return [{"name": app.name, "url": app.url} for app in apps]
