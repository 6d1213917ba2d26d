// The captive portal. Four ways in — STK push (packages → phone → PIN prompt), a voucher code,
// Paybill/Till from the M-Pesa menu ("I paid"), and "I already paid" (receipt + phone) — and one
// way out: poll the status URL → setting up → credentials + the auto-login form posted to the router.
(function () {
  "use strict";
  var app = document.getElementById("app");
  var cfg = JSON.parse(app.getAttribute("data-config") || "{}");
  var $ = function (id) { return document.getElementById(id); };
  var chosen = null, paybill = null, flow = null, polling = null, deadline = 0, started = 0, loginTimer = null;
  var POLL_MS = 1500, GIVE_UP_MS = 6 * 60 * 1000;
  var HOME = ["step-packages", "step-voucher", "step-reconnect"];
  var STEPS = HOME.concat(["step-pay", "step-wait", "step-done", "step-failed"]);
  // Every word the page shows or sets, in English and Swahili (the waiting page's tone and words
  // where they overlap). "{name}" takes a value; a value [key, values] is itself translated.
  // Server messages in API answers are shown as they come.
  var STRINGS = {
    en: {
      title: "WiFi access",
      intro: "Pay with M-Pesa or use a voucher, and you are online in seconds.",
      language: "Language",
      packages_heading: "1. Choose a package",
      packages_loading: "Loading packages…",
      packages_none: "No packages on sale here right now.",
      packages_failed: "Could not load packages. Pull down to refresh.",
      not_from_login: "This page must be opened from the WiFi login page.",
      days_one: "{n} day", days_many: "{n} days", hours: "{n} h", minutes_short: "{n} min", seconds_short: "{n} s",
      up_to: "up to {rate}bps",
      pay_heading: "2. Pay with M-Pesa",
      phone_label: "M-Pesa phone number",
      pay: "Pay",
      pay_price: "Pay KES {price}",
      phone_invalid: "Enter a Safaricom number like 0712 345 678.",
      phone_wrong: "That phone number doesn't look right.",
      check_phone: "Check your phone",
      stk_sent: "Enter your M-Pesa PIN on the prompt we sent to {phone}.",
      paybill_summary: "Pay by Paybill instead",
      till_summary: "Pay by Till (Buy Goods) instead",
      paybill_intro: "If the M-Pesa prompt does not reach your phone, pay from the M-Pesa menu:",
      paybill_menu: "M-Pesa → Lipa na M-Pesa → Pay Bill",
      till_menu: "M-Pesa → Lipa na M-Pesa → Buy Goods and Services",
      business_number: "Business number",
      till_number: "Till number",
      account_number: "Account number",
      amount: "Amount",
      paybill_pin: "Enter your PIN, then come back here and tap",
      paybill_pin_end: ".",
      paid_from_label: "The phone number you paid from",
      claim: "I paid",
      paid_from_invalid: "Enter the number you paid from, like 0712 345 678.",
      payment_not_found: "We haven't seen your payment yet. M-Pesa can take a minute: wait a moment and tap I paid again.",
      already_claimed: "This payment is already in use on another device. Use “I already paid” below with the receipt code from your M-Pesa SMS to move it here.",
      voucher_summary: "I have a voucher",
      voucher_label: "Voucher code",
      redeem: "Redeem",
      voucher_format: "A voucher code has 10 letters and digits, like ABCDE-FGHJK.",
      voucher_not_found: "We don't know this code. Check it against your voucher (there is no 0, O, 1 or I in a code).",
      voucher_used: "This voucher has already been used.",
      voucher_revoked: "This voucher was cancelled by the seller. Ask them for another one.",
      voucher_expired: "This voucher has expired.",
      voucher_not_for_router: "This voucher is for another WiFi hotspot.",
      reconnect_summary: "I already paid",
      reconnect_intro: "Back online on this device with the M-Pesa receipt code from your SMS.",
      receipt_label: "M-Pesa receipt code",
      reconnect: "Reconnect",
      receipt_format: "Type the 10-character code at the start of your M-Pesa SMS, like SGH3K7XJ2L.",
      receipt_check: "Check the receipt code in your M-Pesa SMS.",
      receipt_not_found: "We can't find a payment with this receipt code from this phone. Check the code in the M-Pesa SMS and the number you paid from.",
      access_ended: "The access bought with this payment has ended (its time or data is used up). Choose a package to buy again.",
      wrong_router: "This payment was for another WiFi hotspot.",
      too_many: "Too many tries. Wait {wait} and try again.",
      wait_seconds: "{n} seconds", wait_minutes: "{n} minutes",
      no_device: "Open this page from the WiFi login page so we can recognise your device.",
      no_connection: "No connection. Try again.",
      went_wrong: "Something went wrong. Try again.",
      payment_received: "Payment received",
      payment_found: "Payment found",
      voucher_accepted: "Voucher accepted",
      voucher_not_ready: "Voucher accepted, but your access is not ready",
      setting_up: "Setting up your access on the router…",
      slow: "Taking longer than usual",
      paid_up: "You're paid up",
      welcome_back: "Welcome back",
      connecting: "Connecting you now…",
      online_tap: "You're online. If nothing happens, tap Connect now.",
      online: "You're online.",
      username: "Username", password: "Password", valid_until: "Valid until",
      connect_now: "Connect now",
      failed: "Payment not completed",
      failed_text: "The payment did not go through. You were not charged.",
      failed_cancelled: "Payment cancelled",
      failed_wrong_pin: "Wrong M-Pesa PIN",
      failed_timeout: "No answer from your phone",
      failed_insufficient_funds: "Not enough balance",
      failed_provision_failed: "Paid, but your access is not ready",
      failed_expired: "This access has ended",
      failed_amount_mismatch: "Payment amount did not match",
      failed_receipt_reused: "Receipt already used",
      not_confirmed: "M-Pesa did not confirm the payment. If you were charged, keep the SMS and use “I already paid”.",
      provision_failed_text: "The router could not set up your access. We will retry or refund you.",
      access_not_found: "Access not found",
      access_not_found_text: "We could not find this access. Start again.",
      try_again: "Try again",
      footer: "Paid by M-Pesa. Keep your M-Pesa receipt SMS: its code gets you back online."
    },
    sw: {
      title: "Ingia kwenye WiFi",
      intro: "Lipa kwa M-Pesa au tumia vocha, na uko mtandaoni kwa sekunde chache.",
      language: "Lugha",
      packages_heading: "1. Chagua kifurushi",
      packages_loading: "Tunapakia vifurushi…",
      packages_none: "Hakuna vifurushi vinavyouzwa hapa kwa sasa.",
      packages_failed: "Imeshindwa kupakia vifurushi. Vuta chini ili kuonyesha upya.",
      not_from_login: "Ukurasa huu lazima ufunguliwe kutoka kwenye ukurasa wa kuingia wa WiFi.",
      days_one: "siku {n}", days_many: "siku {n}", hours: "saa {n}", minutes_short: "dakika {n}", seconds_short: "sekunde {n}",
      up_to: "hadi {rate}bps",
      pay_heading: "2. Lipa kwa M-Pesa",
      phone_label: "Nambari ya simu ya M-Pesa",
      pay: "Lipa",
      pay_price: "Lipa KES {price}",
      phone_invalid: "Weka nambari ya Safaricom kama 0712 345 678.",
      phone_wrong: "Nambari hiyo ya simu haionekani kuwa sahihi.",
      check_phone: "Angalia simu yako",
      stk_sent: "Weka PIN yako ya M-Pesa kwenye ujumbe tuliotuma kwa {phone}.",
      paybill_summary: "Lipa kwa Paybill badala yake",
      till_summary: "Lipa kwa Till (Buy Goods) badala yake",
      paybill_intro: "Ujumbe wa M-Pesa usipofika kwenye simu yako, lipa kupitia menyu ya M-Pesa:",
      paybill_menu: "M-Pesa → Lipa na M-Pesa → Pay Bill",
      till_menu: "M-Pesa → Lipa na M-Pesa → Buy Goods and Services",
      business_number: "Nambari ya biashara",
      till_number: "Nambari ya Till",
      account_number: "Nambari ya akaunti",
      amount: "Kiasi",
      paybill_pin: "Weka PIN yako, kisha urudi hapa ubonyeze",
      paybill_pin_end: ".",
      paid_from_label: "Nambari ya simu uliyotumia kulipa",
      claim: "Nimelipa",
      paid_from_invalid: "Weka nambari uliyotumia kulipa, kama 0712 345 678.",
      payment_not_found: "Bado hatujaona malipo yako. M-Pesa inaweza kuchukua dakika moja: subiri kidogo kisha ubonyeze Nimelipa tena.",
      already_claimed: "Malipo haya tayari yanatumika kwenye kifaa kingine. Tumia “Tayari nimelipa” hapa chini na msimbo wa risiti ulio kwenye SMS yako ya M-Pesa ili kuyaleta hapa.",
      voucher_summary: "Nina vocha",
      voucher_label: "Msimbo wa vocha",
      redeem: "Tumia vocha",
      voucher_format: "Msimbo wa vocha una herufi na tarakimu 10, kama ABCDE-FGHJK.",
      voucher_not_found: "Hatuutambui msimbo huu. Ulinganishe na vocha yako (msimbo hauna 0, O, 1 wala I).",
      voucher_used: "Vocha hii imeshatumika.",
      voucher_revoked: "Vocha hii imefutwa na muuzaji. Muombe akupe nyingine.",
      voucher_expired: "Muda wa vocha hii umekwisha.",
      voucher_not_for_router: "Vocha hii ni ya WiFi nyingine.",
      reconnect_summary: "Tayari nimelipa",
      reconnect_intro: "Rudi mtandaoni kwenye kifaa hiki kwa msimbo wa risiti ya M-Pesa ulio kwenye SMS yako.",
      receipt_label: "Msimbo wa risiti ya M-Pesa",
      reconnect: "Unganisha tena",
      receipt_format: "Andika msimbo wa herufi 10 ulio mwanzoni mwa SMS yako ya M-Pesa, kama SGH3K7XJ2L.",
      receipt_check: "Hakikisha msimbo wa risiti ulio kwenye SMS yako ya M-Pesa.",
      receipt_not_found: "Hatupati malipo yenye msimbo huu wa risiti kutoka kwa simu hii. Hakikisha msimbo ulio kwenye SMS ya M-Pesa na nambari uliyotumia kulipa.",
      access_ended: "Huduma uliyonunua kwa malipo haya imekwisha (muda au data yake imeisha). Chagua kifurushi ili ununue tena.",
      wrong_router: "Malipo haya yalikuwa ya WiFi nyingine.",
      too_many: "Umejaribu mara nyingi mno. Subiri {wait} kisha ujaribu tena.",
      wait_seconds: "sekunde {n}", wait_minutes: "dakika {n}",
      no_device: "Fungua ukurasa huu kutoka kwenye ukurasa wa kuingia wa WiFi ili tutambue kifaa chako.",
      no_connection: "Mtandao umekatika. Jaribu tena.",
      went_wrong: "Kuna hitilafu. Jaribu tena.",
      payment_received: "Malipo yamepokelewa",
      payment_found: "Malipo yamepatikana",
      voucher_accepted: "Vocha imekubaliwa",
      voucher_not_ready: "Vocha imekubaliwa, lakini huduma yako bado haiko tayari",
      setting_up: "Tunaandaa huduma yako kwenye router…",
      slow: "Inachukua muda kuliko kawaida",
      paid_up: "Malipo yamekamilika",
      welcome_back: "Karibu tena",
      connecting: "Tunakuunganisha sasa…",
      online_tap: "Umeunganishwa, uko mtandaoni. Kama hakuna kinachotokea, bonyeza Unganisha sasa.",
      online: "Uko mtandaoni.",
      username: "Jina la mtumiaji", password: "Nenosiri", valid_until: "Inatumika hadi",
      connect_now: "Unganisha sasa",
      failed: "Malipo hayajakamilika",
      failed_text: "Malipo hayakufanikiwa. Hujakatwa pesa.",
      failed_cancelled: "Malipo yameghairiwa",
      failed_wrong_pin: "PIN ya M-Pesa si sahihi",
      failed_timeout: "Simu yako haikujibu",
      failed_insufficient_funds: "Salio halitoshi",
      failed_provision_failed: "Umelipa, lakini huduma yako bado haiko tayari",
      failed_expired: "Muda wa huduma hii umekwisha",
      failed_amount_mismatch: "Kiasi ulicholipa hakilingani",
      failed_receipt_reused: "Risiti hii imeshatumika",
      not_confirmed: "M-Pesa haikuthibitisha malipo. Ikiwa umekatwa pesa, hifadhi SMS na utumie “Tayari nimelipa”.",
      provision_failed_text: "Router imeshindwa kuandaa huduma yako. Tutajaribu tena au tutakurudishia pesa.",
      access_not_found: "Huduma haikupatikana",
      access_not_found_text: "Hatukupata huduma hii. Anza upya.",
      try_again: "Jaribu tena",
      footer: "Malipo kwa M-Pesa. Hifadhi SMS ya risiti ya M-Pesa: msimbo wake utakurudisha mtandaoni."
    }
  };
  var FAILED_REASONS = ["cancelled", "wrong_pin", "timeout", "insufficient_funds", "provision_failed", "expired",
    "amount_mismatch", "receipt_reused"];
  // What each way in says at each step (the STK flow's words are the page's defaults).
  var FLOWS = {
    stk: { received: "payment_received", done: "paid_up", notReady: "failed_provision_failed" },
    voucher: { received: "voucher_accepted", done: "voucher_accepted", notReady: "voucher_not_ready" },
    paybill: { received: "payment_found", done: "paid_up", notReady: "failed_provision_failed" },
    reconnect: { received: "payment_found", done: "welcome_back", notReady: "failed_provision_failed" }
  };

  // --- language: a stored choice, else the first of sw/en in the browser's list, else English ---
  var LANG_KEY = "muda-portal-lang";
  function browserLanguage() {
    var list = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || ""];
    for (var i = 0; i < list.length; i++) {
      var primary = String(list[i]).toLowerCase().split("-")[0];
      if (STRINGS[primary]) return primary;
    }
    return "en";
  }
  function storedLanguage() {
    try { var v = localStorage.getItem(LANG_KEY); return STRINGS[v] ? v : null; } catch (e) { return null; }
  }
  var lang = storedLanguage() || browserLanguage();
  var lastPackages = null, validUntil = null;

  // A message is a key with its values ([key, values]) or text as it came from the server.
  function t(key, values) {
    var text = STRINGS[lang][key] !== undefined ? STRINGS[lang][key] : STRINGS.en[key];
    return text.replace(/\{(\w+)\}/g, function (_, name) {
      var v = (values || {})[name];
      return Array.isArray(v) ? t(v[0], v[1]) : String(v);
    });
  }
  function tr(message) { return Array.isArray(message) ? t(message[0], message[1]) : message || ""; }
  // Write a message into an element, remembering its key so a language switch rewrites it.
  function put(el, message) {
    el.textContent = tr(message);
    if (Array.isArray(message)) {
      el.setAttribute("data-i18n", message[0]);
      if (message[1]) el.setAttribute("data-i18n-values", JSON.stringify(message[1]));
      else el.removeAttribute("data-i18n-values");
    } else {
      el.removeAttribute("data-i18n");
      el.removeAttribute("data-i18n-values");
    }
  }
  function locale() {  // the browser's own formats when it speaks the page's language
    return (navigator.language || "").toLowerCase().split("-")[0] === lang ? undefined : lang + "-KE";
  }
  function applyLanguage() {
    document.documentElement.lang = lang;
    document.title = t("title");
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (el) {
      var values = el.getAttribute("data-i18n-values");
      el.textContent = t(el.getAttribute("data-i18n"), values ? JSON.parse(values) : null);
    });
    $("lang-switch").setAttribute("aria-label", t("language"));
    ["en", "sw"].forEach(function (l) { $("lang-" + l).setAttribute("aria-pressed", String(l === lang)); });
    if (lastPackages) renderPackages(lastPackages);
    renderValidUntil();
  }
  function setLanguage(l) {
    lang = l;
    try { localStorage.setItem(LANG_KEY, l); } catch (e) { /* private mode: this visit only */ }
    applyLanguage();
  }
  ["en", "sw"].forEach(function (l) {
    $("lang-" + l).addEventListener("click", function () { setLanguage(l); });
  });
  $("lang-switch").hidden = false;

  // --- page plumbing ------------------------------------------------------------------------------
  function show(step) {
    var home = step === "home" || step === "step-pay";
    STEPS.forEach(function (id) {
      $(id).hidden = !(id === step || (home && HOME.indexOf(id) >= 0 && (id === "step-packages" || cfg.router)));
    });
  }
  function announce(text) { $("status").textContent = text; }
  function say(id, message) { var e = $(id); put(e, message || ""); e.hidden = !message; }
  function human(seconds) {
    var d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600), m = Math.floor(seconds % 3600 / 60);
    return [d && t(d > 1 ? "days_many" : "days_one", { n: d }), h && t("hours", { n: h }), m && t("minutes_short", { n: m })]
      .filter(Boolean).join(" ") || t("seconds_short", { n: seconds });
  }
  function bytes(n) { return n >= 1073741824 ? (n / 1073741824).toFixed(1) + " GB" : Math.round(n / 1048576) + " MB"; }
  function phoneOf(id) {
    var phone = $(id).value.replace(/[\s-]/g, "");
    return /^(\+?254|0)?[17]\d{8}$/.test(phone) ? phone : null;
  }
  function waitFor(seconds) {
    var s = Math.max(1, Math.ceil(seconds)), m = Math.ceil(s / 60);
    return s < 90 ? ["wait_seconds", { n: s }] : ["wait_minutes", { n: m }];
  }

  // POST JSON; resolves {ok, status, body, retryAfter} (a network failure rejects).
  function post(path, payload) {
    return fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          return { ok: r.ok, status: r.status, body: body, retryAfter: Number(r.headers.get("Retry-After")) || 0 };
        });
      });
  }
  function device() { return { router_id: cfg.router, mac_address: cfg.mac, ip: cfg.ip || null }; }

  // A form of one of the ways in: validate, post, and on success follow the status URL; on refusal
  // say why under the form (and, after "too many tries", keep its button off for the wait).
  // ``messages`` maps an error code to the page's own words (a key); other refusals show the server's.
  function submitter(form, button, errorId, build, messages, onOk) {
    $(form).addEventListener("submit", function (ev) {
      ev.preventDefault();
      if ($(button).disabled) return;
      var req = build();
      if (!req) return;
      say(errorId, "");
      $(button).disabled = true;
      post(req.path, req.body).then(function (res) {
        if (res.ok) { $(button).disabled = false; onOk(res.body); return; }
        var err = res.body.error || {};
        var fields = (err.details || []).map(function (d) { return d.field || ""; }).join(",");
        if (res.status === 429 || err.code === "too_many_requests") {
          var wait = res.retryAfter || 60;
          say(errorId, ["too_many", { wait: waitFor(wait) }]);
          setTimeout(function () { $(button).disabled = false; }, wait * 1000);
          return;
        }
        $(button).disabled = false;
        var key = messages[err.code];
        if (!key && fields.indexOf("mac") >= 0) key = "no_device";
        if (!key && err.code === "validation_error") key = messages.validation_error_for && messages.validation_error_for(fields);
        say(errorId, key ? [key] : err.message || ["went_wrong"]);
      }).catch(function () { $(button).disabled = false; say(errorId, ["no_connection"]); });
    });
  }

  // --- the one way out: status → setting up → credentials → auto-login --------------------------
  function follow(kind, statusUrl, title, text) {
    flow = FLOWS[kind] ? kind : "stk";
    clearTimeout(polling); clearTimeout(loginTimer);
    app.removeAttribute("data-access");
    put($("wait-title"), title);
    put($("wait-text"), text);
    announce(tr(title) + ". " + tr(text));
    show("step-wait");
    started = Date.now();
    deadline = started + GIVE_UP_MS;
    poll(statusUrl);
  }

  function poll(url) {
    clearTimeout(polling);
    fetch(url, { cache: "no-store" }).then(function (r) { return r.json(); }).then(function (s) {
      if (s.status === "pending") {
        if (Date.now() > deadline) return failed({ reason: "timeout" }, null, ["not_confirmed"]);
        polling = setTimeout(function () { poll(url); }, POLL_MS);
      } else if (s.status === "paid") {
        // Paid is not online: the router gets the user first (access.state setting_up → online).
        var slow = s.access && s.access.state === "slow";
        var title = [slow ? "slow" : FLOWS[flow].received];
        var text = (s.access && s.access.message) || ["setting_up"];
        if (app.getAttribute("data-access") !== (slow ? "slow" : "setting_up")) announce(tr(title) + ". " + tr(text));
        app.setAttribute("data-access", slow ? "slow" : "setting_up");
        put($("wait-title"), title);
        put($("wait-text"), text);
        done(s, false);
        polling = setTimeout(function () { poll(url); }, POLL_MS);
      } else if (s.status === "provisioned") {
        app.setAttribute("data-access", "online");
        done(s, true);
      } else if (s.status === "provision_failed") {
        app.setAttribute("data-access", "failed");
        failed(s, [FLOWS[flow].notReady], (s.access && s.access.message) || ["provision_failed_text"]);
        $("retry").hidden = true;  // paid already: never invite a second payment
        if (Date.now() < deadline) polling = setTimeout(function () { poll(url); }, POLL_MS * 4);  // an operator's retry
      } else if (s.error) {  // not readable yet (a replica behind the write), or truly gone
        if (Date.now() - started < 15000) polling = setTimeout(function () { poll(url); }, POLL_MS);
        else failed({}, ["access_not_found"], ["access_not_found_text"]);
      } else {
        failed(s);
      }
    }).catch(function () { polling = setTimeout(function () { poll(url); }, POLL_MS * 2); });
  }

  function renderValidUntil() {
    $("cred-until").textContent = validUntil ? new Date(validUntil).toLocaleString(locale()) : "";
  }

  function done(s, ready) {
    $("cred-user").textContent = s.username || ""; $("cred-pass").textContent = s.password || "";
    validUntil = s.expires_at || null;
    renderValidUntil();
    $("login-user").value = s.username || ""; $("login-pass").value = s.password || "";
    if (s.login_url) $("login-form").action = s.login_url;
    if (!ready) { if (!$("step-done").hidden) return; show("step-wait"); return; }
    put($("done-title"), [FLOWS[flow].done]);
    put($("done-text"), ["online_tap"]);
    announce(t(FLOWS[flow].done) + ". " + t("online"));
    show("step-done");
    if (s.login_url) loginTimer = setTimeout(function () { $("login-form").submit(); }, 1200);
  }

  // A failed status: the page's title for its reason (or the given one), the server's message if any.
  function failed(s, title, text) {
    var reason = FAILED_REASONS.indexOf(s.reason) >= 0 ? s.reason : FAILED_REASONS.indexOf(s.status) >= 0 ? s.status : null;
    put($("failed-title"), title || [reason ? "failed_" + reason : "failed"]);
    put($("failed-text"), text || s.message || ["failed_text"]);
    announce($("failed-title").textContent + ". " + $("failed-text").textContent);
    $("retry").hidden = false;
    show("step-failed");
  }

  $("retry").addEventListener("click", function () {
    clearTimeout(polling);
    show(chosen ? "step-pay" : "home");
    $("pay").disabled = false;
  });

  // --- packages -------------------------------------------------------------------------------------
  function loadPackages() {
    if (!cfg.router) { put($("packages-status"), ["not_from_login"]); return; }
    fetch("/portal/routers/" + encodeURIComponent(cfg.router) + "/packages").then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (data) {
      put($("router-name"), data.name);
      paybill = data.paybill || null;
      lastPackages = data.packages;
      renderPackages(data.packages);
      put($("packages-status"), data.packages.length ? "" : ["packages_none"]);
    }).catch(function () { put($("packages-status"), ["packages_failed"]); });
  }

  // The package buttons, in the page's language (drawn again when it changes).
  function renderPackages(packages) {
    var list = $("packages");
    list.innerHTML = "";
    packages.forEach(function (p) {
      var li = document.createElement("li"), b = document.createElement("button");
      b.type = "button"; b.dataset.id = p.package_id;
      b.setAttribute("aria-pressed", String(!!chosen && chosen.package_id === p.package_id));
      var left = document.createElement("span"), name = document.createElement("strong"), note = document.createElement("small");
      name.textContent = p.name;
      note.textContent = [human(p.validity_seconds), p.rate_limit && t("up_to", { rate: p.rate_limit.split("/")[1] }),
        p.limit_bytes_total && bytes(p.limit_bytes_total)].filter(Boolean).join(" · ");
      left.appendChild(name); left.appendChild(note);
      var price = document.createElement("span"); price.className = "price"; price.textContent = "KES " + p.price;
      b.appendChild(left); b.appendChild(price);
      b.addEventListener("click", function () { choose(p, b); });
      li.appendChild(b); list.appendChild(li);
    });
  }

  function choose(p, button) {
    chosen = p;
    Array.prototype.forEach.call(document.querySelectorAll(".packages button"), function (b) {
      b.setAttribute("aria-pressed", String(b === button));
    });
    put($("pay"), ["pay_price", { price: p.price }]);
    showPaybill(p);
    show("step-pay");
    $("phone").focus();
  }

  // --- 1. STK push ----------------------------------------------------------------------------------
  submitter("pay-form", "pay", "phone-error", function () {
    if (!chosen) return null;
    var phone = phoneOf("phone");
    if (!phone) { say("phone-error", ["phone_invalid"]); return null; }
    return { path: "/payments/initiate", body: { package_id: chosen.package_id, phone_number: phone, mac_address: cfg.mac,
      router_id: cfg.router, ip: cfg.ip || null } };
  }, {
    validation_error_for: function (fields) { return fields.indexOf("phone") >= 0 ? "phone_wrong" : null; }
  }, function (body) {
    var phone = $("phone").value.trim();
    follow("stk", body.status_url, ["check_phone"], ["stk_sent", { phone: phone }]);
  });

  // --- 2. Paybill / Till from the M-Pesa menu, then "I paid" ----------------------------------------
  function showPaybill(p) {
    var box = $("paybill-box");
    box.hidden = !paybill;
    if (!paybill) return;
    var till = paybill.kind === "till";
    put($("paybill-summary"), [till ? "till_summary" : "paybill_summary"]);
    put($("paybill-menu"), [till ? "till_menu" : "paybill_menu"]);
    put($("paybill-business-label"), [till ? "till_number" : "business_number"]);
    $("paybill-business").textContent = paybill.business_number;
    $("paybill-account").textContent = p.account_number || "";
    $("paybill-account-row").hidden = till || !p.account_number;
    $("paybill-amount").textContent = String(p.price);
    say("claim-error", "");
  }

  // One phone typed once: the STK field, "I paid" and "I already paid" start from the last one typed.
  ["phone", "claim-phone", "reconnect-phone"].forEach(function (id, _, all) {
    $(id).addEventListener("change", function () {
      all.forEach(function (other) { if (!$(other).value) $(other).value = $(id).value; });
    });
  });

  submitter("claim-form", "claim", "claim-error", function () {
    if (!chosen) return null;
    var phone = phoneOf("claim-phone");
    if (!phone) { say("claim-error", ["paid_from_invalid"]); return null; }
    return { path: "/portal/paybill/claim", body: Object.assign(device(), { package_id: chosen.package_id, phone_number: phone }) };
  }, {
    payment_not_found: "payment_not_found",
    already_claimed: "already_claimed",
    validation_error_for: function (fields) { return fields.indexOf("phone") >= 0 ? "phone_wrong" : null; }
  }, function (body) {
    follow("paybill", body.status_url, ["payment_found"], body.message || ["setting_up"]);
  });

  // --- 3. a voucher -----------------------------------------------------------------------------------
  function voucherCode(value) { return value.toUpperCase().replace(/[^0-9A-Z]/g, ""); }
  function grouped(code) { return code.length > 5 ? code.slice(0, 5) + "-" + code.slice(5) : code; }
  $("voucher-code").addEventListener("input", function () {
    var input = $("voucher-code"), atEnd = input.selectionStart === input.value.length;
    if (!atEnd) return;  // editing in the middle: regroup on blur, leave the caret alone
    input.value = grouped(voucherCode(input.value));
  });
  $("voucher-code").addEventListener("blur", function () {
    var input = $("voucher-code");
    input.value = grouped(voucherCode(input.value));
  });

  submitter("voucher-form", "redeem", "voucher-error", function () {
    var code = voucherCode($("voucher-code").value);
    $("voucher-code").value = grouped(code);
    if (code.length !== 10) {
      say("voucher-error", ["voucher_format"]);
      return null;
    }
    return { path: "/portal/vouchers/redeem", body: Object.assign(device(), { code: code }) };
  }, {
    voucher_not_found: "voucher_not_found",
    voucher_used: "voucher_used",
    voucher_revoked: "voucher_revoked",
    voucher_expired: "voucher_expired",
    voucher_not_for_router: "voucher_not_for_router",
    validation_error_for: function () { return "voucher_format"; }
  }, function (body) {
    follow("voucher", body.status_url, ["voucher_accepted"], body.message || ["setting_up"]);
  });

  // --- 4. "I already paid": receipt + phone ------------------------------------------------------------
  submitter("reconnect-form", "reconnect", "reconnect-error", function () {
    var receipt = $("receipt").value.toUpperCase().replace(/[^0-9A-Z]/g, "");
    $("receipt").value = receipt;
    if (!/^[0-9A-Z]{8,20}$/.test(receipt)) {
      say("reconnect-error", ["receipt_format"]);
      return null;
    }
    var phone = phoneOf("reconnect-phone");
    if (!phone) { say("reconnect-error", ["paid_from_invalid"]); return null; }
    return { path: "/portal/reconnect", body: Object.assign(device(), { receipt: receipt, phone_number: phone }) };
  }, {
    receipt_not_found: "receipt_not_found",
    access_ended: "access_ended",
    wrong_router: "wrong_router",
    validation_error_for: function (fields) { return fields.indexOf("phone") >= 0 ? "phone_wrong" : "receipt_check"; }
  }, function (body) {
    follow("reconnect", body.status_url, ["payment_found"], body.message || ["setting_up"]);
  });

  applyLanguage();
  show("home");
  loadPackages();
})();
