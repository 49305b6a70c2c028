// Behaviour for Reformflow's own pages. Loaded from a file, never inline, so the Content
// Security Policy can forbid inline scripts and event handlers.
document.addEventListener("change", (event) => {
  const field = event.target.closest("[data-rf-autosubmit]");
  if (field && field.form) {
    field.form.submit();
  }
});
