// The page controller's bookkeeping for user actions (profile, report, diagnostics): which names are
// actions, which are running, and whose error the panel shows. No DOM, so it is tested on its own.

export class Actions {
  /** handlers: { name: async (options) => void }. */
  constructor(handlers) {
    this.handlers = { ...handlers };
    this.running = new Set();
    this.errorOwner = null;
  }

  /** Only the table's own names: a redirect state such as "constructor" or "__proto__" is not an action. */
  has(name) {
    return typeof name === "string" && Object.hasOwn(this.handlers, name);
  }

  handler(name) {
    return this.has(name) ? this.handlers[name] : null;
  }

  /** Marks `name` running; false if it already is (a second click while it runs does nothing). */
  begin(name) {
    if (this.running.has(name)) return false;
    this.running.add(name);
    return true;
  }

  end(name) {
    this.running.delete(name);
  }

  isRunning(name) {
    return this.running.has(name);
  }

  /** The panel now shows an error of `owner` ("" for the page itself, such as a failed sign-in). */
  errorShown(owner) {
    this.errorOwner = owner;
  }

  errorCleared() {
    this.errorOwner = null;
  }

  /** Starting `name` clears the error on screen only if it is its own or the page's, never another action's. */
  clearsError(name) {
    return this.errorOwner !== null && (this.errorOwner === name || this.errorOwner === "");
  }
}
