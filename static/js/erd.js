// The whole schema's ER diagram: find a table by name and focus on it and its neighbours.
// Works on the server-rendered SVG: boxes carry data-table, arrows data-source/data-target.
// Nothing runs until the search box is used, so a diagram of a thousand tables is usable at once.
(() => {
  const form = document.getElementById("erd-search");
  const svg = document.querySelector(".erd-frame svg.erd");
  if (!form || !svg) return;
  const input = form.querySelector("input[type=search]");
  const status = document.getElementById("erd-search-status");
  const open = document.getElementById("erd-open");
  const clear = form.querySelector("button[type=reset]");
  let boxes = null; // name -> <g class="erd-table">
  let links = null; // name -> arrows touching it

  function index() {
    if (boxes) return;
    boxes = new Map();
    links = new Map();
    for (const box of svg.querySelectorAll("g.erd-table[data-table]")) boxes.set(box.dataset.table, box);
    for (const edge of svg.querySelectorAll("path.erd-edge[data-source]")) {
      for (const end of [edge.dataset.source, edge.dataset.target]) {
        if (!links.has(end)) links.set(end, []);
        links.get(end).push(edge);
      }
    }
    const options = document.getElementById("erd-names");
    if (options && !options.childElementCount) {
      const fragment = document.createDocumentFragment();
      for (const name of [...boxes.keys()].sort()) {
        const option = document.createElement("option");
        option.value = name;
        fragment.appendChild(option);
      }
      options.appendChild(fragment);
    }
  }

  function unmark() {
    svg.classList.remove("erd-focusing");
    for (const marked of svg.querySelectorAll(".erd-near, .erd-focus, .erd-match")) {
      marked.classList.remove("erd-near", "erd-focus", "erd-match");
    }
    if (open) open.hidden = true;
  }

  function focusOn(name) {
    const box = boxes.get(name);
    if (!box) return false;
    unmark();
    svg.classList.add("erd-focusing");
    box.classList.add("erd-focus");
    const near = new Set();
    for (const edge of links.get(name) || []) {
      edge.classList.add("erd-near");
      near.add(edge.dataset.source === name ? edge.dataset.target : edge.dataset.source);
    }
    for (const other of near) boxes.get(other)?.classList.add("erd-near");
    box.scrollIntoView({ block: "center", inline: "center" });
    const link = box.closest("a");
    if (open && link) {
      open.href = link.getAttribute("href");
      open.textContent = `Open ${name}`;
      open.hidden = false;
    }
    status.textContent = `${name}: ${near.size} neighbour${near.size === 1 ? "" : "s"} highlighted.`;
    return true;
  }

  function search() {
    index();
    const query = input.value.trim().toLowerCase();
    if (!query) {
      unmark();
      status.textContent = "";
      return;
    }
    if (boxes.has(input.value.trim()) && focusOn(input.value.trim())) return;
    unmark();
    const found = [...boxes.keys()].filter((name) => name.toLowerCase().includes(query));
    for (const name of found.slice(0, 200)) boxes.get(name).classList.add("erd-match");
    if (found.length) boxes.get(found[0]).scrollIntoView({ block: "center", inline: "center" });
    status.textContent = found.length
      ? `${found.length} table${found.length === 1 ? "" : "s"} match; pick one to focus on it.`
      : "No table has that in its name.";
  }

  let timer = 0;
  input.addEventListener("focus", index, { once: true });
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, 120);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    search();
  });
  clear?.addEventListener("click", () => {
    unmark();
    status.textContent = "";
  });
  // A click on a box focuses it; a second click on the focused box opens its page.
  svg.addEventListener("click", (event) => {
    const box = event.target.closest("g.erd-table[data-table]");
    if (!box || box.classList.contains("erd-focus") || event.metaKey || event.ctrlKey) return;
    event.preventDefault();
    index();
    input.value = box.dataset.table;
    focusOn(box.dataset.table);
  });
})();
