// Every page: keyboard comfort around htmx swaps and menus. Small and progressive: without it
// the pages work the same, only focus and Escape behave less kindly. No inline scripts (CSP).
(() => {
  "use strict";

  // -- Focus survives an htmx swap -------------------------------------------------------------
  // Swapping a part replaces the focused control with a new copy, and the browser drops focus
  // to the top of the page. Before the swap, remember what had focus inside the part; after it,
  // focus the same control in the new part, or else the part's [data-swap-focus] element (a
  // heading or the line that says where the list now is), or the part itself.
  let pending = null;

  const keyOf = (element) => {
    if (element.id) return { id: element.id };
    const name = element.getAttribute("name");
    if (name && (element.matches("input, select, textarea, button"))) {
      return { selector: `${element.tagName.toLowerCase()}[name="${CSS.escape(name)}"]`, value: element.type === "checkbox" || element.type === "radio" ? element.value : null };
    }
    if (element.dataset.focusKey) return { selector: `[data-focus-key="${CSS.escape(element.dataset.focusKey)}"]`, value: null };
    const label = element.getAttribute("aria-label") || element.textContent.trim();
    // The parent's class tells a "25 rows a page" link from a row's "25" key link.
    return { tag: element.tagName.toLowerCase(), label, within: element.parentElement ? element.parentElement.className : "" };
  };

  const find = (root, key) => {
    if (key.id) return document.getElementById(key.id);
    if (key.selector) {
      const all = [...root.querySelectorAll(key.selector)];
      return all.find((el) => key.value === null || el.value === key.value) || null;
    }
    return [...root.querySelectorAll(key.tag)].find((el) => {
      const label = el.getAttribute("aria-label") || el.textContent.trim();
      const within = el.parentElement ? el.parentElement.className : "";
      return label === key.label && within === key.within;
    }) || null;
  };

  const focusable = (element) => element && !element.closest("[hidden], [inert]") && element.getClientRects().length > 0;

  document.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    const active = document.activeElement;
    // Only when the swap takes the focus away: a poll or a lazy load elsewhere leaves it be.
    pending = active && active !== document.body && target.contains(active)
      ? { targetId: target.id, key: keyOf(active) }
      : null;
  });

  document.addEventListener("htmx:afterSettle", () => {
    if (!pending) return;
    const { targetId, key } = pending;
    pending = null;
    if (document.activeElement && document.activeElement !== document.body) return; // htmx kept it
    const region = (targetId && document.getElementById(targetId)) || document.getElementById("main");
    if (!region) return;
    let next = find(region, key);
    if (!focusable(next)) next = region.querySelector("[data-swap-focus]");
    if (!next) next = region;
    if (!next.matches("a[href], button, input, select, textarea, summary, [tabindex]")) {
      next.setAttribute("tabindex", "-1");
    }
    next.focus({ preventScroll: !next.hasAttribute("data-swap-focus") });
  });

  // -- A box that scrolls sideways can be reached with the keyboard -------------------------
  // (a narrow screen makes a card or a code block scroll; focus lets the arrow keys scroll it).
  const SCROLLERS = ".card, .scroll, .scroll-box, .source-scroll, pre";
  const reachScrollers = (root) => {
    for (const box of root.querySelectorAll(SCROLLERS)) {
      if (box.hasAttribute("tabindex") || box.scrollWidth <= box.clientWidth + 1) continue;
      box.setAttribute("tabindex", "0");
    }
  };
  const reachAll = () => reachScrollers(document);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", reachAll);
  else reachAll();
  document.addEventListener("htmx:afterSettle", reachAll);
  window.addEventListener("resize", reachAll);

  // -- The current section is in view in the navigation --------------------------------------
  // On a narrow screen the sections are one line that scrolls sideways: without this, the
  // later sections (Queries, Activity, Audit) are off the screen on their own pages. Centred,
  // so a part of the neighbours shows that the line goes on. Only the line scrolls, not the page.
  const showCurrentSection = () => {
    const line = document.querySelector(".topbar nav.sections");
    const current = line && line.querySelector('a[aria-current="page"]');
    if (!current || line.scrollWidth <= line.clientWidth + 1) return;
    const box = line.getBoundingClientRect();
    const here = current.getBoundingClientRect();
    if (here.left >= box.left && here.right <= box.right) return;
    line.scrollLeft += here.left + here.width / 2 - (box.left + box.width / 2);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", showCurrentSection);
  else showCurrentSection();
  window.addEventListener("resize", showCurrentSection);

  // -- Menus made of <details> close with Escape, and when focus or a click leaves them -----
  const openMenus = () => [...document.querySelectorAll("details.dropdown[open]")];

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const menu = document.activeElement && document.activeElement.closest("details[open]");
    const menus = menu ? [menu] : openMenus();
    if (!menus.length) return;
    for (const item of menus) item.removeAttribute("open");
    const summary = menus[0].querySelector("summary");
    if (summary) summary.focus();
    event.preventDefault();
  });

  document.addEventListener("click", (event) => {
    for (const menu of openMenus()) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    }
  });

  document.addEventListener("focusin", (event) => {
    for (const menu of openMenus()) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    }
  });
})();
