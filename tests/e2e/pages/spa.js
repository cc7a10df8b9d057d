// Test page logic: MSAL.js (UMD global `msal`) configured for the emulator from /config.json.
(async () => {
  const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
  const decode = (jwt) => JSON.parse(atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  const config = await (await fetch("/config.json")).json();
  const shown = { renewals: 0 };
  const show = (result, label) => {
    const claims = decode(result.accessToken);
    $("claims").textContent = JSON.stringify({ label, renewals: shown.renewals, uti: claims.uti, aud: claims.aud,
      scp: claims.scp, azp: claims.azp, oid: claims.oid, username: result.account.username });
    $("status").textContent = label;
  };
  const fail = (error) => {
    $("error").textContent = `${error.errorCode || error.name}: ${error.errorMessage || error.message}`;
    $("status").textContent = "error";
  };

  const pca = new msal.PublicClientApplication({
    auth: {
      clientId: config.clientId,
      authority: config.authority,
      // A non-Microsoft host must be listed, otherwise MSAL.js asks login.microsoftonline.com about it.
      knownAuthorities: config.knownAuthorities,
      redirectUri: `${location.origin}/`,
    },
    cache: { cacheLocation: "sessionStorage" },
  });
  await pca.initialize();

  try {
    const result = await pca.handleRedirectPromise();
    if (result) {
      pca.setActiveAccount(result.account);
      show(result, "signed-in");
    } else {
      $("status").textContent = "ready";
    }
  } catch (error) {
    fail(error);
  }

  document.getElementById("sign-in").addEventListener("click", () => {
    pca.loginRedirect({ scopes: [config.apiScope] }).catch(fail);
  });

  document.getElementById("renew").addEventListener("click", async () => {
    try {
      const account = pca.getActiveAccount() || pca.getAllAccounts()[0];
      const result = await pca.acquireTokenSilent({ scopes: [config.apiScope], account, forceRefresh: true });
      shown.renewals += 1;
      show(result, "renewed");
    } catch (error) {
      fail(error);
    }
  });

  // prompt=none in a hidden iframe: works only if the emulator's session cookie reaches the iframe.
  document.getElementById("sso-silent").addEventListener("click", async () => {
    try {
      const account = pca.getActiveAccount() || pca.getAllAccounts()[0];
      const result = await pca.ssoSilent({
        scopes: [config.apiScope], loginHint: account.username, redirectUri: `${location.origin}/redirect.html`,
      });
      show(result, "sso-silent");
    } catch (error) {
      fail(error);
    }
  });

  // A code issued for the app's *web* redirect URI, redeemed from the browser: Entra refuses it (9002326).
  document.getElementById("web-redemption").addEventListener("click", async () => {
    const verifier = Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    const challenge = btoa(String.fromCharCode(...digest)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    sessionStorage.setItem("web-verifier", verifier);
    const params = new URLSearchParams({
      client_id: config.clientId, response_type: "code", redirect_uri: `${location.origin}/web-callback`,
      scope: `${config.apiScope} openid`, code_challenge: challenge, code_challenge_method: "S256", state: "web",
    });
    location.assign(`${config.authority}/oauth2/v2.0/authorize?${params}`);
  });

  if (location.pathname === "/web-callback") {
    const code = new URLSearchParams(location.search).get("code");
    const response = await fetch(`${config.authority}/oauth2/v2.0/token`, {
      method: "POST",
      body: new URLSearchParams({
        client_id: config.clientId, grant_type: "authorization_code", code,
        redirect_uri: `${location.origin}/web-callback`, code_verifier: sessionStorage.getItem("web-verifier"),
      }),
    });
    const body = await response.json();
    $("error").textContent = `${response.status} ${body.error} ${body.error_codes}`;
    $("status").textContent = "web-redemption-done";
  }
})();
