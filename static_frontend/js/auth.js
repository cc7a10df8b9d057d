// MSAL.js wrapper: the only module that talks to the identity provider. It uses the redirect flow
// throughout (no popups): sign-in, consent, MFA and claims challenges all happen on a full page.

const msal = window.msal;

// Thrown by methods that navigate away; callers stop what they were doing.
export class RedirectingError extends Error {
  constructor() {
    super("Redirecting to sign in");
    this.name = "RedirectingError";
  }
}

export class NotSignedInError extends Error {
  constructor() {
    super("Sign in first.");
    this.name = "NotSignedInError";
  }
}

export class Auth {
  constructor(config) {
    if (!msal) throw new Error("MSAL.js did not load (vendor/msal-browser.min.js is missing; run `make setup`).");
    this.config = config;
    this.scopes = [config.apiScope];
    // Set once a redirect has started: the page is leaving, and MSAL.js allows one interaction at a time.
    this.redirecting = false;
    const origin = window.location.origin;
    this.app = new msal.PublicClientApplication({
      auth: {
        clientId: config.clientId,
        authority: config.authority,
        knownAuthorities: config.knownAuthorities,
        // Registered as an SPA redirect URI; the page itself finishes the redirect flow.
        redirectUri: `${origin}/`,
        postLogoutRedirectUri: `${origin}/`,
      },
      // Per tab: closing the tab forgets the tokens.
      cache: { cacheLocation: "sessionStorage" },
      system: {
        loggerOptions: {
          logLevel: msal.LogLevel.Warning,
          piiLoggingEnabled: false,
          loggerCallback: (level, message, containsPii) => {
            if (!containsPii && level <= msal.LogLevel.Warning) console.warn(message);
          },
        },
      },
    });
  }

  /**
   * Completes a redirect that brought the user back (if any) and picks the active account.
   * Returns { account, state, returned }: state is what the redirect was started with, returned whether
   * this load finished a sign-in redirect.
   */
  async start() {
    await this.app.initialize();
    const result = await this.app.handleRedirectPromise();
    if (result && result.account) this.app.setActiveAccount(result.account);
    if (!this.app.getActiveAccount()) {
      const [first] = this.app.getAllAccounts();
      if (first) this.app.setActiveAccount(first);
    }
    return { account: this.account, state: result ? result.state || "" : "", returned: Boolean(result) };
  }

  get account() {
    return this.app.getActiveAccount();
  }

  async signIn(state = "") {
    await this.redirect(() => this.app.loginRedirect({ scopes: this.scopes, state, prompt: "select_account" }));
  }

  async signOut() {
    const account = this.account;
    await this.redirect(() => this.app.logoutRedirect({ account, postLogoutRedirectUri: `${window.location.origin}/` }));
  }

  /**
   * Starts one redirect and always throws RedirectingError. A second request while one is under way
   * (a double click, or two actions that both need the user) joins it instead of failing in MSAL.js.
   */
  async redirect(start) {
    if (this.redirecting) throw new RedirectingError();
    this.redirecting = true;
    try {
      await start();
    } catch (error) {
      this.redirecting = false;
      throw error;
    }
    throw new RedirectingError();
  }

  /**
   * An access token for the API: from the cache or a silent refresh, else an interactive redirect whose
   * state is `action`, the user action that asked, so the page resumes that action on return.
   */
  async apiToken(action = "") {
    const account = this.account;
    if (!account) throw new NotSignedInError();
    if (this.redirecting) throw new RedirectingError();
    try {
      // When the refresh token is gone MSAL renews in a hidden iframe; its response must land on the
      // redirect bridge page (MSAL.js v5), not on the app itself.
      const result = await this.app.acquireTokenSilent({
        scopes: this.scopes,
        account,
        redirectUri: `${window.location.origin}/redirect.html`,
      });
      return result.accessToken;
    } catch (error) {
      if (error instanceof msal.InteractionRequiredAuthError) {
        return this.reauthenticate({ state: action });
      }
      throw error;
    }
  }

  /**
   * Interactive token request. `claims` is the JSON claims request from a challenge: Entra ID then
   * asks for what is missing (for example MFA) and the new token satisfies the API.
   */
  async reauthenticate({ claims = null, state = "" } = {}) {
    const account = this.account;
    const request = { scopes: this.scopes, state };
    if (account) {
      request.account = account;
      request.loginHint = account.username;
    }
    if (claims) request.claims = claims;
    await this.redirect(() => this.app.acquireTokenRedirect(request));
  }
}

export function isMsalError(error) {
  return Boolean(msal && error instanceof msal.AuthError);
}
