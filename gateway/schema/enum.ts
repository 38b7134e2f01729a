import { registerEnumType } from 'type-graphql';

/** A GraphQL enum over values a lower layer defines: each name is its value upper-cased (`warm` is WARM). */
export type EnumNames<Value extends string> = { readonly [V in Value as Uppercase<V>]: V };

export interface GraphqlEnumOptions<Value extends string> {
  /** The enum's description in the schema; none by default. */
  description?: string;
  /** One description per name, required: a value added below without one fails tsc, instead of reaching clients undocumented. */
  valuesConfig: { readonly [V in Value as Uppercase<V>]: { readonly description: string } };
}

/** What GraphQL accepts as an enum value's name (the spec's Name, minus the three it reserves). */
const ENUM_VALUE_NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;
const RESERVED_NAMES = new Set(['TRUE', 'FALSE', 'NULL']);

/**
 * Registers the GraphQL enum `name` over `values` and returns its `{ NAME: value }` object: the
 * type for `@Field(() => ...)`, whose fields then take the lower layer's values as they are, with
 * no cast that would hide a value added there and forgotten here.
 */
export function graphqlEnum<const Value extends string>(
  name: string,
  values: readonly Value[],
  options: GraphqlEnumOptions<Value>,
): EnumNames<Value> {
  const names: Record<string, Value> = {};
  for (const value of values) {
    const upper = value.toUpperCase();
    if (!ENUM_VALUE_NAME.test(upper) || RESERVED_NAMES.has(upper)) {
      throw new TypeError(`${name}: the value "${value}" does not make a GraphQL enum name (it would be "${upper}").`);
    }
    if (Object.hasOwn(names, upper))
      throw new TypeError(`${name}: the values "${names[upper]}" and "${value}" make the same name, ${upper}.`);
    names[upper] = value;
  }
  const described = options.valuesConfig as Record<string, { description: string } | undefined>;
  for (const upper of Object.keys(described)) {
    if (!Object.hasOwn(names, upper))
      throw new TypeError(`${name}: valuesConfig describes ${upper}, which is not one of its names (${Object.keys(names).join(', ')}).`);
  }
  for (const upper of Object.keys(names)) {
    if (!described[upper]?.description) throw new TypeError(`${name}: valuesConfig has no description for ${upper}.`);
  }
  registerEnumType(names, { name, description: options.description, valuesConfig: described });
  return names as EnumNames<Value>;
}
