// Live query log: follows /log/stream (server-sent events) and adds each
// entry at the top. Every value goes in with textContent, never as HTML:
// query names are attacker-controlled.
(function () {
  "use strict";
  var box = document.getElementById("live");
  var state = document.getElementById("live-state");
  var pauseBtn = document.getElementById("live-pause");
  if (!box) { return; }
  var max = 500, paused = false, es;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function show(s, cls) { state.textContent = s; state.className = "badge " + (cls || ""); }

  function add(x) {
    var d = el("details", "entry " + x.class);
    var s = el("summary");
    s.appendChild(el("span", "t", x.time));
    var c = el("span", "c", x.client);
    if (x.hostname) { c.appendChild(document.createTextNode(" ")); c.appendChild(el("bdi", "host", x.hostname)); }
    s.appendChild(c);
    var n = el("span", "n");
    n.appendChild(el("bdi", "", x.qname));
    n.appendChild(document.createTextNode(" "));
    n.appendChild(el("span", "qt", x.qtype));
    s.appendChild(n);
    var dd = el("span", "d");
    dd.appendChild(el("span", "badge " + x.class, x.decision));
    if (x.category) { dd.appendChild(document.createTextNode(" ")); dd.appendChild(el("span", "cat", x.category)); }
    s.appendChild(dd);
    d.appendChild(s);
    var p = el("p", "actions");
    var a = el("a", "", "Full explanation (reference " + x.id + ")");
    a.href = "/log?client=" + encodeURIComponent(x.client) + "&domain=" + encodeURIComponent(x.qname);
    p.appendChild(a);
    d.appendChild(p);
    box.insertBefore(d, box.firstChild);
    while (box.childNodes.length > max) { box.removeChild(box.lastChild); }
  }

  function connect() {
    es = new EventSource(box.getAttribute("data-src"));
    es.onopen = function () { show("live", "ok"); };
    es.onmessage = function (ev) { if (!paused) { add(JSON.parse(ev.data)); } };
    es.addEventListener("end", function () { show("session ended: log in again", "bad"); es.close(); });
    es.onerror = function () { show("reconnecting…", "warn"); };
  }
  pauseBtn.addEventListener("click", function () {
    paused = !paused;
    pauseBtn.textContent = paused ? "Resume" : "Pause";
    show(paused ? "paused" : "live", paused ? "warn" : "ok");
  });
  connect();
})();
