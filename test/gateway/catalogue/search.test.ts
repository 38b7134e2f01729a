import { FieldError } from '../../../gateway/catalogue';
import { createTestGateway, type TestGateway } from '../../helpers/gateway';
import { shapeProducts } from '../../helpers/catalogue';
import { loadReference } from '../../helpers/tiny-clip';

const reference = loadReference();
const colours = Object.keys(reference.domain.colours);

describe('labelTopProducts', () => {
  let t: TestGateway;

  beforeAll(async () => {
    t = await createTestGateway();
  });

  afterAll(() => t.stop());

  it('says there is no taxonomy yet rather than answering nothing', async () => {
    const asked = t.gateway.catalogue.labelTopProducts('kind', 'red circle', 5);
    await expect(asked).rejects.toBeInstanceOf(FieldError);
    await expect(asked).rejects.toMatchObject({
      field: ['facet'],
      code: 'BAD_USER_INPUT',
      message: 'facet: the catalogue has no taxonomy yet, so it has no facet named "kind"; set a taxonomy first.',
    });
  });

  it('names an unknown facet or label, and the known ones (a long list cut after ten)', async () => {
    const catalogue = t.gateway.catalogue;
    await catalogue.upsertProducts((await shapeProducts(51)).slice(0, 4));
    await catalogue.setTaxonomy([
      { name: 'kind', labels: reference.classes },
      { name: 'colour', labels: colours },
    ]);
    await expect(catalogue.labelTopProducts('size', 'large', 5)).rejects.toMatchObject({
      field: ['facet'],
      code: 'BAD_USER_INPUT',
      message: 'facet: the taxonomy has no facet named "size"; its facets are "kind" and "colour".',
    });
    const firstTen = reference.classes.slice(0, 10).map((l) => JSON.stringify(l));
    await expect(catalogue.labelTopProducts('kind', 'purple hexagon', 5)).rejects.toMatchObject({
      field: ['label'],
      code: 'BAD_USER_INPUT',
      message: `label: facet "kind" has no label "purple hexagon"; its labels are ${firstTen.join(', ')} and ${reference.classes.length - 10} more.`,
    });
    // Labels match as stored: a label with a stray space is not the label.
    await expect(catalogue.labelTopProducts('colour', 'red ', 5)).rejects.toMatchObject({
      field: ['label'],
      message: `label: facet "colour" has no label "red "; its labels are ${colours
        .slice(0, -1)
        .map((c) => JSON.stringify(c))
        .join(', ')} and "${colours[colours.length - 1]}".`,
    });
    // A known label answers as before, an empty list included.
    const top = await catalogue.labelTopProducts('kind', reference.classes[0], 2);
    expect(top.map((h) => h.product.title)).toEqual([reference.classes[0]]);
    expect(await catalogue.labelTopProducts('kind', reference.classes[31], 2)).toEqual([]);
    // first is checked before the taxonomy is read.
    await expect(catalogue.labelTopProducts('size', 'large', 0)).rejects.toMatchObject({ field: ['first'] });
  });

  it('says "its only facet" of a taxonomy of one facet, and cuts a long unknown name', async () => {
    const catalogue = t.gateway.catalogue;
    await catalogue.setTaxonomy([{ name: 'colour', labels: colours }]);
    await expect(catalogue.labelTopProducts('x'.repeat(300), 'red', 5)).rejects.toMatchObject({
      message: `facet: the taxonomy has no facet named "${'x'.repeat(100)}"; its only facet is "colour".`,
    });
  });
});
