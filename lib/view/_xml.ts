// Text inside SVG and HTML elements: the characters markup would read as markup, escaped.
export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
