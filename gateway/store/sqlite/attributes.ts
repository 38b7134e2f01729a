/**
 * Products' top-level attributes by key and value, in `product_attributes`: an attribute filter
 * reads the products it matches from there, where it would otherwise read every product's
 * attributes (a scan of the whole table at each filtered search). The value is kept as the JSON
 * text `attributes -> '$."key"'` gives, which is what the filter compares (filters.ts), so the two
 * agree by construction. Keys holding a quote or a backslash cannot be named in such a path: they
 * are left out, and a filter on them reads the attributes themselves.
 */

/**
 * Inserts the attributes of the products a condition on `products p` picks (append it: the
 * statement ends in AND), e.g. `p.pk = ?`.
 */
export const INDEX_ATTRIBUTES = `INSERT OR IGNORE INTO product_attributes (key, value, pk)
  SELECT j.key, p.attributes -> ('$."' || j.key || '"'), p.pk FROM products p, json_each(p.attributes) j
  WHERE instr(j.key, '"') = 0 AND instr(j.key, '\\') = 0 AND`;

/** The keys product_attributes holds: those a JSON path can name. */
export function indexedKey(key: string): boolean {
  return !/["\\]/.test(key);
}
