// Queries section. htmx ignores 4xx/5xx answers by default; here they carry a sentence for the
// part of the page that asked (a form error, "needs the engineer role", "the database did not
// answer", "the database refused the statement"), so swap them in like any other answer. Loaded
// only by the queries templates.
document.addEventListener("htmx:beforeSwap", (event) => {
  const status = event.detail.xhr.status;
  if ([400, 403, 404, 422, 503, 504].includes(status) && event.detail.xhr.responseText) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
