/* The visual email editor: GrapesJS (+ the MJML preset for MJML templates) on the template's
   body; saving writes the editor's MJML (or HTML and CSS) back into the code view's form. */
(function () {
  "use strict";
  var host = document.getElementById("gjs");
  if (!host || !window.grapesjs) return;
  var form = document.getElementById("visual-form");
  var body = document.getElementById("visual-body");
  var status = document.getElementById("visual-status");
  var mjml = host.dataset.format === "mjml";
  var plugin = window["grapesjs-mjml"];
  plugin = plugin && (plugin.default || plugin);
  // Nothing is fetched from elsewhere (tests/e2e/test_browser_visual_editor.py records every
  // request). grapesjs-mjml 1.0.8 hands its `fonts` to the MJML parser only when the map is not
  // empty, and the parser's own default links Google Fonts (Ubuntu, Roboto...) for any font-family
  // that names them: a map of one name no template uses replaces that default, so no font link.
  // The blocks whose content loads outside images are left out: hero (a GitHub-hosted
  // background), social (Mailjet icons), raw (Unsplash pictures); the image block's placeholder
  // is local.
  var options = {
    fonts: { "tidings-no-web-fonts": "/static/tidings.css" },
    imagePlaceholderSrc: "/static/favicon.svg",
    blocks: [
      "mj-1-column", "mj-2-columns", "mj-3-columns", "mj-text", "mj-button", "mj-image", "mj-divider",
      "mj-spacer", "mj-navbar", "mj-navbar-link", "mj-wrapper",
    ],
  };
  var editor = window.grapesjs.init({
    container: host,
    height: "70vh",
    fromElement: false,
    storageManager: false,
    components: body.value,
    plugins: mjml && plugin ? [function (ed) { return plugin(ed, options); }] : [],
    assetManager: { upload: false },
    telemetry: false,  // its default posts to app.grapesjs.com
    cssIcons: "",  // its default is font-awesome from a CDN: the panels use their own SVG icons
  });
  window.tidingsVisualEditor = editor;

  document.getElementById("insert-placeholder").addEventListener("click", function () {
    var placeholder = document.getElementById("picker").value;
    var selected = editor.getSelected();
    var type = selected && selected.get("type");
    if (!selected || (type !== "text" && type !== "mj-text")) {
      status.textContent = "Select a text block in the canvas first.";
      return;
    }
    selected.components().add({ type: "textnode", content: " " + placeholder });
    status.textContent = "Inserted " + placeholder + ".";
  });

  form.addEventListener("submit", function () {
    if (mjml) {
      body.value = editor.getHtml();
    } else {
      var css = editor.getCss();
      body.value = editor.getHtml() + (css ? "\n<style>" + css + "</style>" : "");
    }
  });
})();
