// Data section: a text filter's "is / starts with / contains" menu renames its input, so the
// form submits f.<op>.<column>. Event delegation keeps it working after htmx swaps.
document.addEventListener("change", (event) => {
  const select = event.target;
  if (!(select instanceof HTMLSelectElement) || !select.classList.contains("text-mode")) return;
  const input = select.parentElement.querySelector("input.text-value");
  if (input) input.name = `f.${select.value}.${select.dataset.column}`;
});
