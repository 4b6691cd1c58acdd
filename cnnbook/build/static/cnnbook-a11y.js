// Accessible names for two of the theme's controls (added to every page by cnnbook.build.sphinxext;
// axe-core checks every page in tests/test_browser.py). A control's name must contain the words it
// shows (WCAG 2.5.3, "label in name"), so that a reader who steers by voice can say what they see.
(function () {
  function name() {
    // The search field shows "Search Ctrl+K" and was named only "Search".
    document.querySelectorAll(".search-button__button[aria-label]").forEach(function (button) {
      var shown = button.innerText.replace(/\s+/g, " ").trim();
      if (shown && button.getAttribute("aria-label") !== shown) button.setAttribute("aria-label", shown);
    });
    // The colour-mode button is named "Color mode"; its icons carry titles of their own (Light,
    // Dark, System Settings), which count as text inside it. The button's tooltip names it.
    document.querySelectorAll(".theme-switch-button svg, .theme-switch-button i").forEach(function (icon) {
      if (icon.getAttribute("aria-hidden") !== "true") icon.setAttribute("aria-hidden", "true");
      icon.removeAttribute("aria-labelledby");
      icon.removeAttribute("title");
      icon.querySelectorAll("title").forEach(function (title) { title.remove(); });
    });
  }
  function start() {
    name();
    // Font Awesome swaps icons for SVGs after the page loads, and the theme redraws its buttons.
    new MutationObserver(name).observe(document.body, {childList: true, subtree: true});
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
