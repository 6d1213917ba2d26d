// The operations console: signs in with an admin bearer token (kept in sessionStorage), opens the
// live feed (WebSocket, ?token=, as on API Gateway) and fills each panel from its admin route.
// A panel whose route is missing says "not available"; nothing here ever breaks the others.
(function () {
  "use strict";
  var root = document.getElementById("app");
  var config = JSON.parse(root.getAttribute("data-config") || "{}");
  var params = new URLSearchParams(location.search);
  var REFRESH_MS = Math.max(1000, Number(params.get("refresh") || 5000));
  var MAX_EVENTS = 300;
  var KEY = "muda.console.token";
  var token = sessionStorage.getItem(KEY) || "";
  var socket = null, retryMs = 500, refreshTimer = null, soon = null, keepAlive = null;
  var events = [], seen = {}, expanded = {};

  // --- small DOM helpers (text only: nothing from the server becomes markup) -------------------
  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), attrs[k]);
      else node.setAttribute(k, attrs[k]);
    });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c == null) continue;
      node.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  function $(id) { return document.getElementById(id); }
  function body(panel) { return $("panel-" + panel).querySelector("[data-body]"); }
  function fill(target, node) { target.replaceChildren(node); }
  function note(text, cls) { return el("p", { class: cls || "na", text: text }); }
  function ago(epoch) {
    if (epoch == null) return "—";
    var s = Date.now() / 1000 - Number(epoch);
    var abs = Math.abs(s), unit = abs < 90 ? Math.round(abs) + " s" : abs < 5400 ? Math.round(abs / 60) + " min" : Math.round(abs / 3600) + " h";
    return s >= 0 ? unit + " ago" : "in " + unit;
  }
  function clock(iso) {
    var d = new Date(iso);
    return isNaN(d) ? String(iso || "") : d.toLocaleTimeString();
  }
  function table(headers, rows) {
    var head = el("tr", null);
    headers.forEach(function (h) { head.appendChild(el("th", { text: h[0], class: h[1] || "" })); });
    var tb = el("tbody", null);
    rows.forEach(function (r) { tb.appendChild(r); });
    return el("table", null, el("thead", null, head), tb);
  }
  function row(cells, attrs) {
    var tr = el("tr", attrs || null);
    cells.forEach(function (c) {
      if (c && c.nodeType) tr.appendChild(c.tagName === "TD" ? c : el("td", null, c));
      else tr.appendChild(el("td", { text: c == null ? "—" : String(c) }));
    });
    return tr;
  }
  function num(v) { return el("td", { class: "num", text: v == null ? "—" : String(v) }); }
  function status(s) { var t = String(s || "unknown"); return el("span", { class: "pill status-" + t.replace(/\s+/g, "-"), text: t }); }

  // --- the API ---------------------------------------------------------------------------------
  function api(method, path, payload) {
    var init = { method: method, headers: { Authorization: "Bearer " + token } };
    if (payload !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    return fetch(path, init).then(function (r) {
      return r.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return { status: r.status, ok: r.ok, data: data };
      });
    });
  }
  function errorText(res) {
    var e = res && res.data && res.data.error;
    return e ? e.message + " (" + e.code + ")" : "HTTP " + (res ? res.status : "?");
  }
  // A route this deployment lacks: API Gateway's (and `chalice local`'s) 403 "Missing
  // Authentication Token", a 404 or a 405, none carrying an {"error": …} of ours.
  function missing(res) {
    return [403, 404, 405].indexOf(res.status) >= 0 && !(res.data && res.data.error);
  }
  // Run one panel: a missing route is "not available", an error says so; never throws.
  function panel(name, path, render, fallback) {
    return api("GET", path).then(function (res) {
      if (res.status === 401) return signOut("Your token was refused: " + errorText(res));
      if (missing(res) && fallback) return panel(name, fallback[0], fallback[1]);
      if (missing(res)) return fill(body(name), note("not available"));
      if (!res.data || (!res.ok && !(res.status === 503 && name === "health"))) {
        return fill(body(name), note("error: " + errorText(res), "error"));
      }
      try { fill(body(name), render(res.data)); }
      catch (e) { fill(body(name), note("cannot show this: " + e.message, "error")); }
    }).catch(function (e) { fill(body(name), note("unreachable: " + e.message, "error")); });
  }

  // --- panels ----------------------------------------------------------------------------------
  function queues(data) {
    var list = data.queues || [];
    if (!list.length) return note("no queues", "muted");
    return table(
      [["queue"], ["visible", "num"], ["in flight", "num"], ["delayed", "num"], ["DLQ", "num"], ["oldest", "num"]],
      list.map(function (q) {
        var age = q.oldest_age_seconds == null ? "—" : Math.round(q.oldest_age_seconds) + " s";
        return row([String(q.queue).replace(/^muda-[a-z]+-/, ""), num(q.visible), num(q.in_flight), num(q.delayed),
          el("td", { class: "num" + (q.dead ? " error" : ""), text: String(q.dead) }), num(age)], { "data-queue": q.queue });
      }));
  }
  function failed(data) {
    var list = data.failed || [];
    $("redrive-all").disabled = !list.length;
    if (!list.length) return note("no dead letters", "muted");
    return table([["queue"], ["message"], ["error"], ["tries", "num"], [""]], list.map(function (d) {
      var button = el("button", { type: "button", class: "small", text: "Redrive",
        onclick: function () { redrive({ message_id: d.message_id, queue: d.queue }, button); } });
      return row([String(d.queue).replace(/^muda-[a-z]+-/, ""), el("code", { text: String(d.body || "").slice(0, 80) }),
        el("td", { class: "err", text: d.error || "—" }), num(d.receive_count), button],
        { "data-message-id": d.message_id, class: "dead-letter" });
    }));
  }
  function redrive(payload, button) {
    if (button) button.disabled = true;
    api("POST", "/admin/failed/retry", payload).then(function (res) {
      if (!res.ok) alert("Redrive failed: " + errorText(res));
      refreshSoon(0);
    });
  }
  function retries(data) {
    var list = data.retries || [];
    if (!list.length) return note("nothing retrying", "muted");
    return table([["queue"], ["job"], ["failed", "num"], ["last error"], ["next try"]], list.map(function (r) {
      // As the worker's log says it: the try that failed last, "attempt 4 of 6", then its error.
      var tried = r.attempt == null ? "—" : "attempt " + r.attempt + " of " + (r.max_attempts == null ? "?" : r.max_attempts);
      return row([String(r.queue).replace(/^muda-[a-z]+-/, ""), r.summary || r.message_id,
        el("td", { class: "num", text: tried }), el("td", { class: "err", text: r.error || "—" }), ago(r.next_try_at)],
        { class: "retry", "data-message-id": r.message_id });
    }));
  }
  function timers(data) {
    var byKind = data.by_kind || {}, overdue = data.overdue_by_kind || {};
    var kinds = Object.keys(byKind).sort();
    var late = (data.timers || []).filter(function (t) { return t.late_seconds != null; });
    var box = el("div", null);
    box.appendChild(kinds.length ? table([["kind"], ["pending", "num"], ["overdue", "num"]], kinds.map(function (k) {
      return row([k, num(byKind[k]), num(overdue[k] || 0)]);
    })) : note("no pending timers", "muted"));
    if (late.length) {
      box.appendChild(el("h3", { text: "Overdue" }));
      box.appendChild(table([["kind"], ["key"], ["late", "num"]], late.slice(0, 20).map(function (t) {
        return row([t.kind, t.key, num(Math.round(t.late_seconds) + " s")]);
      })));
    }
    return box;
  }
  function health(data) {
    var beats = data.heartbeats || {}, qs = data.queues || {};
    var rows = Object.keys(beats).map(function (name) {
      var b = beats[name] || {};
      return row([name, status(b.status), b.age_seconds == null ? "—" : Math.round(b.age_seconds) + " s ago"], { "data-beat": name });
    });
    Object.keys(qs).forEach(function (q) {
      var a = qs[q] || {};
      if (a.status && a.status !== "ok") rows.push(row(["queue " + q.replace(/^muda-[a-z]+-/, ""), status(a.status),
        a.oldest_age_seconds == null ? "—" : "oldest " + Math.round(a.oldest_age_seconds) + " s"]));
    });
    var box = el("div", null, el("p", null, "overall: ", status(data.status)));
    box.appendChild(rows.length ? table([["process"], ["status"], ["last beat"]], rows) : note("no heartbeats yet", "muted"));
    return box;
  }
  function routers(data) {
    var list = data.routers || [];
    if (!list.length) return note("no routers", "muted");
    return table([["router"], ["status"], ["last check"], ["last error"], ["users", "num"], [""]], list.map(function (r) {
      var id = r.router_id;
      var button = el("button", { type: "button", class: "small plain", text: "Check now", onclick: function () { checkNow(id, button); } });
      var users = r.users_provisioned == null ? "—" : r.users_provisioned + (r.users_pending ? " (+" + r.users_pending + " pending)" : "");
      return row([(r.name || id) + " · " + (r.host || ""), status(r.status), ago(r.last_checked_at),
        el("td", { class: "err", text: r.status_error || "—" }), num(users), button],
        { class: "router", "data-router-id": id, "data-status": r.status || "unknown" });
    }));
  }
  function checkNow(id, button) {
    button.disabled = true;
    button.textContent = "Checking…";
    api("POST", "/admin/routers/" + encodeURIComponent(id) + "/check").then(function (res) {
      if (missing(res)) alert("Check now is not available on this deployment");
      else if (!res.ok) alert("Check failed: " + errorText(res));
      refreshSoon(0);
    });
  }

  // --- look-ups --------------------------------------------------------------------------------
  function lookup(ev) {
    ev.preventDefault();
    var kind = $("lookup-kind").value, value = $("lookup-value").value.trim();
    var out = $("lookup-result");
    if (!value) return;
    var path = ["phone", "receipt", "checkout_request_id"].indexOf(kind) >= 0
      ? "/admin/lookup/payments?" + kind + "=" + encodeURIComponent(value)
      : "/admin/lookup/" + kind + "/" + encodeURIComponent(value);
    fill(out, note("looking up…", "muted"));
    api("GET", path).then(function (res) {
      if (missing(res)) return fill(out, note("not available"));
      if (!res.ok) return fill(out, note(errorText(res), "error"));
      if (res.data && res.data.payments) return fill(out, payments(res.data.payments));
      fill(out, el("pre", { class: "json", text: JSON.stringify(res.data, null, 2) }));
    }).catch(function (e) { fill(out, note("unreachable: " + e.message, "error")); });
  }
  function payments(list) {
    if (!list.length) return note("no payment found", "muted");
    var box = el("div", null);
    list.forEach(function (p) {
      var access = p.access && typeof p.access === "object" ? p.access.state : p.access;
      box.appendChild(el("h3", { text: p.payment_id + " · " + p.status + (access ? " · access " + access : "") +
        " · KES " + p.amount + " · " + (p.phone || "") + (p.receipt ? " · " + p.receipt : "") }));
      var ol = el("ol", { class: "timeline" });
      (p.timeline || []).forEach(function (t) {
        ol.appendChild(el("li", { text: new Date(t.at * 1000).toLocaleTimeString() + " " + t.what + (t.detail ? ": " + t.detail : "") }));
      });
      box.appendChild(ol);
    });
    return box;
  }

  // --- live events -----------------------------------------------------------------------------
  function addEvent(e, via) {
    if (!e || !e.id || seen[e.id]) return;
    seen[e.id] = true;
    e.product = e.product || String(e.source || "").replace(/^muda\./, "");
    e.via = via;
    events.unshift(e);
    events.sort(function (a, b) { return String(b.time).localeCompare(String(a.time)); });
    if (events.length > MAX_EVENTS) events.length = MAX_EVENTS;
    option("filter-product", e.product);
    option("filter-type", e.type);
    renderEvents(via === "live" ? e.id : null);
  }
  function option(id, value) {
    var select = $(id);
    if (!value || Array.prototype.some.call(select.options, function (o) { return o.value === value; })) return;
    select.appendChild(el("option", { value: value, text: value }));
  }
  function renderEvents(freshId) {
    var product = $("filter-product").value, type = $("filter-type").value;
    var shown = events.filter(function (e) { return (!product || e.product === product) && (!type || e.type === type); });
    var list = $("events");
    list.replaceChildren.apply(list, shown.map(function (e) {
      var open = expanded[e.id];
      return el("li", { class: "event" + (e.id === freshId ? " fresh" : "") + (open ? " open" : ""), "data-id": e.id,
          "data-via": e.via, "data-type": e.type, "data-product": e.product, title: "click for the whole event",
          onclick: function () { expanded[e.id] = !expanded[e.id]; renderEvents(null); } },
        el("span", { class: "muted", text: clock(e.time) }), el("span", { text: e.product }), el("strong", { text: e.type }),
        el("span", { class: "detail", text: JSON.stringify(e.detail || {}) }),
        open ? el("pre", { class: "json", text: JSON.stringify(e, null, 2) }) : null);
    }));
    $("events-count").textContent = shown.length + " of " + events.length;
  }
  function feedState(text, cls) {
    var pill = $("feed-state");
    pill.hidden = false;
    pill.textContent = "live feed: " + text;
    pill.className = "pill " + cls;
    pill.setAttribute("data-state", text);
  }
  function connect() {
    if (!config.websocket_url) return feedState("not configured", "off");
    var url = config.websocket_url + (config.websocket_url.indexOf("?") >= 0 ? "&" : "?") + "token=" + encodeURIComponent(token);
    feedState("connecting", "wait");
    var ws = new WebSocket(url);
    socket = ws;
    ws.onopen = function () {
      retryMs = 500;
      feedState("on", "on");
      clearInterval(keepAlive);
      // API Gateway closes a WebSocket idle for 10 minutes.
      keepAlive = setInterval(function () { if (ws.readyState === 1) ws.send('{"action":"ping"}'); }, 300000);
    };
    ws.onmessage = function (m) {
      var frame;
      try { frame = JSON.parse(m.data); } catch (e) { return; }
      if (frame && frame.kind === "event") {
        addEvent(frame.event, "live");
        refreshSoon(400);
      }
    };
    ws.onclose = function () {
      if (socket !== ws) return;
      socket = null;
      clearInterval(keepAlive);
      if (!token) return;
      feedState("reconnecting", "off");
      setTimeout(function () { if (token && !socket) connect(); }, retryMs);
      retryMs = Math.min(retryMs * 2, 15000);
    };
  }

  // --- refresh, sign in, sign out -------------------------------------------------------------
  function refresh() {
    panel("queues", "/admin/queues", queues);
    panel("failed", "/admin/failed", failed);
    panel("retries", "/admin/retries", retries);
    panel("timers", "/admin/timers", timers);
    panel("health", "/admin/health", health, ["/health", health]);
    panel("routers", "/admin/ops/routers", routers, ["/admin/routers", routers]);
  }
  function refreshSoon(ms) {
    clearTimeout(soon);
    soon = setTimeout(refresh, ms);
  }
  function start(me) {
    $("sign-in").hidden = true;
    $("console").hidden = false;
    $("sign-out").hidden = false;
    $("who").textContent = "signed in as " + me.sub + (config.stage ? " · " + config.stage : "");
    api("GET", "/admin/events?limit=50").then(function (res) {
      if (res.ok && res.data) (res.data.events || []).forEach(function (e) { addEvent(e, "history"); });
    });
    connect();
    refresh();
    clearInterval(refreshTimer);
    refreshTimer = setInterval(refresh, REFRESH_MS);
  }
  function signIn(candidate) {
    token = candidate;
    return api("GET", "/me").then(function (res) {
      if (!res.ok) return signOut("Token refused: " + errorText(res));
      if ((res.data.roles || []).indexOf("admin") < 0) return signOut("Token refused: it is not an admin's (roles: " + (res.data.roles || []).join(", ") + ")");
      sessionStorage.setItem(KEY, token);
      start(res.data);
    }).catch(function (e) { signOut("Cannot reach the API: " + e.message); });
  }
  function signOut(reason) {
    token = "";
    sessionStorage.removeItem(KEY);
    clearInterval(refreshTimer);
    clearInterval(keepAlive);
    var ws = socket;
    socket = null;
    if (ws) ws.close();
    $("console").hidden = true;
    $("sign-out").hidden = true;
    $("feed-state").hidden = true;
    $("sign-in").hidden = false;
    $("who").textContent = "";
    var error = $("sign-in-error");
    error.hidden = !reason;
    error.textContent = reason || "";
  }

  $("sign-in-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var value = $("token").value.trim().replace(/^Bearer\s+/i, "");
    if (!value) return signOut("Paste a token first.");
    $("token").value = "";
    signIn(value);
  });
  $("sign-out").addEventListener("click", function () { signOut(""); });
  $("redrive-all").addEventListener("click", function () { redrive({ all: true }, $("redrive-all")); });
  $("filter-product").addEventListener("change", function () { renderEvents(null); });
  $("filter-type").addEventListener("change", function () { renderEvents(null); });
  $("lookup-form").addEventListener("submit", lookup);
  if (token) signIn(token); else signOut("");
})();
