/* The error pages' "Go back" button (templates/_error_card.html): a script file, since the Content-Security-Policy
 * allows no inline handler. Stands alone (the 500 and 400 pages load nothing else). */
(function () {
  "use strict";
  const back = document.querySelector("[data-testid=error-back]");
  if (back) back.addEventListener("click", () => history.back());
})();
