/* What the browser draws after the page has loaded, made accessible (see _ext/accessibility.py):
 * the figure of a slider widget takes the alternative text of its code cell
 * (data-ebm-alt on the widget's <div class="ebm-widget">), and a widget slider's handle is
 * named after the slider's description (λ, β). */
(function () {
  "use strict";
  function label(root) {
    root.querySelectorAll(".ebm-widget[data-ebm-alt] img:not([alt])").forEach(function (img) {
      img.alt = img.closest(".ebm-widget").dataset.ebmAlt;
    });
    root.querySelectorAll(".ebm-widget .noUi-handle:not([aria-label])").forEach(function (handle) {
      var box = handle.closest(".widget-slider");
      var name = box && box.querySelector(".widget-label");
      var text = name && name.textContent.trim();
      if (text) handle.setAttribute("aria-label", text);
    });
  }
  function start() {
    if (!document.querySelector(".ebm-widget")) return;
    label(document);
    new MutationObserver(function () { label(document); })
      .observe(document.body, {childList: true, subtree: true});
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
