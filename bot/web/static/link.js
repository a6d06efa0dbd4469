// Signing page: ask the bot whether the link can still be used (no wallet is asked
// anything for a dead link), then find an EIP-1193 wallet (EIP-6963 discovery, then
// window.ethereum), ask for the account, fetch the server-built message, personal_sign
// it, post it.
"use strict";

(function () {
  const token = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
  const $ = (id) => document.getElementById(id);
  const providers = new Map();
  let walletApps = [];

  function show(id, visible) { $(id).hidden = !visible; }

  function step(text) {
    show("progress", true);
    $("step").textContent = text;
  }

  function result(kind, text) {
    const box = $("result");
    box.className = kind;
    box.textContent = text;
    box.hidden = false;
    show("retry", kind === "error");
  }

  function dead(reason) {
    for (const id of ["lead", "for", "wallets", "open-in-app", "no-wallet", "progress", "retry"]) show(id, false);
    $("result").hidden = true;
    $("dead-reason").textContent = reason;
    show("dead", true);
  }

  function short(address) { return address.slice(0, 6) + "\u2026" + address.slice(-4); }

  function utf8Hex(text) {
    const bytes = new TextEncoder().encode(text);
    let hex = "0x";
    for (const b of bytes) hex += b.toString(16).padStart(2, "0");
    return hex;
  }

  function walletError(error) {
    if (error && error.code === 4001) return "You declined the request in your wallet. Press \u201cTry again\u201d when ready.";
    if (error && error.code === -32002) return "Your wallet already has a request open: check its window.";
    return "Your wallet reported an error: " + ((error && error.message) || String(error));
  }

  async function postJson(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
    });
    return { status: response.status, body: await response.json() };
  }

  async function link(provider) {
    show("wallets", false);
    show("retry", false);
    $("result").hidden = true;
    let address;
    try {
      step("Asking your wallet for your address\u2026");
      const accounts = await provider.request({ method: "eth_requestAccounts" });
      address = accounts && accounts[0];
      if (!address) throw new Error("the wallet returned no account");
    } catch (error) {
      return result("error", walletError(error));
    }

    step("Preparing the message for " + short(address) + "\u2026");
    let message;
    try {
      const response = await fetch(
        "/link/" + encodeURIComponent(token) + "/message?address=" + encodeURIComponent(address),
        { credentials: "omit" });
      const body = await response.json();
      if (!response.ok) return result("error", body.error || "The bot refused this request.");
      message = body.message;
    } catch (error) {
      return result("error", "Could not reach the bot. Check your connection and try again.");
    }
    $("message-text").textContent = message;
    show("message-text", true);

    let signature;
    try {
      step("Sign the message in your wallet.");
      signature = await provider.request({ method: "personal_sign", params: [utf8Hex(message), address] });
    } catch (error) {
      return result("error", walletError(error));
    }

    step("Checking the signature\u2026");
    try {
      const { status, body } = await postJson("/link/" + encodeURIComponent(token), { signature });
      if (status === 200 && body.ok) {
        step("Done.");
        return result("ok", "Linked " + short(body.address) + ". You can close this tab and go back to Discord.");
      }
      return result("error", body.error || "The bot refused the signature.");
    } catch (error) {
      return result("error", "Could not reach the bot. Check your connection and try again.");
    }
  }

  function offerWallets() {
    const list = $("wallet-list");
    list.textContent = "";
    if (providers.size === 0 && window.ethereum) {
      providers.set("injected", { info: { name: "Browser wallet", icon: "" }, provider: window.ethereum });
    }
    if (providers.size === 0) {
      // A phone without a wallet (Discord's in-app browser, Safari, Chrome): first the
      // links that reopen this page inside a wallet app, where one is injected.
      const inApp = WalletApps.isPhone() && WalletApps.render($("app-list"), walletApps);
      show("open-in-app", inApp);
      // Below the wallet apps, only the way that needs no wallet in a browser is left.
      $("no-wallet-title").textContent = inApp ? "No wallet app?" : "No browser wallet found";
      show("no-wallet-browser", !inApp);
      show("no-wallet", true);
      return;
    }
    show("open-in-app", false);
    show("no-wallet", false);
    for (const { info, provider } of providers.values()) {
      const button = document.createElement("button");
      button.type = "button";
      if (info.icon && info.icon.startsWith("data:image/")) {
        const img = document.createElement("img");
        img.src = info.icon;
        img.alt = "";
        button.appendChild(img);
      }
      button.appendChild(document.createTextNode("Connect " + (info.name || "wallet")));
      button.addEventListener("click", () => link(provider));
      list.appendChild(button);
    }
    show("wallets", true);
  }

  let discovered = false;
  function discover() {
    if (discovered) return offerWallets();
    discovered = true;
    window.dispatchEvent(new Event("eip6963:requestProvider"));
    // Wallets announce within a tick; give slow ones a moment before deciding.
    setTimeout(offerWallets, 300);
  }

  // First the link's state: a used, expired or unknown link says so, and no wallet is
  // discovered or asked for anything.
  async function start() {
    show("retry", false);
    show("wallets", false);
    $("result").hidden = true;
    step("Checking your link\u2026");
    let body;
    try {
      const response = await fetch("/link/" + encodeURIComponent(token) + "/status", { credentials: "omit" });
      body = await response.json();
      show("progress", false);
      if (!response.ok) return result("error", body.error || "The bot refused this request.");
    } catch (error) {
      show("progress", false);
      return result("error", "Could not reach the bot. Check your connection and try again.");
    }
    if (!body.open) return dead(body.error || "This link can no longer be used.");
    walletApps = body.wallet_apps || [];
    $("for").textContent = WalletApps.describe(body.user, body.server);
    show("for", Boolean(body.user));
    discover();
  }

  // Listening is passive: wallets that announce themselves on their own are noted.
  window.addEventListener("eip6963:announceProvider", (event) => {
    const detail = event.detail;
    if (detail && detail.info && detail.provider) providers.set(detail.info.uuid || detail.info.name, detail);
  });
  // "Try again" checks the link again first: it may have run out meanwhile.
  $("retry").onclick = start;
  start();
})();
