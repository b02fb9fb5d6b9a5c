// Progressive enhancement only: every page works without JavaScript.
// A separate file rather than an inline module, so a Content-Security-Policy of 'self' suffices.
import { initAll } from "./govuk/govuk-frontend.min.js";

initAll();
