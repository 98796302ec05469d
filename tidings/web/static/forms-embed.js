/* Tidings embeddable form: renders the form into <div id="tidings-form-KEY"> and posts it as JSON.
   Served by GET /f/KEY/embed.js with its configuration in CONFIG; no innerHTML, no eval. */
(function () {
  "use strict";
  var CONFIG = /*CONFIG*/null;
  var host = document.getElementById("tidings-form-" + CONFIG.key);
  if (!host) { return; }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) { node.textContent = text; }
    return node;
  }

  var form = el("form", { novalidate: "novalidate", dir: CONFIG.dir });
  CONFIG.fields.forEach(function (f) {
    var box = el("div", { "class": "tidings-field" });
    var id = "tidings-" + CONFIG.key + "-" + f.name;
    if (f.type !== "hidden") { box.appendChild(el("label", { "for": id }, f.label + (f.required ? " *" : ""))); }
    var input;
    if (f.type === "textarea") {
      input = el("textarea", { id: id, name: f.name });
    } else if (f.type === "select") {
      input = el("select", { id: id, name: f.name });
      input.appendChild(el("option", { value: "" }));
      f.options.forEach(function (o) { input.appendChild(el("option", { value: o }, o)); });
    } else {
      var kind = { email: "email", phone: "tel", hidden: "hidden" }[f.type] || "text";
      input = el("input", { id: id, name: f.name, type: kind, dir: "auto" });
    }
    if (f.required) { input.setAttribute("required", "required"); }
    box.appendChild(input);
    form.appendChild(box);
  });
  CONFIG.consents.forEach(function (c) {
    var box = el("div", { "class": "tidings-consent" });
    var id = "tidings-" + CONFIG.key + "-consent-" + c.channel;
    box.appendChild(el("input", { id: id, name: "consent_" + c.channel, type: "checkbox", value: "on" }));
    box.appendChild(el("label", { "for": id }, c.text));
    form.appendChild(box);
  });
  var trap = el("input", { name: CONFIG.honeypot, type: "text", tabindex: "-1", autocomplete: "off",
                           "aria-hidden": "true", style: "position:absolute;left:-10000px" });
  form.appendChild(trap);
  var button = el("button", { type: "submit" }, CONFIG.labels.submit);
  form.appendChild(button);
  var message = el("p", { role: "status", "class": "tidings-message" });
  form.appendChild(message);
  host.appendChild(form);

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var values = { page_url: window.location.href, referrer: document.referrer };
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name) { return; }
      if (input.type === "checkbox") { values[input.name] = input.checked; } else { values[input.name] = input.value; }
    });
    button.disabled = true;
    fetch(CONFIG.action, { method: "POST", headers: { "Content-Type": "application/json" },
                           body: JSON.stringify(values), credentials: "omit" })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        button.disabled = false;
        if (res.ok && res.body.redirect) { window.location.assign(res.body.redirect); return; }
        if (res.ok) { form.replaceChildren(el("p", { role: "status" }, res.body.message)); return; }
        var errors = res.body.errors || [{ message: res.body.error || CONFIG.labels.failed }];
        message.textContent = errors.map(function (e) { return e.message; }).join(" ");
      })
      .catch(function () { button.disabled = false; message.textContent = CONFIG.labels.failed; });
  });
})();
