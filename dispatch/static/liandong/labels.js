/* Liandong: the words people read for the server's codes that more than one page shows (one home, so the console
 * and the inbox never drift apart). Loaded by base.html after the JavaScript catalog. */
(function () {
  "use strict";
  window.Labels = {
    // Why a department returns an order (the server's WorkOrder.ReturnReason); "other" needs a note.
    RETURN_REASONS: {
      not_our_function: gettext("Not our function"), wrong_district: gettext("Wrong district"),
      duplicate: gettext("Duplicate"), insufficient_info: gettext("Insufficient information"),
      other: gettext("Other (see the note)"),
    },
  };
})();
