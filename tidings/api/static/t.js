/* Tidings first-party tracking snippet. Served by Tidings at /t.js; no CDN, no dependencies.
   <script src="https://tidings.example/t.js" data-key="tdk_..."></script>
   then tidings.track("Product Viewed", {sku: "A-1"}), tidings.identify("user-1", {email: "a@b.c"}).
   The anonymous id lives in the first-party cookie tdg_aid; identify sends it with the userId, so
   Tidings merges the anonymous history into the known contact. */
(function () {
  var s = document.currentScript;
  if (!s || window.tidings) return;
  var key = s.getAttribute("data-key");
  var host = s.src.replace(/\/t\.js(\?.*)?$/, "");
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 3) | 8).toString(16);
    });
  }
  var m = document.cookie.match(/(?:^|; )tdg_aid=([^;]+)/);
  var aid = m ? decodeURIComponent(m[1]) : uuid();
  document.cookie = "tdg_aid=" + encodeURIComponent(aid) + "; path=/; max-age=31536000; SameSite=Lax";
  var uid = null;
  try { uid = localStorage.getItem("tdg_uid"); } catch (e) { /* storage blocked */ }
  function send(type, body) {
    body.type = type;
    body.anonymousId = aid;
    if (uid) body.userId = uid;
    body.writeKey = key;
    body.messageId = uuid();
    body.timestamp = new Date().toISOString();
    body.context = {
      page: { url: location.href, path: location.pathname, referrer: document.referrer, title: document.title },
      userAgent: navigator.userAgent,
      library: { name: "tidings.js", version: "1" }
    };
    var data = JSON.stringify(body);
    var url = host + "/v1/" + type.charAt(0);
    /* text/plain: a CORS-safelisted body, so no preflight; sendBeacon survives page unload */
    if (navigator.sendBeacon && navigator.sendBeacon(url, new Blob([data], { type: "text/plain" }))) return;
    fetch(url, { method: "POST", body: data, headers: { "Content-Type": "text/plain" }, keepalive: true });
  }
  window.tidings = {
    page: function (name, props) { send("page", { name: name || document.title, properties: props || {} }); },
    track: function (event, props) { send("track", { event: event, properties: props || {} }); },
    identify: function (userId, traits) {
      uid = String(userId);
      try { localStorage.setItem("tdg_uid", uid); } catch (e) { /* storage blocked */ }
      send("identify", { traits: traits || {} });
    },
    anonymousId: function () { return aid; }
  };
  if (s.getAttribute("data-auto-page") !== "false") window.tidings.page();
})();
