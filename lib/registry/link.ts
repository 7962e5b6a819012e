// Pagination of tag lists and the catalog: `Link: </v2/x/tags/list?last=a&n=100>; rel="next"`
// (distribution spec, "Listing Tags"; RFC 8288). The target may be relative or absolute.

export function nextLink(header: string | string[] | undefined, requestUrl: URL): URL | undefined {
  if (!header) return undefined;
  const values = Array.isArray(header) ? header : [header];
  for (const value of values) {
    for (const part of value.split(/,(?=\s*<)/)) {
      const m = /<([^>]*)>\s*(.*)$/.exec(part.trim());
      if (!m) continue;
      const params = m[2] ?? '';
      if (/rel="?next"?/i.test(params)) return new URL(m[1] ?? '', requestUrl);
    }
  }
  return undefined;
}
