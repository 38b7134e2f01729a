/**
 * Shopify's attributes, their values and the categories that have them, linked into one model and
 * cross-checked: each file may be well formed and still disagree with the others.
 *
 * What the 2025-08 files say (counted by test/gateway/catalogue/attributes/shipped.test.ts):
 * - 1,987 attributes and 20,635 values; every value belongs to exactly one attribute, and the copy
 *   of it in attributes.json agrees with attribute_values.json (name and handle). 1,986 attributes
 *   end with a value named "Other" (Color is the one without).
 * - 26 vertical files hold the 10,595 categories of categories.txt, each once, with 40,262 links to
 *   2,258 distinct attributes.
 * - The verticals name attributes by their friendly id (`sleeve_length_type`, `bag/case_material`),
 *   not their handle (`sleeve-length-type`, `bag-case-material`). The friendly id is made from the
 *   NAME (see friendlyId): all 2,258 resolve that way, while turning `_` and `/` into `-` misses two
 *   (`humidity_control_method` is the handle `humidy-control`, `makeup_shade` is `makeup-color-shade`)
 *   and picks the wrong one of two more (`door_frame_application` is the extended attribute, not the
 *   base `Door/Frame application` that shares its handle).
 * - Extended attributes matter: 312 of the 2,258 are extended ones (2,389 links), a part's name for
 *   its base attribute's values (`band_color`, `upholstery_color`, `lens_pattern` → Color, Pattern).
 *   330 categories have a colour only that way (watches: band, case and dial colour; sofas: body and
 *   upholstery colour). A link keeps which extended attribute it came through.
 * - A category's list is complete, not inherited: in 9,613 of the 10,569 parent–child pairs the
 *   child lists all of its parent's attributes, and in the other 956 Shopify left some out on
 *   purpose (Activewear Vests have no sleeve_length_type; their parent, Vests & Jackets, has). So a
 *   category's attributes are its own list, never a union with its ancestors'.
 */
import {
  AttributeDataError,
  parseAttributesFile,
  parseValuesFile,
  parseVerticalFile,
  type AttributeRecord,
  type CategoryRecord,
  type SourceText,
} from './parse';

export interface AttributeValue {
  /** `gid://shopify/TaxonomyValue/16300`. */
  id: string;
  name: string;
  handle: string;
}

export interface TaxonomyAttribute {
  /** `gid://shopify/TaxonomyAttribute/2649`. */
  id: string;
  name: string;
  handle: string;
  description: string;
  values: readonly AttributeValue[];
}

/** A category's attribute: the base attribute, and the extended attribute it was named through, if any. */
export interface AttributeLink {
  attribute: TaxonomyAttribute;
  extended: { name: string; handle: string } | null;
}

export interface AttributeCategory {
  /** The short id (`aa-1-13-8`); its GID is `gid://shopify/TaxonomyCategory/` + this. */
  id: string;
  name: string;
  /** The short id of its parent; null for a vertical's root. */
  parent: string | null;
  children: readonly string[];
  links: readonly AttributeLink[];
  /** The vertical file it came from. */
  file: string;
}

export interface AttributeTaxonomy {
  version: string;
  /** By handle. */
  attributes: ReadonlyMap<string, TaxonomyAttribute>;
  /** By short id. */
  categories: ReadonlyMap<string, AttributeCategory>;
}

export interface AttributeSources {
  attributes: SourceText;
  values: SourceText;
  verticals: readonly SourceText[];
}

/**
 * Shopify's friendly id of an attribute from its name, as the verticals use it: accents dropped,
 * lower case, every run of other characters than letters, digits and `/` made one `_`
 * (`Corsage/Boutonnière design` → `corsage/boutonniere_design`, `Plug type (input)` → `plug_type_input`).
 */
export function friendlyId(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9/]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/** The three sources read, checked against one another and linked. */
export function linkAttributeTaxonomy(sources: AttributeSources): AttributeTaxonomy {
  const { version, attributes: records } = parseAttributesFile(sources.attributes);
  const values = parseValuesFile(sources.values);
  if (values.version !== version) {
    throw new AttributeDataError(
      sources.values.file,
      null,
      `version ${JSON.stringify(values.version)} differs from ${sources.attributes.file}'s ${JSON.stringify(version)}.`,
    );
  }
  const attributes = checkValues(records, values.values, sources);
  const byFriendlyId = friendlyIndex(records, attributes, sources.attributes.file);
  const categories = linkCategories(
    sources.verticals.map((v) => ({ file: v.file, records: parseVerticalFile(v) })),
    byFriendlyId,
  );
  return { version, attributes, categories };
}

/** Attributes by handle; every value of one in the values file, the same there, and owned once. */
function checkValues(
  records: readonly AttributeRecord[],
  values: readonly AttributeValue[],
  sources: AttributeSources,
): Map<string, TaxonomyAttribute> {
  const valueFile = new Map<string, AttributeValue>();
  for (const value of values) {
    if (valueFile.has(value.id)) throw new AttributeDataError(sources.values.file, `value ${value.id}`, 'appears twice.');
    valueFile.set(value.id, value);
  }
  const owner = new Map<string, string>();
  const byHandle = new Map<string, TaxonomyAttribute>();
  const ids = new Set<string>();
  for (const record of records) {
    const entry = `attribute ${record.handle} (${record.id})`;
    if (ids.has(record.id)) throw new AttributeDataError(sources.attributes.file, entry, 'its id appears twice.');
    if (byHandle.has(record.handle)) throw new AttributeDataError(sources.attributes.file, entry, 'its handle appears twice.');
    if (record.values.length === 0) throw new AttributeDataError(sources.attributes.file, entry, 'has no values.');
    for (const value of record.values) {
      const listed = valueFile.get(value.id);
      if (!listed) {
        throw new AttributeDataError(
          sources.attributes.file,
          entry,
          `its value ${value.id} (${value.name}) is not in ${sources.values.file}.`,
        );
      }
      if (listed.name !== value.name || listed.handle !== value.handle) {
        throw new AttributeDataError(
          sources.attributes.file,
          entry,
          `its value ${value.id} is ${JSON.stringify(value.name)} (${value.handle}) here but ${JSON.stringify(listed.name)} (${listed.handle}) in ${sources.values.file}.`,
        );
      }
      const other = owner.get(value.id);
      if (other !== undefined) {
        throw new AttributeDataError(sources.attributes.file, entry, `its value ${value.id} also belongs to ${other}.`);
      }
      owner.set(value.id, record.handle);
    }
    ids.add(record.id);
    byHandle.set(record.handle, {
      id: record.id,
      name: record.name,
      handle: record.handle,
      description: record.description,
      values: record.values.map(({ id, name, handle }) => ({ id, name, handle })),
    });
  }
  const orphan = values.find((v) => !owner.has(v.id));
  if (orphan) throw new AttributeDataError(sources.values.file, `value ${orphan.id} (${orphan.name})`, 'belongs to no attribute.');
  return byHandle;
}

/** Every name a vertical may use, base and extended, to the link it stands for; two alike would be ambiguous. */
function friendlyIndex(records: readonly AttributeRecord[], byHandle: ReadonlyMap<string, TaxonomyAttribute>, file: string) {
  const index = new Map<string, AttributeLink>();
  const add = (name: string, link: AttributeLink) => {
    const key = friendlyId(name);
    const taken = index.get(key);
    if (taken) {
      const what = (l: AttributeLink) => (l.extended ? `${l.extended.name} (extended, of ${l.attribute.handle})` : l.attribute.name);
      throw new AttributeDataError(
        file,
        `attribute ${link.attribute.handle}`,
        `${what(link)} and ${what(taken)} share the friendly id ${key}.`,
      );
    }
    index.set(key, link);
  };
  for (const record of records) {
    const attribute = byHandle.get(record.handle)!;
    add(record.name, { attribute, extended: null });
    for (const extended of record.extended) add(extended.name, { attribute, extended: { ...extended } });
  }
  return index;
}

/** Categories by short id: unique, each child one level below its parent and listed once, every link resolved. */
function linkCategories(
  files: readonly { file: string; records: readonly CategoryRecord[] }[],
  byFriendlyId: ReadonlyMap<string, AttributeLink>,
): Map<string, AttributeCategory> {
  const found = new Map<string, { file: string; record: CategoryRecord }>();
  for (const { file, records } of files) {
    for (const record of records) {
      const entry = `line ${record.line} (category ${record.id})`;
      const earlier = found.get(record.id);
      if (earlier)
        throw new AttributeDataError(file, entry, `category ${record.id} is also on line ${earlier.record.line} of ${earlier.file}.`);
      found.set(record.id, { file, record });
    }
  }
  const parents = new Map<string, string>();
  for (const { file, record } of found.values()) {
    for (const child of record.children) {
      const entry = `line ${record.line} (category ${record.id})`;
      if (!/^-\d+$/.test(child.slice(record.id.length)) || !child.startsWith(record.id)) {
        throw new AttributeDataError(file, entry, `its child ${child} is not one level below ${record.id}.`);
      }
      if (!found.has(child)) throw new AttributeDataError(file, entry, `its child ${child} is not a category of any vertical.`);
      if (parents.has(child)) throw new AttributeDataError(file, entry, `its child ${child} is listed twice.`);
      parents.set(child, record.id);
    }
  }
  const categories = new Map<string, AttributeCategory>();
  for (const { file, record } of found.values()) {
    const entry = `line ${record.line} (category ${record.id})`;
    const parent = parents.get(record.id) ?? null;
    if (parent === null && record.id.includes('-')) {
      throw new AttributeDataError(file, entry, `no category lists ${record.id} among its children.`);
    }
    const seen = new Set<string>();
    const links = record.attributes.map((name) => {
      const link = byFriendlyId.get(name);
      if (!link)
        throw new AttributeDataError(file, entry, `attribute ${JSON.stringify(name)} is neither an attribute nor an extended attribute.`);
      if (seen.has(name)) throw new AttributeDataError(file, entry, `attribute ${JSON.stringify(name)} is listed twice.`);
      seen.add(name);
      return link;
    });
    categories.set(record.id, { id: record.id, name: record.name, parent, children: [...record.children], links, file });
  }
  return categories;
}
