// The office dashboard follows the round live: it polls the status and reloads when a new file arrived.
(function () {
  var live = document.getElementById("live");
  if (!live) { return; }
  var url = live.getAttribute("data-url"), version = live.getAttribute("data-version");
  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) { throw new Error(r.status); }
      return r.json();
    }).then(function (d) {
      live.className = "live";
      if (String(d.version) !== version) { window.location.reload(); }
    }).catch(function () { live.className = "live stale"; });
  }
  setInterval(poll, 3000);
})();
