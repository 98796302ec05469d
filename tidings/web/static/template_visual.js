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
  // no web fonts (they would come from Google: nothing is fetched from elsewhere), a local
  // image placeholder
  var options = { fonts: {}, imagePlaceholderSrc: "/static/favicon.svg" };
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
