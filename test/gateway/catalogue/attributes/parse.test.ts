import {
  AttributeDataError,
  parseAttributesFile,
  parseValuesFile,
  parseVerticalFile,
} from '../../../../gateway/catalogue/attributes/parse';

const attributes = (list: unknown[], version: unknown = 'v1') => ({
  file: 'attributes.json',
  text: JSON.stringify({ version, attributes: list }),
});
const red = { id: 'gid://shopify/TaxonomyValue/1', name: 'Red', handle: 'color__red' };
const color = {
  id: 'gid://shopify/TaxonomyAttribute/1',
  name: 'Color',
  handle: 'color',
  description: 'Hue',
  extended_attributes: [],
  values: [red],
};

describe('parseAttributesFile', () => {
  it('reads attributes with their extended attributes and values', () => {
    const extended = { ...color, extended_attributes: [{ name: 'Band color', handle: 'band-color' }] };
    expect(parseAttributesFile(attributes([extended]))).toEqual({
      version: 'v1',
      attributes: [
        {
          id: color.id,
          name: 'Color',
          handle: 'color',
          description: 'Hue',
          extended: [{ name: 'Band color', handle: 'band-color' }],
          values: [red],
        },
      ],
    });
  });

  it('refuses a file that is not JSON or lacks its version or list, naming the file', () => {
    expect(() => parseAttributesFile({ file: 'attributes.json', text: '{"version": ' })).toThrow(/^attributes\.json: not JSON: /);
    expect(() => parseAttributesFile(attributes([], 3))).toThrow('attributes.json: "version" must be a string, found number 3.');
    expect(() => parseAttributesFile({ file: 'a.json', text: '{"version": "v1", "attributes": {}}' })).toThrow(
      'a.json: "attributes" must be a list, found an object.',
    );
    expect(() => parseAttributesFile({ file: 'a.json', text: '[]' })).toThrow(AttributeDataError);
  });

  it('names the entry at fault and the field', () => {
    expect(() => parseAttributesFile(attributes([color, { ...color, id: 'gid://shopify/TaxonomyCategory/aa' }]))).toThrow(
      'attributes.json, attributes[1]: "id" "gid://shopify/TaxonomyCategory/aa" does not match ^gid:\\/\\/shopify\\/TaxonomyAttribute\\/\\d+$.',
    );
    expect(() => parseAttributesFile(attributes([{ ...color, handle: ' ' }]))).toThrow(
      'attributes.json, attributes[0] (gid://shopify/TaxonomyAttribute/1): "handle" is empty.',
    );
    expect(() => parseAttributesFile(attributes([{ ...color, values: [red, { ...red, name: null }] }]))).toThrow(
      'attributes.json, attributes[0] (gid://shopify/TaxonomyAttribute/1).values[1] (gid://shopify/TaxonomyValue/1): "name" must be a string, found null.',
    );
    expect(() => parseAttributesFile(attributes([{ ...color, extended_attributes: [{ name: 'Band color' }] }]))).toThrow(
      'attributes.json, attributes[0] (gid://shopify/TaxonomyAttribute/1).extended_attributes[0]: "handle" must be a string, found nothing.',
    );
  });
});

describe('parseValuesFile', () => {
  it('reads every value and refuses one without a value id', () => {
    const text = (values: unknown[]) => ({ file: 'attribute_values.json', text: JSON.stringify({ version: 'v1', values }) });
    expect(parseValuesFile(text([red]))).toEqual({ version: 'v1', values: [red] });
    expect(() => parseValuesFile(text([red, { ...red, id: '2' }]))).toThrow(
      'attribute_values.json, values[1]: "id" "2" does not match ^gid:\\/\\/shopify\\/TaxonomyValue\\/\\d+$.',
    );
  });
});

describe('parseVerticalFile', () => {
  const file = 'verticals/zz_test.yml';

  it('reads categories with the line each starts on', () => {
    const text = [
      '---',
      '- id: zz',
      '  name: Test',
      '  children:',
      '  - zz-1',
      '  attributes: []',
      '- id: zz-1',
      '  name: Leaf',
      '  children: []',
      '  attributes:',
      '  - color',
      '',
    ].join('\n');
    expect(parseVerticalFile({ file, text })).toEqual([
      { id: 'zz', name: 'Test', children: ['zz-1'], attributes: [], line: 2 },
      { id: 'zz-1', name: 'Leaf', children: [], attributes: ['color'], line: 7 },
    ]);
  });

  it('refuses broken YAML, another shape and bad entries with the line', () => {
    expect(() => parseVerticalFile({ file, text: '- id: zz\n  name: [\n' })).toThrow(/^verticals\/zz_test\.yml, line \d+: not YAML: /);
    expect(() => parseVerticalFile({ file, text: 'id: zz\n' })).toThrow('verticals/zz_test.yml: expected a YAML list of categories.');
    expect(() => parseVerticalFile({ file, text: '- id: zz\n  name: A\n  children: []\n  attributes: []\n- id: ZZ-1\n' })).toThrow(
      'verticals/zz_test.yml, line 5: "id" "ZZ-1" does not match ^[a-z]{2}(?:-\\d+)*$.',
    );
    expect(() => parseVerticalFile({ file, text: '- id: zz\n  name: A\n  children: []\n  attributes: [color, 3]\n' })).toThrow(
      'verticals/zz_test.yml, line 1 (category zz): "attributes"[1] must be a non-empty string, found number 3.',
    );
    expect(() => parseVerticalFile({ file, text: '- zz\n' })).toThrow(
      'verticals/zz_test.yml, line 1: expected an object, found string "zz".',
    );
  });
});
