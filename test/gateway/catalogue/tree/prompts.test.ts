import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { meanUnitVector } from '../../../../functions/clip';
import { parseShopifyCategories } from '../../../../gateway/catalogue/tree/parse';
import { nodeText, nodeVectors, treePrompts } from '../../../../gateway/catalogue/tree/prompts';
import { treeFromRows } from '../../../../gateway/catalogue/tree/tree';

// Shoes > Boots and Toys > Boots share a name; Clothing and Kids > Clothing both have "Socks".
const TREE = treeFromRows([
  { id: 'shoes', name: 'shoes', parentId: null },
  { id: 'shoes/boots', name: 'boots', parentId: 'shoes' },
  { id: 'toys', name: 'toys', parentId: null },
  { id: 'toys/boots', name: 'boots', parentId: 'toys' },
  { id: 'clothing', name: 'Clothing', parentId: null },
  { id: 'clothing/socks', name: 'Socks', parentId: 'clothing' },
  { id: 'kids', name: 'Kids', parentId: null },
  { id: 'kids/clothing', name: 'Clothing', parentId: 'kids' },
  { id: 'kids/clothing/socks', name: 'Socks', parentId: 'kids/clothing' },
]);

/** Each node's prompts as texts. */
const promptsOf = (prompts: ReturnType<typeof treePrompts>) => prompts.ofNode.map((own) => own.map((t) => prompts.texts[t]));

describe('treePrompts', () => {
  it('names a node with its parent as context in every template, a top node alone, names as given', () => {
    const prompts = treePrompts(TREE);
    expect(promptsOf(prompts).slice(0, 6)).toEqual([
      ['a photo of a shoes.'],
      ['a photo of a boots, a kind of shoes.'],
      ['a photo of a toys.'],
      ['a photo of a boots, a kind of toys.'],
      ['a photo of a Clothing.'],
      ['a photo of a Socks, a kind of Clothing.'],
    ]);
  });

  it('lists each distinct text once: nodes whose name and parent name agree share their prompts', () => {
    const prompts = treePrompts(TREE, { templates: ['a photo of a {}.', 'itap of a {}.', 'a photo of a {}.'] });
    // Kids > Clothing > Socks reads as Clothing > Socks: the same two texts, embedded once.
    expect(prompts.ofNode[8]).toEqual(prompts.ofNode[5]);
    expect(promptsOf(prompts)[8]).toEqual(['a photo of a Socks, a kind of Clothing.', 'itap of a Socks, a kind of Clothing.']);
    expect(new Set(prompts.texts).size).toBe(prompts.texts.length);
    expect(prompts.texts).toHaveLength(2 * (TREE.nodes.length - 1));
  });

  it('takes a context template, or none, and leaves out the nodes without a vocabulary of their own', () => {
    const custom = treePrompts(TREE, { contextTemplate: '{parent}: {name}', hasVocabulary: (node) => node.depth !== 1 });
    expect(promptsOf(custom)).toEqual([
      [],
      ['a photo of a shoes: boots.'],
      [],
      ['a photo of a toys: boots.'],
      [],
      ['a photo of a Clothing: Socks.'],
      [],
      ['a photo of a Kids: Clothing.'],
      ['a photo of a Clothing: Socks.'],
    ]);
    const plain = treePrompts(TREE, { contextTemplate: null });
    expect(promptsOf(plain)[3]).toEqual(['a photo of a boots.']);
    expect(plain.ofNode[1]).toEqual(plain.ofNode[3]);
  });

  it('refuses templates without {} and a context template without both names, quoting them', () => {
    expect(() => treePrompts(TREE, { templates: ['a photo of a {}.', 'a photo'] })).toThrow(
      'templates[1] has no {} for the name: "a photo"',
    );
    expect(() => treePrompts(TREE, { templates: [] })).toThrow('templates is empty');
    expect(() => treePrompts(TREE, { contextTemplate: '{name} of sorts' })).toThrow(
      'contextTemplate must hold both {name} and {parent}: "{name} of sorts"',
    );
  });

  it('replaces the slots once: names holding $ patterns or slot names stay as they are', () => {
    expect(nodeText('{parent} $& x', 'P $1')).toBe('{parent} $& x, a kind of P $1');
    const tree = treeFromRows([{ id: 'a', name: "$' money", parentId: null }]);
    expect(treePrompts(tree).texts).toEqual(["a photo of a $' money."]);
  });

  it("gives Shopify's whole tree one prompt per node for one template, repeated names told apart by their parents", () => {
    const tree = parseShopifyCategories(readFileSync(join(__dirname, '../../../../taxonomies/shopify-2025-08/categories.txt'), 'utf8'));
    const prompts = treePrompts(tree);
    expect(prompts.ofNode.every((own) => own.length === 1)).toBe(true);
    const tShirts = tree.nodes.flatMap((n, i) => (n.name === 'T-Shirts' ? [prompts.texts[prompts.ofNode[i][0]]] : []));
    expect(tShirts).toEqual([
      'a photo of a T-Shirts, a kind of Activewear Tops.',
      'a photo of a T-Shirts, a kind of Baby & Toddler Tops.',
      'a photo of a T-Shirts, a kind of Clothing Tops.',
      'a photo of a T-Shirts, a kind of Maternity Tops.',
      'a photo of a T-Shirts, a kind of Sports Fan Accessories.',
    ]);
    // Texts shared by nodes are embedded once: fewer texts than nodes, never more.
    expect(prompts.texts.length).toBeLessThanOrEqual(tree.nodes.length);
  });
});

describe('nodeVectors', () => {
  it("makes each node's vector the normalised mean of its prompts' vectors, null without prompts", () => {
    const prompts = treePrompts(TREE, { templates: ['a {}', 'the {}'], hasVocabulary: (node) => node.id !== 'toys' });
    const vectors = prompts.texts.map((_, t) => Float32Array.from([t + 1, 1, t % 2]));
    const nodes = nodeVectors(prompts, vectors);
    expect(nodes[2]).toBeNull();
    prompts.ofNode.forEach((own, i) => {
      if (own.length === 0) return;
      expect(Array.from(nodes[i]!)).toEqual(Array.from(meanUnitVector(own.map((t) => vectors[t]))));
      expect(Math.hypot(...nodes[i]!)).toBeCloseTo(1, 6);
    });
    expect(() => nodeVectors(prompts, vectors.slice(1))).toThrow(`${vectors.length - 1} text vectors for ${vectors.length} prompt texts`);
  });
});
