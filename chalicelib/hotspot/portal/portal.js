// The captive portal: packages → phone → PIN prompt → live status → credentials + auto-login.
(function () {
  "use strict";
  var app = document.getElementById("app");
  var cfg = JSON.parse(app.getAttribute("data-config") || "{}");
  var $ = function (id) { return document.getElementById(id); };
  var chosen = null, polling = null, deadline = 0;
  var POLL_MS = 1500, GIVE_UP_MS = 6 * 60 * 1000;
  var FAILED_TITLES = { cancelled: "Payment cancelled", wrong_pin: "Wrong M-Pesa PIN", timeout: "No answer from your phone",
    insufficient_funds: "Not enough balance", provision_failed: "Paid, but your access is not ready",
    expired: "This access has ended", amount_mismatch: "Payment amount did not match", receipt_reused: "Receipt already used" };

  function show(step) {
    ["step-packages", "step-pay", "step-wait", "step-done", "step-failed"].forEach(function (id) {
      $(id).hidden = !(id === step || (step === "step-pay" && id === "step-packages"));
    });
  }
  function human(seconds) {
    var d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600), m = Math.floor(seconds % 3600 / 60);
    return [d && d + (d > 1 ? " days" : " day"), h && h + " h", m && m + " min"].filter(Boolean).join(" ") || seconds + " s";
  }
  function bytes(n) { return n >= 1073741824 ? (n / 1073741824).toFixed(1) + " GB" : Math.round(n / 1048576) + " MB"; }

  function loadPackages() {
    if (!cfg.router) { $("packages-status").textContent = "This page must be opened from the WiFi login page."; return; }
    fetch("/portal/routers/" + encodeURIComponent(cfg.router) + "/packages").then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (data) {
      $("router-name").textContent = data.name;
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
    show("step-pay");
    $("phone").focus();
  }

  function phoneError(text) { var e = $("phone-error"); e.textContent = text || ""; e.hidden = !text; }

  $("pay-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!chosen) return;
    var phone = $("phone").value.replace(/[\s-]/g, "");
    if (!/^(\+?254|0)?[17]\d{8}$/.test(phone)) { phoneError("Enter a Safaricom number like 0712 345 678."); return; }
    phoneError("");
    $("pay").disabled = true;
    fetch("/payments/initiate", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ package_id: chosen.package_id, phone_number: phone, mac_address: cfg.mac,
        router_id: cfg.router, ip: cfg.ip || null })
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (res) {
      $("pay").disabled = false;
      if (!res.ok) {
        var err = res.body.error || {};
        var field = (err.details || []).map(function (d) { return d.field; }).join(",");
        if (field.indexOf("phone") >= 0) phoneError("That phone number doesn't look right.");
        else if (field.indexOf("mac") >= 0) phoneError("Open this page from the WiFi login page so we can recognise your device.");
        else phoneError(err.message || "Something went wrong. Try again.");
        return;
      }
      $("wait-phone").textContent = phone;
      $("wait-title").textContent = "Check your phone";
      show("step-wait");
      deadline = Date.now() + GIVE_UP_MS;
      poll(res.body.status_url);
    }).catch(function () { $("pay").disabled = false; phoneError("No connection. Try again."); });
  });

  function poll(url) {
    clearTimeout(polling);
    fetch(url, { cache: "no-store" }).then(function (r) { return r.json(); }).then(function (s) {
      if (s.status === "pending") {
        if (Date.now() > deadline) return failed({ reason: "timeout", message: "M-Pesa did not confirm the payment. If you were charged, keep the SMS and contact support." });
        polling = setTimeout(function () { poll(url); }, POLL_MS);
      } else if (s.status === "paid") {
        // Paid is not online: the router gets the user first (access.state setting_up → online).
        var slow = s.access && s.access.state === "slow";
        $("app").setAttribute("data-access", slow ? "slow" : "setting_up");
        $("wait-title").textContent = slow ? "Taking longer than usual" : "Payment received";
        $("wait-text").textContent = (s.access && s.access.message) || "Setting up your access on the router…";
        done(s, false);
        polling = setTimeout(function () { poll(url); }, POLL_MS);
      } else if (s.status === "provisioned") {
        $("app").setAttribute("data-access", "online");
        done(s, true);
      } else if (s.status === "provision_failed") {
        $("app").setAttribute("data-access", "failed");
        failed({ status: s.status, message: (s.access && s.access.message) ||
          "Payment received, but the router could not set up your access. We will retry or refund you." });
        $("retry").hidden = true;  // paid already: never invite a second payment
        if (Date.now() < deadline) polling = setTimeout(function () { poll(url); }, POLL_MS * 4);  // an operator's retry
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
    show("step-done");
    $("done-text").textContent = "You're online. If nothing happens, tap Connect now.";
    if (s.login_url) setTimeout(function () { $("login-form").submit(); }, 1200);
  }

  function failed(s) {
    $("failed-title").textContent = FAILED_TITLES[s.reason] || FAILED_TITLES[s.status] || "Payment not completed";
    $("failed-text").textContent = s.message || "The payment did not go through. You were not charged.";
    $("retry").hidden = false;
    show("step-failed");
  }

  $("retry").addEventListener("click", function () { show(chosen ? "step-pay" : "step-packages"); $("pay").disabled = false; });
  show("step-packages");
  loadPackages();
})();
