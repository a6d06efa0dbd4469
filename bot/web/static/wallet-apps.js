// Shared by the signing and payment pages: is this a phone, who is the page for, and
// the links (built by the bot, bot/web/wallet_apps.py) that reopen the page inside a
// wallet app's own browser, where a wallet is injected.
"use strict";

window.WalletApps = (function () {
  // A phone or tablet: a mobile user agent, or a touch screen with a narrow viewport
  // (iPadOS and some Android browsers report a desktop user agent).
  function isPhone() {
    if (/Android|iPhone|iPad|iPod|Mobi/i.test(navigator.userAgent || "")) return true;
    return (navigator.maxTouchPoints || 0) > 0 && window.matchMedia("(max-width: 900px)").matches;
  }

  // "For @alice in My Server": names only, as text (never markup).
  function describe(user, server) {
    if (!user) return "";
    return "For @" + user + (server ? " in the Discord server \u201c" + server + "\u201d" : " (a direct message with the bot)") + ".";
  }

  function render(list, apps) {
    list.textContent = "";
    for (const app of apps || []) {
      if (!/^https:\/\//.test(app.url)) continue;
      const link = document.createElement("a");
      link.className = "button";
      link.href = app.url;
      link.rel = "noopener noreferrer";
      link.textContent = "Open in " + app.name;
      list.appendChild(link);
    }
    return list.children.length > 0;
  }

  return { isPhone, describe, render };
})();
