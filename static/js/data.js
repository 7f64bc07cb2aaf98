// Data section. Event delegation and re-runs after htmx swaps keep everything working on the
// parts htmx replaces. No inline scripts or style attributes (CSP): widths are set through
// the CSSOM, which the policy allows.
(() => {
  "use strict";

  // A text filter's "is / starts with / contains" menu renames its input, so the form submits
  // f.<op>.<column>.
  document.addEventListener("change", (event) => {
    const select = event.target;
    if (!(select instanceof HTMLSelectElement) || !select.classList.contains("text-mode")) return;
    const input = select.parentElement.querySelector("input.text-value");
    if (input) input.name = `f.${select.value}.${select.dataset.column}`;
  });

  // A value cut by its column's width opens in place on a click, or on Enter or Space when the
  // cell has the focus (its title holds it too).
  document.addEventListener("click", (event) => {
    const cell = event.target.closest("table.data-grid td.cut");
    if (cell && !event.target.closest("a")) cell.classList.toggle("expanded");
  });
  document.addEventListener("keydown", (event) => {
    const cell = event.target;
    if (!(cell instanceof HTMLTableCellElement) || !cell.matches("table.data-grid td.cut")) return;
    if (event.key !== "Enter" && event.key !== " ") return;
    cell.classList.toggle("expanded");
    event.preventDefault(); // Space would scroll the page
  });

  // -- Resizable columns ------------------------------------------------------------------------
  // Each header gets a handle: drag it, or focus it and press ←/→. Widths are kept per table
  // and column in this browser (localStorage), so they survive sorting, paging and reloads.
  const STEP = 24;
  const MIN = 48;
  const storeKey = (table) => `schemadesk.widths.${table}`;
  const load = (table) => {
    try { return JSON.parse(localStorage.getItem(storeKey(table)) || "{}"); } catch { return {}; }
  };
  const save = (table, widths) => {
    try { localStorage.setItem(storeKey(table), JSON.stringify(widths)); } catch { /* private mode */ }
  };

  const fix = (grid) => {
    // Freeze the widths the browser chose, then let one column change without the others.
    if (grid.classList.contains("fixed")) return;
    const headers = [...grid.tHead.rows[0].cells];
    const widths = headers.map((th) => th.getBoundingClientRect().width);
    headers.forEach((th, i) => { th.style.width = `${Math.round(widths[i])}px`; });
    grid.classList.add("fixed");
  };

  const setWidth = (grid, th, width) => {
    fix(grid);
    const value = Math.max(MIN, Math.round(width));
    th.style.width = `${value}px`;
    th.style.maxWidth = "none";
    const handle = th.querySelector(".col-resize");
    if (handle) handle.setAttribute("aria-valuenow", String(value));
    const widths = load(grid.dataset.table);
    widths[th.dataset.column] = value;
    save(grid.dataset.table, widths);
  };

  const enhance = (root) => {
    for (const grid of root.querySelectorAll("table.data-grid[data-table]")) {
      if (!grid.tHead || grid.dataset.resizable) continue;
      grid.dataset.resizable = "yes";
      const stored = load(grid.dataset.table);
      for (const th of grid.tHead.rows[0].cells) {
        const name = th.dataset.column;
        if (!name) continue;
        const handle = document.createElement("span");
        handle.className = "col-resize";
        handle.tabIndex = 0;
        handle.setAttribute("role", "separator");
        handle.setAttribute("aria-orientation", "vertical");
        handle.setAttribute("aria-label", `Width of column ${name}`);
        handle.setAttribute("aria-valuemin", String(MIN));
        handle.setAttribute("aria-valuemax", "2000");
        handle.setAttribute("aria-valuenow", String(Math.round(th.getBoundingClientRect().width)));
        th.appendChild(handle);
      }
      const sized = [...grid.tHead.rows[0].cells].filter((th) => stored[th.dataset.column]);
      for (const th of sized) setWidth(grid, th, stored[th.dataset.column]);
    }
  };

  document.addEventListener("pointerdown", (event) => {
    const handle = event.target.closest(".col-resize");
    if (!handle) return;
    const th = handle.closest("th");
    const grid = th.closest("table");
    const startX = event.clientX;
    const startWidth = th.getBoundingClientRect().width;
    handle.setPointerCapture(event.pointerId);
    const move = (e) => setWidth(grid, th, startWidth + e.clientX - startX);
    const up = () => {
      handle.removeEventListener("pointermove", move);
      handle.removeEventListener("pointerup", up);
    };
    handle.addEventListener("pointermove", move);
    handle.addEventListener("pointerup", up);
    event.preventDefault();
  });

  document.addEventListener("click", (event) => {
    if (event.target.closest(".col-resize")) event.preventDefault(); // not a sort click
  }, true);

  document.addEventListener("keydown", (event) => {
    const handle = event.target.closest && event.target.closest(".col-resize");
    if (!handle || (event.key !== "ArrowLeft" && event.key !== "ArrowRight")) return;
    const th = handle.closest("th");
    const delta = event.key === "ArrowRight" ? STEP : -STEP;
    setWidth(th.closest("table"), th, th.getBoundingClientRect().width + delta);
    event.preventDefault();
  });

  const start = () => enhance(document);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
  document.addEventListener("htmx:afterSettle", (event) => enhance(event.detail.elt.ownerDocument || document));
})();
