// The waiting page: join (or resume from local storage), poll at the interval the API suggests
// with jittered backoff on errors and 429s, and go to checkout with the token when admitted.
(function () {
  "use strict";
  var app = document.getElementById("app");
  var cfg = JSON.parse(app.getAttribute("data-config"));
  var $ = function (id) { return document.getElementById(id); };
  var base = "/wait/" + encodeURIComponent(cfg.event);
  var key = "muda-wait:" + cfg.event;
  // The server chose from ?lang= or Accept-Language; without either, the browser's own language.
  var nav = (navigator.language || "").slice(0, 2).toLowerCase();
  var lang = cfg.langChosen || !cfg.strings[nav] ? cfg.lang : nav;
  var w = cfg.strings[lang];
  var failures = 0, timer = null, gone = false;

  function load() { try { return JSON.parse(localStorage.getItem(key) || "{}"); } catch (e) { return {}; } }
  function save(v) { try { localStorage.setItem(key, JSON.stringify(v)); } catch (e) { /* private mode */ } }
  var stored = load();
  var visitor = cfg.visitor || stored.visitor || null;

  function fmt(s, v) { return s.replace(/\{(\w+)\}/g, function (_, k) { return v[k]; }); }
  function dur(s) { return s < 60 ? fmt(w.seconds, { n: Math.max(1, s) }) : fmt(w.minutes, { n: Math.round(s / 60) }); }
  function text(id, value) { var el = $(id); if (el.textContent !== value) el.textContent = value; }

  function render(st) {
    var ev = st.event.status, status = st.status, head = "", detail = "", ahead = "";
    if (status === "queued") {
      head = w.position;
      if (ev === "paused") detail = w.paused;
      else if (ev === "closed") detail = w.closed;
      else if (st.people_ahead === 0) detail = w.eta_soon;
      else if (st.eta_range) detail = fmt(w.eta, { low: dur(st.eta_range[0]), high: dur(st.eta_range[1]) });
      else detail = w.eta_unknown;
      var n = st.people_ahead;
      ahead = n === 0 ? w.ahead_none : n === 1 ? w.ahead_one : fmt(w.ahead_many, { n: n.toLocaleString() });
    } else if (status === "admitted") head = w.admitted;
    else if (status === "completed") head = w.done;
    else if (w[status]) head = w[status];
    else if (ev === "paused" || ev === "draft") { head = w.title; detail = ev === "paused" ? w.paused_join : w.draft; }
    else if (ev === "closed") head = w.closed;
    else head = w.joining;
    text("headline", head);
    text("detail", detail);
    text("ahead", ahead);
    var pos = $("position");
    pos.hidden = !st.position;
    if (st.position) text("position", st.position.toLocaleString());
    var bar = $("bar");
    bar.hidden = st.progress === null || st.progress === undefined;
    if (!bar.hidden) {
      var pct = Math.round(st.progress * 100);
      bar.setAttribute("aria-valuenow", pct);
      bar.firstChild.style.width = pct + "%";
    }
    if (lang !== cfg.lang) {
      var other = lang === "en" ? "sw" : "en";
      text("keep-open", fmt(w.keep_open, { minutes: Math.max(1, Math.round(st.abandon_after_seconds / 60)) }));
      text("lang", w.language);
      $("lang").setAttribute("href", "?lang=" + other);
      text("reload", w.refresh);
      document.documentElement.lang = lang;
    }
  }

  function go(r) {
    gone = true;
    if (r.method === "POST") {
      var f = document.createElement("form");
      f.method = "post"; f.action = r.url;
      var i = document.createElement("input");
      i.type = "hidden"; i.name = r.field; i.value = r.token;
      f.appendChild(i); document.body.appendChild(f); f.submit();
    } else {
      location.replace(r.url);
    }
  }

  function notice(msg) { var n = $("notice"); n.hidden = !msg; text("notice", msg || ""); }

  function handle(st) {
    failures = 0;
    notice("");
    if (st.session_id) save({ visitor: visitor, session_id: st.session_id });
    render(st);
    if (st.redirect) return go(st.redirect);
    if (st.status === "not_joined" && st.event.status === "active") return schedule(0, join);
    if (st.poll_after_seconds) schedule(st.poll_after_seconds * (0.8 + Math.random() * 0.4), poll);
  }

  function backoff(retryAfter, kind) {
    failures += 1;
    var wait = Math.min(60, Math.pow(2, failures)) * (0.5 + Math.random());
    if (retryAfter) wait = Math.max(wait, retryAfter * (1 + Math.random() * 0.5));
    notice(fmt(kind === 429 ? w.busy : w.offline, { s: Math.ceil(wait) }));
    return wait;
  }

  function call(method, path, next) {
    var headers = { "Accept": "application/json" };
    if (visitor) headers["X-Muda-Visitor"] = visitor;
    fetch(base + path, { method: method, headers: headers, credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 429 || r.status >= 500) {
          var after = parseFloat(r.headers.get("Retry-After")) || 0;
          schedule(backoff(after, r.status === 429 ? 429 : 0), next);
          return null;
        }
        return r.json().then(function (body) {
          if (!r.ok) {
            if (body.error && body.error.code === "event_not_active") return schedule(5 * (0.8 + Math.random() * 0.4), poll);
            throw new Error(r.status);
          }
          if (body.visitor) visitor = body.visitor;
          handle(body.state || body);
        });
      })
      .catch(function () { schedule(backoff(0, 0), next); });
  }

  function join() { call("POST", "/join", poll); }
  function poll() { call("GET", "/status", poll); }
  function schedule(seconds, fn) {
    if (gone) return;
    clearTimeout(timer);
    timer = setTimeout(fn, Math.max(0, seconds) * 1000);
  }

  $("reload").addEventListener("click", function (e) { e.preventDefault(); schedule(0, poll); });
  render(cfg.state);
  if (cfg.state.redirect) go(cfg.state.redirect);
  else if (cfg.state.status === "not_joined" && cfg.state.event.status !== "closed") join();
  else handle(cfg.state);
})();
