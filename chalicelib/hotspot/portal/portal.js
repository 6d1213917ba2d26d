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
  var FAILED_TITLES = { cancelled: "Payment cancelled", wrong_pin: "Wrong M-Pesa PIN", timeout: "No answer from your phone",
    insufficient_funds: "Not enough balance", provision_failed: "Paid, but your access is not ready",
    expired: "This access has ended", amount_mismatch: "Payment amount did not match", receipt_reused: "Receipt already used" };
  // What each way in says at each step (the STK flow's words are the page's defaults).
  var FLOWS = {
    stk: { received: "Payment received", done: "You're paid up", notReady: FAILED_TITLES.provision_failed },
    voucher: { received: "Voucher accepted", done: "Voucher accepted", notReady: "Voucher accepted, but your access is not ready" },
    paybill: { received: "Payment found", done: "You're paid up", notReady: FAILED_TITLES.provision_failed },
    reconnect: { received: "Payment found", done: "Welcome back", notReady: FAILED_TITLES.provision_failed }
  };
  var NO_DEVICE = "Open this page from the WiFi login page so we can recognise your device.";
  var NO_CONNECTION = "No connection. Try again.";

  // --- page plumbing ------------------------------------------------------------------------------
  function show(step) {
    var home = step === "home" || step === "step-pay";
    STEPS.forEach(function (id) {
      $(id).hidden = !(id === step || (home && HOME.indexOf(id) >= 0 && (id === "step-packages" || cfg.router)));
    });
  }
  function announce(text) { $("status").textContent = text; }
  function say(id, text) { var e = $(id); e.textContent = text || ""; e.hidden = !text; }
  function human(seconds) {
    var d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600), m = Math.floor(seconds % 3600 / 60);
    return [d && d + (d > 1 ? " days" : " day"), h && h + " h", m && m + " min"].filter(Boolean).join(" ") || seconds + " s";
  }
  function bytes(n) { return n >= 1073741824 ? (n / 1073741824).toFixed(1) + " GB" : Math.round(n / 1048576) + " MB"; }
  function phoneOf(id) {
    var phone = $(id).value.replace(/[\s-]/g, "");
    return /^(\+?254|0)?[17]\d{8}$/.test(phone) ? phone : null;
  }
  function waitFor(seconds) {
    var s = Math.max(1, Math.ceil(seconds)), m = Math.ceil(s / 60);
    return s < 90 ? s + " seconds" : m + " minutes";
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
          say(errorId, "Too many tries. Wait " + waitFor(wait) + " and try again.");
          setTimeout(function () { $(button).disabled = false; }, wait * 1000);
          return;
        }
        $(button).disabled = false;
        var text = messages[err.code];
        if (!text && fields.indexOf("mac") >= 0) text = NO_DEVICE;
        if (!text && err.code === "validation_error") text = messages.validation_error_for && messages.validation_error_for(fields);
        say(errorId, text || err.message || "Something went wrong. Try again.");
      }).catch(function () { $(button).disabled = false; say(errorId, NO_CONNECTION); });
    });
  }

  // --- the one way out: status → setting up → credentials → auto-login --------------------------
  function follow(kind, statusUrl, title, text) {
    flow = FLOWS[kind] ? kind : "stk";
    clearTimeout(polling); clearTimeout(loginTimer);
    app.removeAttribute("data-access");
    $("wait-title").textContent = title;
    $("wait-text").textContent = text;
    announce(title + ". " + text);
    show("step-wait");
    started = Date.now();
    deadline = started + GIVE_UP_MS;
    poll(statusUrl);
  }

  function poll(url) {
    clearTimeout(polling);
    fetch(url, { cache: "no-store" }).then(function (r) { return r.json(); }).then(function (s) {
      if (s.status === "pending") {
        if (Date.now() > deadline) return failed({ reason: "timeout", message: "M-Pesa did not confirm the payment. If you were charged, keep the SMS and use “I already paid”." });
        polling = setTimeout(function () { poll(url); }, POLL_MS);
      } else if (s.status === "paid") {
        // Paid is not online: the router gets the user first (access.state setting_up → online).
        var slow = s.access && s.access.state === "slow";
        var title = slow ? "Taking longer than usual" : FLOWS[flow].received;
        var text = (s.access && s.access.message) || "Setting up your access on the router…";
        if (app.getAttribute("data-access") !== (slow ? "slow" : "setting_up")) announce(title + ". " + text);
        app.setAttribute("data-access", slow ? "slow" : "setting_up");
        $("wait-title").textContent = title;
        $("wait-text").textContent = text;
        done(s, false);
        polling = setTimeout(function () { poll(url); }, POLL_MS);
      } else if (s.status === "provisioned") {
        app.setAttribute("data-access", "online");
        done(s, true);
      } else if (s.status === "provision_failed") {
        app.setAttribute("data-access", "failed");
        failed({ title: FLOWS[flow].notReady, message: (s.access && s.access.message) ||
          "The router could not set up your access. We will retry or refund you." });
        $("retry").hidden = true;  // paid already: never invite a second payment
        if (Date.now() < deadline) polling = setTimeout(function () { poll(url); }, POLL_MS * 4);  // an operator's retry
      } else if (s.error) {  // not readable yet (a replica behind the write), or truly gone
        if (Date.now() - started < 15000) polling = setTimeout(function () { poll(url); }, POLL_MS);
        else failed({ title: "Access not found", message: "We could not find this access. Start again." });
      } else {
        failed(s);
      }
    }).catch(function () { polling = setTimeout(function () { poll(url); }, POLL_MS * 2); });
  }

  function done(s, ready) {
    $("cred-user").textContent = s.username || ""; $("cred-pass").textContent = s.password || "";
    $("cred-until").textContent = s.expires_at ? new Date(s.expires_at).toLocaleString() : "";
    $("login-user").value = s.username || ""; $("login-pass").value = s.password || "";
    if (s.login_url) $("login-form").action = s.login_url;
    if (!ready) { if (!$("step-done").hidden) return; show("step-wait"); return; }
    $("done-title").textContent = FLOWS[flow].done;
    $("done-text").textContent = "You're online. If nothing happens, tap Connect now.";
    announce(FLOWS[flow].done + ". You're online.");
    show("step-done");
    if (s.login_url) loginTimer = setTimeout(function () { $("login-form").submit(); }, 1200);
  }

  function failed(s) {
    $("failed-title").textContent = s.title || FAILED_TITLES[s.reason] || FAILED_TITLES[s.status] || "Payment not completed";
    $("failed-text").textContent = s.message || "The payment did not go through. You were not charged.";
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
    if (!cfg.router) { $("packages-status").textContent = "This page must be opened from the WiFi login page."; return; }
    fetch("/portal/routers/" + encodeURIComponent(cfg.router) + "/packages").then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (data) {
      $("router-name").textContent = data.name;
      paybill = data.paybill || null;
      var list = $("packages");
      list.innerHTML = "";
      data.packages.forEach(function (p) {
        var li = document.createElement("li"), b = document.createElement("button");
        b.type = "button"; b.setAttribute("aria-pressed", "false"); b.dataset.id = p.package_id;
        var left = document.createElement("span"), name = document.createElement("strong"), note = document.createElement("small");
        name.textContent = p.name;
        note.textContent = [human(p.validity_seconds), p.rate_limit && "up to " + p.rate_limit.split("/")[1] + "bps",
          p.limit_bytes_total && bytes(p.limit_bytes_total)].filter(Boolean).join(" · ");
        left.appendChild(name); left.appendChild(note);
        var price = document.createElement("span"); price.className = "price"; price.textContent = "KES " + p.price;
        b.appendChild(left); b.appendChild(price);
        b.addEventListener("click", function () { choose(p, b); });
        li.appendChild(b); list.appendChild(li);
      });
      $("packages-status").textContent = data.packages.length ? "" : "No packages on sale here right now.";
    }).catch(function () { $("packages-status").textContent = "Could not load packages. Pull down to refresh."; });
  }

  function choose(p, button) {
    chosen = p;
    Array.prototype.forEach.call(document.querySelectorAll(".packages button"), function (b) {
      b.setAttribute("aria-pressed", String(b === button));
    });
    $("pay").textContent = "Pay KES " + p.price;
    showPaybill(p);
    show("step-pay");
    $("phone").focus();
  }

  // --- 1. STK push ----------------------------------------------------------------------------------
  submitter("pay-form", "pay", "phone-error", function () {
    if (!chosen) return null;
    var phone = phoneOf("phone");
    if (!phone) { say("phone-error", "Enter a Safaricom number like 0712 345 678."); return null; }
    return { path: "/payments/initiate", body: { package_id: chosen.package_id, phone_number: phone, mac_address: cfg.mac,
      router_id: cfg.router, ip: cfg.ip || null } };
  }, {
    validation_error_for: function (fields) {
      return fields.indexOf("phone") >= 0 ? "That phone number doesn't look right." : null;
    }
  }, function (body) {
    var phone = $("phone").value.trim();
    follow("stk", body.status_url, "Check your phone", "Enter your M-Pesa PIN on the prompt we sent to " + phone + ".");
  });

  // --- 2. Paybill / Till from the M-Pesa menu, then "I paid" ----------------------------------------
  function showPaybill(p) {
    var box = $("paybill-box");
    box.hidden = !paybill;
    if (!paybill) return;
    var till = paybill.kind === "till";
    $("paybill-summary").textContent = till ? "Pay by Till (Buy Goods) instead" : "Pay by Paybill instead";
    $("paybill-menu").textContent = till ? "M-Pesa → Lipa na M-Pesa → Buy Goods and Services"
      : "M-Pesa → Lipa na M-Pesa → Pay Bill";
    $("paybill-business-label").textContent = till ? "Till number" : "Business number";
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
    if (!phone) { say("claim-error", "Enter the number you paid from, like 0712 345 678."); return null; }
    return { path: "/portal/paybill/claim", body: Object.assign(device(), { package_id: chosen.package_id, phone_number: phone }) };
  }, {
    payment_not_found: "We haven't seen your payment yet. M-Pesa can take a minute: wait a moment and tap I paid again.",
    already_claimed: "This payment is already in use on another device. Use “I already paid” below with the receipt code from your M-Pesa SMS to move it here.",
    validation_error_for: function (fields) {
      return fields.indexOf("phone") >= 0 ? "That phone number doesn't look right." : null;
    }
  }, function (body) {
    follow("paybill", body.status_url, "Payment found", body.message || "Setting up your access on the router…");
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
      say("voucher-error", "A voucher code has 10 letters and digits, like ABCDE-FGHJK.");
      return null;
    }
    return { path: "/portal/vouchers/redeem", body: Object.assign(device(), { code: code }) };
  }, {
    voucher_not_found: "We don't know this code. Check it against your voucher (there is no 0, O, 1 or I in a code).",
    voucher_used: "This voucher has already been used.",
    voucher_revoked: "This voucher was cancelled by the seller. Ask them for another one.",
    voucher_expired: "This voucher has expired.",
    voucher_not_for_router: "This voucher is for another WiFi hotspot.",
    validation_error_for: function () { return "A voucher code has 10 letters and digits, like ABCDE-FGHJK."; }
  }, function (body) {
    follow("voucher", body.status_url, "Voucher accepted", body.message || "Setting up your access on the router…");
  });

  // --- 4. "I already paid": receipt + phone ------------------------------------------------------------
  submitter("reconnect-form", "reconnect", "reconnect-error", function () {
    var receipt = $("receipt").value.toUpperCase().replace(/[^0-9A-Z]/g, "");
    $("receipt").value = receipt;
    if (!/^[0-9A-Z]{8,20}$/.test(receipt)) {
      say("reconnect-error", "Type the 10-character code at the start of your M-Pesa SMS, like SGH3K7XJ2L.");
      return null;
    }
    var phone = phoneOf("reconnect-phone");
    if (!phone) { say("reconnect-error", "Enter the number you paid from, like 0712 345 678."); return null; }
    return { path: "/portal/reconnect", body: Object.assign(device(), { receipt: receipt, phone_number: phone }) };
  }, {
    receipt_not_found: "We can't find a payment with this receipt code from this phone. Check the code in the M-Pesa SMS and the number you paid from.",
    access_ended: "The access bought with this payment has ended (its time or data is used up). Choose a package to buy again.",
    wrong_router: "This payment was for another WiFi hotspot.",
    validation_error_for: function (fields) {
      return fields.indexOf("phone") >= 0 ? "That phone number doesn't look right."
        : "Check the receipt code in your M-Pesa SMS.";
    }
  }, function (body) {
    follow("reconnect", body.status_url, "Payment found", body.message || "Setting up your access on the router…");
  });

  show("home");
  loadPackages();
})();
