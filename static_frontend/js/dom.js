// Tiny DOM helpers. Text is always set with textContent: API data never becomes markup.

/** Appends children, skipping null/undefined/false (Node.append would insert the text "null"). */
export function append(node, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  return append(node, children);
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

export function show(node, visible = true) {
  node.hidden = !visible;
}

/** A <dl> of label/value pairs, skipping empty values. */
export function definitionList(pairs, className = "facts") {
  const list = el("dl", { class: className });
  for (const [label, value] of pairs) {
    if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) continue;
    list.append(el("div", { class: "fact" }, el("dt", { text: label }), el("dd", {}, value instanceof Node ? value : String(value))));
  }
  return list;
}
