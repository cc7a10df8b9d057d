// Links built from data the page did not write: the admin-consent URL from an API problem and the
// user's mail address from Graph. Anything that does not have the expected shape gets no link at all.

/**
 * The admin-consent URL, if it is an https URL on the configured authority's host (port included)
 * whose path ends in /adminconsent; otherwise null. `authority` is the validated one from config.js.
 */
export function consentLink(href, authority) {
  if (typeof href !== "string" || typeof authority !== "string") return null;
  let url;
  let expected;
  try {
    url = new URL(href);
    expected = new URL(authority);
  } catch {
    return null;
  }
  if (url.protocol !== "https:" || expected.protocol !== "https:") return null;
  if (url.username || url.password || url.host !== expected.host) return null;
  if (!url.pathname.endsWith("/adminconsent")) return null;
  return url.href;
}

// RFC 5322 dot-atom local part and a DNS host name: enough for every address Entra ID stores.
const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;

/**
 * A mailto: URL for exactly one address, or null when `address` is not one. The local part is
 * percent-encoded, so `?`, `&` and `=` (legal in an address) cannot add headers such as bcc or body.
 */
export function mailtoLink(address) {
  if (typeof address !== "string" || address.length > 254) return null;
  const at = address.lastIndexOf("@");
  if (at <= 0) return null;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (local.length > 64 || !LOCAL_PART.test(local) || !DOMAIN.test(domain)) return null;
  return `mailto:${encodeURIComponent(local)}@${domain}`;
}
