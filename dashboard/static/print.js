// The report's Print button (inline handlers are not allowed by the CSP).
document.addEventListener("click", function (e) {
  if (e.target && e.target.hasAttribute("data-print")) { window.print(); }
});
