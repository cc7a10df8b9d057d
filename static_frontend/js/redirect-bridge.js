// Runs on redirect.html (a classic script: CSP forbids inline code).
window.msalRedirectBridge.broadcastResponseToMainFrame().catch((error) => {
  console.error("Sign-in response could not be handed back to the page:", error && error.errorCode);
});
