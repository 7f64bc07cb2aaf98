// Copy buttons ({% copy_button %}, dashboard/home/templatetags/copy_button.py): a
// <button data-copy="ID"> copies the text of the element with that id. One listener on the document, so buttons swapped in by htmx work too;
// no inline script or style (CSP). Where the Clipboard API is missing or refused (a page served
// over plain http from another host), the text is selected instead, ready for Ctrl+C.
(() => {
  const RESET_MS = 1500;

  function announce(message) {
    let region = document.getElementById("copy-status");
    if (!region) {
      region = document.createElement("div");
      region.id = "copy-status";
      region.className = "copy-status";
      region.setAttribute("role", "status");
      region.setAttribute("aria-live", "polite");
      document.body.appendChild(region);
    }
    region.textContent = "";
    window.setTimeout(() => { region.textContent = message; }, 50);
  }

  function show(button, label, state) {
    const original = button.dataset.copyLabel || button.textContent;
    button.dataset.copyLabel = original;
    button.textContent = label;
    button.classList.add(state);
    window.setTimeout(() => {
      button.textContent = original;
      button.classList.remove(state);
    }, RESET_MS);
  }

  function select(source) {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function fallback(button, source) {
    select(source);
    let copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    if (copied) {
      show(button, "Copied", "copied");
      announce("Copied to the clipboard.");
    } else {
      show(button, "Press Ctrl+C", "copy-selected");
      announce("The text is selected: press Ctrl+C to copy it.");
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-copy]");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const text = source.textContent.trim();
    if (!navigator.clipboard || !window.isSecureContext) {
      fallback(button, source);
      return;
    }
    navigator.clipboard.writeText(text).then(
      () => {
        show(button, "Copied", "copied");
        announce("Copied to the clipboard.");
      },
      () => fallback(button, source),
    );
  });
})();
