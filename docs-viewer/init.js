// Start Swagger UI on natter's generated document. The document sits beside /docs, whether the
// page was opened as /docs or /docs/ (or under a reverse proxy's sub-path).
(function () {
  'use strict';
  var spec = new URL(location.pathname.endsWith('/') ? '../openapi.json' : 'openapi.json', location.href);
  // Swagger UI's own dark theme follows the class on <html>.
  var dark = window.matchMedia('(prefers-color-scheme: dark)');
  var theme = function () { document.documentElement.classList.toggle('dark-mode', dark.matches); };
  theme();
  dark.addEventListener('change', theme);
  window.ui = SwaggerUIBundle({
    url: spec.href,
    dom_id: '#swagger-ui',
    deepLinking: true,
    // "Authorize" remembers the token across reloads of this page (in this browser only).
    persistAuthorization: true,
    tryItOutEnabled: false,
    displayRequestDuration: true,
    defaultModelsExpandDepth: 0,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
})();
