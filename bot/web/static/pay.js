// Payment page: first the order's state (an expired or used payment link says so and no
// wallet is asked anything), then find an EIP-1193 wallet, switch it to Base, send the
// quoted amount from the linked wallet to the treasury, report the hash, and follow its
// confirmations; after a part was paid, offer to send the rest. Without a wallet: links
// into wallet apps (on a phone) and the EIP-681 request as a link and a QR code, for any
// wallet app.
"use strict";

(function () {
  const order = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
  const $ = (id) => document.getElementById(id);
  const providers = new Map();
  let details = null;

  const show = (id, visible) => { $(id).hidden = !visible; };
  const step = (text) => { show("progress", true); $("step").textContent = text; };
  function result(kind, text) {
    const box = $("result");
    box.className = kind;
    box.textContent = text;
    box.hidden = false;
    show("retry", kind === "error" || kind === "partial");
    $("retry").textContent = kind === "partial" ? "Send the rest" : "Try again";
  }
  const short = (a) => a.slice(0, 6) + "\u2026" + a.slice(-4);
  function walletError(error) {
    if (error && error.code === 4001) return "You declined the request in your wallet. Press \u201cTry again\u201d when ready.";
    return "Your wallet reported an error: " + ((error && error.message) || String(error));
  }

  async function toBase(provider) {
    try {
      await provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: "0x2105" }] });
    } catch (error) {
      if (!error || error.code !== 4902) throw error;
      await provider.request({
        method: "wallet_addEthereumChain",
        params: [{ chainId: "0x2105", chainName: "Base", rpcUrls: ["https://mainnet.base.org"],
          nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
          blockExplorerUrls: ["https://basescan.org"] }],
      });
    }
  }

  async function report(hash) {
    for (let attempt = 0; attempt < 90; attempt++) {
      const response = await fetch("/pay/" + encodeURIComponent(order), {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ tx_hash: hash }), credentials: "omit",
      });
      const body = await response.json();
      if (!response.ok) return result("error", body.error || "The bot refused this payment.");
      if (body.status === "verified") { step("Done."); return result("ok", body.message); }
      if (body.status === "partial") {
        // Part of the price arrived: offer to send the rest (the details now ask for it).
        step("Part of the payment arrived.");
        await loadDetails();
        return result("partial", body.message);
      }
      step(body.message);
      await new Promise((resolve) => setTimeout(resolve, 4000));
    }
    result("error", "Still not confirmed. Press \u201cCheck payment\u201d in Discord later: the payment is not lost.");
  }

  async function pay(provider) {
    show("wallets", false);
    show("retry", false);
    $("result").hidden = true;
    let account;
    try {
      step("Asking your wallet for your address\u2026");
      const accounts = await provider.request({ method: "eth_requestAccounts" });
      account = accounts && accounts[0];
      if (!account) throw new Error("the wallet returned no account");
    } catch (error) { return result("error", walletError(error)); }
    if (account.toLowerCase() !== details.from.toLowerCase()) {
      return result("error", "Your wallet is on " + short(account) + ", but the payment must come from your linked wallet " + short(details.from) + ". Switch accounts and try again.");
    }
    let hash;
    try {
      step("Switching your wallet to Base\u2026");
      await toBase(provider);
      step("Confirm the payment of " + details.eth + " in your wallet.");
      hash = await provider.request({ method: "eth_sendTransaction",
        params: [{ from: account, to: details.to, value: details.value }] });
    } catch (error) { return result("error", walletError(error)); }
    step("Payment sent (" + short(hash) + "). Waiting for Base to confirm it\u2026");
    try { await report(hash); }
    catch (error) { result("error", "Could not reach the bot. Paste the hash in Discord instead: " + hash); }
  }

  function offerWallets() {
    const list = $("wallet-list");
    list.textContent = "";
    if (providers.size === 0 && window.ethereum) {
      providers.set("injected", { info: { name: "Browser wallet", icon: "" }, provider: window.ethereum });
    }
    if (providers.size === 0) {
      // On a phone, reopening the page inside a wallet app comes first.
      show("open-in-app", WalletApps.isPhone() && WalletApps.render($("app-list"), details.wallet_apps));
      $("request-link").href = details.request;
      $("qr").src = "/pay/" + encodeURIComponent(order) + "/qr.svg";
      $("copy-amount").textContent = details.eth;
      $("copy-treasury").textContent = details.to;
      $("copy-from").textContent = details.from;
      show("any-wallet", true);
      return;
    }
    for (const { info, provider } of providers.values()) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Pay with " + (info.name || "wallet");
      button.addEventListener("click", () => pay(provider));
      list.appendChild(button);
    }
    show("wallets", true);
    $("retry").onclick = () => { $("result").hidden = true; offerWallets(); };
  }

  window.addEventListener("eip6963:announceProvider", (event) => {
    const detail = event.detail;
    if (detail && detail.info && detail.provider) providers.set(detail.info.uuid || detail.info.name, detail);
  });

  // The price, or after a part was paid, what is still missing. False: nothing to pay.
  function loadDetails() {
    return fetch("/pay/" + encodeURIComponent(order) + "/details", { credentials: "omit" })
      .then((response) => response.json().then((body) => ({ ok: response.ok, body })))
      .then(({ ok, body }) => {
        // A passing fault (database, node) is not a dead link: say it, keep the page.
        if (!ok && body.retry) { $("summary").textContent = body.error; return false; }
        if (!ok) {
          show("summary", false);
          $("dead-reason").textContent = body.error || "This payment link is not valid.";
          show("dead", true);
          return false;
        }
        details = body;
        $("for").textContent = WalletApps.describe(body.user, body.server);
        show("for", Boolean(body.user));
        const price = body.rest ? body.eth + " still missing (of about " + body.usd + ")" : body.eth + " (about " + body.usd + ")";
        $("summary").textContent = "Training \u201c" + body.trigger_word + "\u201d: " + price + ", from " + short(body.from) + " to the treasury " + short(body.to) + " on Base.";
        return true;
      })
      .catch(() => { $("summary").textContent = "Could not reach the bot."; return false; });
  }

  loadDetails().then((ok) => {
    if (!ok) return;
    // Only now look for wallets: a dead payment link never reaches this point.
    window.dispatchEvent(new Event("eip6963:requestProvider"));
    setTimeout(offerWallets, 300);
  });
})();
